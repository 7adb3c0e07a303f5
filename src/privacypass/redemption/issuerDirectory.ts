// The issuer directory a redeeming origin trusts (RFC 9578 section 4):
//   { "issuer-request-uri": "...", "token-keys": [ { "token-type": 2, "token-key": "<base64url SPKI>", "not-before": <epoch s> }, ... ] }
// read from a file (`cloister serve --privacy-pass-keys FILE`) or fetched from the issuer at boot and again at the
// max-age of its Cache-Control (`--issuer URL`). Keys of token types this server does not redeem are skipped.
import { parseBase64Url } from '../../../attestation/bytes.js';
import { ParseError } from '../../../attestation/errors.js';
import { RuntimeError } from '../../base/runtimeErrors.js';

export const ISSUER_DIRECTORY_PATH = '/.well-known/private-token-issuer-directory';

export interface DirectoryKey {
  readonly tokenType: number;
  readonly tokenKey: Uint8Array;
  /** Epoch seconds; undefined when the directory gives none. */
  readonly notBefore?: number;
}

/** Every bad field path of the directory, listed in one MALFORMED_PRIVACY_PASS. */
export function parseIssuerDirectory(json: unknown): DirectoryKey[] {
  const bad: string[] = [];
  const keys: DirectoryKey[] = [];
  const list = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['token-keys'] : undefined;
  if (!Array.isArray(list)) bad.push('token-keys');
  else
    list.forEach((entry: unknown, i) => {
      const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
      const type = e['token-type'];
      const key = typeof e['token-key'] === 'string' ? parseBase64Url(e['token-key']) : undefined;
      const notBefore = e['not-before'];
      if (typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type > 0xffff) bad.push(`token-keys[${i}].token-type`);
      if (key === undefined || key.length === 0) bad.push(`token-keys[${i}].token-key`);
      if (notBefore !== undefined && (typeof notBefore !== 'number' || !Number.isSafeInteger(notBefore) || notBefore < 0)) bad.push(`token-keys[${i}].not-before`);
      if (typeof type === 'number' && key !== undefined) keys.push(Object.freeze({ tokenType: type, tokenKey: key, ...(typeof notBefore === 'number' ? { notBefore } : {}) }));
    });
  if (bad.length > 0) throw new ParseError('MALFORMED_PRIVACY_PASS', `issuer directory is malformed: ${bad.join(', ')}`, { field: bad.join(', ') });
  return keys;
}

export const DEFAULT_DIRECTORY_MAX_AGE_S = 3600;
const MIN_REFRESH_S = 10;

/** The seconds of max-age in a Cache-Control value, or undefined. */
export function maxAgeOf(cacheControl: string | null): number | undefined {
  const m = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?/i.exec(cacheControl ?? '');
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** How the directory is fetched (global fetch by default; tests inject one). */
export type DirectoryFetch = (url: string, init: RequestInit) => Promise<Response>;

/** Fetches the directory at `url`; ISSUER_DIRECTORY_UNAVAILABLE when it cannot, MALFORMED_PRIVACY_PASS when it is not one. */
export async function fetchIssuerDirectory(url: string, fetcher: DirectoryFetch = fetch, timeoutMs = 10_000): Promise<{ keys: DirectoryKey[]; maxAgeSeconds: number }> {
  let response: Response;
  let body: unknown;
  try {
    response = await fetcher(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/private-token-issuer-directory, application/json' } });
    if (!response.ok) throw new Error(`status ${response.status}`);
    body = await response.json();
  } catch (e) {
    throw new RuntimeError('ISSUER_DIRECTORY_UNAVAILABLE', `the Privacy Pass issuer directory ${url} could not be fetched: ${(e as Error).message}`, { cause: e });
  }
  return { keys: parseIssuerDirectory(body), maxAgeSeconds: Math.max(MIN_REFRESH_S, maxAgeOf(response.headers.get('cache-control')) ?? DEFAULT_DIRECTORY_MAX_AGE_S) };
}
