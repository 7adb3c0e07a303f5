// The Node RA-TLS client (cloister/attestation/node) against the real server (`cloister serve
// --simulated`, SEV-SNP and TDX) on loopback: fresh evidence over the verified connection before the
// request, one fresh request per connection, TLS session resumption, and the server without freshness.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toHex } from '../../attestation/bytes.js';
import { AttestationRefusedError, AttestedAgent, attestedConnect, attestedFetch, createAttestedVerifier, SessionStore, type AttestedOptions } from '../../attestation/client/node/index.js';
import { parseCertificate } from '../../attestation/x509.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { TdxVerifier } from '../../attestation/tdx/verify.js';
import { availableSimulatedRoots } from './trustSimulated.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';
import { loadOrCreateDevChain, type DevChain } from '../tee/sim/devChain.js';
import { startAttestedServer, type LoopbackServer } from '../tee/sim/ratlsServer.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';

const state = mkdtempSync(join(tmpdir(), 'cloister-client-'));
process.env.CLOISTER_STATE_DIR = state;

interface Running {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

async function serve(...argv: string[]): Promise<Running> {
  let url = '';
  let close: (() => Promise<void>) | undefined;
  const code = await serveCommand(['--simulated', '--port', '0', ...argv], { ...processIo, stdout: () => undefined, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u) });
  assert.equal(code, 0);
  assert.ok(close !== undefined);
  return { url, port: Number(new URL(url).port), close };
}

let snp: Running;
let tdx: Running;
let noFresh: LoopbackServer;
let trusting: AttestedOptions;
let chain: DevChain;

