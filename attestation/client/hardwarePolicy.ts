// The client's rule on the logged hardware policy (issue 18, docs/transparency.md "Hardware policy"): a client with
// a transparency log also fetches the log's hardware policy statement (loggedHardwarePolicy, verified with the same
// publisher keys, log key, witnesses and checkpoint store) and judges the verified evidence by it after the
// caller's own policy: each minimum is then the stricter of the two, each allowlist their intersection.
//   SEV-SNP: every component the policy gives for the report's product, of REPORTED, CURRENT and COMMITTED_TCB,
//            at least the minimum (POLICY_TCB_TOO_LOW); an unknown product fails closed.
//   TDX:     the evaluated TCB status among acceptedTcbStatuses and the caller's own (default UpToDate) (TCB_STATUS), the TCB evaluation data number at
//            least minTcbEvaluationDataNumber (POLICY_TCB_EVALUATION_DATA_NUMBER), MRSEAM in mrSeams (POLICY_MRSEAM).
// No policy logged: the caller's policy alone, and the verdict's check says so; with requireHardwarePolicy, refused
// (HARDWARE_POLICY_NOT_LOGGED). The newest version accepted per
// log origin is kept (HardwarePolicyVersions); an older one later is HARDWARE_POLICY_VERSION.
import type { VerdictError } from '../checks.js';
import { CloisterError, PolicyError } from '../errors.js';
import type { HardwarePolicy } from '../measure/hardwarePolicyStatement.js';
import type { RaTlsPolicy, RaTlsVerdict } from '../ratls/verifyCertificate.js';
import { TCB_COMPONENTS, type TcbComponent } from '../snp/tcb.js';
import type { TdxTcbStatus } from '../tdx/tcbEvaluation.js';
import { DEFAULT_ACCEPTED_TCB_STATUSES } from '../tdx/validate.js';
import { parseVkey } from '../transparency/noteKeys.js';
import { HARDWARE_POLICY_PATH, judgeMeasurement, loggedHardwarePolicy, type TransparencyTrust } from './loggedMeasurements.js';
import type { MeasurementSource } from './measurementSource.js';

/** The verdict's check that records the logged hardware policy's judgment. */
export const HARDWARE_POLICY_CHECK = 'client.hardware-policy';

/** The newest hardware policy version a client accepted, per log origin (src/transparency/fileHardwarePolicyVersions.ts). */
export interface HardwarePolicyVersions {
  accepted(origin: string): Promise<number | undefined>;
  accept(origin: string, version: number): Promise<void>;
}

/** Where a verdict's hardware policy came from. */
export interface AppliedHardwarePolicy {
  readonly version: number;
  readonly origin: string;
  readonly logIndex: number;
}

/** The statuses both lists accept; `caller` undefined accepts the logged list as is. */
export function intersectTcbStatuses(logged: readonly TdxTcbStatus[], caller: readonly TdxTcbStatus[] | undefined): TdxTcbStatus[] {
  return caller === undefined ? [...logged] : logged.filter((s) => caller.includes(s));
}

type Tcb = Readonly<Partial<Record<TcbComponent, number>>>;
interface Evidence {
  readonly product?: string | null;
  readonly reportedTcb?: Tcb;
  readonly currentTcb?: Tcb;
  readonly committedTcb?: Tcb;
  readonly tcbStatus?: string;
  readonly tcb?: { readonly tcbEvaluationDataNumber?: number } | null;
  readonly mrSeam?: string;
}

/**
 * The first way `verdict`'s evidence falls short of `policy` (version `policy.version`), as the error to refuse with.
 * `callerStatuses` is the caller's own TDX acceptedTcbStatuses (default DEFAULT_ACCEPTED_TCB_STATUSES): the
 * statuses accepted are those both lists accept, so the logged policy narrows the caller's, never widens it.
 */
