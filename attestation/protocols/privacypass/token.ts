// The Token a client redeems (RFC 9577 section 2.2), whatever its type:
//   struct {
//     uint16_t token_type;
//     uint8_t nonce[32];
//     uint8_t challenge_digest[32];      SHA-256(TokenChallenge)
//     uint8_t token_key_id[Nid];         Nid = 32 for types 0x0001 and 0x0002
//     uint8_t authenticator[Nk];         Nk = 48 (0x0001, VOPRF P-384), 256 (0x0002, blind RSA 2048)
//   } Token;
// The authenticator is computed over the fields before it, the token_authenticator_input.
import { concatBytes } from '../../bytes.js';
import { webCryptoHasher } from '../../hash.js';
import { malformed, TlsReader, u16 } from './tlsReader.js';

export const TOKEN_TYPE = { VOPRF_P384: 0x0001, BLIND_RSA_2048: 0x0002 } as const;
export type TokenType = (typeof TOKEN_TYPE)[keyof typeof TOKEN_TYPE];

export const AUTHENTICATOR_LENGTH: Readonly<Record<TokenType, number>> = { [TOKEN_TYPE.VOPRF_P384]: 48, [TOKEN_TYPE.BLIND_RSA_2048]: 256 };
export const NONCE_LENGTH = 32;
const DIGEST_LENGTH = 32;
const KEY_ID_LENGTH = 32;

export interface Token {
  readonly tokenType: TokenType;
  readonly nonce: Uint8Array;
  readonly challengeDigest: Uint8Array;
  readonly tokenKeyId: Uint8Array;
  readonly authenticator: Uint8Array;
}

export function isTokenType(n: number): n is TokenType {
  return Object.hasOwn(AUTHENTICATOR_LENGTH, n);
}

function checkLength(bytes: Uint8Array, length: number, field: string): void {
  if (bytes.length !== length) malformed(`${field} is ${bytes.length} bytes, not ${length}`, field);
}

/** token_authenticator_input: token_type || nonce || challenge_digest || token_key_id. */
export function authenticatorInput(t: Omit<Token, 'authenticator'>): Uint8Array {
  checkLength(t.nonce, NONCE_LENGTH, 'nonce');
  checkLength(t.challengeDigest, DIGEST_LENGTH, 'challenge_digest');
  checkLength(t.tokenKeyId, KEY_ID_LENGTH, 'token_key_id');
  return concatBytes(u16(t.tokenType), t.nonce, t.challengeDigest, t.tokenKeyId);
}

export function encodeToken(t: Token): Uint8Array {
  if (!isTokenType(t.tokenType)) malformed(`token_type ${String(t.tokenType)} is not one this implementation knows`, 'token_type');
  checkLength(t.authenticator, AUTHENTICATOR_LENGTH[t.tokenType], 'authenticator');
  return concatBytes(authenticatorInput(t), t.authenticator);
}

export function decodeToken(bytes: Uint8Array): Token {
  const r = new TlsReader(bytes, 'Token');
  const tokenType = r.u16('token_type');
  if (!isTokenType(tokenType)) malformed(`token_type 0x${tokenType.toString(16).padStart(4, '0')} is not one this implementation knows`, 'token_type', 0);
  const token = {
    tokenType,
    nonce: r.bytesN(NONCE_LENGTH, 'nonce'),
    challengeDigest: r.bytesN(DIGEST_LENGTH, 'challenge_digest'),
    tokenKeyId: r.bytesN(KEY_ID_LENGTH, 'token_key_id'),
    authenticator: r.bytesN(AUTHENTICATOR_LENGTH[tokenType], 'authenticator'),
  };
  r.end();
  return Object.freeze(token);
}

/** challenge_digest: SHA-256 of the TokenChallenge as the origin sent it. */
export function challengeDigest(challenge: Uint8Array): Promise<Uint8Array> {
  return webCryptoHasher.digest('SHA-256', [challenge]);
}
