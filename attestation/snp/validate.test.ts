import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { toHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import { PolicyError } from '../errors.js';
import { createDevChain, devReportFields, signDevReport, type DevChain, type ReportFields } from '../testing/devSnp.js';
import { snpVectorRows } from '../testing/vectors.js';
import { decodeGuestPolicy, decodePlatformInfo } from './fields.js';
import { productFromCpuId, type Product } from './product.js';
import { parseReport, serializeReport, type SnpReport } from './report.js';
import { decodeTcb, encodeTcb } from './tcb.js';
import { ALLOW_PROVISIONAL, validateSnpReport, type SnpPolicy } from './validate.js';

let chain: DevChain;
before(async () => {
  chain = await createDevChain();
});

async function report(overrides: Partial<ReportFields> = {}): Promise<SnpReport> {
  return parseReport(await signDevReport(chain, devReportFields(chain, overrides)));
}

function outcome(r: SnpReport, policy: SnpPolicy, cspId?: string): { code: string | undefined; log: CheckLog; error?: PolicyError } {
  const log = new CheckLog();
  try {
    validateSnpReport(r, { product: 'Milan', cspId }, policy, log);
    return { code: undefined, log };
  } catch (e) {
    assert.ok(e instanceof PolicyError);
    return { code: e.code, log, error: e };
  }
}

const M = toHex(new Uint8Array(48).fill(0x11));
const OTHER48 = toHex(new Uint8Array(48).fill(0x22));

interface Row {
  readonly name: string;
  readonly fields?: Partial<ReportFields>;
  readonly policy: SnpPolicy;
  readonly code: string | undefined;
  readonly field?: string;
}

const ROWS: Row[] = [
  { name: 'defaults accept a plain report', policy: {}, code: undefined },
  { name: 'debug rejected by default', fields: { policy: 0xb0000n }, policy: {}, code: 'POLICY_DEBUG', field: 'POLICY.DEBUG' },
  { name: 'debug allowed', fields: { policy: 0xb0000n }, policy: { allowDebug: true }, code: undefined },
  { name: 'migration agent rejected by default', fields: { policy: 0x70000n }, policy: {}, code: 'POLICY_MIGRATION_AGENT' },
  { name: 'migration agent allowed', fields: { policy: 0x70000n }, policy: { allowMigrationAgent: true }, code: undefined },
  { name: 'policy bit 17 clear', fields: { policy: 0x10000n }, policy: {}, code: 'POLICY_RESERVED_BITS', field: 'POLICY' },
  { name: 'policy bit 40 set', fields: { policy: 0x30000n | (1n << 40n) }, policy: { allowDebug: true }, code: 'POLICY_RESERVED_BITS' },
  { name: 'platform-info bit 6 (IOMMU_WRITE_SAFE, real Turin value 0x65)', fields: { platformInfo: 0x65n }, policy: {}, code: undefined },
  { name: 'platform-info bit 8 set', fields: { platformInfo: 0x105n }, policy: {}, code: 'POLICY_RESERVED_BITS', field: 'PLATFORM_INFO' },
  { name: 'key-info bit 5 set', fields: { keyInfo: 1 << 5 }, policy: {}, code: 'POLICY_RESERVED_BITS', field: 'SIGNING_KEY' },
  { name: 'key-info SIGNING_KEY 3', fields: { keyInfo: 3 << 2 }, policy: {}, code: 'POLICY_RESERVED_BITS' },
  { name: 'provisional TCB rejected', fields: { currentTcb: 0x7408000000000003n }, policy: {}, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'CURRENT_TCB' },
  { name: 'provisional build rejected', fields: { currentVersion: { major: 1, minor: 55, build: 22 } }, policy: {}, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'CURRENT_BUILD' },
  { name: 'provisional allowed', fields: { currentTcb: 0x7408000000000003n }, policy: { allowProvisionalFirmware: true }, code: undefined },
  { name: 'a newer current build allowed as provisional', fields: { currentVersion: { major: 1, minor: 55, build: 22 } }, policy: { allowProvisionalFirmware: true }, code: undefined },
  { name: 'committed TCB above current, even when provisional is allowed', fields: { committedTcb: 0x7408000000000003n }, policy: { allowProvisionalFirmware: true }, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'COMMITTED_TCB' },
  { name: 'committed build above current, even when provisional is allowed', fields: { committedVersion: { major: 1, minor: 55, build: 22 } }, policy: { allowProvisionalFirmware: true }, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'COMMITTED_BUILD' },
  { name: 'reported TCB above committed', fields: { reportedTcb: 0x7408000000000003n }, policy: {}, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'REPORTED_TCB.microcode' },
  { name: 'reported TCB above committed, provisional allowed', fields: { reportedTcb: 0x7408000000000003n, currentTcb: 0x7408000000000003n }, policy: { allowProvisionalFirmware: true }, code: undefined },
  { name: 'reported TCB above current, even when provisional is allowed', fields: { reportedTcb: 0x7309000000000003n }, policy: { allowProvisionalFirmware: true }, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'REPORTED_TCB.snp' },
  { name: 'reported TCB below committed (a fleet-wide TCB)', fields: { reportedTcb: 0x7208000000000003n }, policy: {}, code: undefined },
  { name: 'launch TCB at the minimum', policy: { minLaunchTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 } }, code: undefined },
  { name: 'launch TCB below the minimum', fields: { launchTcb: 0x7207000000000003n }, policy: { minLaunchTcb: { snp: 8 } }, code: 'POLICY_TCB_TOO_LOW', field: 'LAUNCH_TCB.snp' },
  { name: 'a launch minimum does not apply to the other TCBs', fields: { launchTcb: 0x7408000000000003n }, policy: { minLaunchTcb: { microcode: 116 } }, code: undefined },
  { name: 'SMT allowed by the guest policy, SMT disabled required', policy: { requireSmtDisabled: true }, code: 'POLICY_PLATFORM_FEATURE', field: 'POLICY.SMT' },
  { name: 'SMT enabled on the platform, SMT disabled required', fields: { policy: 0x20000n }, policy: { requireSmtDisabled: true }, code: 'POLICY_PLATFORM_FEATURE', field: 'PLATFORM_INFO.SMT_EN' },
  { name: 'SMT off in policy and platform', fields: { policy: 0x20000n, platformInfo: 0x4n }, policy: { requireSmtDisabled: true }, code: undefined },
  { name: 'TSME off, TSME required', policy: { requireTsme: true }, code: 'POLICY_PLATFORM_FEATURE', field: 'PLATFORM_INFO.TSME_EN' },
  { name: 'TSME on, TSME required', fields: { platformInfo: 0x7n }, policy: { requireTsme: true }, code: undefined },
  { name: 'guest policy without ciphertext hiding, required', fields: { platformInfo: 0x15n }, policy: { requireCiphertextHiding: true }, code: 'POLICY_PLATFORM_FEATURE', field: 'POLICY.CIPHERTEXT_HIDING_DRAM' },
  { name: 'platform without ciphertext hiding, required', fields: { policy: 0x1030000n }, policy: { requireCiphertextHiding: true }, code: 'POLICY_PLATFORM_FEATURE', field: 'PLATFORM_INFO.CIPHERTEXT_HIDING_DRAM_EN' },
  { name: 'ciphertext hiding in guest policy and platform', fields: { policy: 0x1030000n, platformInfo: 0x15n }, policy: { requireCiphertextHiding: true }, code: undefined },
  { name: 'TCB at the minimum', policy: { minTcb: { bootloader: 3, snp: 8, microcode: 115 } }, code: undefined },
  { name: 'microcode below the minimum', policy: { minTcb: { microcode: 116 } }, code: 'POLICY_TCB_TOO_LOW', field: 'REPORTED_TCB.microcode' },
  { name: 'SNP SPL below the minimum', policy: { minTcb: { snp: 9 } }, code: 'POLICY_TCB_TOO_LOW', field: 'REPORTED_TCB.snp' },
  { name: 'build at the minimum', policy: { minBuild: 21, minVersion: '1.55' }, code: undefined },
  { name: 'build below the minimum', policy: { minBuild: 22 }, code: 'POLICY_FIRMWARE_TOO_OLD', field: 'CURRENT_BUILD' },
  { name: 'version below the minimum', policy: { minVersion: '1.57' }, code: 'POLICY_FIRMWARE_TOO_OLD' },
  { name: 'major version above the minimum', policy: { minVersion: '0.99' }, code: undefined },
  { name: 'committed version below the minimum, provisional allowed', fields: { committedVersion: { major: 1, minor: 54, build: 21 } }, policy: { allowProvisionalFirmware: true, minVersion: '1.55' }, code: 'POLICY_FIRMWARE_TOO_OLD', field: 'COMMITTED_MAJOR.MINOR' },
  { name: 'guest SVN below the minimum', policy: { minGuestSvn: 2 }, code: 'POLICY_GUEST_SVN_TOO_LOW' },
  { name: 'VMPL differs', policy: { vmpl: 1 }, code: 'POLICY_VMPL', field: 'VMPL' },
  { name: 'VMPL matches', policy: { vmpl: 0 }, code: undefined },
  { name: 'measurement in the list', policy: { measurements: [OTHER48, M] }, code: undefined },
  { name: 'measurement not in the list', policy: { measurements: [OTHER48] }, code: 'POLICY_MEASUREMENT', field: 'MEASUREMENT' },
  { name: 'host data differs', policy: { hostData: 'ff'.repeat(32) }, code: 'POLICY_HOST_DATA' },
  { name: 'report data matches (upper-case hex)', policy: { reportData: 'AB'.repeat(64) }, code: undefined },
  { name: 'report data differs', policy: { reportData: 'ab'.repeat(63) + 'ac' }, code: 'POLICY_REPORT_DATA', field: 'REPORT_DATA' },
  { name: 'ID key digest not allowed', policy: { idKeyDigests: [OTHER48] }, code: 'POLICY_ID_KEY' },
  { name: 'author key required but not enabled', policy: { authorKeyDigests: [OTHER48] }, code: 'POLICY_AUTHOR_KEY', field: 'AUTHOR_KEY_EN' },
  { name: 'author key allowed', fields: { keyInfo: 1, authorKeyDigest: new Uint8Array(48).fill(0x22) }, policy: { authorKeyDigests: [OTHER48] }, code: undefined },
  { name: 'VLEK only, report signed by the VCEK', policy: { signingKeys: ['vlek'] }, code: 'POLICY_SIGNING_KEY' },
  { name: 'chip ID not allowed', policy: { chipIds: ['00'.repeat(64)] }, code: 'POLICY_CHIP_ID' },
  { name: 'an FMC minimum does not apply to Milan', policy: { minTcb: { fmc: 5, bootloader: 3 } }, code: undefined },
  { name: 'CSP identity required of a VCEK-signed report', policy: { cspIds: ['CN=cc-us-east-2.amazonaws.com'] }, code: 'POLICY_CSP_ID', field: 'cspId' },
];

