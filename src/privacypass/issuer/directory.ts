// The issuer directory this issuer serves (RFC 9578 section 4; the format and its media types are the SDK's,
// attestation/protocols/privacypass/issuerDirectory.ts), and where token requests are POSTed by default.
import { encodeIssuerDirectory, type IssuerDirectoryJson } from '../../../attestation/protocols/privacypass/issuerDirectory.js';
import type { HeldKey } from './keyRing.js';

export {
  ISSUER_DIRECTORY_PATH as DIRECTORY_PATH,
  ISSUER_DIRECTORY_MEDIA_TYPE as DIRECTORY_MEDIA_TYPE,
  TOKEN_REQUEST_MEDIA_TYPE,
  TOKEN_RESPONSE_MEDIA_TYPE,
} from '../../../attestation/protocols/privacypass/issuerDirectory.js';

export const DEFAULT_REQUEST_PATH = '/token-request';

/** The directory listing `keys` (oldest first), with the request URI as given. */
export function issuerDirectory(requestUri: string, keys: readonly HeldKey[]): IssuerDirectoryJson {
  return encodeIssuerDirectory({ requestUri, tokenKeys: keys.map((k) => ({ tokenType: k.key.tokenType, tokenKey: k.key.tokenKey, notBefore: k.notBefore })) });
}
