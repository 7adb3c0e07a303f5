// Validation of a verified TDX quote against the caller's policy. Always checked: DEBUG (unless allowed), the TD
// attributes as Intel's and dcap-qvl's checks read them (SEPT_VE_DISABLE set, MIGRATABLE clear, reserved bits
// zero, unless allowed), MR_SERVICETD of a TDX 1.5 body (zero, or in the allowed list), and the TCB status when
// the collateral was evaluated (UpToDate unless more are accepted). Every other expectation left undefined is not
// checked (and the verdict says so).
import { bytesEqual, fromHex, isAllZero, toHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import { PolicyError } from '../errors.js';
import type { TcbEvaluation, TdxTcbStatus } from './tcbEvaluation.js';
import type { TdxQuote } from './quote.js';

export interface TdxPolicy {
  /** Accept a TD with TDATTRIBUTES.DEBUG (bit 0) set. Default false. */
  readonly allowDebug?: boolean;
  /** Accept a TD without TDATTRIBUTES.SEPT_VE_DISABLE (bit 28), whose guest sees EPT violations as #VE. Default false. */
  readonly allowSeptVe?: boolean;
  /** Accept a migratable TD (TDATTRIBUTES.MIGRATABLE, bit 29). Default false. */
  readonly allowMigratable?: boolean;
  /** Hex MRTD values (48 bytes) of which the quote must match one. */
  readonly mrtds?: readonly string[];
  /** Exactly four entries, RTMR0..RTMR3: hex (48 bytes) to match exactly, or null to leave that register unchecked. */
  readonly rtmrs?: readonly (string | null)[];
  /** The exact expected REPORTDATA (64 bytes, hex). */
  readonly reportData?: string;
  /** TCB statuses accepted besides nothing else (default ["UpToDate"]); Revoked is never accepted. */
  readonly acceptedTcbStatuses?: readonly TdxTcbStatus[];
  /** Exact MRCONFIGID, MROWNER, MROWNERCONFIG (48 bytes hex each) and XFAM (8 bytes hex, the u64 big-endian). */
  readonly mrConfigId?: string;
  readonly mrOwner?: string;
  readonly mrOwnerConfig?: string;
  readonly xfam?: string;
  /** Minimum TEE_TCB_SVN, 16 bytes hex, compared byte by byte. */
  readonly minTeeTcbSvn?: string;
  /** Hex MRSEAM values (48 bytes) of which the quote must match one. */
  readonly mrSeams?: readonly string[];
  /** MR_SERVICETD values (48 bytes hex) allowed besides all-zero (no service TD bound), TDX 1.5 bodies only. */
  readonly mrServiceTds?: readonly string[];
}

export const DEFAULT_ACCEPTED_TCB_STATUSES: readonly TdxTcbStatus[] = ['UpToDate'];

function fail(log: CheckLog, id: string, code: ConstructorParameters<typeof PolicyError>[0], message: string, field: string, expected: string, actual: string): never {
  return log.fail(id, new PolicyError(code, message, { field, expected, actual }));
}

const BIT = (n: number): bigint => 1n << BigInt(n);
const range = (from: number, to: number): bigint => (BIT(to + 1) - 1n) ^ (BIT(from) - 1n);
/** TDATTRIBUTES bits no TDX module version defines: TUD 1..7, SEC 8..27, OTHER 32..62. */
const RESERVED_TD_ATTRIBUTES = range(1, 7) | range(8, 27) | range(32, 62);
const u64 = (v: bigint): string => v.toString(16).padStart(16, '0');

function checkTdAttributes(quote: TdxQuote, policy: TdxPolicy, log: CheckLog): void {
  const a = quote.body.tdAttributes;
  const id = 'policy.td-attributes';
  if (a.debug && policy.allowDebug !== true) fail(log, 'policy.debug', 'POLICY_DEBUG', 'the TD is debuggable (TDATTRIBUTES.DEBUG = 1): the host can read and change its state', 'TDATTRIBUTES.DEBUG', '0', '1');
  log.pass('policy.debug', a.debug ? 'DEBUG allowed by policy' : undefined);
  const reserved = a.raw & RESERVED_TD_ATTRIBUTES;
  if (reserved !== 0n) fail(log, id, 'POLICY_TD_ATTRIBUTES', `TDATTRIBUTES ${u64(a.raw)} sets reserved bits ${u64(reserved)}`, 'TDATTRIBUTES', `${u64(0n)} in the reserved bits`, u64(reserved));
  if (!a.septVeDisable && policy.allowSeptVe !== true) {
    fail(log, id, 'POLICY_TD_ATTRIBUTES', `TDATTRIBUTES ${u64(a.raw)} has SEPT_VE_DISABLE (bit 28) clear: the host can inject #VE through EPT violations (allowSeptVe accepts it)`, 'TDATTRIBUTES.SEPT_VE_DISABLE', '1', '0');
  }
  if (a.migratable && policy.allowMigratable !== true) fail(log, id, 'POLICY_TD_ATTRIBUTES', `TDATTRIBUTES ${u64(a.raw)} has MIGRATABLE (bit 29) set: the TD can be migrated to another platform (allowMigratable accepts it)`, 'TDATTRIBUTES.MIGRATABLE', '0', '1');
  const service = quote.body.mrServiceTd;
  if (service !== undefined && !isAllZero(service) && !(policy.mrServiceTds ?? []).some((h) => bytesEqual(fromHex(h, 'MR_SERVICETD'), service))) {
    fail(log, id, 'POLICY_TD_ATTRIBUTES', `MR_SERVICETD ${toHex(service)} binds a service TD the policy does not list (mrServiceTds)`, 'MR_SERVICETD', ['0'.repeat(96), ...(policy.mrServiceTds ?? [])].join('|'), toHex(service));
  }
  log.pass(id, [a.septVeDisable ? 'SEPT_VE_DISABLE set' : 'SEPT_VE allowed', ...(service === undefined ? [] : [isAllZero(service) ? 'no service TD' : 'service TD allowed'])].join(', '));
}

function checkTcbStatus(tcb: TcbEvaluation | undefined, policy: TdxPolicy, log: CheckLog): void {
  if (tcb === undefined) {
    log.skip('policy.tcb-status', 'collateral not evaluated (chain only)');
    return;
  }
  const accepted = policy.acceptedTcbStatuses ?? DEFAULT_ACCEPTED_TCB_STATUSES;
  if (tcb.status === 'Revoked' || !accepted.includes(tcb.status)) {
    fail(log, 'policy.tcb-status', 'TCB_STATUS', describeTcb(tcb), 'TCB status', accepted.join('|'), tcb.status);
  }
  log.pass('policy.tcb-status', tcb.status);
}

/** "platform OutOfDate since 2025-05-14 (INTEL-SA-01192, ...); module UpToDate; QE UpToDate". */
export function describeTcb(tcb: TcbEvaluation): string {
  const part = (name: string, p: { status: string; tcbDate?: string; advisoryIds: readonly string[] }): string =>
    `${name} ${p.status}${p.tcbDate === undefined ? '' : ` since ${p.tcbDate.slice(0, 10)}`}${p.advisoryIds.length === 0 ? '' : ` (${p.advisoryIds.join(', ')})`}`;
  const overall = tcb.status === tcb.platform.status ? '' : `TCB ${tcb.status}: `;
  return `${overall}${part('platform', tcb.platform)}; ${part(`module ${tcb.module.id}`, tcb.module)}; ${part(`QE (ISVSVN ${tcb.qe.isvSvn})`, tcb.qe)}`;
}

function exact(log: CheckLog, id: string, want: string | undefined, have: Uint8Array, field: string, code: 'POLICY_TD_CONFIG' | 'POLICY_REPORT_DATA'): void {
  if (want === undefined) {
    log.skip(id, 'no expectation set');
    return;
  }
  if (!bytesEqual(fromHex(want, field), have)) fail(log, id, code, `${field.toLowerCase()} ${toHex(have)} differs from the expected ${want.toLowerCase()}`, field, want.toLowerCase(), toHex(have));
  log.pass(id);
}

function allowList(log: CheckLog, id: string, list: readonly string[] | undefined, have: Uint8Array, field: string, code: 'POLICY_MEASUREMENT' | 'POLICY_MRSEAM'): void {
  if (list === undefined) {
    log.skip(id, 'no expectation set');
    return;
  }
  if (!list.some((h) => bytesEqual(fromHex(h, field), have))) fail(log, id, code, `${field.toLowerCase()} ${toHex(have)} is not in the allowed list`, field, list.map((h) => h.toLowerCase()).join('|'), toHex(have));
  log.pass(id);
}

export function validateTdxQuote(quote: TdxQuote, policy: TdxPolicy, log = new CheckLog(), tcb?: TcbEvaluation): void {
  const body = quote.body;
  checkTdAttributes(quote, policy, log);
  checkTcbStatus(tcb, policy, log);
  allowList(log, 'policy.mrtd', policy.mrtds, body.mrTd, 'MRTD', 'POLICY_MEASUREMENT');

  if (policy.rtmrs === undefined) log.skip('policy.rtmrs', 'no expectation set');
  else {
    const checked: string[] = [];
    policy.rtmrs.forEach((want, i) => {
      const have = body.rtmrs[i];
      if (want === null || have === undefined) return;
      if (!bytesEqual(fromHex(want, `RTMR${i}`), have)) {
        fail(log, 'policy.rtmrs', 'POLICY_MEASUREMENT', `rtmr${i} ${toHex(have)} differs from the expected ${want.toLowerCase()}`, `RTMR${i}`, want.toLowerCase(), toHex(have));
      }
      checked.push(`RTMR${i}`);
    });
    log.pass('policy.rtmrs', checked.length === 0 ? 'every entry null: none checked' : `${checked.join(', ')} checked`);
  }

  exact(log, 'policy.report-data', policy.reportData, body.reportData, 'REPORTDATA', 'POLICY_REPORT_DATA');
  exact(log, 'policy.mrconfigid', policy.mrConfigId, body.mrConfigId, 'MRCONFIGID', 'POLICY_TD_CONFIG');
  exact(log, 'policy.mrowner', policy.mrOwner, body.mrOwner, 'MROWNER', 'POLICY_TD_CONFIG');
  exact(log, 'policy.mrownerconfig', policy.mrOwnerConfig, body.mrOwnerConfig, 'MROWNERCONFIG', 'POLICY_TD_CONFIG');
  exact(log, 'policy.xfam', policy.xfam, fromHex(u64(body.xfam)), 'XFAM', 'POLICY_TD_CONFIG');
  allowList(log, 'policy.mrseam', policy.mrSeams, body.mrSeam, 'MRSEAM', 'POLICY_MRSEAM');

  if (policy.minTeeTcbSvn === undefined) log.skip('policy.min-tee-tcb-svn', 'no expectation set');
  else {
    const min = fromHex(policy.minTeeTcbSvn, 'minTeeTcbSvn');
    const low = [...body.teeTcbSvn].findIndex((b, i) => b < (min[i] as number));
    if (low >= 0) fail(log, 'policy.min-tee-tcb-svn', 'POLICY_TCB_TOO_LOW', `TEE_TCB_SVN ${toHex(body.teeTcbSvn)} is below the minimum ${policy.minTeeTcbSvn.toLowerCase()} at byte ${low}`, `TEE_TCB_SVN[${low}]`, `>= ${min[low] as number}`, String(body.teeTcbSvn[low]));
    log.pass('policy.min-tee-tcb-svn');
  }
}
