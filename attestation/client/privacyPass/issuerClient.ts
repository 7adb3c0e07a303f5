// The client's side of a Privacy Pass issuer (RFC 9578 sections 4 and 5/6): its directory, kept for the max-age
// of its Cache-Control, and token requests POSTed to its issuer-request-uri with the client's bearer credential.
// Every failure is an IssuerError naming the URL, the HTTP status and the problem code the issuer answered; never
// the credential. Browser-safe: the transport is the global fetch (or one given).
import { CloisterError, type ErrorDetails } from '../../errors.js';
import { mediaType, problemCode } from '../../protocols/httpText.js';
import {
  cacheMaxAge,
  ISSUER_DIRECTORY_MEDIA_TYPE,
  issuerDirectoryUrl,
  parseIssuerDirectory,
  TOKEN_REQUEST_MEDIA_TYPE,
  TOKEN_RESPONSE_MEDIA_TYPE,
  type IssuerDirectory,
} from '../../protocols/privacypass/issuerDirectory.js';
import { DEFAULT_EXCHANGE_TIMEOUT_MS as DEFAULT_TIMEOUT_MS, exchange, globalFetch, ResponseTooLarge, type Exchanged, type FetchInit, type FetchLike } from '../httpFetch.js';

export type IssuerErrorCode = 'PRIVACY_PASS_ISSUER_FAILED' | 'PRIVACY_PASS_ISSUER_UNAUTHORIZED' | 'PRIVACY_PASS_ISSUER_RATE_LIMITED';

/** The issuer failed or refused; `status` is undefined when no HTTP answer came (then `cause` says why). */
export class IssuerError extends CloisterError {
  declare readonly code: IssuerErrorCode;
  readonly url: string;
  readonly status: number | undefined;
  /** The `code` of the issuer's application/problem+json answer. */
  readonly problem: string | undefined;
  /** From a 429's Retry-After. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: IssuerErrorCode, message: string, answer: { url: string; status?: number; problem?: string; retryAfterSeconds?: number }, details: ErrorDetails = {}) {
    const actual = answer.status === undefined ? undefined : `${answer.status}${answer.problem === undefined ? '' : ` ${answer.problem}`}`;
    super(code, message, { field: answer.url, ...(actual === undefined ? {} : { actual }), ...details });
    this.url = answer.url;
    this.status = answer.status;
    this.problem = answer.problem;
    this.retryAfterSeconds = answer.retryAfterSeconds;
  }
}

/** A directory lists a few keys (an RSA-2048 one is about 460 bytes of JSON); beyond this it is not read into memory. */
const MAX_DIRECTORY_BYTES = 1 << 20;
/** A TokenResponse is 256 bytes (type 0x0002) or 145 (type 0x0001). */
const MAX_TOKEN_RESPONSE_BYTES = 1 << 16;

/** Seconds from a Retry-After value: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3). */
export function retryAfterSeconds(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  if (/^\s*\d{1,10}\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

async function send(fetch: FetchLike, url: string, init: Omit<FetchInit, 'signal'>, timeoutMs: number, maxBytes: number, what: string): Promise<Exchanged> {
  try {
    return await exchange(fetch, url, init, timeoutMs, maxBytes);
  } catch (cause) {
    if (cause instanceof ResponseTooLarge) throw new IssuerError('PRIVACY_PASS_ISSUER_FAILED', `${what} ${url} answered ${cause.status} with more than ${maxBytes} bytes`, { url, status: cause.status }, { cause });
    const e = cause as Error;
    throw new IssuerError('PRIVACY_PASS_ISSUER_FAILED', `${what} ${url} got no answer: ${e.name === 'TimeoutError' ? `none within ${timeoutMs} ms` : e.message}`, { url }, { cause });
  }
}

function httpFailure(what: string, url: string, r: Exchanged, expected: string, nowMs: number): IssuerError {
  const problem = problemCode(r.body);
  const answer = { url, status: r.status, ...(problem === undefined ? {} : { problem }) };
  const answered = `${what} ${url} answered ${r.status}${problem === undefined ? '' : ` ${problem}`}`;
  if (r.status === 401) return new IssuerError('PRIVACY_PASS_ISSUER_UNAUTHORIZED', `${answered}: the issuer refused the credential`, answer);
  if (r.status === 429) {
    const wait = retryAfterSeconds(r.headers.get('retry-after'), nowMs);
    return new IssuerError('PRIVACY_PASS_ISSUER_RATE_LIMITED', `${answered}: no more tokens for now${wait === undefined ? '' : `, retry in ${wait} s`}`, { ...answer, ...(wait === undefined ? {} : { retryAfterSeconds: wait }) });
  }
  return new IssuerError('PRIVACY_PASS_ISSUER_FAILED', `${answered} ${mediaType(r.headers.get('content-type')) || '(no content type)'}, expected 200 ${expected}`, answer);
}

export interface FetchedDirectory {
  readonly url: string;
  readonly directory: IssuerDirectory;
  /** The max-age of its Cache-Control; undefined when it gives none. */
  readonly maxAgeSeconds: number | undefined;
}

/**
 * GETs the directory at `url`: PRIVACY_PASS_ISSUER_FAILED when no directory comes back (the body not JSON included),
 * MALFORMED_PRIVACY_PASS when the JSON is not a directory.
 */
export async function fetchIssuerDirectory(url: string, options: { fetch?: FetchLike; timeoutMs?: number; now?: () => number; reload?: boolean } = {}): Promise<FetchedDirectory> {
  const what = 'the issuer directory';
  const headers: Record<string, string> = { accept: `${ISSUER_DIRECTORY_MEDIA_TYPE}, application/json` };
  const r = await send(options.fetch ?? globalFetch, url, options.reload === true ? { method: 'GET', headers: { ...headers, 'cache-control': 'no-cache' }, cache: 'no-store' } : { method: 'GET', headers }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, MAX_DIRECTORY_BYTES, `GET ${what}`);
  if (r.status !== 200) throw httpFailure(`GET ${what}`, url, r, ISSUER_DIRECTORY_MEDIA_TYPE, (options.now ?? Date.now)());
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(r.body));
  } catch (cause) {
    throw new IssuerError('PRIVACY_PASS_ISSUER_FAILED', `GET ${what} ${url} answered 200 with ${r.body.length} bytes that are not JSON`, { url, status: 200 }, { cause });
  }
  return { url, directory: parseIssuerDirectory(json), maxAgeSeconds: cacheMaxAge(r.headers.get('cache-control')) };
}

export interface IssuerClientOptions {
  /** The issuer's origin (the well-known directory path is added) or its directory's full URL. */
  readonly issuer: string | URL;
  /** The bearer credential of the client's account, or a function giving it at each request (a token that is renewed). */
  readonly credential?: string | (() => string | Promise<string>);
  readonly fetch?: FetchLike;
  /** Per HTTP exchange, in ms (default 10 000). */
  readonly timeoutMs?: number;
  /** The clock (ms since the epoch) the directory's max-age is counted on; Date.now by default. */
  readonly now?: () => number;
}

interface HeldDirectory {
  readonly fetched: Promise<FetchedDirectory>;
  /** Infinity while the fetch is under way. */
  expiresAtMs: number;
}

/** One issuer: its directory, cached for its max-age, and token requests. */
export class IssuerClient {
  readonly directoryUrl: string;
  readonly #options: IssuerClientOptions;
  readonly #fetch: FetchLike;
  readonly #now: () => number;
  #held: HeldDirectory | undefined;

