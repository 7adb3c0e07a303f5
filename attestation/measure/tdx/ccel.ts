// The CC event log (CCEL, ACPI table "CCEL", UEFI 2.10 section 38.4) a TDX guest's firmware leaves, and its replay
// into RTMRs. The log is a TCG crypto-agile log (TCG PC Client Platform Firmware Profile 1.06 rev. 52, 10.2 and
// 10.4.5): one SHA-1 format header event, then TCG_PCR_EVENT2 records. All integers are little-endian.
//
//   TCG_PCClientPCREvent   0x00 PCRIndex u32   0x04 EventType u32 (EV_NO_ACTION)   0x08 Digest [20] (zero)
//                          0x1C EventSize u32  0x20 TCG_EfiSpecIDEvent:
//                               0x00 Signature "Spec ID Event03\0"  0x10 platformClass u32
//                               0x14 specVersionMinor u8  0x15 specVersionMajor u8  0x16 specErrata u8
//                               0x17 uintnSize u8  0x18 numberOfAlgorithms u32
//                               0x1C digestSizes [n] { algorithmId u16, digestSize u16 }
//                               then vendorInfoSize u8, vendorInfo
//   TCG_PCR_EVENT2         MRIndex u32 (CC MR index: 0 MRTD, 1..4 RTMR0..3)   EventType u32
//                          Digests: count u32, then count x { hashAlg u16, digest [size from the header] }
//                          EventSize u32   Event [EventSize]
//
// The log ends at the end of the buffer or where a record would start with 8 bytes all 0x00 or all 0xFF:
// the CCEL area is reserved at a fixed size and left zero (OVMF) or 0xFF-filled past the last record. Offsets
// in errors are from the start of the log.
import { bytesEqual, dataView } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import type { Hasher } from '../../hash.js';
import { webCryptoHasher } from '../../hash.js';
import { eventTypeName, TCG_EVENT_TYPES, TPM_ALG } from './eventTypes.js';

export interface CcelEvent {
  /** Position among the log's TCG_PCR_EVENT2 records (the header event is not one). */
  readonly index: number;
  /** Offset of the record in the log. */
  readonly offset: number;
  readonly mrIndex: number;
  /** 0..3 when mrIndex is 1..4. */
  readonly rtmr?: number;
  readonly type: number;
  readonly typeName: string;
  /** By TPM_ALG_ID. */
  readonly digests: ReadonlyMap<number, Uint8Array>;
  readonly data: Uint8Array;
}

const SPEC_ID_SIGNATURE = new TextEncoder().encode('Spec ID Event03\0');
const HEADER_FIXED = 0x20;
const RTMR_COUNT = 4;
const SHA384_SIZE = 48;

const hex = (n: number): string => `0x${n.toString(16)}`;

class Reader {
  readonly view: DataView;
  at = 0;
  constructor(readonly bytes: Uint8Array) {
    this.view = dataView(bytes);
  }
  need(n: number, field: string): void {
    if (n > this.bytes.length - this.at) {
      throw new ParseError('TRUNCATED', `${field} at offset ${hex(this.at)} needs ${n} bytes, ${this.bytes.length - this.at} remain`, { field, offset: this.at });
    }
  }
  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.at++);
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  take(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

/** The header event's digest sizes, by TPM_ALG_ID. */
function readSpecIdHeader(r: Reader): ReadonlyMap<number, number> {
  r.need(HEADER_FIXED, 'ccel.header');
  r.at = 0x04;
  const type = r.u32('ccel.header.eventType');
  if (type !== TCG_EVENT_TYPES.EV_NO_ACTION) {
    throw new ParseError('MALFORMED_FIELD', `the first event has type ${eventTypeName(type)} at offset 0x4, expected EV_NO_ACTION (the Spec ID event)`, { field: 'ccel.header.eventType', offset: 0x04, actual: hex(type) });
  }
  r.at = 0x1c;
  const size = r.u32('ccel.header.eventSize');
  const event = new Reader(r.take(size, 'ccel.header.event'));
  const at = (o: number): number => HEADER_FIXED + o;
  if (!bytesEqual(event.take(SPEC_ID_SIGNATURE.length, 'ccel.specId.signature'), SPEC_ID_SIGNATURE)) {
    throw new ParseError('MALFORMED_FIELD', 'the header event is not a "Spec ID Event03" (crypto-agile log) at offset 0x20', { field: 'ccel.specId.signature', offset: at(0) });
  }
  event.at = 0x18;
  const count = event.u32('ccel.specId.numberOfAlgorithms');
  if (count === 0 || count > (size - 0x1c) / 4) {
    throw new ParseError('MALFORMED_FIELD', `Spec ID event numberOfAlgorithms ${count} at offset ${hex(at(0x18))} does not fit its ${size} bytes`, { field: 'ccel.specId.numberOfAlgorithms', offset: at(0x18), actual: String(count) });
  }
  const sizes = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const alg = event.u16('ccel.specId.algorithmId');
    const digestSize = event.u16('ccel.specId.digestSize');
    if (digestSize === 0 || sizes.has(alg)) {
      throw new ParseError('MALFORMED_FIELD', `Spec ID event lists algorithm ${hex(alg)} with size ${digestSize} at offset ${hex(at(event.at - 4))}`, { field: 'ccel.specId.digestSizes', offset: at(event.at - 4) });
    }
    sizes.set(alg, digestSize);
  }
  const vendorSize = event.u8('ccel.specId.vendorInfoSize');
  event.take(vendorSize, 'ccel.specId.vendorInfo');
  return sizes;
}

