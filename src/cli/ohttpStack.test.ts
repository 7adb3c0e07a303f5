// The Oblivious HTTP gateway of `cloister serve --simulated` on loopback, with the browser-safe client
// (WebCrypto HPKE) talking to the node:crypto gateway: round trips, the RFC 9458 error responses, key
// rotation with its overlap window and retirement, and key configurations bound by the certificate; the
// client failing closed on the launch measurement, sending nothing.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeRaTlsExtension, ID_PE_CMW } from '../../attestation/protocols/ratlsExtension.js';
import { decodeResponse, encodeRequest } from '../../attestation/protocols/bhttp.js';
import { OhttpClient, KeyConfigRejectedError, ohttpFetch, type OhttpClientOptions } from '../../attestation/client/ohttpClient.js';
import type { FetchLike } from '../../attestation/client/httpFetch.js';
import { CloisterError } from '../../attestation/errors.js';
import { parseMeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import { encapsulateRequest } from '../../attestation/protocols/ohttp/encapsulation.js';
import { decodeKeyConfig, decodeOhttpKeys } from '../../attestation/protocols/ohttp/keyConfig.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { parseCertificate } from '../../attestation/x509.js';
import { availableSimulatedRoots } from './trustSimulated.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';
import { OHTTP_KEY_PROBLEM_TYPE } from '../base/problems.js';
import { unauthenticatedFetch } from '../testing/unauthenticatedFetch.js';
import type { OhttpKeyStore } from '../ohttp/keyStore.js';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { MemoryCheckpointStore } from '../../attestation/transparency/checkpointStore.js';
import { directoryLogFetcher, publishMeasurements } from '../transparency/publish.js';

process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-gateway-'));

let url = '';
let close: (() => Promise<void>) | undefined;
let keys: OhttpKeyStore | undefined;
let options: OhttpClientOptions;
/** The options without a measurement to accept. */
let unpinned: OhttpClientOptions;
let measurement = '';
const encoder = new TextEncoder();

before(async () => {
  const code = await serveCommand(['--simulated', '--port', '0'], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u), onOhttpKeys: (k) => (keys = k) });
  assert.equal(code, 0);
  const roots = await availableSimulatedRoots();
  // No relay in these tests: the client fetches keys from the gateway and posts to it directly.
  measurement = (await simulatedMeasurementsHex())['sev-snp'];
  unpinned = { relay: url, gateway: url, snpVerifier: new SnpVerifier({ additionalRoots: roots.snp }), fetch: unauthenticatedFetch };
  options = { ...unpinned, policy: { snp: { measurements: [measurement] } } };
});

after(async () => {
  await close?.();
});

async function post(body: Uint8Array, contentType = 'message/ohttp-req'): Promise<{ status: number; type: string | null; json: Record<string, unknown> | undefined }> {
  const r = await unauthenticatedFetch(`${url}/.well-known/ohttp-gateway`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = new TextDecoder().decode(await r.arrayBuffer());
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: r.status, type: r.headers.get('content-type'), json };
}

async function servedConfigs(): Promise<Uint8Array[]> {
  const r = await unauthenticatedFetch(`${url}/.well-known/ohttp-gateway`, { method: 'GET', headers: { accept: 'application/ohttp-keys' } });
  assert.equal(r.headers.get('content-type'), 'application/ohttp-keys');
  return decodeOhttpKeys(new Uint8Array(await r.arrayBuffer()));
}

async function certificateConfigs(): Promise<Uint8Array[]> {
  const r = await unauthenticatedFetch(`${url}/.well-known/cloister/attestation`, { method: 'GET', headers: {} });
  assert.equal(r.headers.get('content-type'), 'application/pkix-cert');
  const ext = parseCertificate(new Uint8Array(await r.arrayBuffer())).extensions.get(ID_PE_CMW);
  assert.ok(ext !== undefined);
  return [...decodeRaTlsExtension(ext.value).keyConfigs];
}

