// Who may obtain tokens. The issuer sees only blinded messages, never what a token will be spent on; what it
// decides is whether this caller may have one more token now. IssuanceAuthorizer is the seam; the default is
// AccountsAuthorizer: a bearer token per account, kept as its SHA-256 (a leaked accounts file gives no
// credential), compared in constant time against every account, with a token bucket per account.
import { createHash, timingSafeEqual } from 'node:crypto';
import { RuntimeError } from '../../base/runtimeErrors.js';
import { TokenBucket } from '../../base/tokenBucket.js';

export type IssuanceDecision =
  | { readonly allowed: true; readonly account: string }
  | { readonly allowed: false; readonly reason: 'unauthenticated' }
  | { readonly allowed: false; readonly reason: 'rate-limited'; readonly account: string; readonly retryAfterSeconds: number };

export interface IssuanceAuthorizer {
  /** Decides one token request from its Authorization header value (undefined when absent). */
  readonly authorize: (authorization: string | undefined) => IssuanceDecision;
}

export interface Account {
  readonly id: string;
  /** SHA-256 of the bearer token. */
  readonly tokenSha256: Uint8Array;
}

/** N tokens per PERIOD seconds, as a bucket of N refilled continuously. */
export interface IssuanceRate {
  readonly tokens: number;
  readonly periodSeconds: number;
}

const PERIODS: Readonly<Record<string, number>> = { s: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hour: 3600, d: 86400, day: 86400 };

/** `N/PERIOD`: PERIOD a number of seconds or s, min, hour, day (optionally with a count: 10/30s, 100/2h). */
export function parseRate(text: string): IssuanceRate | undefined {
  const m = /^(\d{1,9})\/(\d{1,9})?([a-z]*)$/.exec(text);
  if (m?.[1] === undefined) return undefined;
  const unit = m[3] === '' ? (m[2] === undefined ? undefined : 1) : PERIODS[m[3] ?? ''];
  const count = m[2] === undefined ? 1 : Number(m[2]);
  const tokens = Number(m[1]);
  if (unit === undefined || tokens < 1 || count < 1) return undefined;
  return { tokens, periodSeconds: count * unit };
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const ACCOUNT_ID = /^[A-Za-z0-9._@-]{1,128}$/;

/** The accounts file: {"accounts":[{"id":"alice","token-sha256":"<64 lowercase hex>"}]}; every bad path listed. */
export function parseAccounts(text: string, source = 'accounts file'): Account[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RuntimeError('ISSUER_ACCOUNTS_INVALID', `${source} is not valid JSON`, { field: '$' });
  }
  const bad: string[] = [];
  const accounts: Account[] = [];
  const list = (json as { accounts?: unknown } | null)?.accounts;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad.push('$ (not an object)');
  else if (!Array.isArray(list)) bad.push('$.accounts (not an array)');
  else {
    for (const key of Object.keys(json)) if (key !== 'accounts') bad.push(`$.${key} (unknown)`);
    const ids = new Set<string>();
    list.forEach((entry: unknown, i) => {
      const at = `$.accounts[${i}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return void bad.push(`${at} (not an object)`);
      const { id, 'token-sha256': hash, ...rest } = entry as Record<string, unknown>;
      for (const key of Object.keys(rest)) bad.push(`${at}.${key} (unknown)`);
      if (typeof id !== 'string' || !ACCOUNT_ID.test(id)) bad.push(`${at}.id (1 to 128 of A-Z a-z 0-9 . _ @ -)`);
      else if (ids.has(id)) bad.push(`${at}.id (repeats "${id}")`);
      else ids.add(id);
      if (typeof hash !== 'string' || !SHA256_HEX.test(hash)) bad.push(`${at}.token-sha256 (64 lowercase hex digits)`);
      if (typeof id === 'string' && typeof hash === 'string') accounts.push({ id, tokenSha256: Buffer.from(hash, 'hex') });
    });
  }
  if (bad.length > 0) throw new RuntimeError('ISSUER_ACCOUNTS_INVALID', `${source}: ${bad.join(', ')}`, { field: bad.map((b) => b.split(' ')[0]).join(', ') });
  return accounts;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export class AccountsAuthorizer implements IssuanceAuthorizer {
  readonly #accounts: readonly Account[];
  readonly #buckets = new Map<string, TokenBucket>();

  /** `now` in milliseconds (the bucket's clock). */
  constructor(accounts: readonly Account[], rate: IssuanceRate, now: () => number = () => performance.now()) {
    this.#accounts = accounts;
    for (const a of accounts) this.#buckets.set(a.id, new TokenBucket(rate.tokens / rate.periodSeconds, rate.tokens, now));
  }

  /** The account whose hash matches, after comparing against all of them: the time taken does not say which. */
  #account(token: string): Account | undefined {
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: Account | undefined;
    for (const a of this.#accounts) if (timingSafeEqual(digest, a.tokenSha256) && found === undefined) found = a;
    return found;
  }

  authorize(authorization: string | undefined): IssuanceDecision {
    const token = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
    const account = token === undefined ? undefined : this.#account(token);
    if (account === undefined) return { allowed: false, reason: 'unauthenticated' };
    const wait = this.#buckets.get(account.id)?.take() ?? 0;
    if (wait > 0) return { allowed: false, reason: 'rate-limited', account: account.id, retryAfterSeconds: Math.ceil(wait) };
    return { allowed: true, account: account.id };
  }
}
