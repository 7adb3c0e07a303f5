import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ALLOW_PROVISIONAL } from '../../attestation/snp/validate.js';
import { fromHex as fromHexString } from '../../attestation/bytes.js';
import { recordedPcsResponsesFile } from '../../attestation/testing/recordedPcs.js';
import { tdxVectorRows } from '../../attestation/testing/tdxVectors.js';
import { ATTESTATION_VECTORS as V } from '../../attestation/testing/vectors.js';
import type { TdxCollateral } from '../../attestation/tdx/collateral.js';
import { parseQuote, type TdxQuote } from '../../attestation/tdx/quote.js';
import { assembleTdxBundle } from '../tee/assembleBundle.js';
import { createSimulatedCollateral } from '../tee/sim/simulatedCollateral.js';
import { loadOrCreateTdxDevChain } from '../tee/sim/tdxDevChain.js';
import { SimulatedTdx, SimulatedTdxProvider } from '../tee/sim/tdxSimulator.js';
import { evidenceCommand } from './evidenceCommand.js';
import { processIo } from './io.js';
import { cli } from '../testing/cliRun.js';

const tmp = mkdtempSync(join(tmpdir(), 'cloister-cli-'));
function file(name: string, content: Uint8Array | string): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

const S1 = `${V}go-sev-guest/attestation.bin`;
const S1_VCEK = `${V}go-sev-guest/vcek_milan.der`;
const S1_CHAIN = `${V}go-sev-guest/trust/ask_ark_milan.pem`;
const S4_EXT = `${V}derived/snp-extended-reports/trustee_vlek2.ext.bin`;
const S6_EXT = `${V}derived/snp-extended-reports/az_milan.ext.bin`;

const oneLine = (s: string): void => {
  assert.equal(s.trimEnd().split('\n').length, 1, `expected one line, got: ${s}`);
  assert.doesNotMatch(s, /\n\s+at /, 'no stack trace');
};

