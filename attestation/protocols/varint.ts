// QUIC variable-length integers (RFC 9000 section 16), as Binary HTTP (RFC 9292) uses them for every
// length and number. The two high bits of the first byte give the encoded size:
//   00: 1 byte, 6-bit value   01: 2 bytes, 14-bit   10: 4 bytes, 30-bit   11: 8 bytes, 62-bit
// all big-endian with those two bits masked off. Values above Number.MAX_SAFE_INTEGER (2^53 - 1) are
// refused rather than rounded. Decoding accepts non-minimal encodings, which RFC 9000 allows.
import { ParseError } from '../errors.js';

const MAX_1 = 0x3f;
const MAX_2 = 0x3fff;
const MAX_4 = 0x3fffffff;
const TWO_32 = 0x1_0000_0000;
/** The high 32 bits of Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH = 0x1fffff;

function checkEncodable(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ParseError('MALFORMED_BHTTP', `varint: ${n} is not an unsigned safe integer`, { field: 'varint', actual: String(n) });
  }
}

export function varintSize(n: number): number {
  checkEncodable(n);
  if (n <= MAX_1) return 1;
  if (n <= MAX_2) return 2;
  if (n <= MAX_4) return 4;
  return 8;
}

/** The shortest encoding of `n`. */
export function encodeVarint(n: number): Uint8Array {
  const size = varintSize(n);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  if (size === 1) out[0] = n;
  else if (size === 2) view.setUint16(0, 0x4000 | n);
  else if (size === 4) view.setUint32(0, (0x8000_0000 | n) >>> 0);
  else {
    view.setUint32(0, (0xc000_0000 | Math.floor(n / TWO_32)) >>> 0);
    view.setUint32(4, n % TWO_32);
  }
  return out;
}

/** A cursor over `bytes` whose every failure is a ParseError('MALFORMED_BHTTP') naming the field and offset. */
export class VarintReader {
  offset = 0;
  readonly #bytes: Uint8Array;
  readonly #label: string;
  readonly #base: number;

  /** `field` names the whole input in messages; `base` is where `bytes` starts in an enclosing input. */
  constructor(bytes: Uint8Array, field = 'bhttp', base = 0) {
    this.#bytes = bytes;
    this.#label = field;
    this.#base = base;
  }

  get remaining(): number {
    return this.#bytes.length - this.offset;
  }

  atEnd(): boolean {
    return this.offset >= this.#bytes.length;
  }

  fail(field: string, message: string, details: { expected?: string; actual?: string; at?: number } = {}): never {
    const offset = this.#base + (details.at ?? this.offset);
    throw new ParseError('MALFORMED_BHTTP', `${this.#label}: ${field} ${message} at offset ${offset}`, {
      field,
      offset,
      ...(details.expected === undefined ? {} : { expected: details.expected }),
      ...(details.actual === undefined ? {} : { actual: details.actual }),
    });
  }

  varint(field: string): number {
    const first = this.#bytes[this.offset];
    if (first === undefined) this.fail(field, 'is missing (input truncated)');
    const size = 1 << (first >> 6);
    if (size === 1) {
      this.offset += 1;
      return first;
    }
    if (size > this.remaining) this.fail(field, 'is truncated', { expected: `${size} bytes`, actual: `${this.remaining} bytes` });
    const view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset + this.offset, size);
    let value: number;
    if (size === 2) value = view.getUint16(0) & MAX_2;
    else if (size === 4) value = view.getUint32(0) & MAX_4;
    else {
      const high = view.getUint32(0) & MAX_4;
      if (high > MAX_SAFE_HIGH) this.fail(field, 'exceeds 2^53 - 1', { expected: '<= 2^53 - 1', actual: `high word 0x${high.toString(16)}` });
      value = high * TWO_32 + view.getUint32(4);
    }
    this.offset += size;
    return value;
  }

  /** The next `n` bytes as a view into the input (no copy). */
  bytes(n: number, field: string): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(field, `length ${n} is not an unsigned integer`);
    if (n > this.remaining) this.fail(field, `needs ${n} bytes, only ${this.remaining} remain`, { expected: `${n} bytes`, actual: `${this.remaining} bytes` });
    const out = this.#bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A varint length followed by that many bytes (a view). */
  lengthPrefixed(field: string): Uint8Array {
    const n = this.varint(`${field} Length`);
    return this.bytes(n, field);
  }

  /** A reader over the next `n` bytes, reporting offsets within this reader's whole input. */
  sub(n: number, field: string): VarintReader {
    const start = this.offset;
    return new VarintReader(this.bytes(n, field), this.#label, this.#base + start);
  }
}
