// Why a TDX quote's MRTD and RTMRs do or do not match what a firmware image, a kernel, an initrd, a command line
// and an event log predict, in one line naming the first difference.
import { bytesEqual, toHex } from '../../bytes.js';
import type { Hasher } from '../../hash.js';
import { webCryptoHasher } from '../../hash.js';
import { parseCcelEventLog, replayRtmrs } from './ccel.js';
import type { CcelEvent } from './ccel.js';
import { directBootEvents, predictedRtmrs, type DirectBootOptions } from './directBoot.js';
import type { ExpectedEvent } from './directBoot.js';
import { TCG_EVENT_TYPES, TPM_ALG } from './eventTypes.js';
import { tdxMrtd } from './mrtd.js';

export interface TdxExplanation {
  readonly matched: boolean;
  readonly line: string;
}

export interface TdxMeasurementInputs {
  readonly firmware?: Uint8Array;
  readonly kernel?: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly append?: string;
  readonly eventLog?: Uint8Array;
  /** How QEMU loaded the kernel (directBootEvents' `qemu` option): its setup header is patched before it is hashed. */
  readonly qemu?: DirectBootOptions['qemu'];
}

const DIRECT_BOOT_RTMRS = [1, 2] as const;

const describe = (e: CcelEvent): string => `event ${e.index} at offset 0x${e.offset.toString(16)} (RTMR${e.rtmr ?? '?'} ${e.typeName})`;
const sha384Of = (e: CcelEvent): string => {
  const d = e.digests.get(TPM_ALG.SHA384);
  return d === undefined ? 'no SHA-384 digest' : toHex(d);
};

/** The log's events in the RTMRs direct boot writes, EV_NO_ACTION left out; without a kernel, its event is not compared. */
function comparedEvents(events: readonly CcelEvent[], withKernel: boolean): CcelEvent[] {
  return events.filter((e) => e.rtmr !== undefined && (DIRECT_BOOT_RTMRS as readonly number[]).includes(e.rtmr) && e.type !== TCG_EVENT_TYPES.EV_NO_ACTION && (withKernel || !(e.rtmr === 1 && e.type === TCG_EVENT_TYPES.EV_EFI_BOOT_SERVICES_APPLICATION)));
}

/** The first place where the log's RTMR1/RTMR2 events and the expected ones part, or undefined. */
function firstDivergence(actual: readonly CcelEvent[], expected: readonly ExpectedEvent[]): string | undefined {
  for (const rtmr of DIRECT_BOOT_RTMRS) {
    const a = actual.filter((e) => e.rtmr === rtmr);
    const x = expected.filter((e) => e.rtmr === rtmr);
    for (let i = 0; i < Math.max(a.length, x.length); i++) {
      const got = a[i];
      const want = x[i];
      if (got === undefined && want !== undefined) return `RTMR${rtmr}: the event log ends where direct boot predicts ${want.typeName} ${want.description} (digest ${toHex(want.digest)})`;
      if (got !== undefined && want === undefined) return `${describe(got)}: direct boot predicts no further RTMR${rtmr} event (log digest ${sha384Of(got)})`;
      if (got === undefined || want === undefined) continue;
      const digest = got.digests.get(TPM_ALG.SHA384);
      if (got.type !== want.type || digest === undefined || !bytesEqual(digest, want.digest)) {
        return `${describe(got)}: expected ${want.typeName} ${want.description} with digest ${toHex(want.digest)}, the log has ${got.typeName} with ${sha384Of(got)}`;
      }
    }
  }
  return undefined;
}

/** The RTMR value a list of event digests extends to from zero. */

/**
 * Compares a quote's MRTD and RTMRs with what the inputs predict: MRTD from the firmware (when given); the event
 * log (when given) must replay to the quote's RTMRs, else the line names the first RTMR that differs; then the
 * log's RTMR1/RTMR2 events are compared in order with directBootEvents, and the line names the first event that
 * diverges (index, offset, type name, description, expected vs actual digest). Without a log, the RTMR1 and RTMR2
 * that direct boot predicts are compared with the quote's.
 */
