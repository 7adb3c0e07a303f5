// The prime-order group P-384 as RFC 9497 section 4.4 uses it: SEC 2 / FIPS 186-5 curve secp384r1
// (y^2 = x^3 - 3x + b over GF(p), cofactor 1), field and scalar arithmetic in BigInt, points in Jacobian
// coordinates (X, Y, Z) standing for (X/Z^2, Y/Z^3), Z = 0 the identity.
//
//   SerializeElement  SEC1 v2 section 2.3.3, compressed: 0x02 | 0x03 (parity of y) || x, 49 bytes
//   SerializeScalar   big-endian, 48 bytes; DeserializeScalar refuses values >= n
//
// Not constant-time: BigInt operations take time that depends on their values, and the scalar multiplication
// below branches on the scalar's digits. A key used here leaks through timing to anyone who can time it.
import { ParseError } from '../../errors.js';

export const P = 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n;
export const N = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;
export const CURVE_B = 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn;
const GX = 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n;
const GY = 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn;

/** Bytes of a serialized field element or scalar (Ns). */
export const SCALAR_LENGTH = 48;
/** Bytes of a serialized element (Ne): compressed SEC1. */
export const ELEMENT_LENGTH = 49;

export interface Point {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
}

export const IDENTITY: Point = Object.freeze({ x: 1n, y: 1n, z: 0n });
export const GENERATOR: Point = Object.freeze({ x: GX, y: GY, z: 1n });

export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

export function powMod(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}

/** The inverse modulo a prime `m` by the extended Euclidean algorithm; 0 for 0 (RFC 9380 inv0). */
export function invert(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  if (r0 === 0n) return 0n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

/** x^3 - 3x + b, the right-hand side of the curve equation. */
export function curveRhs(x: bigint): bigint {
  return mod(x * x * x - 3n * x + CURVE_B, P);
}

/** p = 3 (mod 4): a square's root is a^((p+1)/4); for a non-square this is no root, and unchecked. */
export function squareRoot(a: bigint): bigint {
  return powMod(a, (P + 1n) / 4n, P);
}

/** The square root of `a`, or undefined when `a` is not a square. */
export function sqrtField(a: bigint): bigint | undefined {
  const root = squareRoot(a);
  return (root * root) % P === mod(a, P) ? root : undefined;
}

export function isIdentity(p: Point): boolean {
  return p.z === 0n;
}

export function double(p: Point): Point {
  if (p.z === 0n || p.y === 0n) return IDENTITY;
  // dbl-2001-b (a = -3), Explicit-Formulas Database
  const delta = (p.z * p.z) % P;
  const gamma = (p.y * p.y) % P;
  const beta = (p.x * gamma) % P;
  const alpha = mod(3n * (p.x - delta) * (p.x + delta), P);
  const x = mod(alpha * alpha - 8n * beta, P);
  const z = mod((p.y + p.z) * (p.y + p.z) - gamma - delta, P);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, P);
  return { x, y, z };
}

export function add(p: Point, q: Point): Point {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  // add-2007-bl, Explicit-Formulas Database
  const z1z1 = (p.z * p.z) % P;
  const z2z2 = (q.z * q.z) % P;
  const u1 = (p.x * z2z2) % P;
  const u2 = (q.x * z1z1) % P;
  const s1 = (p.y * q.z * z2z2) % P;
  const s2 = (q.y * p.z * z1z1) % P;
  const h = mod(u2 - u1, P);
  const r = mod(2n * (s2 - s1), P);
  if (h === 0n) return r === 0n ? double(p) : IDENTITY;
  const i = (4n * h * h) % P;
  const j = (h * i) % P;
  const v = (u1 * i) % P;
  const x = mod(r * r - j - 2n * v, P);
  const y = mod(r * (v - x) - 2n * s1 * j, P);
  const z = mod(((p.z + q.z) * (p.z + q.z) - z1z1 - z2z2) * h, P);
  return { x, y, z };
}

const WINDOW = 4;
const WINDOW_SIZE = 1 << WINDOW;

