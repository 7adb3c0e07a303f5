// Token type 0x0002, Blind RSA (2048-bit), publicly verifiable (RFC 9578 section 6), on RSABSSA-SHA384-PSS-
// Deterministic (RFC 9474):
//   struct { uint16_t token_type = 0x0002; uint8_t truncated_token_key_id; uint8_t blinded_msg[Nk]; } TokenRequest;
//   struct { uint8_t blind_sig[Nk]; } TokenResponse;                                           Nk = 256
// The client's createTokenRequest / finalizeToken (6.1, 6.3), the issuer's readTokenRequest (6.2, its checks;
// the signing is src/privacypass/blindSign.ts), and anyone's verifyToken (6.4), or tokenVerifier for many tokens.
import { bytesEqual, concatBytes } from '../../bytes.js';
import { VerificationError } from '../../errors.js';
import { blind, finalize, pssVerifier, type BlindOptions, type RsaPssImporter, type RsaPublicKey } from './blindRsa.js';
import { malformed, TlsReader, u16 } from './tlsReader.js';
import { authenticatorInput, challengeDigest, NONCE_LENGTH, TOKEN_TYPE, type Token } from './token.js';
import { decodeTokenChallenge } from './tokenChallenge.js';
import { decodeTokenKey, tokenKeyId, truncatedTokenKeyId } from './tokenKey.js';

const NK = 256;
const VARIANT = 'RSABSSA-SHA384-PSS-Deterministic';
const SALT_LENGTH = 48;

export interface TokenRequest {
  readonly tokenType: typeof TOKEN_TYPE.BLIND_RSA_2048;
  readonly truncatedTokenKeyId: number;
  readonly blindedMsg: Uint8Array;
}

export function encodeTokenRequest(r: TokenRequest): Uint8Array {
  if (r.blindedMsg.length !== NK) malformed(`blinded_msg is ${r.blindedMsg.length} bytes, not ${NK}`, 'blinded_msg');
  if (!Number.isInteger(r.truncatedTokenKeyId) || r.truncatedTokenKeyId < 0 || r.truncatedTokenKeyId > 0xff) malformed(`truncated_token_key_id must be 0..255, got ${r.truncatedTokenKeyId}`, 'truncated_token_key_id');
  return concatBytes(u16(TOKEN_TYPE.BLIND_RSA_2048), new Uint8Array([r.truncatedTokenKeyId]), r.blindedMsg);
}

export function decodeTokenRequest(bytes: Uint8Array): TokenRequest {
  const r = new TlsReader(bytes, 'TokenRequest');
  const tokenType = r.u16('token_type');
  if (tokenType !== TOKEN_TYPE.BLIND_RSA_2048) malformed(`TokenRequest token_type is 0x${tokenType.toString(16).padStart(4, '0')}, not 0x0002`, 'token_type', 0);
  const request = { tokenType, truncatedTokenKeyId: r.u8('truncated_token_key_id'), blindedMsg: r.bytesN(NK, 'blinded_msg') } as const;
  r.end();
  return Object.freeze(request);
}

/** TokenResponse: the blind signature alone. */
export function decodeTokenResponse(bytes: Uint8Array): Uint8Array {
  const r = new TlsReader(bytes, 'TokenResponse');
  const blindSig = r.bytesN(NK, 'blind_sig');
  r.end();
  return blindSig;
}

/** What the client keeps between its request and the issuer's response. */
export interface TokenRequestState {
  readonly tokenKey: RsaPublicKey;
  readonly token: Omit<Token, 'authenticator'>;
  readonly inv: bigint;
}

export interface CreateTokenRequestOptions extends BlindOptions {
  /** The token nonce; random by default. Tests inject the RFC vectors' nonce. */
  readonly nonce?: Uint8Array;
}