export async function explainTdxMeasurement(
  actual: { mrTd: Uint8Array; rtmrs: readonly Uint8Array[] },
  inputs: TdxMeasurementInputs,
  hasher: Hasher = webCryptoHasher,
): Promise<TdxExplanation> {
  const checked: string[] = [];
  if (inputs.firmware !== undefined) {
    const single = await tdxMrtd(inputs.firmware, hasher);
    if (bytesEqual(single, actual.mrTd)) checked.push('MRTD matches the firmware');
    else if (bytesEqual(await tdxMrtd(inputs.firmware, hasher, { pageOrder: 'two-pass' }), actual.mrTd)) checked.push('MRTD matches the firmware (two-pass page order, QEMU 8 / early TDX KVM)');
    else {
      const line = `MRTD: the firmware predicts ${toHex(single)}, the quote reports ${toHex(actual.mrTd)}`;
      if (inputs.eventLog === undefined) return { matched: false, line };
      const events = parseCcelEventLog(inputs.eventLog);
      const replayed = await replayRtmrs(events, hasher);
      const agree = replayed.every((r, i) => actual.rtmrs[i] !== undefined && bytesEqual(r, actual.rtmrs[i]));
      return { matched: false, line: `${line} (the event log ${agree ? 'does' : 'does not'} replay to the quote's RTMR0..3)` };
    }
  }
  const bootGiven = inputs.kernel !== undefined || inputs.initrd !== undefined || inputs.append !== undefined;
  if (inputs.eventLog !== undefined) {
    const events = parseCcelEventLog(inputs.eventLog);
    const replayed = await replayRtmrs(events, hasher);
    for (let i = 0; i < replayed.length; i++) {
      const want = actual.rtmrs[i];
      const got = replayed[i] as Uint8Array;
      if (want === undefined || !bytesEqual(got, want)) {
        return { matched: false, line: `RTMR${i}: the event log (${events.length} events) replays to ${toHex(got)}, the quote reports ${want === undefined ? 'none' : toHex(want)}` };
      }
    }
    checked.push(`the event log's ${events.length} events replay to RTMR0..3`);
    if (bootGiven) {
      const rtmr1Separator = events.some((e) => e.rtmr === 1 && e.type === TCG_EVENT_TYPES.EV_SEPARATOR);
      const expected = await directBootEvents(inputs, hasher, { rtmr1Separator, ...(inputs.qemu === undefined ? {} : { qemu: inputs.qemu }) });
      const divergence = firstDivergence(comparedEvents(events, inputs.kernel !== undefined), expected);
      if (divergence !== undefined) return { matched: false, line: divergence };
      checked.push('its RTMR1/RTMR2 events are those of a direct boot of the given inputs');
    }
  } else if (bootGiven && inputs.kernel !== undefined) {
    for (const rtmr1Separator of [true, false]) {
      const expected = await directBootEvents(inputs, hasher, { rtmr1Separator, ...(inputs.qemu === undefined ? {} : { qemu: inputs.qemu }) });
      const rtmrs = await predictedRtmrs(expected, hasher);
      const predicted = DIRECT_BOOT_RTMRS.map((r) => rtmrs[r] as Uint8Array);
      const differs = DIRECT_BOOT_RTMRS.findIndex((r, i) => !bytesEqual(predicted[i] as Uint8Array, actual.rtmrs[r] ?? new Uint8Array(0)));
      if (differs < 0) {
        checked.push('RTMR1 and RTMR2 are those of a direct boot of the given inputs');
        break;
      }
      if (!rtmr1Separator) {
        const r = DIRECT_BOOT_RTMRS[differs] as number;
        return { matched: false, line: `RTMR${r}: direct boot of the given inputs predicts ${toHex(predicted[differs] as Uint8Array)}, the quote reports ${toHex(actual.rtmrs[r] ?? new Uint8Array(0))} (pass the event log to find the event)` };
      }
    }
  }
  if (checked.length === 0) return { matched: false, line: 'nothing to compare: give a firmware, an event log or direct-boot inputs' };
  if (inputs.eventLog === undefined) checked.push(inputs.kernel === undefined ? 'RTMR0..3 not compared (give the event log, or the kernel for RTMR1 and RTMR2)' : 'RTMR0 and RTMR3 not compared (give the event log)');
  return { matched: true, line: checked.join('; ') };
}
