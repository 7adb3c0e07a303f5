// RFC 9380 hashing to P-384, suite P384_XMD:SHA-384_SSWU_RO_ (section 8.3): expand_message_xmd with SHA-384
// (section 5.3.1), hash_to_field with L = 72 (section 5.2), the simplified SWU map with Z = -12 (section 6.6.2),
// and clear_cofactor the identity map (h = 1). hash_to_field modulo the group order n is RFC 9497's HashToScalar.
import { concatBytes } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import type { Hasher } from '../../hash.js';
import { add, bytesToBigint, CURVE_B, curveRhs, invert, mod, P, sqrtField, squareRoot, type Point } from './p384.js';

/** SHA-384 output and input block, in bytes (b_in_bytes, s_in_bytes). */
const B_IN_BYTES = 48;
const S_IN_BYTES = 128;
/** ceil((ceil(log2(p)) + k) / 8) with k = 192, for both p and n. */
const L = 72;
const A = -3n;
const Z = -12n;

export async function expandMessageXmd(hasher: Hasher, msg: Uint8Array, dst: Uint8Array, lenInBytes: number): Promise<Uint8Array> {
  const ell = Math.ceil(lenInBytes / B_IN_BYTES);
  if (ell > 255 || lenInBytes > 65535 || dst.length > 255) {
    throw new ParseError('MALFORMED_VOPRF', `expand_message_xmd cannot give ${lenInBytes} bytes with a ${dst.length}-byte DST`, { field: 'dst' });
  }
  const dstPrime = concatBytes(dst, Uint8Array.of(dst.length));
  const b0 = await hasher.digest('SHA-384', [new Uint8Array(S_IN_BYTES), msg, Uint8Array.of(lenInBytes >> 8, lenInBytes & 0xff, 0), dstPrime]);
  const out = new Uint8Array(ell * B_IN_BYTES);
  let previous = await hasher.digest('SHA-384', [b0, Uint8Array.of(1), dstPrime]);
  out.set(previous, 0);
  for (let i = 2; i <= ell; i++) {
    const mixed = b0.map((byte, j) => byte ^ (previous[j] as number));
    previous = await hasher.digest('SHA-384', [mixed, Uint8Array.of(i), dstPrime]);
    out.set(previous, (i - 1) * B_IN_BYTES);
  }
  return out.subarray(0, lenInBytes);
}

/** hash_to_field with m = 1: `count` elements of GF(modulus), modulus p (points) or n (scalars). */
export async function hashToField(hasher: Hasher, msg: Uint8Array, dst: Uint8Array, count: number, modulus: bigint): Promise<bigint[]> {
  const uniform = await expandMessageXmd(hasher, msg, dst, count * L);
  return Array.from({ length: count }, (_, i) => bytesToBigint(uniform.subarray(i * L, (i + 1) * L)) % modulus);
}

const sgn0 = (x: bigint): bigint => x & 1n;

/** The simplified Shallue-van de Woestijne-Ulas map (RFC 9380 section 6.6.2), in its straight-line description. */
export function mapToCurveSswu(u: bigint): Point {
  const zu2 = mod(Z * u * u, P);
  const tv1 = invert(zu2 * zu2 + zu2, P);
  const x1 = tv1 === 0n ? mod(CURVE_B * invert(Z * A, P), P) : mod(-CURVE_B * invert(A, P) * (1n + tv1), P);
  const x2 = mod(zu2 * x1, P);
  // gx2 = Z^3 u^6 gx1 and Z is not a square, so when gx1 is not a square gx2 is (RFC 9380 section 6.6.2).
  const x = sqrtField(curveRhs(x1)) === undefined ? x2 : x1;
  const y = squareRoot(curveRhs(x));
  return { x, y: sgn0(u) === sgn0(y) ? y : mod(-y, P), z: 1n };
}

/** hash_to_curve: two field elements mapped and added; the cofactor is 1. */
export async function hashToCurve(hasher: Hasher, msg: Uint8Array, dst: Uint8Array): Promise<Point> {
  const [u0, u1] = (await hashToField(hasher, msg, dst, 2, P)) as [bigint, bigint];
  return add(mapToCurveSswu(u0), mapToCurveSswu(u1));
}