describe('validateSnpReport', () => {
  for (const row of ROWS) {
    it(`${row.name}: ${row.code ?? 'accept'}`, async () => {
      const o = outcome(await report(row.fields), row.policy);
      assert.equal(o.code, row.code, o.error?.message);
      if (row.field !== undefined) assert.equal(o.error?.field, row.field);
      if (o.error !== undefined) {
        assert.ok(o.error.expected !== undefined && o.error.actual !== undefined, 'a rejection names expected and actual');
        assert.equal(o.log.checks.at(-1)?.status, 'fail');
      }
    });
  }

  it('compares the VLEK CSP identity with cspIds', async () => {
    const r = await report();
    assert.equal(outcome(r, { cspIds: ['CN=a', 'CN=cc-us-east-2.amazonaws.com'] }, 'CN=cc-us-east-2.amazonaws.com').code, undefined);
    assert.equal(outcome(r, { cspIds: ['CN=a'] }, 'CN=cc-us-east-2.amazonaws.com').code, 'POLICY_CSP_ID');
  });

  it('lists unset expectations as skipped and defaults as run', async () => {
    const { log } = outcome(await report(), {});
    const status = new Map(log.checks.map((c) => [c.id, c.status]));
    for (const id of ['policy.reserved-bits', 'policy.debug', 'policy.migration-agent', 'policy.provisional-firmware', 'policy.reported-tcb']) assert.equal(status.get(id), 'pass');
    for (const id of ['policy.smt', 'policy.tsme', 'policy.ciphertext-hiding', 'policy.min-tcb', 'policy.min-launch-tcb', 'policy.min-firmware', 'policy.min-guest-svn', 'policy.vmpl', 'policy.measurement', 'policy.host-data', 'policy.report-data', 'policy.id-key', 'policy.author-key', 'policy.signing-key', 'policy.chip-id']) {
      assert.equal(status.get(id), 'skipped', id);
    }
  });
});