function atEnd(r: Reader): boolean {
  if (r.bytes.length - r.at < 8) {
    if (r.bytes.subarray(r.at).every((b) => b === 0 || b === 0xff)) return true;
    r.need(8, 'ccel.event');
  }
  const head = r.bytes.subarray(r.at, r.at + 8);
  return head.every((b) => b === 0) || head.every((b) => b === 0xff);
}

function readEvent(r: Reader, sizes: ReadonlyMap<number, number>, index: number): CcelEvent {
  const offset = r.at;
  const mrIndex = r.u32('ccel.event.mrIndex');
  const type = r.u32('ccel.event.eventType');
  const countAt = r.at;
  const count = r.u32('ccel.event.digests.count');
  if (count > sizes.size) {
    throw new ParseError('MALFORMED_FIELD', `event ${index} at offset ${hex(offset)} has ${count} digests; the Spec ID event declares ${sizes.size} algorithms`, { field: 'ccel.event.digests.count', offset: countAt, actual: String(count) });
  }
  const digests = new Map<number, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const algAt = r.at;
    const alg = r.u16('ccel.event.digests.hashAlg');
    const size = sizes.get(alg);
    if (size === undefined || digests.has(alg)) {
      throw new ParseError('MALFORMED_FIELD', `event ${index} at offset ${hex(offset)} has a ${digests.has(alg) ? 'repeated' : 'undeclared'} digest algorithm ${hex(alg)} at offset ${hex(algAt)}`, { field: 'ccel.event.digests.hashAlg', offset: algAt, actual: hex(alg) });
    }
    digests.set(alg, r.take(size, 'ccel.event.digests.digest').slice());
  }
  const size = r.u32('ccel.event.eventSize');
  const data = r.take(size, 'ccel.event.event').slice();
  const rtmr = mrIndex >= 1 && mrIndex <= RTMR_COUNT ? { rtmr: mrIndex - 1 } : {};
  return Object.freeze({ index, offset, mrIndex, ...rtmr, type, typeName: eventTypeName(type), digests, data });
}

/** The TCG_PCR_EVENT2 records of a CC event log, after checking its Spec ID header event. */
export function parseCcelEventLog(log: Uint8Array): readonly CcelEvent[] {
  const r = new Reader(log);
  const sizes = readSpecIdHeader(r);
  const events: CcelEvent[] = [];
  while (r.at < log.length && !atEnd(r)) events.push(readEvent(r, sizes, events.length));
  return Object.freeze(events);
}

/**
 * RTMR0..3 as the log's SHA-384 digests extend them, from 48 zero bytes: RTMR[i] = SHA-384(RTMR[i] || digest).
 * EV_NO_ACTION events are informational and never extended.
 */
export async function replayRtmrs(events: readonly CcelEvent[], hasher: Hasher = webCryptoHasher): Promise<readonly Uint8Array[]> {
  const extensions: { rtmr: number; digest: Uint8Array }[] = [];
  for (const e of events) {
    if (e.rtmr === undefined || e.type === TCG_EVENT_TYPES.EV_NO_ACTION) continue;
    const digest = e.digests.get(TPM_ALG.SHA384);
    if (digest?.length !== SHA384_SIZE) {
      throw new ParseError('UNSUPPORTED_ALGORITHM', `event ${e.index} (${e.typeName}) at offset ${hex(e.offset)} extends RTMR${e.rtmr} without a 48-byte SHA-384 digest`, { field: 'ccel.event.digests', offset: e.offset });
    }
    extensions.push({ rtmr: e.rtmr, digest });
  }
  return extendRtmrs(extensions, hasher);
}

/** RTMR0..3 after extending each `rtmr` (0..3) by its SHA-384 `digest`, in order, from 48 zero bytes. */
export async function extendRtmrs(extensions: Iterable<{ readonly rtmr: number; readonly digest: Uint8Array }>, hasher: Hasher = webCryptoHasher): Promise<readonly Uint8Array[]> {
  const rtmrs: Uint8Array[] = Array.from({ length: RTMR_COUNT }, () => new Uint8Array(SHA384_SIZE));
  for (const { rtmr, digest } of extensions) rtmrs[rtmr] = await hasher.digest('SHA-384', [rtmrs[rtmr] as Uint8Array, digest]);
  return Object.freeze(rtmrs);
}