describe('OHTTP gateway', () => {
  it('serves key configurations (X25519, HKDF-SHA256, AES-128-GCM and ChaCha20-Poly1305) that the RA-TLS certificate binds', async () => {
    const configs = await servedConfigs();
    assert.equal(configs.length, 1);
    const c = decodeKeyConfig(configs[0] as Uint8Array);
    assert.equal(c.kemId, 0x20);
    assert.deepEqual(c.suites, [{ kdfId: 1, aeadId: 1 }, { kdfId: 1, aeadId: 3 }]);
    assert.deepEqual(await certificateConfigs(), configs);
    const status = JSON.parse(new TextDecoder().decode(await (await unauthenticatedFetch(`${url}/status`, { method: 'GET', headers: {} })).arrayBuffer())) as { ohttp: { keyIds: number[] } };
    assert.deepEqual(status.ohttp.keyIds, [c.keyId]);
  });

  it('answers an encapsulated request through the whole path, for each AEAD', async () => {
    const client = new OhttpClient(options);
    const body = encoder.encode('private bytes \u00e9\u4e2d');
    const r = await client.fetch({ url: 'https://cloister/v1/echo', body });
    assert.equal(r.status, 200);
    assert.deepEqual(r.content, body);
    assert.equal(r.verdict.accepted, true);
    assert.equal(r.keyId, keys?.keys[0]?.config.keyId);
    const config = keys?.keys[0]?.config;
    assert.ok(config !== undefined);
    const chacha = await encapsulateRequest(config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/echo', headers: [], content: body, trailers: [] }), { suite: { kdfId: 1, aeadId: 3 } });
    const raw = await unauthenticatedFetch(`${url}/.well-known/ohttp-gateway`, { method: 'POST', headers: { 'content-type': 'message/ohttp-req' }, body: chacha.bytes });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('content-type'), 'message/ohttp-res');
    const opened = await chacha.opener.open(new Uint8Array(await raw.arrayBuffer()));
    assert.ok(opened.length > body.length);
  });

  it('sends a large encapsulated response as the AEAD produced it, in chunks, with its exact length, for each AEAD', async () => {
    const config = keys?.keys[0]?.config;
    assert.ok(config !== undefined);
    const body = Uint8Array.from({ length: 600_000 }, (_, i) => (i * 7919) & 0xff);
    for (const aeadId of [1, 3]) {
      const request = await encapsulateRequest(config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/echo', headers: [], content: body, trailers: [] }), { suite: { kdfId: 1, aeadId } });
      const raw = await unauthenticatedFetch(`${url}/.well-known/ohttp-gateway`, { method: 'POST', headers: { 'content-type': 'message/ohttp-req' }, body: request.bytes });
      assert.equal(raw.status, 200);
      const bytes = new Uint8Array(await raw.arrayBuffer());
      assert.equal(raw.headers.get('content-length'), String(bytes.length));
      const opened = decodeResponse(await request.opener.open(bytes));
      assert.equal(opened.status, 200);
      assert.deepEqual(opened.content, body);
    }
  });

  it('answers errors after decapsulation inside the encapsulation: unknown route 404, wrong method 405, malformed Binary HTTP 400, 100-continue 417', async () => {
    const client = new OhttpClient(options);
    assert.equal((await client.fetch({ url: 'https://cloister/nowhere', body: new Uint8Array([1]) })).status, 404);
    const wrong = await client.fetch({ url: 'https://cloister/v1/echo' });
    assert.equal(wrong.status, 405);
    assert.deepEqual(wrong.headers.find(([n]) => n === 'allow'), ['allow', 'POST']);
    assert.equal((await client.fetch({ url: 'https://cloister/v1/echo', headers: [['expect', '100-continue']], body: new Uint8Array([1]) })).status, 417);
    const config = keys?.keys[0]?.config;
    assert.ok(config !== undefined);
    const garbage = await encapsulateRequest(config, new Uint8Array([0x07, 0x01, 0x02]));
    const r = await unauthenticatedFetch(`${url}/.well-known/ohttp-gateway`, { method: 'POST', headers: { 'content-type': 'message/ohttp-req' }, body: garbage.bytes });
    assert.equal(r.status, 200, 'the outer status says nothing about the inner one');
    const inner = await garbage.opener.open(new Uint8Array(await r.arrayBuffer()));
    const { decodeResponse } = await import('../../attestation/protocols/bhttp.js');
    const decoded = decodeResponse(inner);
    assert.equal(decoded.status, 400);
    assert.equal(new TextDecoder().decode(decoded.content), 'malformed request');
  });

  it('answers errors before decapsulation in the clear with the RFC 9458 statuses, and keeps serving', async () => {
    const config = keys?.keys[0]?.config;
    assert.ok(config !== undefined);
    const good = await encapsulateRequest(config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/echo', headers: [], content: new Uint8Array([1, 2, 3]), trailers: [] }));
    const truncated = await post(good.bytes.subarray(0, 20));
    assert.deepEqual([truncated.status, truncated.json?.code], [400, 'OHTTP_MALFORMED']);
    assert.match(truncated.type ?? '', /^application\/problem\+json/);
    const otherKey = good.bytes.slice();
    otherKey[0] = ((otherKey[0] as number) + 1) & 0xff;
    const unknown = await post(otherKey);
    assert.deepEqual([unknown.status, unknown.json?.type, unknown.json?.code], [422, OHTTP_KEY_PROBLEM_TYPE, 'OHTTP_KEY']);
    const otherSuite = good.bytes.slice();
    otherSuite[6] = 2;
    assert.equal((await post(otherSuite)).status, 422);
    const altered = good.bytes.slice();
    altered[altered.length - 1] = (altered.at(-1) as number) ^ 1;
    const tampered = await post(altered);
    assert.deepEqual([tampered.status, tampered.json?.code], [422, 'OHTTP_KEY']);
    assert.equal((await post(good.bytes, 'application/octet-stream')).status, 415);
    assert.equal((await post(new Uint8Array((1 << 20) + 8192))).status, 413);
    const again = await post(good.bytes);
    // The server keeps serving. (OHTTP itself does not reject a replayed request; RFC 9458 section 6.5.)
    assert.equal(again.status, 200);
  });

  it('rotates keys with an overlap window: both configs served and bound, the old one still decrypts, then is retired (422) and a client refetches', async () => {
    assert.ok(keys !== undefined);
    const client = new OhttpClient(options);
    await client.fetch({ url: 'https://cloister/v1/echo', body: new Uint8Array([1]) });
    const old = keys.keys[0]?.config;
    assert.ok(old !== undefined);
    await keys.rotate();
    const configs = await servedConfigs();
    assert.equal(configs.length, 2);
    assert.deepEqual(configs.map((c) => decodeKeyConfig(c).keyId).at(1), old.keyId);
    assert.notEqual(decodeKeyConfig(configs[0] as Uint8Array).keyId, old.keyId);
    assert.deepEqual(await certificateConfigs(), configs, 'the re-issued certificate binds both');
    assert.equal((await client.fetch({ url: 'https://cloister/v1/echo', body: new Uint8Array([2]) })).keyId, old.keyId, 'the cached old config still works in the overlap');
    assert.equal(await keys.retire(old.keyId), true);
    assert.equal((await servedConfigs()).length, 1);
    const stale = await encapsulateRequest(old, encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/echo', headers: [], content: new Uint8Array([3]), trailers: [] }));
    assert.equal((await post(stale.bytes)).status, 422);
    const r = await client.fetch({ url: 'https://cloister/v1/echo', body: new Uint8Array([4]) });
    assert.equal(r.status, 200);
    assert.notEqual(r.keyId, old.keyId, 'after a 422 the client fetched the new configuration');
  });

  it('refuses key configurations whose certificate it cannot trust (no request is sent)', async () => {
    const client = new OhttpClient({ ...options, snpVerifier: new SnpVerifier() });
    await assert.rejects(client.fetch({ url: 'https://cloister/v1/echo', body: new Uint8Array([1]) }), (e: unknown) => e instanceof KeyConfigRejectedError && e.code === 'UNTRUSTED_ROOT');
  });
});

describe('the OHTTP client fails closed on the launch measurement', () => {
  /** The options without any measurement, and the requests their fetch made (method and path). */
  const counted = (): { options: OhttpClientOptions; sent: string[] } => {
    const sent: string[] = [];
    const fetch: FetchLike = (u, init) => {
      sent.push(`${init.method} ${new URL(u).pathname}`);
      return unauthenticatedFetch(u, init);
    };
    return { options: { ...unpinned, fetch }, sent };
  };
  const body = new Uint8Array([1]);
  const NO_SOURCE =
    "no launch measurement to accept: give the policy's snp.measurements or tdx.mrtds, or measurements (a measurements file); anyMeasurement: true accepts any (debugging only)";

  it('refuses without a measurement to accept, before fetching anything', async () => {
    const { options: none, sent } = counted();
    assert.throws(() => new OhttpClient(none), (e: unknown) => e instanceof CloisterError && e.name === 'PolicyError' && e.code === 'MEASUREMENT_SOURCE_MISSING' && e.message === NO_SOURCE);
    await assert.rejects(ohttpFetch({ url: 'https://cloister/v1/echo', body }, none), (e: unknown) => e instanceof CloisterError && e.code === 'MEASUREMENT_SOURCE_MISSING');
    assert.throws(() => new OhttpClient({ ...none, policy: { snp: { allowDebug: true }, tdx: {} } }), /MEASUREMENT_SOURCE_MISSING|no launch measurement/);
    assert.deepEqual(sent, []);
  });

  it('accepts the right measurement, from the policy or a measurements file', async () => {
    const { options: none } = counted();
    const file = parseMeasurementsFile(JSON.stringify({
      schema: 'cloister-measurements/v1',
      image: { manifest: '00'.repeat(32), variant: 'test' },
      'sev-snp': [{ measurement, vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }],
    }));
    for (const given of [{ policy: { snp: { measurements: [measurement] } } }, { measurements: file }]) {
      const r = await ohttpFetch({ url: 'https://cloister/v1/echo', body }, { ...none, ...given });
      assert.equal(r.status, 200);
      assert.equal(r.verdict.accepted, true);
      assert.equal(r.verdict.anyMeasurement, undefined);
      assert.ok(r.verdict.checks.some((c) => c.id === 'evidence.policy.measurement' && c.status === 'pass'));
    }
  });

  it('refuses a wrong measurement, sending nothing (POLICY_MEASUREMENT)', async () => {
    const { options: none, sent } = counted();
    const client = new OhttpClient({ ...none, policy: { snp: { measurements: ['ab'.repeat(48)] } } });
    await assert.rejects(client.fetch({ url: 'https://cloister/v1/echo', body }), (e: unknown) => e instanceof KeyConfigRejectedError && e.code === 'POLICY_MEASUREMENT');
    assert.deepEqual(sent, ['GET /.well-known/cloister/attestation']);
  });

  it('refuses a platform the policy lists no measurement for (a TDX list, a SEV-SNP server), sending nothing', async () => {
    const { options: none, sent } = counted();
    const client = new OhttpClient({ ...none, policy: { tdx: { mrtds: [measurement] } } });
    await assert.rejects(client.fetch({ url: 'https://cloister/v1/echo', body }), (e: unknown) => {
      assert.ok(e instanceof KeyConfigRejectedError);
      assert.equal(e.code, 'MEASUREMENT_SOURCE_MISSING');
      assert.equal(e.field, 'snp.measurements');
      assert.match(e.message, /the policy lists no acceptable SEV-SNP launch measurement \(snp\.measurements\) and no measurements file was given/);
      assert.deepEqual(e.verdict.checks.at(-1), { id: 'client.measurement-source', status: 'fail', detail: e.verdict.error?.message });
      return true;
    });
    assert.deepEqual(sent, ['GET /.well-known/cloister/attestation']);
  });

  it('takes a transparency log as the measurement source: a published measurement is accepted, an unpublished one refused, sending nothing', async () => {
    const dir = join(process.env.CLOISTER_STATE_DIR as string, 'log');
    const key = generateKeyPairSync('ed25519').privateKey;
    const logKey = generateKeyPairSync('ed25519').privateKey;
    const publish = (m: string): ReturnType<typeof publishMeasurements> =>
      publishMeasurements(parseMeasurementsFile(JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: '00'.repeat(32), variant: 'test' }, 'sev-snp': [{ measurement: m, vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }] })), '0'.repeat(40), { dir, key, logKey, fsync: false });
    const { logVkey } = await publish('ab'.repeat(48));
    const transparency = { publisherKeys: [new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }))], logVkey, store: new MemoryCheckpointStore(), fetch: directoryLogFetcher(dir) };
    const refusedBy = counted();
    await assert.rejects(ohttpFetch({ url: 'https://cloister/v1/echo', body }, { ...refusedBy.options, transparency }), (e: unknown) => e instanceof KeyConfigRejectedError && e.code === 'MEASUREMENT_NOT_LOGGED' && e.message.includes(measurement));
    assert.deepEqual(refusedBy.sent, ['GET /.well-known/cloister/attestation']);
    await publish(measurement);
    const { options: none } = counted();
    const r = await ohttpFetch({ url: 'https://cloister/v1/echo', body }, { ...none, transparency });
    assert.equal(r.status, 200);
    assert.equal(r.verdict.anyMeasurement, undefined);
    assert.match(r.verdict.checks.find((c) => c.id === 'client.transparency-log')?.detail ?? '', /listed at log index 1 of cloister\.local\/log \(tree size 2\)/);
    assert.equal(r.verdict.checks.at(-1)?.id, 'client.hardware-policy', 'the logged hardware policy is judged after the measurement');
    assert.equal((await transparency.store.latest('cloister.local/log'))?.size, 2);
  });

  it('accepts any measurement with anyMeasurement: true, and the verdict says so', async () => {
    const { options: none } = counted();
    const r = await ohttpFetch({ url: 'https://cloister/v1/echo', body }, { ...none, anyMeasurement: true });
    assert.equal(r.status, 200);
    assert.equal(r.verdict.accepted, true);
    assert.equal(r.verdict.anyMeasurement, true);
    assert.deepEqual(r.verdict.checks.at(-1), {
      id: 'client.measurement-source',
      status: 'skipped',
      detail: 'ANY MEASUREMENT accepted (debugging): the policy lists no acceptable SEV-SNP launch measurement (snp.measurements)',
    });
  });
});
