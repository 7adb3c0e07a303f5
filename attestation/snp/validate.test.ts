import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { toHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import { PolicyError } from '../errors.js';
import { createDevChain, devReportFields, signDevReport, type DevChain, type ReportFields } from '../testing/devSnp.js';
import { assertSnpPolicy, parseSnpPolicyJson } from './policy.js';
import { parseReport, type SnpReport } from './report.js';
import { validateSnpReport, type SnpPolicy } from './validate.js';

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
  { name: 'TCB at the minimum', policy: { minTcb: { bootloader: 3, snp: 8, microcode: 115 } }, code: undefined },
  { name: 'microcode below the minimum', policy: { minTcb: { microcode: 116 } }, code: 'POLICY_TCB_TOO_LOW', field: 'REPORTED_TCB.microcode' },
  { name: 'SNP SPL below the minimum', policy: { minTcb: { snp: 9 } }, code: 'POLICY_TCB_TOO_LOW', field: 'REPORTED_TCB.snp' },
  { name: 'build at the minimum', policy: { minBuild: 21, minVersion: '1.55' }, code: undefined },
  { name: 'build below the minimum', policy: { minBuild: 22 }, code: 'POLICY_FIRMWARE_TOO_OLD', field: 'CURRENT_BUILD' },
  { name: 'version below the minimum', policy: { minVersion: '1.57' }, code: 'POLICY_FIRMWARE_TOO_OLD' },
  { name: 'major version above the minimum', policy: { minVersion: '0.99' }, code: undefined },
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
    for (const id of ['policy.reserved-bits', 'policy.debug', 'policy.migration-agent', 'policy.provisional-firmware']) assert.equal(status.get(id), 'pass');
    for (const id of ['policy.min-tcb', 'policy.min-firmware', 'policy.min-guest-svn', 'policy.vmpl', 'policy.measurement', 'policy.host-data', 'policy.report-data', 'policy.id-key', 'policy.author-key', 'policy.signing-key', 'policy.chip-id']) {
      assert.equal(status.get(id), 'skipped', id);
    }
  });
});

describe('policy files', () => {
  it('accepts a complete policy', () => {
    const p = parseSnpPolicyJson(JSON.stringify({ allowDebug: false, minTcb: { bootloader: 3, fmc: 0 }, minBuild: 21, minVersion: '1.55', vmpl: 0, measurements: [M], reportData: 'ab'.repeat(64), signingKeys: ['vcek'], requireCrl: true }));
    assert.deepEqual(p.minTcb, { bootloader: 3, fmc: 0 });
  });

  it('lists every bad field path at once', () => {
    assert.throws(
      () => assertSnpPolicy({ allowDebug: 'yes', vmpl: 4, measurements: ['00', M], minTcb: { bogus: 1, snp: 300 }, signingKeys: ['sek'], minVersion: 'one', extra: 1, chipIds: [], cspIds: [''] }),
      (e) => {
        assert.ok(e instanceof PolicyError);
        assert.equal(e.code, 'MALFORMED_POLICY');
        for (const path of ['$.extra', '$.allowDebug', '$.vmpl', '$.measurements[0]', '$.minTcb.bogus', '$.minTcb.snp', '$.signingKeys', '$.minVersion', '$.chipIds: must be a non-empty', '$.cspIds']) {
          assert.ok(e.message.includes(path), path);
        }
        assert.ok(!e.message.includes('$.measurements[1]'));
        return true;
      },
    );
  });

  it('rejects JSON that is not an object, and text that is not JSON', () => {
    assert.throws(() => assertSnpPolicy([]), /policy must be a JSON object/);
    assert.throws(() => parseSnpPolicyJson('{'), /not valid JSON/);
  });
});
