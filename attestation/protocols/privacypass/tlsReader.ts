// Reading and writing the TLS presentation language (RFC 8446 section 3) that Privacy Pass structures are written
// in: big-endian integers, fixed arrays and length-prefixed vectors. Every failure is MALFORMED_PRIVACY_PASS
// naming the structure's field and the offset.
import { ParseError } from '../../errors.js';

export function malformed(message: string, field: string, offset?: number): never {
  throw new ParseError('MALFORMED_PRIVACY_PASS', message, { field, ...(offset === undefined ? {} : { offset }) });
}

export class TlsReader {
  private at = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.at;
  }

  bytesN(n: number, field: string): Uint8Array {
    if (this.at + n > this.bytes.length) malformed(`${this.what} is truncated in ${field}: ${n} bytes needed at offset ${this.at}, ${this.bytes.length - this.at} left`, field, this.at);
    const out = this.bytes.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8(field: string): number {
    return this.bytesN(1, field)[0] as number;
  }

  u16(field: string): number {
    const b = this.bytesN(2, field);
    return ((b[0] as number) << 8) | (b[1] as number);
  }

  /** opaque field<min..max> with a one-byte (max < 256) or two-byte length. */
  vector(field: string, min: number, max: number): Uint8Array {
    const start = this.at;
    const length = max < 0x100 ? this.u8(field) : this.u16(field);
    if (length < min || length > max) malformed(`${this.what} ${field} is ${length} bytes, outside ${min}..${max}`, field, start);
    return this.bytesN(length, field);
  }

  end(): void {
    if (this.at !== this.bytes.length) malformed(`${this.what} has ${this.bytes.length - this.at} trailing bytes at offset ${this.at}`, this.what, this.at);
  }
}

export const u16 = (n: number): Uint8Array => new Uint8Array([n >> 8, n & 0xff]);

export function vector(bytes: Uint8Array, field: string, min: number, max: number): Uint8Array {
  if (bytes.length < min || bytes.length > max) malformed(`${field} is ${bytes.length} bytes, outside ${min}..${max}`, field);
  return max < 0x100 ? new Uint8Array([bytes.length, ...bytes]) : new Uint8Array([...u16(bytes.length), ...bytes]);
}