export function hardwarePolicyViolation(verdict: RaTlsVerdict, policy: HardwarePolicy, callerStatuses: readonly TdxTcbStatus[] = DEFAULT_ACCEPTED_TCB_STATUSES): PolicyError | undefined {
  const e = ((verdict.claims as { evidence?: Evidence } | undefined)?.evidence ?? {});
  const named = `the logged hardware policy version ${policy.version}`;
  if (verdict.platform === 'sev-snp' && policy['sev-snp'] !== undefined) {
    const minima = policy['sev-snp'].minTcb;
    if (Object.keys(minima).length === 0) return undefined;
    const product = e.product;
    if (typeof product !== 'string') return new PolicyError('POLICY_TCB_TOO_LOW', `the report names no product, so ${named} cannot be applied to its TCB`, { field: 'product', expected: Object.keys(minima).join(' or '), actual: 'unknown' });
    const min = (minima as Readonly<Record<string, Tcb | undefined>>)[product];
    if (min === undefined) return undefined;
    for (const [field, tcb] of [['REPORTED_TCB', e.reportedTcb], ['CURRENT_TCB', e.currentTcb], ['COMMITTED_TCB', e.committedTcb]] as const) {
      for (const k of TCB_COMPONENTS) {
        const want = min[k];
        if (want === undefined) continue;
        const got = tcb?.[k];
        // FMC exists on Turin only (decodeTcb gives it for no other product), as validateSnpReport compares it.
        if (k === 'fmc' && tcb !== undefined && got === undefined) continue;
        if (got === undefined || got < want) return new PolicyError('POLICY_TCB_TOO_LOW', `${field.toLowerCase()} ${k}=${got ?? '?'} is lower than ${named}'s minimum for ${product}, ${k}=${want}`, { field: `${field}.${k}`, expected: `>= ${want}`, actual: String(got ?? 'absent') });
      }
    }
  }
  if (verdict.platform === 'tdx' && policy.tdx !== undefined) {
    const { minTcbEvaluationDataNumber, mrSeams } = policy.tdx;
    const accepted = intersectTcbStatuses(policy.tdx.acceptedTcbStatuses, callerStatuses);
    const status = e.tcbStatus ?? 'not evaluated';
    if (!(accepted as readonly string[]).includes(status)) return new PolicyError('TCB_STATUS', `the TCB status is ${status}, not one that both ${named} (${policy.tdx.acceptedTcbStatuses.join(', ')}) and the caller (${callerStatuses.join(', ')}) accept`, { field: 'tcbStatus', expected: accepted.join(' | ') || 'none', actual: status });
    const number = e.tcb?.tcbEvaluationDataNumber;
    if (number === undefined || number < minTcbEvaluationDataNumber) return new PolicyError('POLICY_TCB_EVALUATION_DATA_NUMBER', `the TCB was evaluated with collateral of TCB evaluation data number ${number ?? '?'}, below ${named}'s minimum ${minTcbEvaluationDataNumber}`, { field: 'tcbEvaluationDataNumber', expected: `>= ${minTcbEvaluationDataNumber}`, actual: String(number ?? 'absent') });
    const seam = (e.mrSeam ?? '').toLowerCase();
    if (mrSeams !== undefined && !mrSeams.includes(seam)) return new PolicyError('POLICY_MRSEAM', `MRSEAM ${seam} is not in ${named}'s allowlist`, { field: 'MRSEAM', expected: mrSeams.join(' | '), actual: seam });
  }
  return undefined;
}

export interface LoggedHardwarePolicyOptions {
  /** Where the newest version accepted is kept; a log serving an older one later is refused. */
  readonly versions?: HardwarePolicyVersions | undefined;
  /** The caller's own TDX acceptedTcbStatuses (hardwarePolicyViolation). */
  readonly callerStatuses?: readonly TdxTcbStatus[] | undefined;
  /** Refuse when the log has no policy (HARDWARE_POLICY_NOT_LOGGED). */
  readonly required?: boolean | undefined;
}

/**
 * `verdict` judged by the log's hardware policy: an accepted verdict stays accepted when the evidence meets it, or
 * when the log has none and it is not `required`; the check names the version applied. Rejected verdicts pass as
 * they are.
 */
export async function withLoggedHardwarePolicy(verdict: RaTlsVerdict, trust: TransparencyTrust, options: LoggedHardwarePolicyOptions = {}): Promise<RaTlsVerdict & { readonly hardwarePolicy?: AppliedHardwarePolicy }> {
  if (!verdict.accepted || verdict.platform === 'unknown') return verdict;
  const { versions, callerStatuses } = options;
  const refuse = (e: CloisterError): RaTlsVerdict => ({ ...verdict, accepted: false, error: e.toJSON() as unknown as VerdictError, checks: [...verdict.checks, { id: HARDWARE_POLICY_CHECK, status: 'fail', detail: e.message }] });
  try {
    const origin = parseVkey(trust.logVkey).name;
    const before = await versions?.accepted(origin);
    const logged = await loggedHardwarePolicy(trust, before ?? 0);
    if (logged === undefined && options.required === true) {
      return refuse(new PolicyError('HARDWARE_POLICY_NOT_LOGGED', `the log ${origin} publishes no hardware policy (${HARDWARE_POLICY_PATH}), and one is required`, { field: HARDWARE_POLICY_PATH, expected: 'a logged hardware policy', actual: 'none' }));
    }
    if (logged === undefined) return { ...verdict, checks: [...verdict.checks, { id: HARDWARE_POLICY_CHECK, status: 'skipped', detail: `no hardware policy in the log ${origin}: the caller's policy alone` }] };
    if (versions !== undefined && logged.policy.version !== before) await versions.accept(origin, logged.policy.version);
    const violation = hardwarePolicyViolation(verdict, logged.policy, callerStatuses);
    if (violation !== undefined) return refuse(violation);
    const hardwarePolicy = { version: logged.policy.version, origin: logged.origin, logIndex: logged.logIndex };
    return { ...verdict, hardwarePolicy, checks: [...verdict.checks, { id: HARDWARE_POLICY_CHECK, status: 'pass', detail: `hardware policy version ${logged.policy.version} at log index ${logged.logIndex} of ${logged.origin}` }] };
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    return refuse(e);
  }
}

/**
 * The client's rules on a verified certificate after its own policy: the launch measurement (judgeMeasurement), then,
 * with a transparency log, the log's hardware policy (withLoggedHardwarePolicy).
 */
export async function judgeVerified(verified: RaTlsVerdict, policy: RaTlsPolicy, source: MeasurementSource, shipped?: Uint8Array): Promise<RaTlsVerdict> {
  const verdict = await judgeMeasurement(verified, policy, source, shipped);
  return source.transparency === undefined ? verdict : withLoggedHardwarePolicy(verdict, source.transparency, { versions: source.hardwarePolicyVersions, callerStatuses: policy.tdx?.acceptedTcbStatuses, required: source.requireHardwarePolicy });
}
