import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HardwarePolicy } from '../measure/hardwarePolicyStatement.js';
import type { RaTlsVerdict } from '../ratls/verifyCertificate.js';
import { formatVkey, SIGNATURE_TYPE } from '../transparency/noteKeys.js';
import { HARDWARE_POLICY_CHECK, hardwarePolicyViolation, intersectTcbStatuses, withLoggedHardwarePolicy } from './hardwarePolicy.js';
import type { TransparencyTrust } from './loggedMeasurements.js';

const SEAM = 'a1'.repeat(48);
const tdxVerdict = (evidence: Record<string, unknown>): RaTlsVerdict => ({ accepted: true, platform: 'tdx', simulated: false, checks: [], claims: { evidence: { tcbStatus: 'UpToDate', tcb: { tcbEvaluationDataNumber: 17 }, mrSeam: SEAM, ...evidence } } });
const snpVerdict = (evidence: Record<string, unknown>): RaTlsVerdict => {
  const tcb = { bootloader: 4, tee: 0, snp: 24, microcode: 219 };
  return { accepted: true, platform: 'sev-snp', simulated: false, checks: [], claims: { evidence: { product: 'Milan', reportedTcb: tcb, currentTcb: tcb, committedTcb: tcb, ...evidence } } };
};
const policy = (rest: Partial<HardwarePolicy>): HardwarePolicy => ({ schema: 'cloister-hardware-policy/v1', version: 7, ...rest });
const TDX = policy({ tdx: { acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'], minTcbEvaluationDataNumber: 17, mrSeams: [SEAM] } });

describe('the logged hardware policy', () => {
  it('TDX accepted statuses: the intersection with the caller\'s, or the logged list when the caller gave none', () => {
    assert.deepEqual(intersectTcbStatuses(['UpToDate', 'SWHardeningNeeded'], ['SWHardeningNeeded', 'OutOfDate']), ['SWHardeningNeeded']);
    assert.deepEqual(intersectTcbStatuses(['UpToDate'], ['OutOfDate']), []);
    assert.deepEqual(intersectTcbStatuses(['UpToDate', 'SWHardeningNeeded'], undefined), ['UpToDate', 'SWHardeningNeeded']);
  });

  it('TDX status the logged policy accepts and the caller (default UpToDate) does not: refused', () => {
    assert.equal(hardwarePolicyViolation(tdxVerdict({ tcbStatus: 'SWHardeningNeeded' }), TDX)?.code, 'TCB_STATUS');
    assert.equal(hardwarePolicyViolation(tdxVerdict({}), TDX), undefined);
  });

  const rows: readonly { name: string; verdict: RaTlsVerdict; policy: HardwarePolicy; code?: string; field?: string }[] = [
    { name: 'TDX meeting the policy', verdict: tdxVerdict({}), policy: TDX },
    { name: 'TDX status the policy does not accept', verdict: tdxVerdict({ tcbStatus: 'OutOfDate' }), policy: TDX, code: 'TCB_STATUS', field: 'tcbStatus' },
    { name: 'TDX status both accept', verdict: tdxVerdict({ tcbStatus: 'SWHardeningNeeded' }), policy: TDX },
    { name: 'TDX TCB not evaluated', verdict: tdxVerdict({ tcbStatus: 'not evaluated', tcb: null }), policy: TDX, code: 'TCB_STATUS', field: 'tcbStatus' },
    { name: 'TDX evaluation data number below the minimum', verdict: tdxVerdict({ tcb: { tcbEvaluationDataNumber: 16 } }), policy: TDX, code: 'POLICY_TCB_EVALUATION_DATA_NUMBER', field: 'tcbEvaluationDataNumber' },
    { name: 'TDX MRSEAM not allowed', verdict: tdxVerdict({ mrSeam: 'b2'.repeat(48) }), policy: TDX, code: 'POLICY_MRSEAM', field: 'MRSEAM' },
    { name: 'TDX without mrSeams: any MRSEAM', verdict: tdxVerdict({ mrSeam: 'b2'.repeat(48) }), policy: policy({ tdx: { acceptedTcbStatuses: ['UpToDate'], minTcbEvaluationDataNumber: 0 } }) },
    { name: 'TDX evidence, policy for SEV-SNP only', verdict: tdxVerdict({ tcbStatus: 'OutOfDate' }), policy: policy({ 'sev-snp': { minTcb: { Milan: { snp: 99 } } } }) },
    { name: 'SEV-SNP at the minimum', verdict: snpVerdict({}), policy: policy({ 'sev-snp': { minTcb: { Milan: { snp: 24, microcode: 219 } } } }) },
    { name: 'SEV-SNP committed TCB below', verdict: snpVerdict({ committedTcb: { bootloader: 4, tee: 0, snp: 23, microcode: 219 } }), policy: policy({ 'sev-snp': { minTcb: { Milan: { snp: 24 } } } }), code: 'POLICY_TCB_TOO_LOW', field: 'COMMITTED_TCB.snp' },
    { name: 'SEV-SNP Milan has no FMC: an FMC minimum is not compared', verdict: snpVerdict({}), policy: policy({ 'sev-snp': { minTcb: { Milan: { fmc: 3, snp: 24 } } } }) },
    { name: 'SEV-SNP without its TCB claims fails closed', verdict: snpVerdict({ reportedTcb: undefined }), policy: policy({ 'sev-snp': { minTcb: { Milan: { snp: 1 } } } }), code: 'POLICY_TCB_TOO_LOW', field: 'REPORTED_TCB.snp' },
    { name: 'SEV-SNP, minimum for another product only', verdict: snpVerdict({}), policy: policy({ 'sev-snp': { minTcb: { Genoa: { snp: 99 } } } }) },
    { name: 'SEV-SNP of an unknown product fails closed', verdict: snpVerdict({ product: null }), policy: policy({ 'sev-snp': { minTcb: { Genoa: { snp: 1 } } } }), code: 'POLICY_TCB_TOO_LOW', field: 'product' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const e = hardwarePolicyViolation(row.verdict, row.policy, ['UpToDate', 'SWHardeningNeeded', 'OutOfDate']);
      assert.equal(e?.code, row.code);
      assert.equal(e?.field, row.field);
      if (e !== undefined) assert.match(e.message, /logged hardware policy version 7/);
    });
  }
});

describe('a log without a hardware policy', () => {
  // The log has nothing at all: the hardware policy's absence is decided before any bundle is verified.
  const asked: string[] = [];
  const trust: TransparencyTrust = {
    publisherKeys: [],
    logVkey: formatVkey({ name: 'log.example/log', keyId: 0x01020304, type: SIGNATURE_TYPE.ed25519, key: new Uint8Array(32) }),
    fetch: (path) => {
      asked.push(path);
      return Promise.resolve(undefined);
    },
  };

  it('the caller\'s policy alone, and the check says so', async () => {
    const verdict = await withLoggedHardwarePolicy(tdxVerdict({}), trust);
    assert.equal(verdict.accepted, true);
    assert.deepEqual(verdict.checks.at(-1), { id: HARDWARE_POLICY_CHECK, status: 'skipped', detail: 'no hardware policy in the log log.example/log: the caller\'s policy alone' });
  });

  it('required: refused with HARDWARE_POLICY_NOT_LOGGED naming the log', async () => {
    for (const verdict of [tdxVerdict({}), snpVerdict({})]) {
      const refused = await withLoggedHardwarePolicy(verdict, trust, { required: true });
      assert.equal(refused.accepted, false);
      assert.equal(refused.error?.code, 'HARDWARE_POLICY_NOT_LOGGED');
      assert.equal(refused.error.message, 'the log log.example/log publishes no hardware policy (hardware-policy.sigstore.json), and one is required');
      assert.equal(refused.checks.at(-1)?.status, 'fail');
    }
    assert.deepEqual(asked.at(-1), 'hardware-policy.sigstore.json');
    const rejected: RaTlsVerdict = { ...tdxVerdict({}), accepted: false };
    assert.equal(await withLoggedHardwarePolicy(rejected, trust, { required: true }), rejected, 'a rejected verdict passes as it is');
  });
});