function windowTable(p: Point): Point[] {
  const table: Point[] = [IDENTITY, p];
  for (let i = 2; i < WINDOW_SIZE; i++) table.push(add(table[i - 1] as Point, p));
  return table;
}

/** The sum of k_i * P_i, with one shared chain of doublings (Straus), 4-bit fixed windows. */
export function multiScalarMultiply(terms: readonly (readonly [bigint, Point])[]): Point {
  const prepared = terms.map(([k, p]) => ({ k: mod(k, N), table: windowTable(p) }));
  let acc = IDENTITY;
  for (let shift = 384 - WINDOW; shift >= 0; shift -= WINDOW) {
    for (let d = 0; d < WINDOW; d++) acc = double(acc);
    for (const { k, table } of prepared) {
      const digit = Number((k >> BigInt(shift)) & BigInt(WINDOW_SIZE - 1));
      if (digit !== 0) acc = add(acc, table[digit] as Point);
    }
  }
  return acc;
}

export function multiply(k: bigint, p: Point): Point {
  return multiScalarMultiply([[k, p]]);
}

export function toAffine(p: Point): { x: bigint; y: bigint } {
  const zInv = invert(p.z, P);
  const zInv2 = (zInv * zInv) % P;
  return { x: (p.x * zInv2) % P, y: (p.y * zInv2 * zInv) % P };
}

export function pointsEqual(a: Point, b: Point): boolean {
  if (a.z === 0n || b.z === 0n) return a.z === b.z;
  const az2 = (a.z * a.z) % P;
  const bz2 = (b.z * b.z) % P;
  return (a.x * bz2) % P === (b.x * az2) % P && (a.y * bz2 * b.z) % P === (b.y * az2 * a.z) % P;
}

export function bigintToBytes(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let rest = v;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

export function bytesToBigint(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** SerializeElement: the identity has no encoding here (RFC 9497 section 4.4 never sends it). */
export function serializeElement(p: Point): Uint8Array {
  if (isIdentity(p)) throw new ParseError('MALFORMED_VOPRF', 'the identity element cannot be serialized', { field: 'element' });
  const { x, y } = toAffine(p);
  const out = new Uint8Array(ELEMENT_LENGTH);
  out[0] = 0x02 | Number(y & 1n);
  out.set(bigintToBytes(x, SCALAR_LENGTH), 1);
  return out;
}

/** DeserializeElement: a compressed point on the curve; the identity and every other encoding are refused. */
export function deserializeElement(bytes: Uint8Array, field = 'element'): Point {
  const fail = (why: string): ParseError => new ParseError('MALFORMED_VOPRF', `${field} ${why}`, { field });
  if (bytes.length !== ELEMENT_LENGTH) throw fail(`is ${bytes.length} bytes, not a ${ELEMENT_LENGTH}-byte compressed P-384 point`);
  const prefix = bytes[0] as number;
  if (prefix !== 0x02 && prefix !== 0x03) throw fail(`starts 0x${prefix.toString(16).padStart(2, '0')}, not 0x02 or 0x03 (compressed)`);
  const x = bytesToBigint(bytes.subarray(1));
  if (x >= P) throw fail('has an x coordinate not below p');
  const y = sqrtField(curveRhs(x));
  if (y === undefined) throw fail('is not on the P-384 curve');
  return { x, y: (y & 1n) === BigInt(prefix & 1) ? y : P - y, z: 1n };
}

export function serializeScalar(k: bigint): Uint8Array {
  return bigintToBytes(mod(k, N), SCALAR_LENGTH);
}

/** DeserializeScalar: 48 bytes, big-endian, below the group order n. */
export function deserializeScalar(bytes: Uint8Array, field = 'scalar'): bigint {
  if (bytes.length !== SCALAR_LENGTH) throw new ParseError('MALFORMED_VOPRF', `${field} is ${bytes.length} bytes, not ${SCALAR_LENGTH}`, { field });
  const k = bytesToBigint(bytes);
  if (k >= N) throw new ParseError('MALFORMED_VOPRF', `${field} is not below the P-384 group order`, { field });
  return k;
}
