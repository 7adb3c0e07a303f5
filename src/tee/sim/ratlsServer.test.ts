// The Node RA-TLS client against loopback HTTPS servers: a server presenting a simulated SEV-SNP RA-TLS
// certificate, and an ordinary self-signed one. A refused server never receives the request; a client given
// no launch measurement to accept connects nowhere.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import net from 'node:net';
import { fromHex } from '../../../attestation/bytes.js';
import { CloisterError } from '../../../attestation/errors.js';
import { SnpVerifier } from '../../../attestation/snp/verify.js';
import { createDevChain, type DevChain } from './devChain.js';
import { startAttestedServer, startPlainServer, type LoopbackServer } from './ratlsServer.js';
import { simulatedMeasurementsHex } from './simulatedMeasurements.js';
import { AttestationRefusedError, AttestedAgent, AttestedCertificateCache, attestedConnect, attestedFetch, createAttestedAgent, createAttestedVerifier, type AttestedOptions } from '../../../attestation/client/node/index.js';

const keyConfigs = [fromHex('01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003')];

let chain: DevChain;
let attested: LoopbackServer;
let plain: LoopbackServer;
let trusting: AttestedOptions;
/** Trusting the development root, with no launch measurement to accept. */
let unpinned: AttestedOptions;
let measurement = '';

before(async () => {
  chain = await createDevChain({ product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  attested = await startAttestedServer(chain, { keyConfigs });
  plain = await startPlainServer();
  measurement = (await simulatedMeasurementsHex())['sev-snp'];
  unpinned = { snpVerifier: new SnpVerifier({ trustedRoots: [chain.ark] }) };
  trusting = { ...unpinned, policy: { snp: { measurements: [measurement] } } };
});

after(async () => {
  await attested.close();
  await plain.close();
});

function get(url: string, agent: https.Agent, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}/echo`, { method: 'POST', agent, headers: { 'x-secret': 'do-not-leak' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const refused = (code: string) => (e: unknown): boolean => {
  assert.ok(e instanceof AttestationRefusedError, String(e));
  assert.equal(e.code, code, e.message);
  assert.equal(e.verdict.accepted, false);
  return true;
};

describe('attestedFetch', () => {
  it('verifies the server before sending the request, and sends it once accepted', async () => {
    const before = attested.requests.length;
    const r = await attestedFetch(`${attested.url}/hi?x=1`, { method: 'POST', body: 'world' }, { ...trusting, expectedKeyConfigs: keyConfigs });
    assert.equal(r.status, 200);
    assert.equal(new TextDecoder().decode(r.body), 'hello world');
    assert.equal(r.verdict.accepted, true);
    assert.equal(r.verdict.platform, 'sev-snp');
    assert.equal(r.cached, false);
    assert.deepEqual(attested.requests.slice(before), [{ method: 'POST', url: '/hi?x=1', body: 'world' }]);
  });

  const cases: [string, () => { server: LoopbackServer; options: AttestedOptions }, string][] = [
    ['the simulated root without trusting it', () => ({ server: attested, options: { ...trusting, snpVerifier: new SnpVerifier() } }), 'UNTRUSTED_ROOT'],
    ['a measurement not in the policy', () => ({ server: attested, options: { ...trusting, policy: { snp: { measurements: ['00'.repeat(48)] } } } }), 'POLICY_MEASUREMENT'],
    ['a platform the policy lists no measurement for', () => ({ server: attested, options: { ...trusting, policy: { tdx: { mrtds: [measurement] } } } }), 'MEASUREMENT_SOURCE_MISSING'],
    ['other OHTTP key configs than expected', () => ({ server: attested, options: { ...trusting, expectedKeyConfigs: [] } }), 'KEY_CONFIG_MISMATCH'],
    ['a plain self-signed certificate', () => ({ server: plain, options: trusting }), 'NO_ATTESTATION'],
    ['an expired certificate', () => ({ server: attested, options: { ...trusting, at: new Date(Date.now() + 2 * 3600_000) } }), 'CERT_EXPIRED'],
  ];
  for (const [what, make, code] of cases) {
    it(`refuses ${what} (${code}) and sends nothing`, async () => {
      const { server, options } = make();
      const count = server.requests.length;
      await assert.rejects(attestedFetch(`${server.url}/secret`, { method: 'POST', headers: { 'x-secret': '1' }, body: 'secret' }, options), refused(code));
      assert.equal(server.requests.length - count, 0);
    });
  }

  it('without a launch measurement to accept, refuses before connecting (MEASUREMENT_SOURCE_MISSING)', async () => {
    const missing = (e: unknown): boolean => e instanceof CloisterError && e.name === 'PolicyError' && e.code === 'MEASUREMENT_SOURCE_MISSING' && e.field === 'policy';
    assert.throws(() => createAttestedVerifier(unpinned), missing);
    assert.throws(() => new AttestedAgent({ ...unpinned, policy: { snp: { allowDebug: true } } }), missing);
    const count = attested.requests.length;
    // Port 1 refuses connections: the error is the measurement's, so none was attempted.
    await assert.rejects(attestedFetch('https://127.0.0.1:1/secret', { method: 'POST', body: 'secret' }, unpinned), missing);
    await assert.rejects(attestedFetch(`${attested.url}/secret`, { method: 'POST', body: 'secret' }, unpinned), missing);
    assert.equal(attested.requests.length, count);
  });

  it('accepts any launch measurement with anyMeasurement, and the verdict says so', async () => {
    const r = await attestedFetch(`${attested.url}/hi`, { method: 'POST', body: 'any' }, { ...unpinned, anyMeasurement: true });
    assert.equal(r.verdict.accepted, true);
    assert.equal(r.verdict.anyMeasurement, true);
    assert.deepEqual(r.verdict.checks.at(-1), { id: 'client.measurement-source', status: 'skipped', detail: 'ANY MEASUREMENT accepted (debugging): the policy lists no acceptable SEV-SNP launch measurement (snp.measurements)' });
    const pinned = await attestedFetch(`${attested.url}/hi`, { method: 'POST', body: 'pinned' }, { ...trusting, anyMeasurement: true });
    assert.equal(pinned.verdict.anyMeasurement, undefined, 'a listed measurement is checked, anyMeasurement or not');
  });

  it('refuses a non-https URL and reports a refused connection as the connection error', async () => {
    await assert.rejects(attestedFetch('http://127.0.0.1:1/', {}, trusting), TypeError);
    const port = plain.port;
    const closed = await startPlainServer();
    await closed.close();
    await assert.rejects(attestedFetch(`https://127.0.0.1:${closed.port}/`, {}, trusting), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ECONNREFUSED' && port > 0);
  });
});

