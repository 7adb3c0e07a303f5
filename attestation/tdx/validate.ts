// Validation of a verified TDX quote against the caller's policy. A debug TD is rejected unless allowed;
// every other expectation left undefined is not checked (and the verdict says so).
import { bytesEqual, fromHex, toHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import { PolicyError } from '../errors.js';
import type { TdxQuote } from './quote.js';

export interface TdxPolicy {
  /** Accept a TD with TDATTRIBUTES.DEBUG (bit 0) set. Default false. */
  readonly allowDebug?: boolean;
  /** Hex MRTD values (48 bytes) of which the quote must match one. */
  readonly mrtds?: readonly string[];
  /** Exactly four entries, RTMR0..RTMR3: hex (48 bytes) to match exactly, or null to leave that register unchecked. */
  readonly rtmrs?: readonly (string | null)[];
  /** The exact expected REPORTDATA (64 bytes, hex). */
  readonly reportData?: string;
}

function fail(log: CheckLog, id: string, code: ConstructorParameters<typeof PolicyError>[0], message: string, field: string, expected: string, actual: string): never {
  return log.fail(id, new PolicyError(code, message, { field, expected, actual }));
}

export function validateTdxQuote(quote: TdxQuote, policy: TdxPolicy, log = new CheckLog()): void {
  const body = quote.body;
  if (body.tdAttributes.debug && policy.allowDebug !== true) {
    fail(log, 'policy.debug', 'POLICY_DEBUG', 'the TD is debuggable (TDATTRIBUTES.DEBUG = 1): the host can read and change its state', 'TDATTRIBUTES.DEBUG', '0', '1');
  }
  log.pass('policy.debug', body.tdAttributes.debug ? 'DEBUG allowed by policy' : undefined);

  if (policy.mrtds === undefined) log.skip('policy.mrtd', 'no expectation set');
  else {
    const allowed = policy.mrtds;
    if (!allowed.some((h) => bytesEqual(fromHex(h, 'MRTD'), body.mrTd))) {
      fail(log, 'policy.mrtd', 'POLICY_MEASUREMENT', `mrtd ${toHex(body.mrTd)} is not in the allowed list`, 'MRTD', allowed.map((h) => h.toLowerCase()).join('|'), toHex(body.mrTd));
    }
    log.pass('policy.mrtd');
  }

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

  if (policy.reportData === undefined) log.skip('policy.report-data', 'no expectation set');
  else {
    const want = policy.reportData;
    if (!bytesEqual(fromHex(want, 'REPORTDATA'), body.reportData)) {
      fail(log, 'policy.report-data', 'POLICY_REPORT_DATA', `reportdata ${toHex(body.reportData)} differs from the expected ${want.toLowerCase()}`, 'REPORTDATA', want.toLowerCase(), toHex(body.reportData));
    }
    log.pass('policy.report-data');
  }
}
