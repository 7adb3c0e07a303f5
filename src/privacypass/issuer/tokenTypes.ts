// The token types this issuer can sign, as one table keyed by RFC 9578 token_type: how to make and read a type's
// private keys, how to find which key a TokenRequest names, and how to answer it. 0x0001 (VOPRF(P-384, SHA-384),
// section 5: EC P-384 keys) and 0x0002 (Blind RSA 2048-bit, section 6: RSA-2048 keys).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ParseError } from '../../../attestation/errors.js';
import { TOKEN_KEY_BITS, TOKEN_TYPE, type TokenType } from '../../../attestation/protocols/index.js';
import { RuntimeError } from '../../base/runtimeErrors.js';
import { issuerKey, issueTokenResponse } from '../blindSign.js';
import { generateVoprfKey, issueVoprfTokenResponse, voprfIssuerKey } from '../voprfKey.js';

/** A signing key of some token type, as the issuer holds it. */
export interface TypedIssuerKey {
  readonly tokenType: TokenType;
  /** The public key as the directory's "token-key" carries it (before base64url). */
  readonly tokenKey: Uint8Array;
  /** SHA-256 of tokenKey (RFC 9578 section 6.5); its last byte is the truncated_token_key_id of requests. */
  readonly tokenKeyId: Uint8Array;
  /** Answers a TokenRequest addressed to this key with its TokenResponse; ParseError when it is malformed. */
  readonly issue: (tokenRequest: Uint8Array) => Promise<Uint8Array>;
}

export interface IssuerTokenType {
  readonly tokenType: TokenType;
  /** Its name in the RFC 9578 token type registry. */
  readonly name: string;
  /** A new private key, as PKCS#8 PEM. */
  readonly generate: () => string;
  /** The issuer key of this type from a private key; ISSUER_KEY_INVALID, naming `source`, when it is not one of this type. */
  readonly load: (privateKey: KeyObject, source?: string) => Promise<TypedIssuerKey>;
  /**
   * The truncated_token_key_id a TokenRequest of this type names, or undefined when the request is too short to
   * say; the token_type (its first two bytes) is checked by the caller.
   */
  readonly truncatedKeyIdOf: (tokenRequest: Uint8Array) => number | undefined;
}

const blindRsa2048: IssuerTokenType = {
  tokenType: TOKEN_TYPE.BLIND_RSA_2048,
  name: 'Blind RSA (2048-bit)',
  generate: () => generateKeyPairSync('rsa', { modulusLength: TOKEN_KEY_BITS, publicExponent: 65537 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  load: async (privateKey, source = 'the key') => {
    const bits = privateKey.asymmetricKeyDetails?.modulusLength;
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa' || bits !== TOKEN_KEY_BITS) {
      throw new RuntimeError('ISSUER_KEY_INVALID', `${source}: token type 0x0002 needs an RSA private key of ${TOKEN_KEY_BITS} bits (RFC 9578 section 6), got ${privateKey.asymmetricKeyType ?? 'a secret'} ${privateKey.type} key${bits === undefined ? '' : ` of ${bits} bits`}`);
    }
    const key = await issuerKey(privateKey);
    return Object.freeze({ tokenType: TOKEN_TYPE.BLIND_RSA_2048, tokenKey: key.tokenKey, tokenKeyId: key.tokenKeyId, issue: (request: Uint8Array) => issueTokenResponse(key, request) });
  },
  // struct { uint16_t token_type; uint8_t truncated_token_key_id; uint8_t blinded_msg[Nk]; }
  truncatedKeyIdOf: (request) => request[2],
};

const voprfP384: IssuerTokenType = {
  tokenType: TOKEN_TYPE.VOPRF_P384,
  name: 'VOPRF (P-384, SHA-384)',
  generate: generateVoprfKey,
  load: async (privateKey, source) => {
    const key = await voprfIssuerKey(privateKey, source);
    // token-key is SerializeElement(pkI), the bytes token_key_id hashes (RFC 9578 section 5.5).
    return Object.freeze({ tokenType: TOKEN_TYPE.VOPRF_P384, tokenKey: key.publicKeyBytes, tokenKeyId: key.tokenKeyId, issue: (request: Uint8Array) => issueVoprfTokenResponse(key, request) });
  },
  // struct { uint16_t token_type; uint8_t truncated_token_key_id; uint8_t blinded_msg[Ne]; }
  truncatedKeyIdOf: (request) => request[2],
};

export const ISSUER_TOKEN_TYPES: Readonly<Partial<Record<TokenType, IssuerTokenType>>> = { [TOKEN_TYPE.VOPRF_P384]: voprfP384, [TOKEN_TYPE.BLIND_RSA_2048]: blindRsa2048 };

/** The table's row for `tokenType`; ParseError (MALFORMED_PRIVACY_PASS) for a type this issuer does not sign. */
export function issuerTokenType(tokenType: number): IssuerTokenType {
  const row = (ISSUER_TOKEN_TYPES as Readonly<Record<number, IssuerTokenType | undefined>>)[tokenType];
  if (row === undefined) throw new ParseError('MALFORMED_PRIVACY_PASS', `token_type 0x${tokenType.toString(16).padStart(4, '0')} is not issued here`, { field: 'token_type', offset: 0 });
  return row;
}
