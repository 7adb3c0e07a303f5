// Privacy Pass redemption at the OHTTP gateway (RFC 9577 section 2, RFC 9578 sections 5.4 and 6.4): every request
// behind the gateway carries `Authorization: PrivateToken token=...` inside its encapsulation, so the relay never
// sees it. Checks, in order: the header parses; the token type is one this gateway redeems (verifiers.ts);
// token_key_id is a current key's (its truncated form is what selects the key at the issuer; here the full ID is in
// the token; directory keys the gateway cannot verify, type 0x0001 ones without their private key, are skipped);
// challenge_digest is the digest of this server's TokenChallenge for that type; the authenticator verifies; the
// (key ID, nonce) was never spent. Every refusal is 401 with a fresh WWW-Authenticate (one challenge per current
// key), except a spent-token store that cannot answer (503: fail closed).
//
// A key is current from its not-before (or from when this server first saw it) for `keyLifetimeSeconds`, and while
// the directory still lists it; spent entries expire when their key stops being current, since its tokens are
// then refused anyway.
import { toBase64Url, toHex } from '../../../attestation/bytes.js';
import { CloisterError } from '../../../attestation/errors.js';
import { buildWwwAuthenticate, challengeDigest, decodeToken, encodeTokenChallenge, parseAuthorization, tokenKeyId, type Token } from '../../../attestation/protocols/index.js';
import type { BhttpRequest, BhttpResponse } from '../../../attestation/protocols/bhttp.js';
import { problem, PROBLEMS, type ProblemCode } from '../../base/problems.js';
import type { DirectoryKey } from '../../../attestation/protocols/privacypass/issuerDirectory.js';
import { SpentTokensUnavailable, type SpentTokenStore } from './spentTokens.js';
import { redeemedTokenTypes, whyNotRedeemed, refuseEveryToken, type TokenCheck, type TokenTypeVerifier } from './verifiers.js';

export const DEFAULT_KEY_LIFETIME_S = 30 * 24 * 3600;

export interface RedeemerOptions {
  readonly issuerName: string;
  /** The origin names the challenge binds tokens to (origin_info); empty for any origin. */
  readonly originInfo?: readonly string[];
  /** redemption_context: empty (default) or 32 bytes; gateways sharing a spent-token store must share it. */
  readonly redemptionContext?: Uint8Array;
  readonly spent: SpentTokenStore;
  readonly keyLifetimeSeconds?: number;
  readonly now?: () => number;
  /** Called with each store failure (for the log). */
  readonly onUnavailable?: (e: CloisterError) => void;
  /** The token types redeemed; default redeemedTokenTypes() (Blind RSA only: no VOPRF private key). */
  readonly tokenTypes?: ReadonlyMap<number, TokenTypeVerifier>;
  /** Called once per directory key that is not redeemed (a type not redeemed here, no private key for it, past its lifetime), for the log. */
  readonly onSkippedKey?: (key: SkippedKey) => void;
}

export interface SkippedKey {
  readonly tokenType: number;
  /** base64url, as the log shows key IDs. */
  readonly tokenKeyId: string;
  readonly reason: string;
}

interface CurrentKey {
  readonly tokenType: number;
  readonly tokenKey: Uint8Array;
  readonly tokenKeyId: Uint8Array;
  readonly check: TokenCheck;
  readonly fromMs: number;
  readonly untilMs: number;
}

interface TypeChallenge {
  readonly challenge: Uint8Array;
  readonly digest: Uint8Array;
}

export type RedemptionVerdict = { readonly ok: true } | { readonly ok: false; readonly code: ProblemCode; readonly detail: string };

const encoder = new TextEncoder();

export class Redeemer {
  readonly #options: RedeemerOptions;
  readonly #types: ReadonlyMap<number, TokenTypeVerifier>;
  readonly #now: () => number;
  readonly #lifetimeMs: number;
  /** By token key ID (hex). */
  #keys = new Map<string, CurrentKey>();
  readonly #firstSeen = new Map<string, number>();
  readonly #skipped = new Set<string>();
  readonly #challenges = new Map<number, TypeChallenge>();

