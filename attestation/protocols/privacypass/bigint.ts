// The big-integer arithmetic RSA needs (RFC 8017 section 4 I2OSP / OS2IP, modular exponentiation and inverse), on
// BigInt. Not constant time: the client uses it on its own blinding factor, whose timing is visible only to code
// running beside it.
import { ParseError } from '../../errors.js';

/** OS2IP: big-endian bytes as a non-negative integer. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** I2OSP: `n` as exactly `length` big-endian bytes. */
export function bigIntToBytes(n: bigint, length: number): Uint8Array<ArrayBuffer> {
  if (n < 0n || n >> BigInt(8 * length) !== 0n) throw new ParseError('MALFORMED_PRIVACY_PASS', `integer does not fit in ${length} bytes`, { field: 'integer' });
  const out = new Uint8Array(length);
  let v = n;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result % modulus;
}

/** a^-1 mod m, or undefined when a and m share a factor. */
export function modInverse(a: bigint, m: bigint): bigint | undefined {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) return undefined;
  return ((oldS % m) + m) % m;
}

/** A uniform integer in [1, n), from WebCrypto's generator (or the given one) by rejection sampling. */
export function randomBelow(n: bigint, random: (bytes: Uint8Array<ArrayBuffer>) => void = (b) => globalThis.crypto.getRandomValues(b)): bigint {
  const bits = bitLength(n);
  const bytes = new Uint8Array(Math.ceil(bits / 8));
  const topMask = 0xff >> (8 * bytes.length - bits);
  for (;;) {
    random(bytes);
    bytes[0] = (bytes[0] as number) & topMask;
    const r = bytesToBigInt(bytes);
    if (r > 0n && r < n) return r;
  }
}