interface RealRow {
  readonly row: string;
  readonly name: string;
  /** Fields changed before validation; validateSnpReport does not check the signature. */
  readonly mutate?: (r: SnpReport, product: Product) => Partial<SnpReport>;
  readonly policy: SnpPolicy;
  readonly code: string | undefined;
  readonly field?: string;
}

const withMicrocode = (raw: bigint, product: Product, microcode: number): bigint => encodeTcb({ ...decodeTcb(raw, product), microcode }, product);

const REAL: RealRow[] = [
  { row: 'S6', name: 'Azure Milan: late-loaded microcode, default policy', policy: {}, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'CURRENT_TCB' },
  { row: 'S6', name: 'Azure Milan, provisional allowed', policy: { allowProvisionalFirmware: true }, code: undefined },
  { row: 'S6', name: 'launch TCB at the minimum', policy: { allowProvisionalFirmware: true, minLaunchTcb: { bootloader: 3, snp: 8, microcode: 115 } }, code: undefined },
  { row: 'S6', name: 'launch TCB below the minimum', policy: { allowProvisionalFirmware: true, minLaunchTcb: { microcode: 116 } }, code: 'POLICY_TCB_TOO_LOW', field: 'LAUNCH_TCB.microcode' },
  { row: 'S3', name: 'the late microcode is not the reported one', policy: { allowProvisionalFirmware: true, minTcb: { microcode: 206 } }, code: 'POLICY_TCB_TOO_LOW', field: 'REPORTED_TCB.microcode' },
  { row: 'S4', name: 'AWS: reported below committed below current, provisional allowed', policy: { allowProvisionalFirmware: true }, code: undefined },
  { row: 'S4', name: 'reported raised to current, provisional allowed', mutate: (r, p) => ({ reportedTcb: withMicrocode(r.reportedTcb, p, 220) }), policy: { allowProvisionalFirmware: true }, code: undefined },
  { row: 'S4', name: 'reported above committed', mutate: (r, p) => ({ reportedTcb: withMicrocode(r.reportedTcb, p, 220), currentTcb: r.committedTcb }), policy: {}, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'REPORTED_TCB.microcode' },
  { row: 'S4', name: 'reported above current', mutate: (r, p) => ({ reportedTcb: withMicrocode(r.reportedTcb, p, 221) }), policy: { allowProvisionalFirmware: true }, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'REPORTED_TCB.microcode' },
  { row: 'S4', name: 'committed above current', mutate: (r) => ({ committedTcb: r.currentTcb, currentTcb: r.committedTcb }), policy: { allowProvisionalFirmware: true }, code: 'POLICY_PROVISIONAL_FIRMWARE', field: 'COMMITTED_TCB' },
  { row: 'S4', name: 'TSME on (PLATFORM_INFO 0x27)', policy: { allowProvisionalFirmware: true, requireTsme: true }, code: undefined },
  { row: 'S5', name: 'TSME off (PLATFORM_INFO 0x24)', policy: { requireTsme: true }, code: 'POLICY_PLATFORM_FEATURE', field: 'PLATFORM_INFO.TSME_EN' },
  { row: 'S5', name: 'SMT allowed by the guest policy (0x3001f)', policy: { requireSmtDisabled: true }, code: 'POLICY_PLATFORM_FEATURE', field: 'POLICY.SMT' },
  { row: 'S5', name: 'SMT cleared in the guest policy; platform SMT off', mutate: () => ({ policy: decodeGuestPolicy(0x2001fn) }), policy: { requireSmtDisabled: true }, code: undefined },
  { row: 'S2', name: 'SMT cleared in the guest policy; platform SMT on (PLATFORM_INFO 0x1)', mutate: () => ({ policy: decodeGuestPolicy(0x20000n) }), policy: { requireSmtDisabled: true }, code: 'POLICY_PLATFORM_FEATURE', field: 'PLATFORM_INFO.SMT_EN' },
  { row: 'S2', name: 'no ciphertext hiding', policy: { requireCiphertextHiding: true }, code: 'POLICY_PLATFORM_FEATURE', field: 'POLICY.CIPHERTEXT_HIDING_DRAM' },
  { row: 'S5', name: 'ciphertext hiding demanded and enabled', mutate: (r) => ({ policy: decodeGuestPolicy(r.policy.raw | (1n << 24n)), platformInfo: decodePlatformInfo(r.platformInfo.raw | 0x10n) }), policy: { requireCiphertextHiding: true }, code: undefined },
  { row: 'S5', name: 'firmware 1.55 at the minimum', policy: { minVersion: '1.55', minBuild: 40 }, code: undefined },
  { row: 'S5', name: 'firmware 1.55 below the minimum', policy: { minVersion: '1.56' }, code: 'POLICY_FIRMWARE_TOO_OLD', field: 'CURRENT_MAJOR.MINOR' },
  { row: 'S1', name: 'firmware 1.49 build 3 below the minimum build', policy: { allowDebug: true, minBuild: 4 }, code: 'POLICY_FIRMWARE_TOO_OLD', field: 'CURRENT_BUILD' },
];

