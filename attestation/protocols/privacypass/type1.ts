// Privacy Pass privately verifiable tokens, token type 0x0001: VOPRF(P-384, SHA-384) issuance (RFC 9578
// section 5) on top of attestation/protocols/voprf/. The TokenChallenge is taken as the bytes the client
// received (RFC 9577 section 2.1.1); only its SHA-256 digest enters the token.
//
//   TokenRequest   token_type (2) = 0x0001 | truncated_token_key_id (1) | blinded_msg (Ne = 49)          52 bytes
//   TokenResponse  evaluate_msg (Ne = 49) | evaluate_proof (Ns + Ns = 96)                              145 bytes
//   Token          token_type (2) | nonce (32) | challenge_digest (32) | token_key_id (32) | authenticator (48)
//                                                                                                       146 bytes
//   token input    token_type || nonce || challenge_digest || token_key_id, the OPRF input
//   token_key_id   SHA-256(SerializeElement(pkI)); truncated_token_key_id is its last byte
import { bytesEqual, concatBytes, dataView } from '../../bytes.js';
import { ParseError, VerificationError } from '../../errors.js';
import { deserializeProof, PROOF_LENGTH, serializeProof } from '../voprf/dleq.js';
import { blind, blindEvaluate, evaluate, finalize, publicKeyOf, type KeyPair } from '../voprf/oprf.js';
import { deserializeElement, deserializeScalar, ELEMENT_LENGTH, serializeElement, type Point } from '../voprf/p384.js';
import { OPRF_MODE, OUTPUT_LENGTH, p384Sha384, type OprfSuite, type SuiteOptions } from '../voprf/suite.js';

export const TOKEN_TYPE_VOPRF_P384 = 0x0001;
export const NONCE_LENGTH = 32;
export const DIGEST_LENGTH = 32;
export const TOKEN_KEY_ID_LENGTH = 32;

export const TOKEN_REQUEST_LENGTH = 2 + 1 + ELEMENT_LENGTH;
export const TOKEN_RESPONSE_LENGTH = ELEMENT_LENGTH + PROOF_LENGTH;
const TOKEN_INPUT_LENGTH = 2 + NONCE_LENGTH + DIGEST_LENGTH + TOKEN_KEY_ID_LENGTH;
export const TOKEN_LENGTH = TOKEN_INPUT_LENGTH + OUTPUT_LENGTH;

export interface TokenRequest {
  readonly truncatedTokenKeyId: number;
  readonly blindedMsg: Uint8Array;
}

export interface TokenResponse {
  readonly evaluateMsg: Uint8Array;
  readonly evaluateProof: Uint8Array;
}

export interface Token {
  readonly nonce: Uint8Array;
  readonly challengeDigest: Uint8Array;
  readonly tokenKeyId: Uint8Array;
  readonly authenticator: Uint8Array;
}

/** What the issuer and the clients know of an issuer key: the serialized public key and its key ID. */
export interface IssuerPublicKey {
  readonly publicKey: Point;
  readonly publicKeyBytes: Uint8Array;
  readonly tokenKeyId: Uint8Array;
}

export interface IssuerKey extends IssuerPublicKey {
  readonly secretKey: bigint;
}

const malformed = (field: string, why: string): ParseError => new ParseError('MALFORMED_VOPRF', `${field} ${why}`, { field });

function expectLength(bytes: Uint8Array, length: number, field: string): void {
  if (bytes.length !== length) throw malformed(field, `is ${bytes.length} bytes, not ${length}`);
}

function expectTokenType(bytes: Uint8Array, field: string): void {
  const tokenType = dataView(bytes).getUint16(0);
  if (tokenType !== TOKEN_TYPE_VOPRF_P384) throw malformed(`${field}.token_type`, `is 0x${tokenType.toString(16).padStart(4, '0')}, not 0x0001 (VOPRF(P-384, SHA-384))`);
}

const tokenTypeBytes = (): Uint8Array => Uint8Array.of(TOKEN_TYPE_VOPRF_P384 >> 8, TOKEN_TYPE_VOPRF_P384 & 0xff);

