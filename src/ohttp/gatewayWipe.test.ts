// The gateway's request scope wipes (and frees) plaintext it does not send back too: a target's answer
// that arrives after the deadline, and the joined copy an indeterminate-length request's content is. And it hands a large
// answer back in the chunks the AEAD produced, never joined.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeResponse, encodeRequest, type BhttpRequest } from '../../attestation/protocols/bhttp.js';
import { encapsulateRequest, type GatewayKey } from '../../attestation/protocols/ohttp/encapsulation.js';
import { cipherSuite } from '../../attestation/protocols/ohttp/hpke.js';
import { AEAD_AES_128_GCM, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256, type KeyConfig } from '../../attestation/protocols/ohttp/keyConfig.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { watchFrees } from '../testing/freeWatch.js';
import { BufferPool } from '../base/memory/bufferPool.js';
import { OhttpGateway } from './gateway.js';
import { echoRoute, targetRouter, type TargetHandler } from './target.js';

async function key(): Promise<GatewayKey> {
  const suite = cipherSuite(nodeHpke, KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_128_GCM);
  assert.ok(suite !== undefined);
  const pair = await suite.kem.generateKeyPair();
  const config: KeyConfig = { keyId: 3, kemId: KEM_X25519_HKDF_SHA256, publicKey: new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)), suites: [{ kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM }] };
  return { config, privateKey: pair.privateKey };
}

const enc = (s: string): number[] => [s.length, ...new TextEncoder().encode(s)];

describe('gateway wiping beyond the response it sends', () => {
  it('wipes a target answer that arrives after the deadline (the client got an encapsulated 504)', async () => {
    const k = await key();
    const late = new Uint8Array(64).fill(0x41);
    const target: TargetHandler = () => new Promise((resolve) => setTimeout(() => { resolve({ status: 200, informational: [], headers: [], content: late, trailers: [] }); }, 60));
    const gateway = new OhttpGateway({ keys: () => k, target, primitives: nodeHpke, targetTimeoutMs: 10 });
    const request = await encapsulateRequest(k.config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/slow', headers: [], content: new Uint8Array([1]), trailers: [] }), { primitives: nodeHpke });
    const { zeroWhenFreed } = await watchFrees(async () => {
      const outcome = await gateway.handle(request.bytes);
      assert.equal(outcome.kind === 'encapsulated' ? outcome.status : 0, 504);
      assert.ok(late.some((b) => b !== 0), 'still being produced');
      await new Promise((r) => setTimeout(r, 120));
    });
    assert.ok(late.buffer.detached && zeroWhenFreed.length >= 2 && zeroWhenFreed.every(Boolean), 'wiped, then freed, once it arrived (with the message)');
  });

  it('wipes the joined content of an indeterminate-length request', async () => {
    const k = await key();
    let seen: BhttpRequest | undefined;
    let seenLength = 0;
    const gateway = new OhttpGateway({ keys: () => k, target: (r) => ((seen = r), (seenLength = r.content.length), Promise.resolve({ status: 200, informational: [], headers: [], content: new Uint8Array([7]), trailers: [] })), primitives: nodeHpke });
    const framing2 = Uint8Array.from([2, ...enc('POST'), ...enc('https'), ...enc('cloister'), ...enc('/v1/echo'), 0, ...enc('secret-'), ...enc('chunks'), 0, 0]);
    const request = await encapsulateRequest(k.config, framing2, { primitives: nodeHpke });
    let joined: Uint8Array | undefined;
    const { zeroWhenFreed } = await watchFrees(async () => {
      const outcome = await gateway.handle(request.bytes);
      assert.equal(outcome.kind === 'encapsulated' ? outcome.status : 0, 200);
      assert.ok(seen !== undefined);
      joined = seen.content;
      await new Promise((r) => setImmediate(r));
    });
    assert.equal(seenLength, 13, 'the target read the whole joined content');
    assert.ok(joined !== undefined && (joined.buffer as ArrayBuffer).detached && zeroWhenFreed.length >= 1 && zeroWhenFreed.every(Boolean), 'the joined copy (a buffer of its own) is zeroed, then freed');
  });
});

describe('gateway answers in chunks', () => {
  it('returns a large answer as the chunks the AEAD produced, whose concatenation opens to it', async () => {
    const k = await key();
    const gateway = new OhttpGateway({ keys: () => k, target: targetRouter([echoRoute]), primitives: nodeHpke });
    const content = Uint8Array.from({ length: 600_000 }, (_, i) => (i * 31) & 0xff);
    const request = await encapsulateRequest(k.config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/echo', headers: [], content: content.slice(), trailers: [] }), { primitives: nodeHpke });
    const outcome = await gateway.handle(request.bytes);
    assert.ok(outcome.kind === 'encapsulated');
    assert.ok(outcome.body.length > 1 && outcome.body.some((c) => c.length >= content.length), `chunks of ${outcome.body.map((c) => c.length).join(', ')}`);
    assert.equal(outcome.bodyLength, outcome.body.reduce((n, c) => n + c.length, 0));
    const opened = decodeResponse(await request.opener.open(Buffer.concat(outcome.body)));
    assert.deepEqual(opened.content, content);
  });
});

describe('request scopes under concurrency', () => {
  it('gives each of 40 concurrent requests pooled buffers of its own, answers each with its own bytes, and leaves only wiped buffers in the pool', async () => {
    const k = await key();
    const pool = new BufferPool();
    const size = 64;
    const target: TargetHandler = async (request, { scope }) => {
      let held = new Uint8Array(scope.borrow(pool, size));
      held.set(request.content);
      await new Promise((r) => setTimeout(r, (request.content[0] ?? 0) % 7));
      if ((request.content[0] ?? 0) % 2 === 0) {
        // Half give their first buffer back early and take another: a returned buffer is never touched again.
        const again = new Uint8Array(scope.borrow(pool, size));
        again.set(held);
        scope.dispose(held);
        held = again;
        await new Promise((r) => setTimeout(r, 1));
      }
      const content = scope.alloc(size);
      content.set(held);
      return { status: 200, informational: [], headers: [], content, trailers: [] };
    };
    const gateway = new OhttpGateway({ keys: () => k, target, primitives: nodeHpke });
    const answers = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const request = await encapsulateRequest(k.config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/held', headers: [], content: new Uint8Array(size).fill(i + 1), trailers: [] }), { primitives: nodeHpke });
        const outcome = await gateway.handle(request.bytes);
        assert.ok(outcome.kind === 'encapsulated');
        return decodeResponse(await request.opener.open(Buffer.concat(outcome.body))).content;
      }),
    );
    answers.forEach((content, i) => {
      assert.deepEqual([...new Set(content)], [i + 1], `request ${i} got its own bytes back`);
    });
    await new Promise((r) => setImmediate(r));
    assert.ok(pool.bytes > 0, 'buffers came back to the pool');
    while (pool.bytes > 0) assert.ok(new Uint8Array(pool.acquire(size)).every((b) => b === 0), 'every pooled buffer is wiped');
  });
});