describe('validateSnpReport on the real reports of testdata/attestation', () => {
  const rows = new Map(snpVectorRows().map((r) => [r.id, r]));
  for (const row of REAL) {
    it(`${row.row} ${row.name}: ${row.code ?? 'accept'}`, () => {
      const vector = rows.get(row.row);
      assert.ok(vector);
      const real = parseReport(vector.evidence.report);
      const product = real.cpuid === undefined ? 'Milan' : (productFromCpuId(real.cpuid) ?? 'Milan');
      const r = row.mutate === undefined ? real : parseReport(serializeReport({ ...real, ...row.mutate(real, product) }));
      const log = new CheckLog();
      let error: PolicyError | undefined;
      try {
        validateSnpReport(r, { product }, row.policy, log);
      } catch (e) {
        assert.ok(e instanceof PolicyError);
        error = e;
      }
      assert.equal(error?.code, row.code, error?.message);
      if (row.field !== undefined) assert.equal(error?.field, row.field);
    });
  }

  it('names both TCBs, per component, and what accepts provisional firmware, in one line', () => {
    const vector = rows.get('S6');
    assert.ok(vector);
    assert.throws(
      () => {
        validateSnpReport(parseReport(vector.evidence.report), { product: 'Milan' }, {});
      },
      (e: PolicyError) => {
        assert.equal(
          e.message,
          `current_tcb {bl=3 tee=0 snp=8 ucode=210} differs from committed_tcb {bl=3 tee=0 snp=8 ucode=115}: provisional firmware (e.g. a late-loaded microcode); ${ALLOW_PROVISIONAL}`,
        );
        assert.match(ALLOW_PROVISIONAL, /--allow-provisional-tcb .*"allowProvisionalFirmware": true/);
        return true;
      },
    );
  });
});