  constructor(options: IssuerClientOptions) {
    this.#options = options;
    this.directoryUrl = issuerDirectoryUrl(options.issuer);
    this.#fetch = options.fetch ?? globalFetch;
    this.#now = options.now ?? Date.now;
  }

  /** The directory: the copy held while its max-age lasts, else fetched (past every cache when `refresh`); a fetch under way is shared. */
  directory(refresh = false): Promise<FetchedDirectory> {
    const held = this.#held;
    if (!refresh && held !== undefined && this.#now() < held.expiresAtMs) return held.fetched;
    const started = this.#now();
    const timeout = this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs };
    const entry: HeldDirectory = { fetched: fetchIssuerDirectory(this.directoryUrl, { fetch: this.#fetch, now: this.#now, reload: refresh, ...timeout }), expiresAtMs: Infinity };
    this.#held = entry;
    entry.fetched.then(
      (f) => (entry.expiresAtMs = started + (f.maxAgeSeconds ?? 0) * 1000),
      () => {
        if (this.#held === entry) this.#held = undefined;
      },
    );
    return entry.fetched;
  }

  /** POSTs one TokenRequest to the directory's issuer-request-uri; returns the TokenResponse's bytes. */
  async requestToken(tokenRequest: Uint8Array): Promise<Uint8Array> {
    const { directory, url: directoryUrl } = await this.directory();
    if (directory.requestUri === undefined) throw new IssuerError('PRIVACY_PASS_ISSUER_FAILED', `the issuer directory ${directoryUrl} has no issuer-request-uri`, { url: directoryUrl });
    const url = new URL(directory.requestUri, directoryUrl).toString();
    const credential = typeof this.#options.credential === 'function' ? await this.#options.credential() : this.#options.credential;
    const headers: Record<string, string> = { 'content-type': TOKEN_REQUEST_MEDIA_TYPE, accept: TOKEN_RESPONSE_MEDIA_TYPE, ...(credential === undefined ? {} : { authorization: `Bearer ${credential}` }) };
    const what = 'POST a token request to';
    const r = await send(this.#fetch, url, { method: 'POST', headers, body: tokenRequest, cache: 'no-store' }, this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS, MAX_TOKEN_RESPONSE_BYTES, what);
    if (r.status !== 200 || mediaType(r.headers.get('content-type')) !== TOKEN_RESPONSE_MEDIA_TYPE) throw httpFailure(what, url, r, TOKEN_RESPONSE_MEDIA_TYPE, this.#now());
    return r.body;
  }
}