export function parseTokenRequest(bytes: Uint8Array): TokenRequest {
  expectLength(bytes, TOKEN_REQUEST_LENGTH, 'TokenRequest');
  expectTokenType(bytes, 'TokenRequest');
  return Object.freeze({ truncatedTokenKeyId: bytes[2] as number, blindedMsg: bytes.slice(3) });
}

export function serializeTokenRequest(request: TokenRequest): Uint8Array {
  expectLength(request.blindedMsg, ELEMENT_LENGTH, 'TokenRequest.blinded_msg');
  return concatBytes(tokenTypeBytes(), Uint8Array.of(request.truncatedTokenKeyId), request.blindedMsg);
}

export function parseTokenResponse(bytes: Uint8Array): TokenResponse {
  expectLength(bytes, TOKEN_RESPONSE_LENGTH, 'TokenResponse');
  return Object.freeze({ evaluateMsg: bytes.slice(0, ELEMENT_LENGTH), evaluateProof: bytes.slice(ELEMENT_LENGTH) });
}

export function serializeTokenResponse(response: TokenResponse): Uint8Array {
  expectLength(response.evaluateMsg, ELEMENT_LENGTH, 'TokenResponse.evaluate_msg');
  expectLength(response.evaluateProof, PROOF_LENGTH, 'TokenResponse.evaluate_proof');
  return concatBytes(response.evaluateMsg, response.evaluateProof);
}

export function parseToken(bytes: Uint8Array): Token {
  expectLength(bytes, TOKEN_LENGTH, 'Token');
  expectTokenType(bytes, 'Token');
  let at = 2;
  const take = (n: number): Uint8Array => bytes.slice(at, (at += n));
  return Object.freeze({ nonce: take(NONCE_LENGTH), challengeDigest: take(DIGEST_LENGTH), tokenKeyId: take(TOKEN_KEY_ID_LENGTH), authenticator: take(OUTPUT_LENGTH) });
}

export function serializeToken(token: Token): Uint8Array {
  return concatBytes(tokenInput(token), token.authenticator);
}

/** token_type || nonce || challenge_digest || token_key_id: what the issuer's key is evaluated on. */
export function tokenInput(token: Omit<Token, 'authenticator'>): Uint8Array {
  expectLength(token.nonce, NONCE_LENGTH, 'Token.nonce');
  expectLength(token.challengeDigest, DIGEST_LENGTH, 'Token.challenge_digest');
  expectLength(token.tokenKeyId, TOKEN_KEY_ID_LENGTH, 'Token.token_key_id');
  return concatBytes(tokenTypeBytes(), token.nonce, token.challengeDigest, token.tokenKeyId);
}

const suiteOf = (options: SuiteOptions): OprfSuite => p384Sha384(OPRF_MODE.voprf, options);

/** The issuer's public key as clients receive it (a compressed point), with its token key ID. */
export async function issuerPublicKey(publicKeyBytes: Uint8Array, options: SuiteOptions = {}): Promise<IssuerPublicKey> {
  const publicKey = deserializeElement(publicKeyBytes, 'issuer public key');
  const tokenKeyId = await suiteOf(options).hasher.digest('SHA-256', [publicKeyBytes]);
  return Object.freeze({ publicKey, publicKeyBytes: publicKeyBytes.slice(), tokenKeyId });
}

/** The issuer's key pair from its serialized secret scalar (non-zero, below the group order). */
export async function issuerKey(secretKeyBytes: Uint8Array, options: SuiteOptions = {}): Promise<IssuerKey> {
  const secretKey = deserializeScalar(secretKeyBytes, 'issuer secret key');
  if (secretKey === 0n) throw malformed('issuer secret key', 'is zero');
  const publicKeyBytes = serializeElement(publicKeyOf(secretKey));
  return Object.freeze({ ...(await issuerPublicKey(publicKeyBytes, options)), secretKey });
}

/** The client's state between its TokenRequest and the issuer's TokenResponse. */
export interface PendingToken {
  readonly issuer: IssuerPublicKey;
  readonly nonce: Uint8Array;
  readonly challengeDigest: Uint8Array;
  readonly input: Uint8Array;
  readonly blind: bigint;
  readonly blindedElement: Point;
}

