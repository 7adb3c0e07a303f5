// `cloister verify https://HOST:PORT` against loopback HTTPS servers with the simulated TEE (its
// development root in a temporary state directory), and against an ordinary self-signed server; failing
// closed on the launch measurement.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateDevChain } from '../tee/sim/devChain.js';
import { startAttestedServer, startPlainServer, type LoopbackServer } from '../tee/sim/ratlsServer.js';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { fromHex } from '../../attestation/bytes.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';
import { cli } from '../testing/cliRun.js';

const state = mkdtempSync(join(tmpdir(), 'cloister-verify-'));
process.env.CLOISTER_STATE_DIR = state;

const oneLine = (s: string): void => {
  assert.equal(s.trimEnd().split('\n').length, 1, `expected one line, got: ${s}`);
  assert.doesNotMatch(s, /\n\s+at /);
};

let attested: LoopbackServer;
/** The simulated TEE with another launch measurement than its default. */
let relaunched: LoopbackServer;
let plain: LoopbackServer;
let served: { url: string; close: () => Promise<void> };
const MEASUREMENT = (await simulatedMeasurementsHex())['sev-snp'];
const OTHER = 'ab'.repeat(48);

before(async () => {
  const chain = await loadOrCreateDevChain(state, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  const keyConfigs = [new Uint8Array([1, 0, 32, ...new Array<number>(32).fill(7), 0, 4, 0, 1, 0, 1])];
  attested = await startAttestedServer(chain, { keyConfigs });
  relaunched = await startAttestedServer(chain, { keyConfigs, snp: { measurement: fromHex(OTHER) } });
  plain = await startPlainServer();
  let url = '';
  let close: (() => Promise<void>) | undefined;
  assert.equal(await serveCommand(['--simulated', '--port', '0'], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u) }), 0);
  served = { url, close: close ?? (() => Promise.resolve()) };
});

after(async () => {
  await attested.close();
  await relaunched.close();
  await plain.close();
  await served.close();
});

