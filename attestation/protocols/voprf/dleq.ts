// The discrete-log-equivalence proof of RFC 9497 section 2.2: a non-interactive Schnorr-style proof that
// log_A(B) = log_C[i](D[i]) for every i, batched through random-looking composites of C and D. In the VOPRF,
// A is the generator, B the server's public key, C the blinded and D the evaluated elements.
//
//   proof = SerializeScalar(c) || SerializeScalar(s)     96 bytes
import { concatBytes } from '../../bytes.js';
import { ParseError, VerificationError } from '../../errors.js';
import { deserializeScalar, isIdentity, mod, multiply, multiScalarMultiply, N, SCALAR_LENGTH, serializeElement, serializeScalar, type Point } from './p384.js';
import { ascii, dst, hashToScalar, i2osp2, lengthPrefixed, randomScalar, type OprfSuite } from './suite.js';

export interface Proof {
  readonly c: bigint;
  readonly s: bigint;
}

export const PROOF_LENGTH = 2 * SCALAR_LENGTH;

export function serializeProof(proof: Proof): Uint8Array {
  return concatBytes(serializeScalar(proof.c), serializeScalar(proof.s));
}

export function deserializeProof(bytes: Uint8Array, field = 'proof'): Proof {
  if (bytes.length !== PROOF_LENGTH) throw new ParseError('MALFORMED_VOPRF', `${field} is ${bytes.length} bytes, not ${PROOF_LENGTH}`, { field });
  return Object.freeze({ c: deserializeScalar(bytes.subarray(0, SCALAR_LENGTH), `${field}.c`), s: deserializeScalar(bytes.subarray(SCALAR_LENGTH), `${field}.s`) });
}

interface Composites {
  readonly m: Point;
  readonly z: Point;
}

/** The weights d_i of ComputeComposites: one HashToScalar of the seed, i, C[i] and D[i] each. */
async function compositeWeights(suite: OprfSuite, b: Point, c: readonly Point[], d: readonly Point[]): Promise<bigint[]> {
  if (c.length !== d.length || c.length === 0 || c.length > 0xffff) {
    throw new ParseError('MALFORMED_VOPRF', `a proof covers 1..65535 pairs of elements, not ${c.length} blinded and ${d.length} evaluated`, { field: 'elements' });
  }
  const seed = await suite.hasher.digest('SHA-384', lengthPrefixed(serializeElement(b), dst(suite, 'Seed-')));
  const weights: bigint[] = [];
  for (let i = 0; i < c.length; i++) {
    const transcript = [...lengthPrefixed(seed), i2osp2(i), ...lengthPrefixed(serializeElement(c[i] as Point), serializeElement(d[i] as Point)), ascii('Composite')];
    weights.push(await hashToScalar(suite, concatBytes(...transcript)));
  }
  return weights;
}

/** ComputeComposites (verifier) or, given the key k, ComputeCompositesFast (prover: Z = k * M). */
async function computeComposites(suite: OprfSuite, b: Point, c: readonly Point[], d: readonly Point[], k?: bigint): Promise<Composites> {
  const weights = await compositeWeights(suite, b, c, d);
  const m = multiScalarMultiply(weights.map((w, i) => [w, c[i] as Point] as const));
  const z = k === undefined ? multiScalarMultiply(weights.map((w, i) => [w, d[i] as Point] as const)) : multiply(k, m);
  return { m, z };
}

function challenge(suite: OprfSuite, b: Point, { m, z }: Composites, t2: Point, t3: Point): Promise<bigint> {
  const transcript = [...lengthPrefixed(...[b, m, z, t2, t3].map(serializeElement)), ascii('Challenge')];
  return hashToScalar(suite, concatBytes(...transcript));
}

/** GenerateProof(k, A, B, C, D) with A the generator; `r` is drawn from the suite unless given. */
export async function generateProof(suite: OprfSuite, k: bigint, a: Point, b: Point, c: readonly Point[], d: readonly Point[], r = randomScalar(suite)): Promise<Proof> {
  const composites = await computeComposites(suite, b, c, d, k);
  const t2 = multiply(r, a);
  const t3 = multiply(r, composites.m);
  const ch = await challenge(suite, b, composites, t2, t3);
  return Object.freeze({ c: ch, s: mod(r - ch * k, N) });
}

/** VerifyProof: throws VOPRF_PROOF_INVALID unless the proof shows log_A(B) = log_C(D) for the whole batch. */
export async function verifyProof(suite: OprfSuite, a: Point, b: Point, c: readonly Point[], d: readonly Point[], proof: Proof): Promise<void> {
  const composites = await computeComposites(suite, b, c, d);
  const t2 = multiScalarMultiply([[proof.s, a], [proof.c, b]]);
  const t3 = multiScalarMultiply([[proof.s, composites.m], [proof.c, composites.z]]);
  // A forged proof can make t2 or t3 the identity, which has no encoding: such a proof is wrong, not malformed.
  const encodable = ![t2, t3, composites.m, composites.z].some(isIdentity);
  if (!encodable || (await challenge(suite, b, composites, t2, t3)) !== proof.c) throw new VerificationError('VOPRF_PROOF_INVALID', `the DLEQ proof does not verify for the server key and ${c.length} element pair(s)`, { field: 'proof' });
}