describe('cloister verify-evidence', () => {
  it('rejects the debug report (S1) under the default policy with one line naming check, field, expected and actual', async () => {
    const r = await cli('verify-evidence', S1, '--certs', S1_VCEK, '--certs', S1_CHAIN, '--at', '2025-06-01T00:00:00Z');
    assert.equal(r.code, 1);
    oneLine(r.stdout);
    assert.match(r.stdout, /^REJECTED \[POLICY_DEBUG\] policy\.debug: .*field POLICY\.DEBUG: expected 0, actual 1/);
  });

  it('accepts it with --allow-debug and the right --report-data and --measurement', async () => {
    const r = await cli('verify-evidence', S1, '--certs', S1_VCEK, '--certs', S1_CHAIN, '--allow-debug', '--at', '2025-06-01', '--report-data', `0102030405${'00'.repeat(59)}`,
      '--measurement', 'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^ACCEPTED: SEV-SNP report v2 from Milan, signed by the VCEK, chain to ARK-Milan/);
    assert.match(r.stdout, /\n {2}measurement {2}b07af962[0-9a-f]{88}\n/);
  });

  it('accepts it without a measurement and says the measurement was not checked', async () => {
    const r = await cli('verify-evidence', S1, '--certs', S1_VCEK, '--certs', S1_CHAIN, '--allow-debug', '--at', '2025-06-01');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /\n {2}measurement {2}b07af962[0-9a-f]{88} \(NOT CHECKED: no --measurement or --measurements\)\n/);
  });

  it('rejects a measurement that is not allowed', async () => {
    const r = await cli('verify-evidence', S1, '--certs', S1_VCEK, '--allow-debug', '--measurement', '00'.repeat(48));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /POLICY_MEASUREMENT/);
  });

  it('verifies an extended report at a time inside the VLEK validity, and rejects it now', async () => {
    assert.equal((await cli('verify-evidence', S4_EXT, '--at', '2025-06-01', '--allow-provisional-tcb')).code, 0);
    const now = await cli('verify-evidence', S4_EXT, '--at', '2026-11-23T00:00:00Z', '--allow-provisional-tcb');
    assert.equal(now.code, 1);
    assert.match(now.stdout, /CERT_EXPIRED.*SEV-VLEK/);
  });

  it('rejects late-loaded microcode (S6, Azure Milan) in one line naming both TCBs and the flag that accepts it', async () => {
    const r = await cli('verify-evidence', S6_EXT, '--at', '2025-06-01');
    assert.equal(r.code, 1);
    oneLine(r.stdout);
    assert.match(r.stdout, /^REJECTED \[POLICY_PROVISIONAL_FIRMWARE\] policy\.provisional-firmware: current_tcb \{bl=3 tee=0 snp=8 ucode=210\} differs from committed_tcb \{bl=3 tee=0 snp=8 ucode=115\}.*--allow-provisional-tcb/);
    assert.ok(r.stdout.includes(ALLOW_PROVISIONAL));
    assert.equal((await cli('verify-evidence', S6_EXT, '--at', '2025-06-01', '--allow-provisional-tcb')).code, 0);
  });

  it('checks the SEV-SNP TCB, firmware and platform-feature flags (S4: AWS, PLATFORM_INFO 0x27)', async () => {
    const s4 = [S4_EXT, '--at', '2025-06-01', '--allow-provisional-tcb'];
    const ok = await cli('verify-evidence', ...s4, '--min-tcb', 'bl=4,tee=0,snp=24,ucode=217', '--min-launch-tcb', 'ucode=219', '--min-version', '1.55', '--require-tsme');
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const rejected: [string[], RegExp][] = [
      [['--min-tcb', 'ucode=218'], /POLICY_TCB_TOO_LOW\] policy\.min-tcb: reported_tcb/],
      [['--min-launch-tcb', 'ucode=220'], /POLICY_TCB_TOO_LOW\] policy\.min-launch-tcb: launch_tcb/],
      [['--min-version', '1.56'], /POLICY_FIRMWARE_TOO_OLD/],
      [['--require-smt-disabled'], /POLICY_PLATFORM_FEATURE\] policy\.smt: .*field POLICY\.SMT/],
      [['--require-ciphertext-hiding'], /POLICY_PLATFORM_FEATURE\] policy\.ciphertext-hiding/],
    ];
    for (const [flags, pattern] of rejected) {
      const r = await cli('verify-evidence', ...s4, ...flags);
      assert.equal(r.code, 1, flags.join(' '));
      assert.match(r.stdout, pattern);
    }
    assert.equal((await cli('verify-evidence', ...s4, '--policy', file('tsme.json', JSON.stringify({ requireTsme: true, minLaunchTcb: { microcode: 219 } })))).code, 0);
  });

  it('reads a policy file, and flags override it', async () => {
    const policy = file('policy.json', JSON.stringify({ allowDebug: true, vmpl: 0 }));
    assert.equal((await cli('verify-evidence', S1, '--certs', S1_VCEK, '--policy', policy)).code, 0);
    const strict = file('strict.json', JSON.stringify({ allowDebug: true, vmpl: 2 }));
    const r = await cli('verify-evidence', S1, '--certs', S1_VCEK, '--policy', strict);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /POLICY_VMPL/);
  });

  it('prints the verdict and every parsed claim as JSON with the same exit codes', async () => {
    const r = await cli('verify-evidence', S1, '--certs', S1_VCEK, '--json');
    assert.equal(r.code, 1);
    const v = JSON.parse(r.stdout) as { accepted: boolean; error: { code: string }; claims: Record<string, unknown>; checks: unknown[] };
    assert.equal(v.accepted, false);
    assert.equal(v.error.code, 'POLICY_DEBUG');
    for (const k of ['version', 'policy', 'measurement', 'reportedTcb', 'chipId', 'platformInfo', 'keyInfo', 'chain', 'vek']) assert.ok(k in v.claims, k);
    const bad = await cli('verify-evidence', file('short.bin', new Uint8Array(10)), '--json');
    assert.equal(bad.code, 2);
    assert.equal((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, 'TRUNCATED');
  });

  it('verifies a JSON evidence bundle', async () => {
    const b64 = (p: string): string => Buffer.from(new Uint8Array(readFileSync(p))).toString('base64');
    const bundle = file('bundle.json', JSON.stringify({ format: 'cloister-evidence/v1', platform: 'sev-snp', evidence: b64(S1), certificates: [b64(S1_VCEK)], simulated: false }));
    assert.equal((await cli('verify-evidence', bundle, '--allow-debug')).code, 0);
    const broken = file('broken.json', JSON.stringify({ format: 'other', evidence: 3 }));
    const r = await cli('verify-evidence', broken);
    assert.equal(r.code, 2);
    oneLine(r.stderr);
    assert.match(r.stderr, /MALFORMED_EVIDENCE.*\$\.format.*\$\.platform.*\$\.evidence/);
  });

  const usage: [string, string[], RegExp][] = [
    ['a truncated file', [file('trunc.bin', new Uint8Array(1000))], /TRUNCATED.*1000 bytes/],
    ['a missing file', ['/nonexistent/report.bin'], /UNREADABLE_INPUT.*ENOENT/],
    ['no FILE', [], /USAGE.*missing evidence FILE/],
    ['two FILEs', [S1, S1], /USAGE.*expected one evidence FILE/],
    ['an unknown option', [S1, '--bogus'], /USAGE.*--bogus/],
    ['a bad --at', [S1, '--at', 'yesterday'], /USAGE.*--at "yesterday"/],
    ['a short --report-data', [S1, '--report-data', 'abcd'], /USAGE.*64 bytes/],
    ['non-hex --measurement', [S1, '--measurement', 'zz'.repeat(48)], /USAGE.*--measurement must be 48 bytes of hex/],
    ['a certificate file that is not a certificate', [S1, '--certs', file('junk.pem', 'hello')], /MALFORMED_DER/],
    ['a --crl that is a certificate', [S1, '--crl', S1_VCEK], /MALFORMED_DER.*not a CRL/],
    ['a malformed policy', [S1, '--policy', file('bad-policy.json', '{"vmpl": 9}')], /MALFORMED_POLICY.*\$\.vmpl/],
    ['an unknown --min-tcb component', [S1, '--min-tcb', 'bl=3,bogus=1'], /USAGE.*--min-tcb must be comma-separated NAME=N/],
    ['a --min-tcb component above 255', [S1, '--min-tcb', 'ucode=256'], /USAGE.*--min-tcb.*"ucode=256"/],
    ['a --min-launch-tcb component given twice', [S1, '--min-launch-tcb', 'bl=1,bl=2'], /USAGE.*--min-launch-tcb.*each once/],
    ['a bad --min-version', [S1, '--min-version', '1.256'], /USAGE.*--min-version must be MAJOR\.MINOR/],
    ['reserved bytes set', [file('mbz.bin', (() => { const b = new Uint8Array(readFileSync(S1)); b[0x4c] = 1; return b; })())], /RESERVED_NONZERO.*0x04c\.\.0x050/],
  ];
  for (const [name, args, pattern] of usage) {
    it(`exits 2 with one readable line on ${name}`, async () => {
      const r = await cli('verify-evidence', ...args);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      oneLine(r.stderr);
      assert.match(r.stderr, pattern);
    });
  }

  it('rejects a missing chain (no VCEK anywhere) with exit 1', async () => {
    const r = await cli('verify-evidence', S1, '--allow-debug');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /MISSING_CERTIFICATE.*no VCEK certificate/);
  });

  it('rejects a certificate of the wrong product with exit 1', async () => {
    const r = await cli('verify-evidence', `${V}trustee/az-snp-vtpm/snp-report-genoa.bin`, '--certs', S1_VCEK);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /PRODUCT_MISMATCH.*Genoa.*Milan-B0/);
  });

  it('prints help', async () => {
    const r = await cli('verify-evidence', '--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: cloister verify-evidence FILE/);
    const top = await cli('--help');
    assert.match(top.stdout, /verify-evidence/);
    assert.equal((await cli()).code, 2);
    const unknown = await cli('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  it('the installed binary runs under Node and exits with the verdict code', async () => {
    const main = fileURLToPath(new URL('./main.js', import.meta.url));
    const run = promisify(execFile);
    const ok = await run(process.execPath, [main, 'verify-evidence', S1, '--certs', S1_VCEK, '--allow-debug']);
    assert.match(ok.stdout, /ACCEPTED/);
    await assert.rejects(run(process.execPath, [main, 'verify-evidence', '/nonexistent']), (e: { code: number; stderr: string }) => e.code === 2 && /UNREADABLE_INPUT/.test(e.stderr));
  });

  describe('TDX evidence', () => {
    const T8 = `${V}dcap-qvl/tdx_quote`;
    const T4 = `${V}trustee/tdx/tdx_quote_4.dat`;
    const b64 = (p: string): string => Buffer.from(new Uint8Array(readFileSync(p))).toString('base64');
    const collateral = JSON.parse(readFileSync(`${V}dcap-qvl/tdx_quote_collateral.json`, 'utf8')) as Record<string, string>;
    const t8Bundle = file('t8.json', JSON.stringify({ format: 'cloister-evidence/v1', platform: 'tdx', evidence: b64(T8), certificates: [], crls: [], collateral }));

    const collateralFile = `${V}dcap-qvl/tdx_quote_collateral.json`;
    const withCollateral = ['--collateral', collateralFile, '--at', '2025-06-25T00:00:00Z'];

    it('accepts the real T8 quote as a bundle with collateral, or raw with --collateral, at 2025-06-25: TCB UpToDate', async () => {
      for (const args of [[t8Bundle, '--at', '2025-06-25T00:00:00Z'], [T8, ...withCollateral]]) {
        const r = await cli('verify-evidence', ...args);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.match(r.stdout, /^ACCEPTED: TDX quote v4 \(TDX 1\.0 body\), chain to Intel SGX Root CA\n/);
        assert.match(r.stdout, /tcb status {3}UpToDate: platform UpToDate since 2024-03-13; module TDX_01 UpToDate since 2024-03-13; QE \(ISVSVN 6\) UpToDate since 2024-03-13 \(TCB evaluation data 17\)/);
      }
      const j = await cli('verify-evidence', t8Bundle, '--at', '2025-06-25', '--json');
      assert.equal(j.code, 0);
      const v = JSON.parse(j.stdout) as { platform: string; claims: { tcbStatus: string; tcb: { status: string; tcbDate: string; advisoryIds: string[] } } };
      assert.equal(v.platform, 'tdx');
      assert.deepEqual([v.claims.tcbStatus, v.claims.tcb.tcbDate, v.claims.tcb.advisoryIds], ['UpToDate', '2024-03-13T00:00:00.000Z', []]);
    });

    it('rejects T8 without collateral (COLLATERAL_MISSING) unless --chain-only, and with stale collateral (COLLATERAL_EXPIRED)', async () => {
      const none = await cli('verify-evidence', T8, '--at', '2025-06-25');
      assert.equal(none.code, 1);
      oneLine(none.stdout);
      assert.match(none.stdout, /^REJECTED \[COLLATERAL_MISSING\] collateral\.present: .*--chain-only/);
      const chain = await cli('verify-evidence', T8, '--at', '2025-06-25', '--chain-only');
      assert.equal(chain.code, 0, chain.stdout + chain.stderr);
      assert.match(chain.stdout, /tcb status {3}not evaluated \(--chain-only\)/);
      assert.match(chain.stdout, /not evaluated: collateral, tcb, tcb-status/);
      const stale = await cli('verify-evidence', T8, '--collateral', collateralFile);
      assert.equal(stale.code, 1);
      assert.match(stale.stdout, /^REJECTED \[COLLATERAL_EXPIRED\] collateral\.tcb-info: TCB info is valid 2025-06-19T10:16:03\.000Z\.\.2025-07-19T10:16:03\.000Z/);
    });

    it('maps --measurement to MRTD and checks --report-data; reads a TDX --policy file', async () => {
      const mrtd = '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7';
      const right = await cli('verify-evidence', T8, ...withCollateral, '--measurement', mrtd);
      assert.equal(right.code, 0);
      assert.match(right.stdout, new RegExp(`\\n {2}mrtd {9}${mrtd}\\n`));
      assert.match((await cli('verify-evidence', T8, ...withCollateral)).stdout, new RegExp(`\\n {2}mrtd {9}${mrtd} \\(NOT CHECKED: no --measurement or --measurements\\)\\n`));
      const wrong = await cli('verify-evidence', T8, ...withCollateral, '--measurement', '00'.repeat(48));
      assert.equal(wrong.code, 1);
      oneLine(wrong.stdout);
      assert.match(wrong.stdout, /^REJECTED \[POLICY_MEASUREMENT\] policy\.mrtd: .*field MRTD/);
      assert.match((await cli('verify-evidence', T8, ...withCollateral, '--report-data', '00'.repeat(64))).stdout, /POLICY_REPORT_DATA.*REPORTDATA/);
      const policy = file('tdx-policy.json', JSON.stringify({ mrtds: [mrtd], rtmrs: [null, null, null, 'ab'.repeat(48)] }));
      assert.match((await cli('verify-evidence', T8, ...withCollateral, '--policy', policy)).stdout, /POLICY_MEASUREMENT\] policy\.rtmrs: .*RTMR3/);
      const snpPolicy = await cli('verify-evidence', T8, '--policy', file('snp-policy.json', JSON.stringify({ vmpl: 0 })));
      assert.equal(snpPolicy.code, 2);
      assert.match(snpPolicy.stderr, /MALFORMED_POLICY.*\$\.vmpl: unknown field/);
    });

    it('reads saved Intel PCS responses as --collateral (T1 at 2023-07-01: no matching TCB level)', async () => {
      const T1 = file('t1.dat', tdxVectorRows().find((r) => r.id === 'T1')?.quote ?? new Uint8Array());
      const responses = file('t1-pcs.json', JSON.stringify(recordedPcsResponsesFile()));
      const r = await cli('verify-evidence', T1, '--collateral', responses, '--at', '2023-07-01T00:00:00Z');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^REJECTED \[TCB_NOT_SUPPORTED\] tcb: no TCB level of FMSPC 50806f000000 is met/);
    });

    it('names the deciding fact of a TCB status rejection, and --allow-tcb-status widens the accepted set', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cloister-tdx-tcb-'));
      const chain = await loadOrCreateTdxDevChain(dir);
      const current = await SimulatedTdx.create({}, { chain });
      const behind = await SimulatedTdx.create({ teeTcbSvn: fromHexString('03000300000000000000000000000000') }, { chain });
      const quoteOf = async (sim: SimulatedTdx) => new SimulatedTdxProvider(sim).getEvidence({ reportData: new Uint8Array(64) });
      // Collateral issued for the current platform: its TDX module SVN (TEE_TCB_SVN[2]) 4 is UpToDate, 3 OutOfDate.
      const collateral = await createSimulatedCollateral(chain, parseQuote((await quoteOf(current)).evidence), Date.now());
      const bundle = file('behind.json', assembleTdxBundle(await quoteOf(behind), { collateral }).bytes);
      const root = file('tcb-root.pem', readFileSync(join(dir, 'dev-root', 'tdx', 'root.pem')));
      const r = await cli('verify-evidence', bundle, '--trust-root', root);
      assert.equal(r.code, 1, r.stderr);
      oneLine(r.stdout);
      assert.match(r.stdout, /^REJECTED \[TCB_STATUS\] policy\.tcb-status: platform OutOfDate since \d{4}-\d\d-\d\d \(INTEL-SA-SIMULATED\); module TDX_00 UpToDate; QE \(ISVSVN 1\) UpToDate since .*expected UpToDate, actual OutOfDate/);
      const allowed = await cli('verify-evidence', bundle, '--trust-root', root, '--allow-tcb-status', 'SWHardeningNeeded,OutOfDate', '--json');
      assert.equal(allowed.code, 0, allowed.stdout);
      const v = JSON.parse(allowed.stdout) as { claims: { tcb: { status: string; advisoryIds: string[] } } };
      assert.deepEqual([v.claims.tcb.status, v.claims.tcb.advisoryIds], ['OutOfDate', ['INTEL-SA-SIMULATED']]);
    });

    it('--event-log replays a CCEL log against the quote\'s RTMRs', async () => {
      const T3 = `${V}go-tdx-guest/ccel/cos-113-tdx-quote.dat`;
      const log = `${V}go-tdx-guest/ccel/ccel_data.dat`;
      const ok = await cli('verify-evidence', T3, '--chain-only', '--at', '2025-01-01T00:00:00Z', '--event-log', log);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const bad = await cli('verify-evidence', T8, '--chain-only', '--at', '2025-06-25T00:00:00Z', '--event-log', log);
      assert.equal(bad.code, 1);
      oneLine(bad.stdout);
      assert.match(bad.stdout, /^REJECTED \[POLICY_MEASUREMENT\] event-log: rtmr0 .* is not the replay of the event log/);
    });

    it('rejects the debug TD T4 with POLICY_DEBUG unless --allow-debug', async () => {
      const r = await cli('verify-evidence', T4, '--at', '2023-07-01T00:00:00Z', '--chain-only');
      assert.equal(r.code, 1);
      oneLine(r.stdout);
      assert.match(r.stdout, /^REJECTED \[POLICY_DEBUG\] policy\.debug: .*field TDATTRIBUTES\.DEBUG: expected 0, actual 1/);
      assert.equal((await cli('verify-evidence', T4, '--at', '2023-07-01T00:00:00Z', '--chain-only', '--allow-debug')).code, 0);
    });

    it('accepts a simulated TDX bundle only with --trust-simulated', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cloister-tdx-state-'));
      const saved = process.env.CLOISTER_STATE_DIR;
      process.env.CLOISTER_STATE_DIR = dir;
      try {
        const missing = await cli('verify-evidence', T8, '--trust-simulated');
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /USAGE.*no TDX development root/);
        const chain = await loadOrCreateTdxDevChain(dir);
        const sim = await SimulatedTdx.create({}, { chain });
        const raw = await new SimulatedTdxProvider(sim).getEvidence({ reportData: new Uint8Array(64).fill(0x42) });
        const collateral = await createSimulatedCollateral(chain, parseQuote(raw.evidence), Date.now());
        const bundle = file('sim-tdx.json', assembleTdxBundle(raw, { collateral }).bytes);
        const untrusted = await cli('verify-evidence', bundle);
        assert.equal(untrusted.code, 1);
        assert.match(untrusted.stdout, /^REJECTED \[UNTRUSTED_ROOT\] chain\.root: .*SIMULATED/);
        const ok = await cli('verify-evidence', bundle, '--trust-simulated', '--report-data', '42'.repeat(64));
        assert.equal(ok.code, 0, ok.stderr + ok.stdout);
        assert.match(ok.stdout, /^ACCEPTED: TDX quote v4 .*chain to Cloister SIMULATED SGX Root CA \(evidence marked SIMULATED\)/);
        const root = file('tdx-root.pem', readFileSync(join(dir, 'dev-root', 'tdx', 'root.pem')));
        assert.equal((await cli('verify-evidence', bundle, '--trust-root', root)).code, 0);
        // `cloister evidence` on TDX hardware (a TDX provider) writes a TDX bundle.
        const out = join(tmp, 'hw-tdx.json');
        const quiet = { ...processIo, stdout: () => undefined, stderr: () => undefined };
        const pcs = (q: TdxQuote): Promise<TdxCollateral> => createSimulatedCollateral(chain, q, Date.now());
        assert.equal(await evidenceCommand(['--out', out, '--report-data', '43'.repeat(64)], quiet, () => Promise.resolve(new SimulatedTdxProvider(sim)), pcs), 0);
        assert.equal((await cli('verify-evidence', out, '--trust-simulated', '--report-data', '43'.repeat(64))).code, 0);
        const bare = join(tmp, 'hw-tdx-bare.json');
        assert.equal(await evidenceCommand(['--out', bare, '--no-collateral'], quiet, () => Promise.resolve(new SimulatedTdxProvider(sim)), pcs), 0);
        assert.match((await cli('verify-evidence', bare, '--trust-simulated')).stdout, /^REJECTED \[COLLATERAL_MISSING\]/);
        assert.equal((await cli('verify-evidence', bare, '--trust-simulated', '--chain-only')).code, 0);
        const errors: string[] = [];
        const loud = { ...quiet, stderr: (s: string) => { errors.push(s); } };
        assert.equal(await evidenceCommand(['--no-collateral', '--pcs-url', 'https://pccs.example'], loud, () => Promise.resolve(new SimulatedTdxProvider(sim)), pcs), 2);
        assert.equal(await evidenceCommand(['--simulated', '--pcs-url', 'https://pccs.example'], loud), 2);
        assert.match(errors.join(''), /contradict each other[^\n]*\n.*apply to TDX evidence only/s);
      } finally {
        if (saved === undefined) delete process.env.CLOISTER_STATE_DIR;
        else process.env.CLOISTER_STATE_DIR = saved;
      }
    });

    const tdxUsage: [string, string[], RegExp][] = [
      ['a malformed TDX bundle', [file('bad-tdx.json', JSON.stringify({ format: 'cloister-evidence/v1', platform: 'tdx', evidence: b64(T8), collateral: { tcb_info: 1 } }))], /MALFORMED_EVIDENCE.*\$\.collateral\.tcb_info: must be a string/],
      ['a TDX bundle with a bad base64 quote', [file('bad-b64.json', JSON.stringify({ format: 'cloister-evidence/v1', platform: 'tdx', evidence: '!!' }))], /MALFORMED_FIELD.*\$\.evidence/],
      ['a truncated TDX quote', [file('trunc-tdx.bin', new Uint8Array(readFileSync(T8)).subarray(0, 700))], /TRUNCATED/],
      ['--crl with TDX evidence', [T8, '--crl', S1_VCEK], /USAGE.*--crl applies to SEV-SNP evidence only/],
      ['--certs and --allow-provisional-tcb with TDX evidence', [t8Bundle, '--certs', S1_VCEK, '--allow-provisional-tcb'], /USAGE.*--certs, --allow-provisional-tcb apply to SEV-SNP evidence only/],
      ['--collateral and --allow-tcb-status with SEV-SNP evidence', [`${V}go-sev-guest/attestation.bin`, '--collateral', `${V}dcap-qvl/tdx_quote_collateral.json`, '--allow-tcb-status', 'OutOfDate'], /USAGE.*--collateral, --allow-tcb-status apply to TDX evidence only/],
      ['an unknown --allow-tcb-status', [T8, '--allow-tcb-status', 'UpToDate,Fine'], /USAGE.*--allow-tcb-status: "Fine" is not one of UpToDate/],
      ['Revoked in --allow-tcb-status', [T8, '--allow-tcb-status', 'Revoked'], /Revoked is never accepted/],
      ['a --collateral file that is not JSON', [T8, '--collateral', T8], /MALFORMED_EVIDENCE.*tdx_quote: collateral file is not UTF-8 JSON/],
      ['--chain-only with --collateral', [T8, '--chain-only', '--collateral', `${V}dcap-qvl/tdx_quote_collateral.json`], /USAGE.*--chain-only and --collateral contradict/],
      ['options of both platforms', [T8, '--collateral', `${V}dcap-qvl/tdx_quote_collateral.json`, '--min-tcb', 'snp=1'], /USAGE.*--min-tcb cannot be used with TDX evidence \(and the options given belong to different platforms\)/],
      ['a --collateral file whose JSON error quotes lines and escapes', [T8, '--collateral', file('nl.json', '{\n  "tcb_info":\n  \u001b[2K\rx\n}\n')], /MALFORMED_EVIDENCE.*is not UTF-8 JSON/],
      ['a --collateral file of neither shape', [T8, '--collateral', file('c.json', '{}')], /MALFORMED_EVIDENCE.*neither dcap-qvl collateral JSON/],
      ['--require-tsme and --min-tcb with TDX evidence', [T8, '--require-tsme', '--min-tcb', 'ucode=1'], /USAGE.*--min-tcb, --require-tsme apply to SEV-SNP evidence only/],
    ];
    for (const [name, args, pattern] of tdxUsage) {
      it(`exits 2 with one readable line on ${name}`, async () => {
        const r = await cli('verify-evidence', ...args);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        oneLine(r.stderr);
        // eslint-disable-next-line no-control-regex -- no terminal escape or carriage return may reach the line
        assert.doesNotMatch(r.stderr.trimEnd(), /[\u0000-\u001f\u007f]/);
        assert.match(r.stderr, pattern);
      });
    }

    it('reports platform tdx in --json usage errors about TDX evidence', async () => {
      const r = await cli('verify-evidence', T8, '--crl', S1_VCEK, '--json');
      assert.equal(r.code, 2);
      assert.equal((JSON.parse(r.stdout) as { platform: string }).platform, 'tdx');
    });
  });
});
