// The OPRF and VOPRF protocols of RFC 9497 (sections 3.2 and 3.3.1-3.3.2) over P384-SHA384: key derivation,
// the client's Blind and Finalize, the server's BlindEvaluate (batched, one proof for all elements in VOPRF
// mode) and Evaluate, which computes the same output from the unblinded input.
import { concatBytes } from '../../bytes.js';
import { CloisterError, ParseError } from '../../errors.js';
import { generateProof, verifyProof, type Proof } from './dleq.js';
import { GENERATOR, invert, isIdentity, multiply, N, serializeElement, type Point } from './p384.js';
import { ascii, dst, hashToGroup, hashToScalar, lengthPrefixed, OPRF_MODE, randomScalar, type OprfSuite } from './suite.js';

export interface KeyPair {
  readonly secretKey: bigint;
  readonly publicKey: Point;
}

export interface Blinded {
  readonly blind: bigint;
  readonly blindedElement: Point;
}

export interface BlindEvaluation {
  readonly evaluatedElements: readonly Point[];
  readonly proof: Proof;
}

const MAX_INFO_LENGTH = 0xffff;

/** DeriveKeyPair(seed, info): skS = HashToScalar(seed || len(info) || info || counter) for the first counter giving non-zero. */
export async function deriveKeyPair(suite: OprfSuite, seed: Uint8Array, info: Uint8Array): Promise<KeyPair> {
  if (info.length > MAX_INFO_LENGTH) throw new ParseError('MALFORMED_VOPRF', `key info is ${info.length} bytes, over ${MAX_INFO_LENGTH}`, { field: 'info' });
  const deriveInput = concatBytes(seed, ...lengthPrefixed(info));
  const tag = dst(suite, 'DeriveKeyPair');
  for (let counter = 0; counter <= 255; counter++) {
    const secretKey = await hashToScalar(suite, concatBytes(deriveInput, Uint8Array.of(counter)), tag);
    if (secretKey !== 0n) return Object.freeze({ secretKey, publicKey: multiply(secretKey, GENERATOR) });
  }
  throw new ParseError('MALFORMED_VOPRF', 'DeriveKeyPair found no non-zero key in 256 tries', { field: 'seed' });
}

export function publicKeyOf(secretKey: bigint): Point {
  return multiply(secretKey, GENERATOR);
}

async function inputElement(suite: OprfSuite, input: Uint8Array): Promise<Point> {
  if (input.length > 0xffff) throw new ParseError('MALFORMED_VOPRF', `OPRF input is ${input.length} bytes, over 65535`, { field: 'input' });
  const element = await hashToGroup(suite, input);
  // RFC 9497 InvalidInputError: an input hashing to the identity (no input is known to).
  if (isIdentity(element)) throw new ParseError('MALFORMED_VOPRF', 'OPRF input hashes to the identity element', { field: 'input' });
  return element;
}

/** Blind(input): a random blind (drawn from the suite) and blind * HashToGroup(input). */
export async function blind(suite: OprfSuite, input: Uint8Array): Promise<Blinded> {
  const element = await inputElement(suite, input);
  const b = randomScalar(suite);
  return Object.freeze({ blind: b, blindedElement: multiply(b, element) });
}

/** BlindEvaluate in VOPRF mode: skS times each blinded element, and one DLEQ proof over the batch. */
export async function blindEvaluate(suite: OprfSuite, keys: KeyPair, blindedElements: readonly Point[]): Promise<BlindEvaluation> {
  requireMode(suite, OPRF_MODE.voprf);
  const evaluatedElements = blindedElements.map((e) => multiply(keys.secretKey, e));
  const proof = await generateProof(suite, keys.secretKey, GENERATOR, keys.publicKey, blindedElements, evaluatedElements);
  return Object.freeze({ evaluatedElements: Object.freeze(evaluatedElements), proof });
}

/** BlindEvaluate in OPRF mode: skS * blindedElement, no proof. */
export function blindEvaluateOprf(suite: OprfSuite, secretKey: bigint, blindedElement: Point): Point {
  requireMode(suite, OPRF_MODE.oprf);
  return multiply(secretKey, blindedElement);
}

function outputOf(suite: OprfSuite, input: Uint8Array, element: Point): Promise<Uint8Array> {
  return suite.hasher.digest('SHA-384', [...lengthPrefixed(input, serializeElement(element)), ascii('Finalize')]);
}

export interface FinalizeBatch {
  readonly inputs: readonly Uint8Array[];
  readonly blinds: readonly bigint[];
  readonly blindedElements: readonly Point[];
  readonly evaluatedElements: readonly Point[];
  readonly publicKey: Point;
  readonly proof: Proof;
}

/** Finalize in VOPRF mode for a batch: the proof is checked first (VOPRF_PROOF_INVALID), then each output unblinded. */
export async function finalize(suite: OprfSuite, batch: FinalizeBatch): Promise<Uint8Array[]> {
  requireMode(suite, OPRF_MODE.voprf);
  const n = batch.inputs.length;
  if (batch.blinds.length !== n || batch.blindedElements.length !== n || batch.evaluatedElements.length !== n) {
    throw new ParseError('MALFORMED_VOPRF', `Finalize got ${n} inputs, ${batch.blinds.length} blinds, ${batch.blindedElements.length} blinded and ${batch.evaluatedElements.length} evaluated elements`, { field: 'batch' });
  }
  await verifyProof(suite, GENERATOR, batch.publicKey, batch.blindedElements, batch.evaluatedElements, batch.proof);
  const outputs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) outputs.push(await unblindedOutput(suite, batch.inputs[i] as Uint8Array, batch.blinds[i] as bigint, batch.evaluatedElements[i] as Point));
  return outputs;
}

/** Finalize in OPRF mode: Hash(len || input || len || blind^-1 * evaluatedElement || "Finalize"). */
export async function finalizeOprf(suite: OprfSuite, input: Uint8Array, blindScalar: bigint, evaluatedElement: Point): Promise<Uint8Array> {
  requireMode(suite, OPRF_MODE.oprf);
  return unblindedOutput(suite, input, blindScalar, evaluatedElement);
}

function unblindedOutput(suite: OprfSuite, input: Uint8Array, blindScalar: bigint, evaluatedElement: Point): Promise<Uint8Array> {
  return outputOf(suite, input, multiply(invert(blindScalar, N), evaluatedElement));
}

/** Evaluate(skS, input): the output the client's Finalize reaches, computed by the server from the input itself. */
export async function evaluate(suite: OprfSuite, secretKey: bigint, input: Uint8Array): Promise<Uint8Array> {
  return outputOf(suite, input, multiply(secretKey, await inputElement(suite, input)));
}

function requireMode(suite: OprfSuite, mode: number): void {
  if (suite.mode !== mode) throw new CloisterError('INVALID_STATE', `this function is for mode ${mode}, the suite is mode ${suite.mode}`, { field: 'mode' });
}
