// A strict, minimal CBOR (RFC 8949) codec for exactly what the RA-TLS extension uses: unsigned integers
// (major type 0, up to 2^53 - 1), byte strings (2), text strings (3), arrays (4) and maps with text keys
// (5). The encoder emits core deterministic encoding (RFC 8949 section 4.2.1: shortest arguments,
// definite lengths, map keys sorted by their encoded bytes); the decoder accepts only that encoding, so
// every value has exactly one byte form. Anything else (negative integers, tags, floats, simple values,
// indefinite lengths, duplicate or unsorted keys, invalid UTF-8, trailing bytes) is a ParseError.
//
// Initial byte: major type in the top 3 bits, additional information (ai) in the low 5:
//   ai 0..23 the argument itself; 24, 25, 26, 27: a 1, 2, 4, 8-byte big-endian argument follows.
import { bytesEqual, concatBytes } from '../bytes.js';
import { ParseError } from '../errors.js';

export type CborValue = number | string | Uint8Array | readonly CborValue[] | CborMap;
export type CborMap = ReadonlyMap<string, CborValue>;

const MAJOR = { uint: 0, bytes: 2, text: 3, array: 4, map: 5 } as const;
/** Nesting deeper than this is refused (the RA-TLS extension uses 3 levels). */
export const CBOR_MAX_DEPTH = 16;

function head(major: number, n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`cbor: ${n} is not an unsigned safe integer`);
  const m = major << 5;
  if (n < 24) return new Uint8Array([m | n]);
  if (n < 0x100) return new Uint8Array([m | 24, n]);
  if (n < 0x10000) return new Uint8Array([m | 25, n >> 8, n & 0xff]);
  if (n < 0x100000000) return new Uint8Array([m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  const out = new Uint8Array(9);
  out[0] = m | 27;
  new DataView(out.buffer).setBigUint64(1, BigInt(n));
  return out;
}

/** Lexicographic order of byte strings, shorter first on a common prefix (RFC 8949 4.2.1). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

export function encodeCbor(value: CborValue): Uint8Array {
  if (typeof value === 'number') return head(MAJOR.uint, value);
  if (typeof value === 'string') {
    const utf8 = new TextEncoder().encode(value);
    return concatBytes(head(MAJOR.text, utf8.length), utf8);
  }
  if (value instanceof Uint8Array) return concatBytes(head(MAJOR.bytes, value.length), value);
  if (value instanceof Map) {
    const entries = [...(value as CborMap)].map(([k, v]) => [encodeCbor(k), encodeCbor(v)] as const).sort((a, b) => compareBytes(a[0], b[0]));
    return concatBytes(head(MAJOR.map, entries.length), ...entries.flat());
  }
  const items = value as readonly CborValue[];
  return concatBytes(head(MAJOR.array, items.length), ...items.map(encodeCbor));
}

class Reader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  fail(message: string, at = this.offset): never {
    throw new ParseError('MALFORMED_FIELD', `cbor: ${message} at offset ${at}`, { field: 'cbor', offset: at });
  }

  need(n: number): void {
    if (n > this.bytes.length - this.offset) {
      throw new ParseError('TRUNCATED', `cbor: ${n} bytes needed at offset ${this.offset}, ${this.bytes.length - this.offset} left`, { field: 'cbor', offset: this.offset });
    }
  }

  /** Reads an initial byte and its argument, refusing non-shortest forms. */
  head(): { major: number; arg: number; at: number } {
    const at = this.offset;
    this.need(1);
    const ib = this.bytes[this.offset++] as number;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (ai < 24) return { major, arg: ai, at };
    if (ai > 27) this.fail(ai === 31 ? 'indefinite length is not allowed' : `reserved additional information ${ai}`, at);
    const size = 1 << (ai - 24);
    this.need(size);
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.offset, size);
    const big = size === 1 ? BigInt(view.getUint8(0)) : size === 2 ? BigInt(view.getUint16(0)) : size === 4 ? BigInt(view.getUint32(0)) : view.getBigUint64(0);
    this.offset += size;
    const min = size === 1 ? 24n : 1n << BigInt(4 * size); // the smallest value that needs this width
    if (big < min) this.fail(`argument ${big} is not in its shortest form`, at);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`argument ${big} exceeds 2^53 - 1`, at);
    return { major, arg: Number(big), at };
  }

  take(n: number): Uint8Array {
    this.need(n);
    return this.bytes.slice(this.offset, (this.offset += n));
  }

  value(depth: number): CborValue {
    const { major, arg, at } = this.head();
    switch (major) {
      case MAJOR.uint:
        return arg;
      case MAJOR.bytes:
        return this.take(arg);
      case MAJOR.text:
        return this.text(arg, at);
      case MAJOR.array:
      case MAJOR.map:
        if (depth >= CBOR_MAX_DEPTH) this.fail(`nesting deeper than ${CBOR_MAX_DEPTH}`, at);
        // Each item takes at least one byte: a count beyond what is left is truncation, not an allocation.
        this.need(major === MAJOR.map ? 2 * arg : arg);
        return major === MAJOR.array ? Array.from({ length: arg }, () => this.value(depth + 1)) : this.map(arg, depth);
      default:
        return this.fail(`major type ${major} is not supported (only unsigned integers, byte and text strings, arrays, maps)`, at);
    }
  }

  text(length: number, at: number): string {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(this.take(length));
    } catch (cause) {
      if (cause instanceof ParseError) throw cause;
      return this.fail('text string is not valid UTF-8', at);
    }
  }

  map(count: number, depth: number): CborMap {
    const out = new Map<string, CborValue>();
    let previous: Uint8Array | undefined;
    for (let i = 0; i < count; i++) {
      const at = this.offset;
      const key = this.value(depth + 1);
      if (typeof key !== 'string') this.fail('map key is not a text string', at);
      const encoded = this.bytes.subarray(at, this.offset);
      if (previous !== undefined && compareBytes(previous, encoded) >= 0) this.fail(bytesEqual(previous, encoded) ? `duplicate map key "${key}"` : `map key "${key}" is out of deterministic order`, at);
      previous = encoded;
      out.set(key, this.value(depth + 1));
    }
    return out;
  }
}

/** Decodes exactly one deterministically encoded item; bytes after it are an error. */
export function decodeCbor(bytes: Uint8Array): CborValue {
  const r = new Reader(bytes);
  const value = r.value(0);
  if (r.offset !== bytes.length) {
    throw new ParseError('TRAILING_BYTES', `cbor: ${bytes.length - r.offset} bytes after the item at offset ${r.offset}`, { field: 'cbor', offset: r.offset });
  }
  return value;
}
