// The issuer directory of RFC 9578 section 4, served at /.well-known/private-token-issuer-directory:
//   { "issuer-request-uri": URL (absolute, or relative to the directory's),
//     "token-keys": [ { "token-type": 2, "token-key": base64url(the key as its type serializes it), "not-before": unix seconds } ] }
// Unknown members are ignored (section 4: clients ignore what they do not understand); a key of a token type
// the reader does not know is kept, for the reader to skip. A redeeming server's `--privacy-pass-keys` file has the
// same shape and may leave out "issuer-request-uri".
import { parseBase64Url, toBase64Url } from '../../bytes.js';
import { ParseError } from '../../errors.js';

export const ISSUER_DIRECTORY_PATH = '/.well-known/private-token-issuer-directory';
export const ISSUER_DIRECTORY_MEDIA_TYPE = 'application/private-token-issuer-directory';
export const TOKEN_REQUEST_MEDIA_TYPE = 'application/private-token-request';
export const TOKEN_RESPONSE_MEDIA_TYPE = 'application/private-token-response';

export interface DirectoryKey {
  readonly tokenType: number;
  readonly tokenKey: Uint8Array;
  /** Epoch seconds; undefined when the directory gives none. */
  readonly notBefore?: number;
}

export interface IssuerDirectory {
  /** "issuer-request-uri" as written: resolve it against the directory's URL. */
  readonly requestUri?: string;
  readonly tokenKeys: readonly DirectoryKey[];
}

/** An http(s) URL, or a reference relative to one (the directory's). */
function isHttpReference(value: unknown): boolean {
  const base = 'https://issuer.invalid/';
  return typeof value === 'string' && value !== '' && URL.canParse(value, base) && ['http:', 'https:'].includes(new URL(value, base).protocol);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The directory from its parsed JSON; every bad field path listed in one MALFORMED_PRIVACY_PASS. */
export function parseIssuerDirectory(json: unknown): IssuerDirectory {
  const bad: string[] = [];
  const tokenKeys: DirectoryKey[] = [];
  const root = isRecord(json) ? json : {};
  const list = root['token-keys'];
  const requestUri = root['issuer-request-uri'];
  if (!Array.isArray(list)) bad.push('token-keys');
  else
    list.forEach((entry: unknown, i) => {
      const e = isRecord(entry) ? entry : {};
      const type = e['token-type'];
      const key = typeof e['token-key'] === 'string' ? parseBase64Url(e['token-key']) : undefined;
      const notBefore = e['not-before'];
      if (typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type > 0xffff) bad.push(`token-keys[${i}].token-type`);
      if (key === undefined || key.length === 0) bad.push(`token-keys[${i}].token-key`);
      if (notBefore !== undefined && (typeof notBefore !== 'number' || !Number.isSafeInteger(notBefore) || notBefore < 0)) bad.push(`token-keys[${i}].not-before`);
      if (typeof type === 'number' && key !== undefined) tokenKeys.push(Object.freeze({ tokenType: type, tokenKey: key, ...(typeof notBefore === 'number' ? { notBefore } : {}) }));
    });
  if (requestUri !== undefined && !isHttpReference(requestUri)) bad.push('issuer-request-uri');
  if (bad.length > 0) throw new ParseError('MALFORMED_PRIVACY_PASS', `issuer directory is malformed: ${bad.join(', ')}`, { field: bad.join(', ') });
  return Object.freeze({ ...(typeof requestUri === 'string' ? { requestUri } : {}), tokenKeys: Object.freeze(tokenKeys) });
}

/** The directory as JSON. */
export interface IssuerDirectoryJson {
  readonly 'issuer-request-uri'?: string;
  readonly 'token-keys': readonly { readonly 'token-type': number; readonly 'token-key': string; readonly 'not-before'?: number }[];
}

/** The directory's JSON members, in the order of section 4 (keys as given: the issuer lists them oldest first). */
export function encodeIssuerDirectory(directory: IssuerDirectory): IssuerDirectoryJson {
  return {
    ...(directory.requestUri === undefined ? {} : { 'issuer-request-uri': directory.requestUri }),
    'token-keys': directory.tokenKeys.map((k) => ({ 'token-type': k.tokenType, 'token-key': toBase64Url(k.tokenKey), ...(k.notBefore === undefined ? {} : { 'not-before': k.notBefore }) })),
  };
}

/** The directory URL for an issuer given as its origin (the well-known path added) or as the directory's full URL. */
export function issuerDirectoryUrl(issuer: string | URL): string {
  const url = new URL(issuer);
  return url.pathname === '/' || url.pathname === '' ? new URL(ISSUER_DIRECTORY_PATH, url).toString() : url.toString();
}

/** The seconds of max-age in a Cache-Control value: 0 with no-store or no-cache (not to be reused), undefined when absent. */
export function cacheMaxAge(cacheControl: string | null | undefined): number | undefined {
  const value = cacheControl ?? '';
  if (/(?:^|,)\s*no-(?:store|cache)\s*(?:,|=|$)/i.test(value)) return 0;
  const m = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?\s*(?:,|$)/i.exec(value);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}