before(async () => {
  snp = await serve();
  tdx = await serve('--platform', 'tdx');
  const roots = await availableSimulatedRoots();
  assert.ok(roots.tdx !== undefined && roots.snp.length > 0);
  trusting = { snpVerifier: new SnpVerifier({ additionalRoots: roots.snp }), tdxVerifier: new TdxVerifier({ additionalRoots: [roots.tdx] }), policy: await simulatedMeasurementPolicy() };
  chain = await loadOrCreateDevChain(state, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  noFresh = await startAttestedServer(chain);
});

after(async () => {
  await snp.close();
  await tdx.close();
  await noFresh.close();
});

/** How many fresh-evidence requests the server has answered, from its status page. */
async function freshCount(server: Running): Promise<number> {
  const r = await attestedFetch(`${server.url}/status`, {}, trusting);
  return (JSON.parse(new TextDecoder().decode(r.body)) as { freshEvidence: { count: number } }).freshEvidence.count;
}

function get(url: string, agent: https.Agent): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

for (const platform of ['sev-snp', 'tdx'] as const) {
  describe(`attested client with fresh evidence, ${platform}`, () => {
    const server = (): Running => (platform === 'tdx' ? tdx : snp);

    it('gets evidence for its nonce over the verified connection, then sends the request on the same connection', async () => {
      const before = await freshCount(server());
      const nonce = new Uint8Array(32).fill(0xa5);
      const r = await attestedFetch(`${server().url}/status`, {}, { ...trusting, nonce });
      assert.equal(r.status, 200);
      assert.equal(r.verdict.accepted, true, r.verdict.error?.message);
      assert.equal(r.verdict.platform, platform);
      const ids = r.verdict.checks.filter((c) => c.status === 'pass').map((c) => c.id);
      for (const id of ['ratls.binding', 'fresh.binding', 'fresh.origin']) assert.ok(ids.includes(id), ids.join(' '));
      assert.equal((r.verdict.claims as { fresh: { nonce: string } }).fresh.nonce, toHex(nonce));
      assert.equal(await freshCount(server()), before + 1);
    });

    it('asks once per new connection with a random nonce, not per request on a kept-alive connection', async () => {
      const before = await freshCount(server());
      const agent = new AttestedAgent({ ...trusting, freshEvidence: true }, { keepAlive: true, maxSockets: 1 });
      const a = await get(`${server().url}/status`, agent);
      const b = await get(`${server().url}/status`, agent);
      assert.deepEqual([a.status, b.status, b.reused], [200, 200, true]);
      assert.equal(agent.lastVerdict?.checks.some((c) => c.id === 'fresh.binding' && c.status === 'pass'), true);
      agent.destroy();
      const other = new AttestedAgent({ ...trusting, freshEvidence: true });
      assert.equal((await get(`${server().url}/status`, other)).status, 200);
      other.destroy();
      assert.equal(await freshCount(server()), before + 2);
    });
  });
}

describe('attested client without the server fresh-evidence endpoint', () => {
  it('refuses the server (FRESH_EVIDENCE_UNAVAILABLE) and never sends the request', async () => {
    const count = noFresh.requests.length;
    await assert.rejects(attestedFetch(`${noFresh.url}/secret`, { method: 'POST', body: 'secret' }, { ...trusting, freshEvidence: true }), (e: unknown) => {
      assert.ok(e instanceof AttestationRefusedError);
      assert.equal(e.code, 'FRESH_EVIDENCE_UNAVAILABLE');
      assert.match(e.message, /HTTP 404 NOT_FOUND/);
      assert.equal(e.verdict.checks.at(-1)?.id, 'fresh.request');
      return true;
    });
    assert.deepEqual(noFresh.requests.slice(count).map((r) => r.url), ['/v1/attestation/fresh']);
  });

  for (const [behaviour, pattern] of [
    ['rate-limited', /HTTP 429 RATE_LIMITED \(retry after 2 s\)/],
    ['hang', /no answer within 300 ms/],
    ['close', /the server closed the connection after the fresh evidence/],
    ['huge', /an answer larger than 1048576 bytes/],
  ] as const) {
    it(`refuses a server whose fresh-evidence answer is ${behaviour} (FRESH_EVIDENCE_UNAVAILABLE)`, async () => {
      const server = await startAttestedServer(chain, { fresh: behaviour });
      try {
        await assert.rejects(attestedFetch(`${server.url}/secret`, { method: 'POST', body: 'secret' }, { ...trusting, freshEvidence: true, timeoutMs: 300 }), (e: unknown) => {
          assert.ok(e instanceof AttestationRefusedError);
          assert.equal(e.code, 'FRESH_EVIDENCE_UNAVAILABLE');
          assert.match(e.message, pattern);
          return true;
        });
        assert.deepEqual(server.requests.map((r) => r.url).filter((u) => u !== '/v1/attestation/fresh'), []);
      } finally {
        await server.close();
      }
    });
  }

  it('refuses a nonce of the wrong size before connecting', () => {
    assert.throws(() => createAttestedVerifier({ ...trusting, nonce: new Uint8Array(8) }), RangeError);
  });
});

describe('TLS session resumption', () => {
  it('resumes the session of an accepted server, still matching the certificate bytes in the cache', async () => {
    const verify = createAttestedVerifier(trusting);
    const first = await attestedConnect({ host: '127.0.0.1', port: snp.port }, verify);
    first.socket.end();
    // TLS 1.3 tickets arrive after the handshake; wait until one is stored.
    for (let i = 0; i < 100 && verify.sessions?.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(verify.sessions?.size, 1);
    const second = await attestedConnect({ host: '127.0.0.1', port: snp.port }, verify);
    second.socket.end();
    assert.deepEqual([first.resumed, first.cached], [false, false]);
    assert.deepEqual([second.resumed, second.cached], [true, true]);
    assert.equal(second.verdict.accepted, true);
    const full = createAttestedVerifier({ ...trusting, resumeSessions: false });
    for (let i = 0; i < 2; i++) {
      const c = await attestedConnect({ host: '127.0.0.1', port: snp.port }, full);
      c.socket.end();
      assert.equal(c.resumed, false);
    }
    assert.equal(full.sessions, undefined);
  });

  it('offers a session only while the certificate of its original handshake is valid', () => {
    const store = new SessionStore();
    const der = parseCertificate(noFresh.certificateDer);
    store.set('k', Buffer.from('ticket'), noFresh.certificateDer);
    assert.equal(store.get('k', new Date(der.notAfter.getTime() - 1000))?.der, noFresh.certificateDer);
    assert.equal(store.get('k', der.notAfter), undefined);
    assert.equal(store.size, 0);
  });

  it('keeps no session of a refused server', async () => {
    const strict = createAttestedVerifier({ ...trusting, snpVerifier: new SnpVerifier() });
    await assert.rejects(attestedConnect({ host: '127.0.0.1', port: noFresh.port }, strict), (e: unknown) => e instanceof AttestationRefusedError && e.code === 'UNTRUSTED_ROOT');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(strict.sessions?.size, 0);
  });
});
