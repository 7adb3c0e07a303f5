// A strict, minimal DER reader (ITU-T X.690): just what X.509 certificates and CRLs need, and the few
// encoders the development chains use to write certificate extensions.
import { concatBytes } from './bytes.js';
import { ParseError } from './errors.js';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export interface Tlv {
  readonly tag: number;
  /** The whole element, header included. */
  readonly raw: Uint8Array;
  /** The content octets. */
  readonly value: Uint8Array;
}

function fail(message: string, offset: number): never {
  throw new ParseError('MALFORMED_DER', message, { offset });
}

/** Reads one TLV at `offset`; returns it and the offset just past it. */
export function readTlv(bytes: Uint8Array, offset: number): { tlv: Tlv; next: number } {
  if (offset + 2 > bytes.length) fail(`DER element truncated at offset ${offset}`, offset);
  const tag = bytes[offset] as number;
  if ((tag & 0x1f) === 0x1f) fail(`multi-byte DER tags are not supported (offset ${offset})`, offset);
  let length = bytes[offset + 1] as number;
  let header = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) fail(`unsupported DER length form at offset ${offset}`, offset);
    if (offset + 2 + n > bytes.length) fail(`DER length truncated at offset ${offset}`, offset);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (bytes[offset + 2 + i] as number);
    if (length < 0x80 || (n > 1 && bytes[offset + 2] === 0)) fail(`non-minimal DER length at offset ${offset}`, offset);
    header += n;
  }
  const end = offset + header + length;
  if (end > bytes.length) fail(`DER element at offset ${offset} claims ${length} bytes, only ${bytes.length - offset - header} remain`, offset);
  return {
    tlv: { tag, raw: bytes.subarray(offset, end), value: bytes.subarray(offset + header, end) },
    next: end,
  };
}

/** Decodes exactly one TLV spanning all of `bytes`. */
export function decodeOne(bytes: Uint8Array, expectTag?: number): Tlv {
  const { tlv, next } = readTlv(bytes, 0);
  if (next !== bytes.length) fail(`${bytes.length - next} trailing bytes after DER element`, next);
  if (expectTag !== undefined && tlv.tag !== expectTag) fail(`expected DER tag 0x${expectTag.toString(16)}, found 0x${tlv.tag.toString(16)}`, 0);
  return tlv;
}

/** The children of a constructed element. */
export function children(tlv: Tlv): Tlv[] {
  if ((tlv.tag & 0x20) === 0) fail(`DER tag 0x${tlv.tag.toString(16)} is not constructed`, 0);
  const out: Tlv[] = [];
  let at = 0;
  while (at < tlv.value.length) {
    const { tlv: child, next } = readTlv(tlv.value, at);
    out.push(child);
    at = next;
  }
  return out;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined) fail(`${what} is missing`, 0);
  if (tlv.tag !== tag) fail(`${what}: expected DER tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)}`, 0);
  return tlv;
}

export function decodeOid(tlv: Tlv): string {
  const v = tlv.value;
  if (tlv.tag !== TAG.OID || v.length === 0) fail('malformed OBJECT IDENTIFIER', 0);
  const first = v[0] as number;
  const arcs: number[] = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let acc = 0;
  for (let i = 1; i < v.length; i++) {
    const b = v[i] as number;
    acc = acc * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
    }
  }
  if (first & 0x80 || (v[v.length - 1] as number) & 0x80) fail('malformed OBJECT IDENTIFIER', 0);
  return arcs.join('.');
}

/** A non-negative INTEGER small enough for a JS number. */
export function decodeSmallInteger(tlv: Tlv): number {
  if (tlv.tag !== TAG.INTEGER || tlv.value.length === 0 || tlv.value.length > 6) fail('malformed or oversized INTEGER', 0);
  if ((tlv.value[0] as number) & 0x80) fail('negative INTEGER where a non-negative one is required', 0);
  let n = 0;
  for (const b of tlv.value) n = n * 256 + b;
  return n;
}

/** INTEGER content without its sign-padding zero byte. */
export function unsignedIntegerBytes(tlv: Tlv): Uint8Array {
  if (tlv.tag !== TAG.INTEGER || tlv.value.length === 0) fail('malformed INTEGER', 0);
  let v = tlv.value;
  while (v.length > 1 && v[0] === 0) v = v.subarray(1);
  return v;
}

export function decodeBitString(tlv: Tlv): Uint8Array {
  if (tlv.tag !== TAG.BIT_STRING || tlv.value.length === 0 || tlv.value[0] !== 0) fail('BIT STRING with unused bits is not supported', 0);
  return tlv.value.subarray(1);
}

export function decodeString(tlv: Tlv): string {
  switch (tlv.tag) {
    case TAG.UTF8_STRING:
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(tlv.value);
      } catch {
        return fail(`string with tag 0x${tlv.tag.toString(16)} is not valid UTF-8`, 0);
      }
    default:
      return fail(`tag 0x${tlv.tag.toString(16)} is not a supported string type`, 0);
  }
}

export function decodeTime(tlv: Tlv): Date {
  const s = new TextDecoder().decode(tlv.value);
  let m: RegExpMatchArray | null;
  if (tlv.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (tlv.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  return fail(`malformed time "${s}"`, 0);
}

/** DER INTEGER for a non-negative JS integer (the encoding AMD's VCEK SPL extensions use). */
export function encodeSmallInteger(n: number): Uint8Array {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if ((bytes[0] as number) & 0x80) bytes.unshift(0);
  return new Uint8Array([TAG.INTEGER, bytes.length, ...bytes]);
}

/** One DER element: `tag`, the definite length (short or long form, up to 2^24 - 1 bytes), `content`. */
export function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  if (n >= 0x1000000) throw new RangeError(`DER content of ${n} bytes is too large`);
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concatBytes(new Uint8Array([tag, ...length]), content);
}

/** A SEQUENCE of already encoded elements. */
export function encodeSequence(...elements: readonly Uint8Array[]): Uint8Array {
  return encodeTlv(TAG.SEQUENCE, concatBytes(...elements));
}

/** An OBJECT IDENTIFIER from its dotted form (base-128 arcs, the first two joined as 40 * a + b). */
export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map(Number);
  const [a, b, ...rest] = arcs;
  if (a === undefined || b === undefined || arcs.some((x) => !Number.isSafeInteger(x) || x < 0) || a > 2 || (a < 2 && b >= 40)) throw new RangeError(`"${oid}" is not an OBJECT IDENTIFIER`);
  const bytes: number[] = [];
  for (const arc of [40 * a + b, ...rest]) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return encodeTlv(TAG.OID, new Uint8Array(bytes));
}

/** DER IA5String of an ASCII string shorter than 128 bytes. */
export function encodeIa5String(s: string): Uint8Array {
  const bytes = new TextEncoder().encode(s);
  if (bytes.length >= 0x80) throw new RangeError('encodeIa5String takes strings shorter than 128 bytes');
  return new Uint8Array([TAG.IA5_STRING, bytes.length, ...bytes]);
}
