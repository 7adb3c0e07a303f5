// The issuer directory, RFC 9578 section 4, served at /.well-known/private-token-issuer-directory:
//   { "issuer-request-uri": URL (absolute, or relative to the directory),
//     "token-keys": [ { "token-type": 1 or 2, "token-key": base64url(token key), "not-before": unix seconds } ] }
// where the token key is SerializeElement(pkI) for type 1 (section 5.5) and the SubjectPublicKeyInfo for type 2 (6.5).
import { toBase64Url } from '../../../attestation/bytes.js';
import type { HeldKey } from './keyRing.js';

export const DIRECTORY_PATH = '/.well-known/private-token-issuer-directory';
export const DIRECTORY_MEDIA_TYPE = 'application/private-token-issuer-directory';
export const TOKEN_REQUEST_MEDIA_TYPE = 'application/private-token-request';
export const TOKEN_RESPONSE_MEDIA_TYPE = 'application/private-token-response';
export const DEFAULT_REQUEST_PATH = '/token-request';

export interface IssuerDirectory {
  readonly 'issuer-request-uri': string;
  readonly 'token-keys': readonly { readonly 'token-type': number; readonly 'token-key': string; readonly 'not-before': number }[];
}

/** The directory listing `keys` (oldest first), with the request URI as given. */
export function issuerDirectory(requestUri: string, keys: readonly HeldKey[]): IssuerDirectory {
  return {
    'issuer-request-uri': requestUri,
    'token-keys': keys.map((k) => ({ 'token-type': k.key.tokenType, 'token-key': toBase64Url(k.key.tokenKey), 'not-before': k.notBefore })),
  };
}
