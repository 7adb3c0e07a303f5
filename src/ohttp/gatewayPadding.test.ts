// The gateway pads every encapsulated response inside the encryption to a size class (docs/ohttp.md
// "Padding"): answers and errors of one class have one length on the wire, for each AEAD; a route's pack
// policy applies to its answers and its errors; the client sees its response without the padding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeResponse, encodeRequest, type BhttpRequest } from '../../attestation/protocols/bhttp.js';
import { encapsulateRequest, type EncapsulatedRequest, type GatewayKey } from '../../attestation/protocols/ohttp/encapsulation.js';
import { cipherSuite } from '../../attestation/protocols/ohttp/hpke.js';
import { AEAD_AES_128_GCM, AEAD_CHACHA20_POLY1305, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256, type KeyConfig } from '../../attestation/protocols/ohttp/keyConfig.js';
import type { PaddingPolicy } from '../../attestation/protocols/padding.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { OhttpGateway, type GatewayOptions } from './gateway.js';
import { echoRoute, targetRouter, textResponse, type TargetRoute } from './target.js';

async function key(): Promise<GatewayKey> {
  const suite = cipherSuite(nodeHpke, KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_128_GCM);
  assert.ok(suite !== undefined);
  const pair = await suite.kem.generateKeyPair();
  const config: KeyConfig = {
    keyId: 5,
    kemId: KEM_X25519_HKDF_SHA256,
    publicKey: new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)),
    suites: [
      { kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM },
      { kdfId: KDF_HKDF_SHA256, aeadId: AEAD_CHACHA20_POLY1305 },
    ],
  };
  return { config, privateKey: pair.privateKey };
}

const request = (path: string, content: Uint8Array, method = 'POST'): BhttpRequest => ({ method, scheme: 'https', authority: 'cloister', path, headers: [], content, trailers: [] });

/** A pack-like route: 200 with `size` bytes, or 400 when the request's first byte is 0. */
const sized = (padding: PaddingPolicy): TargetRoute => ({
  method: 'POST',
  path: '/v1/sized',
  model: 'sized',
  padding,
  handler: (r) => Promise.resolve(r.content[0] === 0 ? textResponse(400, 'bad input') : { status: 200, informational: [], headers: [], content: new Uint8Array(r.content.length * 100), trailers: [] }),
});

async function exchange(gateway: OhttpGateway, k: GatewayKey, message: Uint8Array, aeadId = AEAD_AES_128_GCM): Promise<{ length: number; status: number; content: Uint8Array; sent: EncapsulatedRequest }> {
  const sent = await encapsulateRequest(k.config, message, { primitives: nodeHpke, suite: { kdfId: KDF_HKDF_SHA256, aeadId } });
  const outcome = await gateway.handle(sent.bytes);
  assert.ok(outcome.kind === 'encapsulated', JSON.stringify(outcome));
  const opened = decodeResponse(await sent.opener.open(new Uint8Array(Buffer.concat(outcome.body))));
  return { length: outcome.bodyLength, status: opened.status, content: opened.content, sent };
}