describe('AttestedAgent', () => {
  it('sends requests over verified connections, verifying evidence once per certificate', async () => {
    const agent = createAttestedAgent(trusting);
    assert.ok(agent instanceof AttestedAgent);
    const r1 = await get(attested.url, agent, 'one');
    const r2 = await get(attested.url, agent, 'two');
    assert.deepEqual([r1, r2], [{ status: 200, text: 'hello one' }, { status: 200, text: 'hello two' }]);
    assert.equal(agent.lastVerdict?.accepted, true);
    assert.ok(attested.requests.some((r) => r.body === 'two'));
    agent.destroy();
  });

  it('fails the request without writing it when the server is refused', async () => {
    for (const [server, options, code] of [
      [plain, trusting, 'NO_ATTESTATION'],
      [attested, { ...trusting, snpVerifier: new SnpVerifier() }, 'UNTRUSTED_ROOT'],
    ] as const) {
      const agent = new AttestedAgent(options);
      const count = server.requests.length;
      await assert.rejects(get(server.url, agent, 'secret'), refused(code));
      assert.equal(server.requests.length - count, 0);
      assert.equal(agent.lastVerdict?.error?.code, code);
      agent.destroy();
    }
  });
});

describe('certificate cache', () => {
  it('skips evidence verification for the same certificate bytes while valid, and verifies anew otherwise', async () => {
    const cache = new AttestedCertificateCache();
    const verify = createAttestedVerifier({ ...trusting, cache });
    const first = await attestedConnect({ host: '127.0.0.1', port: attested.port }, verify);
    first.socket.destroy();
    const second = await attestedConnect({ host: '127.0.0.1', port: attested.port }, verify);
    second.socket.destroy();
    assert.deepEqual([first.cached, second.cached], [false, true]);
    assert.equal(cache.size, 1);
    const der = attested.certificateDer;
    assert.ok(cache.get(der, new Date()) !== undefined);
    const flipped = der.slice();
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 1;
    assert.equal(cache.get(flipped, new Date()), undefined, 'other bytes never hit');
    assert.equal(cache.get(der, new Date(Date.now() - 3600_000)), undefined, 'not before notBefore');
    assert.equal(cache.get(der, new Date(Date.now() + 2 * 3600_000)), undefined, 'expired');
    assert.equal(cache.size, 0, 'an expired entry is dropped');
    // A rejected certificate is never cached.
    const strict = createAttestedVerifier({ ...trusting, snpVerifier: new SnpVerifier(), cache });
    assert.equal((await strict(der)).verdict.accepted, false);
    assert.equal(cache.size, 0);
  });
});

describe('AttestationRefusedError', () => {
  it('carries the verdict\'s code, or ATTESTATION_REFUSED when the verdict names no registered one', () => {
    const refused = new AttestationRefusedError({ accepted: false, platform: 'unknown', simulated: false, error: { name: 'VerificationError', code: 'UNTRUSTED_ROOT', message: 'x' }, checks: [] });
    assert.ok(refused instanceof CloisterError);
    assert.equal(refused.code, 'UNTRUSTED_ROOT');
    assert.equal(refused.message, 'server certificate refused: [UNTRUSTED_ROOT] x');
    const custom = new AttestationRefusedError({ accepted: false, platform: 'unknown', simulated: false, checks: [] });
    assert.equal(custom.code, 'ATTESTATION_REFUSED');
    assert.equal(custom.message, 'server certificate refused: [REJECTED] not accepted');
    assert.equal(new AttestationRefusedError({ accepted: false, platform: 'unknown', simulated: false, error: { name: 'Error', code: 'MY_OWN', message: 'no' }, checks: [] }).code, 'ATTESTATION_REFUSED');
  });
});

describe('attestedConnect to a server that never answers the handshake', () => {
  it('fails with CONNECTION_FAILED, actual ETIMEDOUT, after timeoutMs', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      await assert.rejects(
        attestedConnect({ host: '127.0.0.1', port }, createAttestedVerifier(trusting), 50),
        (e: unknown) => e instanceof CloisterError && e.code === 'CONNECTION_FAILED' && e.actual === 'ETIMEDOUT' && e.message === `no TLS handshake with 127.0.0.1:${port} within 50 ms`,
      );
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
