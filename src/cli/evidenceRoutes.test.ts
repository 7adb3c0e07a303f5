import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { bootReportData, freshReportData } from '../../attestation/evidence/reportData.js';
import { toHex } from '../../attestation/bytes.js';
import { processIo } from './io.js';
import { runCli } from './dispatch.js';
import type { EvidenceProvider } from '../tee/provider.js';
import { loadOrCreateDevChain } from '../tee/sim/devChain.js';
import { SimulatedSnp, SimulatedSnpProvider } from '../tee/sim/snpSimulator.js';
import { buildApp, EVIDENCE_PATH, FRESH_EVIDENCE_PATH } from '../server/app.js';
import { EvidenceService } from '../server/evidenceService.js';
import { createLogger } from '../base/log.js';

const stateDir = mkdtempSync(join(tmpdir(), 'cloister-state-'));
let provider: EvidenceProvider;
const logLines: string[] = [];

before(async () => {
  const chain = await loadOrCreateDevChain(stateDir, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(5) }, 2048);
  provider = new SimulatedSnpProvider(await SimulatedSnp.create({}, { chain }));
});

async function app(options: { freshPerSecond?: number; freshBurst?: number } = {}): Promise<ReturnType<typeof buildApp>> {
  const evidence = await EvidenceService.start({ provider, ...options });
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(chunk.toString()); done(); } });
  return buildApp({ evidence, logger: createLogger({ simulated: true, platform: 'sev-snp', destination: sink }) });
}

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runCli(argv, { ...processIo, stdout: (t) => (out += t), stderr: (t) => (out += t) });
  return { code, out };
}

describe('server: attestation evidence', () => {
  const prev = process.env.CLOISTER_STATE_DIR;
  before(() => { process.env.CLOISTER_STATE_DIR = stateDir; });
  after(() => { if (prev === undefined) delete process.env.CLOISTER_STATE_DIR; else process.env.CLOISTER_STATE_DIR = prev; });

  it('serves the boot bundle at the well-known path, content-addressed and cacheable; verify-evidence accepts it only with the development root trusted', async () => {
    const a = await app();
    const index = (await a.inject({ url: EVIDENCE_PATH })).json<{ simulated: boolean; bundles: { id: string; href: string }[] }>();
    assert.equal(index.simulated, true);
    const first = index.bundles[0];
    assert.ok(first);
    const res = await a.inject({ url: first.href });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers.etag, `"${first.id}"`);
    assert.match(String(res.headers['cache-control']), /public, max-age=\d+, immutable/);
    const { createHash } = await import('node:crypto');
    assert.equal(`sha256:${createHash('sha256').update(res.rawPayload).digest('hex')}`, first.id);
    const file = join(stateDir, 'bundle.json');
    writeFileSync(file, res.rawPayload);
    const expected = toHex(await bootReportData(new Uint8Array(32)));
    const trusted = await cli('verify-evidence', file, '--trust-simulated', '--report-data', expected);
    assert.equal(trusted.code, 0, trusted.out);
    assert.match(trusted.out, /ACCEPTED.*SIMULATED/);
    const untrusted = await cli('verify-evidence', file);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.out, /UNTRUSTED_ROOT/);
    await a.close();
  });

  it('answers fresh evidence bound to the client nonce', async () => {
    const a = await app();
    const nonce = new Uint8Array(32).fill(7);
    const res = await a.inject({ method: 'POST', url: FRESH_EVIDENCE_PATH, payload: { nonce: Buffer.from(nonce).toString('base64url') } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const file = join(stateDir, 'fresh.json');
    writeFileSync(file, res.rawPayload);
    const ok = await cli('verify-evidence', file, '--trust-simulated', '--report-data', toHex(await freshReportData(nonce, new Uint8Array(32))));
    assert.equal(ok.code, 0, ok.out);
    const other = await cli('verify-evidence', file, '--trust-simulated', '--report-data', toHex(await freshReportData(new Uint8Array(32), new Uint8Array(32))));
    assert.equal(other.code, 1);
    assert.match(other.out, /POLICY_REPORT_DATA/);
    const status = (await a.inject({ url: '/status' })).json<{ tee: string; freshEvidence: { count: number; p50Ms: number } }>();
    assert.match(status.tee, /^SIMULATED/);
    assert.equal(status.freshEvidence.count, 1);
    assert.ok(status.freshEvidence.p50Ms > 0);
    await a.close();
  });

  it('rate-limits fresh evidence with 429, Retry-After and problem+json, and keeps serving', async () => {
    const a = await app({ freshPerSecond: 0.5, freshBurst: 2 });
    const ask = () => a.inject({ method: 'POST', url: FRESH_EVIDENCE_PATH, payload: { nonce: 'AAAAAAAAAAAAAAAAAAAAAA' } });
    assert.equal((await ask()).statusCode, 200);
    assert.equal((await ask()).statusCode, 200);
    const limited = await ask();
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal(limited.json<{ code: string }>().code, 'RATE_LIMITED');
    assert.equal((await a.inject({ url: '/status' })).statusCode, 200);
    await a.close();
  });

  const bad: [string, InjectOptions, number, string][] = [
    ['no body', { method: 'POST', url: FRESH_EVIDENCE_PATH }, 400, 'BAD_REQUEST'],
    ['a short nonce', { method: 'POST', url: FRESH_EVIDENCE_PATH, payload: { nonce: 'AAAA' } }, 400, 'BAD_REQUEST'],
    ['a nonce that is not base64url', { method: 'POST', url: FRESH_EVIDENCE_PATH, payload: { nonce: '!!' } }, 400, 'BAD_REQUEST'],
    ['malformed JSON', { method: 'POST', url: FRESH_EVIDENCE_PATH, payload: '{', headers: { 'content-type': 'application/json' } }, 400, 'BAD_REQUEST'],
    ['a body that is too large', { method: 'POST', url: FRESH_EVIDENCE_PATH, payload: { nonce: 'A'.repeat(10000) } }, 413, 'PAYLOAD_TOO_LARGE'],
    ['a text body', { method: 'POST', url: FRESH_EVIDENCE_PATH, payload: 'nonce', headers: { 'content-type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['an unknown bundle', { url: `${EVIDENCE_PATH}/sha256:00` }, 404, 'NOT_FOUND'],
    ['an unknown path', { url: '/nope' }, 404, 'NOT_FOUND'],
  ];
  for (const [name, request, status, code] of bad) {
    it(`answers ${name} with ${status} application/problem+json`, async () => {
      const a = await app();
      const res = await a.inject(request);
      assert.equal(res.statusCode, status, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json<{ code: string }>().code, code);
      await a.close();
    });
  }

  it('says SIMULATED in every log line and never logs client addresses', () => {
    assert.ok(logLines.length > 5);
    for (const line of logLines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.equal(entry.tee, 'SIMULATED', line);
      assert.doesNotMatch(line, /127\.0\.0\.1|remoteAddress|x-forwarded/i);
    }
  });
});
