// Privacy Pass, the client's and verifier's side: RFC 9474 blind RSA, RFC 9577's authentication scheme,
// TokenChallenge and Token, RFC 9578 token type 0x0002 (publicly verifiable, blind RSA 2048) and the issuer directory.
export { blind, finalize, prepare, verifyPss, pssVerifier, webCryptoRsaPss, emsaPssEncode, modulusLength, RSABSSA_VARIANTS, type RsaBssaVariant, type RsaPublicKey, type RsaPssImporter, type RsaPssPublicKey, type BlindOptions, type Blinded } from './blindRsa.js';
export { encodeTokenChallenge, decodeTokenChallenge, type TokenChallenge } from './tokenChallenge.js';
export { TOKEN_TYPE, AUTHENTICATOR_LENGTH, encodeToken, decodeToken, authenticatorInput, challengeDigest, isTokenType, type Token, type TokenType } from './token.js';
export { encodeTokenKey, decodeTokenKey, tokenKeyId, truncatedTokenKeyId, TOKEN_KEY_BITS } from './tokenKey.js';
export {
  createTokenRequest,
  finalizeToken,
  verifyToken,
  readTokenRequest,
  readTokenRequestFor,
  tokenVerifier,
  encodeTokenRequest,
  decodeTokenRequest,
  decodeTokenResponse,
  type TokenRequest,
  type TokenRequestState,
  type TokenVerifier,
  type CreateTokenRequestOptions,
} from './publicToken.js';
export { parseWwwAuthenticate, buildWwwAuthenticate, parseAuthorization, buildAuthorization, PRIVATE_TOKEN_SCHEME, type PrivateTokenChallenge, type ChallengeInput } from './authScheme.js';
export {
  parseIssuerDirectory,
  encodeIssuerDirectory,
  issuerDirectoryUrl,
  cacheMaxAge,
  ISSUER_DIRECTORY_PATH,
  ISSUER_DIRECTORY_MEDIA_TYPE,
  TOKEN_REQUEST_MEDIA_TYPE,
  TOKEN_RESPONSE_MEDIA_TYPE,
  type IssuerDirectory,
  type IssuerDirectoryJson,
  type DirectoryKey,
} from './issuerDirectory.js';