  private constructor(options: RedeemerOptions) {
    this.#options = options;
    this.#types = options.tokenTypes ?? redeemedTokenTypes();
    this.#now = options.now ?? Date.now;
    this.#lifetimeMs = (options.keyLifetimeSeconds ?? DEFAULT_KEY_LIFETIME_S) * 1000;
  }

  static async create(options: RedeemerOptions, keys: readonly DirectoryKey[]): Promise<Redeemer> {
    const r = new Redeemer(options);
    for (const tokenType of r.#types.keys()) {
      const challenge = encodeTokenChallenge({ tokenType, issuerName: options.issuerName, redemptionContext: options.redemptionContext ?? new Uint8Array(), originInfo: options.originInfo ?? [] });
      r.#challenges.set(tokenType, { challenge, digest: await challengeDigest(challenge) });
    }
    await r.setKeys(keys);
    return r;
  }

  /** Replaces the issuer keys (a refreshed directory); keys this gateway cannot redeem are skipped (whyNotRedeemed). */
  async setKeys(keys: readonly DirectoryKey[]): Promise<void> {
    const next = new Map<string, CurrentKey>();
    for (const k of keys) {
      const id = await tokenKeyId(k.tokenKey);
      const hex = toHex(id);
      const reason = whyNotRedeemed(this.#types, k.tokenType, k.tokenKey);
      const verifier = this.#types.get(k.tokenType);
      if (reason !== undefined || verifier === undefined) {
        if (!this.#skipped.has(hex)) this.#options.onSkippedKey?.({ tokenType: k.tokenType, tokenKeyId: toBase64Url(id), reason: reason ?? 'not redeemed here' });
        this.#skipped.add(hex);
        continue;
      }
      const seen = this.#firstSeen.get(hex) ?? this.#now();
      this.#firstSeen.set(hex, seen);
      const fromMs = k.notBefore === undefined ? seen : k.notBefore * 1000;
      const untilMs = fromMs + this.#lifetimeMs;
      // Still listed, yet past its lifetime here (a fixed issuer key older than the lifetime): say so, or the only
      // sign is a gateway that answers PRIVACY_PASS_NO_KEYS.
      if (untilMs <= this.#now() && !this.#skipped.has(hex)) {
        this.#skipped.add(hex);
        this.#options.onSkippedKey?.({ tokenType: k.tokenType, tokenKeyId: toBase64Url(id), reason: `its lifetime ended at ${new Date(untilMs).toISOString()} (not-before + --token-key-lifetime ${this.#lifetimeMs / 1000} s): the issuer must list a newer key` });
      }
      // A key that does not decode stays listed, as the directory has it; every token of it is refused.
      const check = await verifier.forKey(k.tokenKey).catch(() => refuseEveryToken);
      next.set(hex, Object.freeze({ tokenType: k.tokenType, tokenKey: k.tokenKey, tokenKeyId: id, check, fromMs, untilMs }));
    }
    this.#keys = next;
  }

  #current(): CurrentKey[] {
    const now = this.#now();
    return [...this.#keys.values()].filter((k) => k.fromMs <= now && now < k.untilMs);
  }

  /** The WWW-Authenticate value: one challenge per current key; undefined when no key is current. */
  wwwAuthenticate(): string | undefined {
    const challenges = this.#current().flatMap((k) => {
      const c = this.#challenges.get(k.tokenType);
      return c === undefined ? [] : [{ challenge: c.challenge, tokenKey: k.tokenKey }];
    });
    return challenges.length === 0 ? undefined : buildWwwAuthenticate(challenges);
  }