describe('gateway response padding', () => {
  it('sends answers of one class at one length, the class itself, for each AEAD; the client gets its content back unpadded', async () => {
    const k = await key();
    const gateway = new OhttpGateway({ keys: () => k, target: targetRouter([echoRoute]), primitives: nodeHpke });
    for (const aeadId of [AEAD_AES_128_GCM, AEAD_CHACHA20_POLY1305]) {
      const lengths = [];
      for (const size of [0, 10, 700, 900]) {
        const content = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
        const r = await exchange(gateway, k, encodeRequest(request('/v1/echo', content.slice())), aeadId);
        assert.deepEqual([r.status, r.content], [200, content]);
        lengths.push(r.length);
      }
      assert.deepEqual(lengths, [1024, 1024, 1024, 1024], `AEAD ${aeadId}`);
      assert.equal((await exchange(gateway, k, encodeRequest(request('/v1/echo', new Uint8Array(1000))), aeadId)).length, 2048);
      assert.equal((await exchange(gateway, k, encodeRequest(request('/v1/echo', new Uint8Array(70_000))), aeadId)).length, 128 * 1024);
    }
  });

  it('pads the errors after decapsulation to the same class as a small answer: 404, 405, 400, 417, 500, 504', async () => {
    const k = await key();
    const failing: TargetRoute = { method: 'POST', path: '/v1/fails', handler: () => Promise.reject(new Error('boom')) };
    const slow: TargetRoute = { method: 'POST', path: '/v1/slow', handler: () => new Promise((resolve) => setTimeout(() => { resolve(textResponse(200, 'late')); }, 50)) };
    const gateway = new OhttpGateway({ keys: () => k, target: targetRouter([echoRoute, failing, slow]), primitives: nodeHpke, targetTimeoutMs: 10 });
    const cases: [Uint8Array, number][] = [
      [encodeRequest(request('/v1/echo', new Uint8Array(3))), 200],
      [encodeRequest(request('/nowhere', new Uint8Array(3))), 404],
      [encodeRequest(request('/v1/echo', new Uint8Array(0), 'GET')), 405],
      [Uint8Array.from([0x07, 0x01, 0x02]), 400],
      [encodeRequest({ ...request('/v1/echo', new Uint8Array(1)), headers: [['expect', '100-continue']] }), 417],
      [encodeRequest(request('/v1/fails', new Uint8Array(1))), 500],
      [encodeRequest(request('/v1/slow', new Uint8Array(1))), 504],
    ];
    for (const [message, status] of cases) {
      const r = await exchange(gateway, k, message);
      assert.deepEqual([r.status, r.length], [status, 1024]);
    }
    await new Promise((r) => setTimeout(r, 60));
  });

  it("pads a route's answers and errors to its pack's classes: a floor above its answers makes a 400 and a 200 one length", async () => {
    const k = await key();
    const gateway = new OhttpGateway({ keys: () => k, target: targetRouter([echoRoute, sized({ floor: 4096 })]), primitives: nodeHpke });
    const ok = await exchange(gateway, k, encodeRequest(request('/v1/sized', new Uint8Array([1, 1, 1]))));
    const bad = await exchange(gateway, k, encodeRequest(request('/v1/sized', new Uint8Array([0]))));
    assert.deepEqual([ok.status, ok.length, bad.status, bad.length], [200, 4096, 400, 4096]);
    assert.equal((await exchange(gateway, k, encodeRequest(request('/v1/echo', new Uint8Array(3))))).length, 1024, 'a route without a pack: the default');
  });

  it("pads every answer to a pack route's path in the pack's classes, the gateway's own included: a 405, the 500 of a throw, the 504 past the deadline", async () => {
    const k = await key();
    const failing: TargetRoute = { ...sized({ floor: 4096 }), path: '/v1/sized-fails', handler: () => Promise.reject(new Error('boom')) };
    const slow: TargetRoute = { ...sized({ floor: 4096 }), path: '/v1/sized-slow', handler: () => new Promise((resolve) => setTimeout(() => { resolve(textResponse(200, 'late')); }, 50)) };
    const gateway = new OhttpGateway({ keys: () => k, target: targetRouter([sized({ floor: 4096 }), failing, slow]), primitives: nodeHpke, targetTimeoutMs: 10 });
    const cases: [Uint8Array, number][] = [
      [encodeRequest(request('/v1/sized', new Uint8Array([1]))), 200],
      [encodeRequest(request('/v1/sized', new Uint8Array(0), 'GET')), 405],
      [encodeRequest(request('/v1/sized-fails', new Uint8Array(1))), 500],
      [encodeRequest(request('/v1/sized-slow', new Uint8Array(1))), 504],
    ];
    for (const [message, status] of cases) {
      const r = await exchange(gateway, k, message);
      assert.deepEqual([r.status, r.length], [status, 4096]);
    }
    await new Promise((r) => setTimeout(r, 60));
  });

  it('refuses a route with invalid classes when the router is built, not on its first request', () => {
    assert.throws(() => targetRouter([sized({ floor: 1000 })]), (e: unknown) => (e as { code?: string }).code === 'MALFORMED_POLICY');
  });

  it('takes fine steps above fineFrom: a 1 MiB answer goes out as 1 MiB + 128 KiB rather than 2 MiB', async () => {
    const k = await key();
    const gateway = new OhttpGateway({ keys: () => k, target: targetRouter([sized({ floor: 1024, fineFrom: 65536, steps: 8 })]), primitives: nodeHpke });
    const r = await exchange(gateway, k, encodeRequest(request('/v1/sized', new Uint8Array(10_486).fill(1))));
    assert.equal(r.content.length, 1_048_600);
    assert.equal(r.length, (1 << 20) + (128 << 10));
  });

  it("'none' sends each answer at its own length: the message plus nonce and tag", async () => {
    const k = await key();
    const options: GatewayOptions = { keys: () => k, target: targetRouter([echoRoute]), primitives: nodeHpke, padding: 'none' };
    const gateway = new OhttpGateway(options);
    const r = await exchange(gateway, k, encodeRequest(request('/v1/echo', new Uint8Array(10))));
    assert.ok(r.length < 100, `${r.length} bytes`);
    assert.throws(() => new OhttpGateway({ ...options, padding: { floor: 1000 } }), (e: unknown) => (e as { code?: string }).code === 'MALFORMED_POLICY');
  });
});