/** Section 6.1: a request for a token answering `challenge` (a TokenChallenge's bytes) from the issuer key `tokenKey` (its SPKI). */
export async function createTokenRequest(challenge: Uint8Array, tokenKeySpki: Uint8Array, options: CreateTokenRequestOptions = {}): Promise<{ request: TokenRequest; state: TokenRequestState }> {
  const { tokenType } = decodeTokenChallenge(challenge);
  if (tokenType !== TOKEN_TYPE.BLIND_RSA_2048) malformed(`the challenge asks for token type 0x${tokenType.toString(16).padStart(4, '0')}, not 0x0002`, 'token_type');
  const tokenKey = decodeTokenKey(tokenKeySpki);
  const nonce = options.nonce ?? globalThis.crypto.getRandomValues(new Uint8Array(NONCE_LENGTH));
  const keyId = await tokenKeyId(tokenKeySpki);
  const token = { tokenType, nonce, challengeDigest: await challengeDigest(challenge), tokenKeyId: keyId };
  const { blindedMsg, inv } = await blind(tokenKey, VARIANT, authenticatorInput(token), options);
  return { request: Object.freeze({ tokenType, truncatedTokenKeyId: truncatedTokenKeyId(keyId), blindedMsg }), state: { tokenKey, token, inv } };
}

/** Section 6.3: the token from the issuer's TokenResponse; PRIVACY_PASS_TOKEN_INVALID when the signature does not verify. */
export async function finalizeToken(state: TokenRequestState, response: Uint8Array): Promise<Token> {
  const authenticator = await finalize(state.tokenKey, VARIANT, authenticatorInput(state.token), decodeTokenResponse(response), state.inv);
  return Object.freeze({ ...state.token, authenticator });
}

/** The issuer's checks of section 6.2 on a request: its type (decodeTokenRequest) and that it names this key. */
export async function readTokenRequest(bytes: Uint8Array, tokenKeySpki: Uint8Array): Promise<TokenRequest> {
  return readTokenRequestFor(bytes, await tokenKeyId(tokenKeySpki));
}

/** readTokenRequest for an issuer that holds its key's token_key_id already. */
export function readTokenRequestFor(bytes: Uint8Array, keyId: Uint8Array): TokenRequest {
  const request = decodeTokenRequest(bytes);
  const expected = truncatedTokenKeyId(keyId);
  if (request.truncatedTokenKeyId !== expected) malformed(`TokenRequest names key ${request.truncatedTokenKeyId}, this issuer's is ${expected}`, 'truncated_token_key_id', 2);
  return request;
}

function invalid(message: string, field: string): never {
  throw new VerificationError('PRIVACY_PASS_TOKEN_INVALID', message, { field });
}

/** Section 6.4 with the issuer key decoded, hashed and imported once: what verifyToken checks, for many tokens. */
export type TokenVerifier = (token: Token, challenge?: Uint8Array) => Promise<void>;

/** The TokenVerifier of the issuer key `tokenKeySpki` (MALFORMED_PRIVACY_PASS when it is not a section 6.5 key). */
export async function tokenVerifier(tokenKeySpki: Uint8Array, importer?: RsaPssImporter): Promise<TokenVerifier> {
  const tokenKey = decodeTokenKey(tokenKeySpki);
  const keyId = await tokenKeyId(tokenKeySpki);
  const pss = await pssVerifier(tokenKey, SALT_LENGTH, importer);
  return async (token, challenge) => {
    if (token.tokenType !== TOKEN_TYPE.BLIND_RSA_2048) invalid(`token_type is 0x${token.tokenType.toString(16).padStart(4, '0')}, not 0x0002`, 'token_type');
    if (!bytesEqual(token.tokenKeyId, keyId)) invalid('token_key_id is not this issuer key\'s', 'token_key_id');
    if (challenge !== undefined && !bytesEqual(token.challengeDigest, await challengeDigest(challenge))) invalid('challenge_digest is not the digest of this challenge', 'challenge_digest');
    if (!(await pss.verify(authenticatorInput(token), token.authenticator))) invalid('the authenticator is not an RSA-PSS signature of the token by this issuer key', 'authenticator');
  };
}

/**
 * Section 6.4: `token` is a type 0x0002 token of the issuer key `tokenKeySpki`, its authenticator verifies, and,
 * when `challenge` is given, it answers that challenge.
 */
export async function verifyToken(token: Token, tokenKeySpki: Uint8Array, challenge?: Uint8Array): Promise<void> {
  // The token's type before the key's encoding, as the checks are listed.
  if (token.tokenType !== TOKEN_TYPE.BLIND_RSA_2048) invalid(`token_type is 0x${token.tokenType.toString(16).padStart(4, '0')}, not 0x0002`, 'token_type');
  await (await tokenVerifier(tokenKeySpki))(token, challenge);
}