  /** The checks of the file header on one request's Authorization values. */
  async redeem(authorization: readonly string[]): Promise<RedemptionVerdict> {
    const refuse = (code: ProblemCode, detail: string): RedemptionVerdict => ({ ok: false, code, detail });
    if (authorization.length === 0) return refuse('PRIVACY_PASS_REQUIRED', 'this gateway requires a Privacy Pass token (Authorization: PrivateToken token=...)');
    if (authorization.length > 1) return refuse('PRIVACY_PASS_MALFORMED', 'more than one Authorization header');
    let bytes: Uint8Array;
    try {
      bytes = parseAuthorization(authorization[0] ?? '');
    } catch {
      return refuse('PRIVACY_PASS_MALFORMED', 'the Authorization header is not one PrivateToken token');
    }
    const type = bytes.length >= 2 ? ((bytes[0] as number) << 8) | (bytes[1] as number) : undefined;
    if (type === undefined || !this.#types.has(type)) return refuse('PRIVACY_PASS_UNSUPPORTED_TYPE', `token type ${type === undefined ? '(none)' : `0x${type.toString(16).padStart(4, '0')}`} is not redeemed here; redeemed: ${[...this.#types.keys()].map((t) => `0x${t.toString(16).padStart(4, '0')}`).join(', ')}`);
    let token: Token;
    try {
      token = decodeToken(bytes);
    } catch {
      return refuse('PRIVACY_PASS_MALFORMED', 'the token is not a well-formed Token of its type');
    }
    const key = this.#keys.get(toHex(token.tokenKeyId));
    const now = this.#now();
    if (key === undefined || key.tokenType !== token.tokenType) return refuse('PRIVACY_PASS_UNKNOWN_KEY', 'token_key_id names no issuer key of this server');
    if (now < key.fromMs || now >= key.untilMs) return refuse('PRIVACY_PASS_UNKNOWN_KEY', 'token_key_id names an issuer key that is not current (expired, or not yet valid)');
    const challenge = this.#challenges.get(token.tokenType);
    if (challenge === undefined) return refuse('PRIVACY_PASS_UNSUPPORTED_TYPE', 'token type not redeemed here');
    if (!constantTimeEqual(token.challengeDigest, challenge.digest)) return refuse('PRIVACY_PASS_INVALID', 'challenge_digest is not the digest of a challenge this server issues');
    try {
      await key.check(token);
    } catch {
      return refuse('PRIVACY_PASS_INVALID', 'the token authenticator does not verify with its issuer key');
    }
    try {
      const spent = await this.#options.spent.spend(token.tokenKeyId, token.nonce, key.untilMs);
      return spent === 'fresh' ? { ok: true } : refuse('PRIVACY_PASS_REPLAYED', 'this token was already redeemed');
    } catch (e) {
      const error = e instanceof CloisterError ? e : new SpentTokensUnavailable('the spent-token store failed', e);
      this.#options.onUnavailable?.(error);
      return refuse('SPENT_TOKENS_UNAVAILABLE', 'the spent-token store cannot be reached; retry later');
    }
  }

  /** The gateway's admission check: undefined lets the request through, a response refuses it (before the target runs). */
  async admit(request: BhttpRequest): Promise<BhttpResponse | undefined> {
    let verdict = await this.redeem(request.headers.filter(([name]) => name.toLowerCase() === 'authorization').map(([, value]) => value));
    if (verdict.ok) return undefined;
    const headers: [string, string][] = [['content-type', 'application/problem+json']];
    if (PROBLEMS[verdict.code].status === 401) {
      const challenge = this.wwwAuthenticate();
      // A 401 must carry a challenge (RFC 9110 section 11.6.1); without a current key there is none to give.
      if (challenge === undefined) verdict = { ok: false, code: 'PRIVACY_PASS_NO_KEYS', detail: 'no issuer key is current: tokens cannot be redeemed until the issuer directory has one' };
      else headers.push(['www-authenticate', challenge]);
    }
    if (PROBLEMS[verdict.code].status === 503) headers.push(['retry-after', '1']);
    return { status: PROBLEMS[verdict.code].status, informational: [], headers, content: encoder.encode(JSON.stringify(problem(verdict.code, verdict.detail))), trailers: [] };
  }

  /** The current keys' IDs (base64url), for the log. */
  get keyIds(): string[] {
    return this.#current().map((k) => toBase64Url(k.tokenKeyId));
  }
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}