export interface TokenRequestOptions extends SuiteOptions {
  /** The 32-byte nonce; random (from `randomBytes`) unless given. */
  readonly nonce?: Uint8Array;
}

/** Client: a TokenRequest for `challenge` (the TokenChallenge bytes) under the issuer key, and the state to finish it. */
export async function createTokenRequest(issuer: IssuerPublicKey, challenge: Uint8Array, options: TokenRequestOptions = {}): Promise<{ request: Uint8Array; pending: PendingToken }> {
  const suite = suiteOf(options);
  const nonce = options.nonce ?? suite.randomBytes(NONCE_LENGTH);
  const challengeDigest = await suite.hasher.digest('SHA-256', [challenge]);
  const input = tokenInput({ nonce, challengeDigest, tokenKeyId: issuer.tokenKeyId });
  const blinded = await blind(suite, input);
  const request = serializeTokenRequest({ truncatedTokenKeyId: truncatedKeyId(issuer), blindedMsg: serializeElement(blinded.blindedElement) });
  return { request, pending: Object.freeze({ issuer, nonce: nonce.slice(), challengeDigest, input, ...blinded }) };
}

const truncatedKeyId = (issuer: IssuerPublicKey): number => issuer.tokenKeyId[TOKEN_KEY_ID_LENGTH - 1] as number;

/** Issuer: the TokenResponse to a TokenRequest, a VOPRF evaluation of the blinded element and its proof. */
export async function evaluateTokenRequest(key: IssuerKey, requestBytes: Uint8Array, options: SuiteOptions = {}): Promise<Uint8Array> {
  const request = parseTokenRequest(requestBytes);
  if (request.truncatedTokenKeyId !== truncatedKeyId(key)) {
    throw new VerificationError('VOPRF_TOKEN_INVALID', `TokenRequest names truncated key ID 0x${request.truncatedTokenKeyId.toString(16).padStart(2, '0')}, the issuer key's is 0x${truncatedKeyId(key).toString(16).padStart(2, '0')}`, { field: 'TokenRequest.truncated_token_key_id' });
  }
  const blindedElement = deserializeElement(request.blindedMsg, 'TokenRequest.blinded_msg');
  const keys: KeyPair = { secretKey: key.secretKey, publicKey: key.publicKey };
  const { evaluatedElements, proof } = await blindEvaluate(suiteOf(options), keys, [blindedElement]);
  return serializeTokenResponse({ evaluateMsg: serializeElement(evaluatedElements[0] as Point), evaluateProof: serializeProof(proof) });
}

/** Client: the Token, once the proof shows the issuer evaluated with the key the client holds (VOPRF_PROOF_INVALID otherwise). */
export async function finalizeToken(pending: PendingToken, responseBytes: Uint8Array, options: SuiteOptions = {}): Promise<Uint8Array> {
  const response = parseTokenResponse(responseBytes);
  const evaluatedElement = deserializeElement(response.evaluateMsg, 'TokenResponse.evaluate_msg');
  const proof = deserializeProof(response.evaluateProof, 'TokenResponse.evaluate_proof');
  const [authenticator] = (await finalize(suiteOf(options), {
    inputs: [pending.input],
    blinds: [pending.blind],
    blindedElements: [pending.blindedElement],
    evaluatedElements: [evaluatedElement],
    publicKey: pending.issuer.publicKey,
    proof,
  })) as [Uint8Array];
  return concatBytes(pending.input, authenticator);
}

/** Issuer (the only party able to): the token is valid iff its authenticator is Evaluate(skI, token input). */
export async function verifyToken(key: IssuerKey, tokenBytes: Uint8Array, options: SuiteOptions = {}): Promise<Token> {
  const token = parseToken(tokenBytes);
  if (!bytesEqual(token.tokenKeyId, key.tokenKeyId)) throw new VerificationError('VOPRF_TOKEN_INVALID', 'Token names another issuer key', { field: 'Token.token_key_id' });
  const expected = await evaluate(suiteOf(options), key.secretKey, tokenInput(token));
  if (!bytesEqual(token.authenticator, expected)) throw new VerificationError('VOPRF_TOKEN_INVALID', 'Token authenticator is not the issuer\'s evaluation of the token input', { field: 'Token.authenticator' });
  return token;
}