describe('cloister verify', () => {
  it('accepts a genuine simulated server with --trust-simulated and prints platform, measurement, TCB and key bindings', async () => {
    const r = await cli('verify', attested.url, '--trust-simulated', '--measurement', MEASUREMENT);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^ACCEPTED: https:\/\/127\.0\.0\.1:\d+ presents an RA-TLS certificate with a SEV-SNP report v3 from Milan, signed by the VCEK, chain to .* \(evidence marked SIMULATED\)/);
    assert.match(r.stdout, new RegExp(`\\n {2}measurement {2}${MEASUREMENT}, allowed\\n`));
    assert.match(r.stdout, /platform +sev-snp/);
    assert.match(r.stdout, /tcb +reported 0x[0-9a-f]{16} \(.*bootloader 4.*snp 24.*\)/);
    assert.match(r.stdout, /certificate +SPKI SHA-256 [0-9a-f]{64}, valid until /);
    assert.match(r.stdout, /key configs +1 OHTTP key configuration/);
    assert.equal(attested.requests.length, 0, 'verify sends no request');
  });

  it('refuses without a launch measurement to accept, in one line naming the flags, before connecting (exit 2)', async () => {
    const gone = await startPlainServer();
    await gone.close();
    for (const url of [attested.url, `https://127.0.0.1:${gone.port}`]) {
      const r = await cli('verify', url);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        "error [USAGE]: no launch measurement to accept: give --measurement HEX or --measurements FILE (--trust-simulated alone accepts the simulated TEE's), or --any-measurement to accept any, for debugging (see cloister verify --help)\n",
      );
    }
    const policy = join(state, 'no-measurements.json');
    writeFileSync(policy, JSON.stringify({ allowDebug: false }));
    assert.match((await cli('verify', attested.url, '--policy', policy)).stderr, /^error \[USAGE\]: no launch measurement to accept/);
  });

  it("with --trust-simulated alone, accepts exactly the simulated TEE's launch measurement and says so", async () => {
    const r = await cli('verify', attested.url, '--trust-simulated');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`\\n {2}measurement {2}${MEASUREMENT}, the simulated TEE's \\(--trust-simulated\\)\\n`));
    const other = await cli('verify', relaunched.url, '--trust-simulated');
    assert.equal(other.code, 1);
    oneLine(other.stdout);
    assert.match(other.stdout, new RegExp(`^REJECTED \\[POLICY_MEASUREMENT\\] evidence\\.policy\\.measurement: measurement ${OTHER} is not in the allowed list`));
    assert.equal((await cli('verify', relaunched.url, '--trust-simulated', '--measurement', OTHER)).code, 0);
  });

  it('accepts any launch measurement with --any-measurement, and says so in the summary and the JSON', async () => {
    const r = await cli('verify', relaunched.url, '--trust-simulated', '--any-measurement');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`\\n {2}measurement {2}${OTHER}, ANY MEASUREMENT accepted \\(debugging\\): not checked\\n`));
    const j = await cli('verify', relaunched.url, '--trust-simulated', '--any-measurement', '--json');
    assert.equal(j.code, 0, j.stderr);
    const v = JSON.parse(j.stdout) as { accepted: boolean; anyMeasurement?: boolean; checks: { id: string; status: string; detail?: string }[] };
    assert.equal(v.accepted, true);
    assert.equal(v.anyMeasurement, true);
    assert.ok(v.checks.some((c) => c.id === 'client.measurement-source' && c.status === 'skipped' && c.detail?.startsWith('ANY MEASUREMENT accepted (debugging)') === true));
  });

  it('prints the verdict as JSON with --json', async () => {
    const r = await cli('verify', attested.url, '--trust-simulated', '--json');
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout) as { accepted: boolean; platform: string; url: string; claims: { certificate: { spkiSha256: string } } };
    assert.equal(v.accepted, true);
    assert.equal(v.platform, 'sev-snp');
    assert.equal(v.url, attested.url);
    assert.match(v.claims.certificate.spkiSha256, /^[0-9a-f]{64}$/);
  });

  it('rejects the simulated root without --trust-simulated (UNTRUSTED_ROOT, exit 1)', async () => {
    const r = await cli('verify', attested.url, '--measurement', MEASUREMENT);
    assert.equal(r.code, 1);
    oneLine(r.stdout);
    assert.match(r.stdout, /^REJECTED \[UNTRUSTED_ROOT\] evidence\./);
  });

  it('says that a plain HTTPS server has no attestation (NO_ATTESTATION, exit 1)', async () => {
    const r = await cli('verify', plain.url, '--trust-simulated');
    assert.equal(r.code, 1);
    oneLine(r.stdout);
    assert.match(r.stdout, /^REJECTED \[NO_ATTESTATION\] certificate\.attestation: no attestation found/);
    assert.equal(plain.requests.length, 0);
  });

  it('rejects a measurement not in the policy, from --measurement or --policy (POLICY_MEASUREMENT, exit 1)', async () => {
    const r = await cli('verify', attested.url, '--trust-simulated', '--measurement', OTHER);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^REJECTED \[POLICY_MEASUREMENT\]/);
    const policy = join(state, 'policy.json');
    writeFileSync(policy, JSON.stringify({ measurements: ['cd'.repeat(48)] }));
    const p = await cli('verify', attested.url, '--trust-simulated', '--policy', policy);
    assert.equal(p.code, 1);
    assert.match(p.stdout, /POLICY_MEASUREMENT/);
    writeFileSync(policy, JSON.stringify({ measurements: [MEASUREMENT] }));
    assert.equal((await cli('verify', attested.url, '--trust-simulated', '--policy', policy)).code, 0);
  });

  it('requires fresh evidence for a random nonce with --fresh, or for the given one with --nonce', async () => {
    const r = await cli('verify', served.url, '--trust-simulated', '--fresh');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /freshness +evidence acquired now for nonce [0-9a-f]{64}, same launch, bound to the same keys/);
    const nonce = '0123456789abcdef'.repeat(2);
    const n = await cli('verify', served.url, '--trust-simulated', '--nonce', nonce, '--json');
    assert.equal(n.code, 0, n.stderr);
    const v = JSON.parse(n.stdout) as { claims: { fresh: { nonce: string } }; checks: { id: string; status: string }[] };
    assert.equal(v.claims.fresh.nonce, nonce);
    assert.ok(v.checks.some((c) => c.id === 'fresh.binding' && c.status === 'pass'));
  });

  it('refuses a server without the fresh-evidence endpoint when --fresh is given (FRESH_EVIDENCE_UNAVAILABLE, exit 1)', async () => {
    const r = await cli('verify', attested.url, '--trust-simulated', '--fresh');
    assert.equal(r.code, 1);
    oneLine(r.stdout);
    assert.match(r.stdout, /^REJECTED \[FRESH_EVIDENCE_UNAVAILABLE\] fresh\.request: the server returned no fresh evidence: HTTP 404 NOT_FOUND/);
  });

  it('rejects an expired certificate with --at (CERT_EXPIRED)', async () => {
    const r = await cli('verify', attested.url, '--trust-simulated', '--at', new Date(Date.now() + 2 * 3600_000).toISOString());
    assert.equal(r.code, 1);
    assert.match(r.stdout, /CERT_EXPIRED/);
  });

  it('reports a refused connection in one line (exit 2)', async () => {
    const gone = await startPlainServer();
    await gone.close();
    const r = await cli('verify', `https://127.0.0.1:${gone.port}`, '--measurement', MEASUREMENT);
    assert.equal(r.code, 2);
    oneLine(r.stderr);
    assert.match(r.stderr, /^error: cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  for (const [argv, pattern] of [
    [[], /missing the server URL/],
    [['http://127.0.0.1:1'], /must be https:\/\/HOST/],
    [['https://127.0.0.1:1/path'], /without path/],
    [['not a url'], /is not a URL/],
    [['https://a', 'https://b'], /expected one server URL/],
    [['https://127.0.0.1:1', '--measurement', '12'], /--measurement must be 48 bytes/],
    [['https://127.0.0.1:1', '--at', 'yesterday'], /--at "yesterday"/],
    [['https://127.0.0.1:1', '--nonce', '1234'], /--nonce must be 16\.\.64 bytes of hex/],
    [['https://127.0.0.1:1', '--bogus'], /Unknown option/],
    [['https://127.0.0.1:1', '--any-measurement', '--measurement', MEASUREMENT], /--any-measurement contradicts --measurement and --measurements/],
  ] as const) {
    it(`is a usage error (exit 2): ${argv.join(' ') || '(no arguments)'}`, async () => {
      const r = await cli('verify', ...argv);
      assert.equal(r.code, 2);
      oneLine(r.stderr);
      assert.match(r.stderr, pattern);
    });
  }

  it('prints help, and a usage error as JSON with --json', async () => {
    const h = await cli('verify', '--help');
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^Usage: cloister verify https:\/\/HOST/);
    assert.match(h.stdout, /\n {2}--any-measurement {9}accept any launch measurement, for debugging/);
    const j = await cli('verify', 'http://x', '--json');
    assert.equal(j.code, 2);
    assert.equal((JSON.parse(j.stdout) as { error: { code: string } }).error.code, 'USAGE');
  });

  it('needs a development root for --trust-simulated', async () => {
    process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-empty-'));
    try {
      const r = await cli('verify', attested.url, '--trust-simulated');
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no development root/);
    } finally {
      process.env.CLOISTER_STATE_DIR = state;
    }
  });
});
