// Double-spend prevention for Privacy Pass redemption (RFC 9577 section 2.2, RFC 9578 section 6.4: an origin
// accepts a token once). A token is keyed by (token_key_id, nonce); its entry lives as long as its issuer key
// is accepted, after which the key itself is refused and the entry can go. Two stores: MemorySpentTokens for
// one process, RedisSpentTokens (redisSpentTokens.ts) for gateways that share one Redis or Valkey.
import { toHex } from '../../../attestation/bytes.js';
import { RuntimeError } from '../../base/runtimeErrors.js';

export type SpendResult = 'fresh' | 'replay';

export interface SpentTokenStore {
  /**
   * Marks (keyId, nonce) spent until `expiresAtMs` (epoch ms): 'fresh' the first time, 'replay' after. Throws
   * SpentTokensUnavailable when it cannot tell (the caller refuses the request: fail closed).
   */
  spend(keyId: Uint8Array, nonce: Uint8Array, expiresAtMs: number): Promise<SpendResult>;
  close(): Promise<void>;
}

/** The store cannot say whether a token was spent (Redis down, or the in-memory bound reached). */
export class SpentTokensUnavailable extends RuntimeError {
  constructor(message: string, cause?: unknown) {
    super('SPENT_TOKENS_UNAVAILABLE', message, cause === undefined ? {} : { cause });
  }
}

export const DEFAULT_MAX_SPENT_TOKENS = 1_000_000;
const SWEEP_INTERVAL_MS = 1000;

/**
 * Spent tokens in this process's memory, at most `maxEntries` unexpired ones. When full (after dropping the
 * expired), it refuses the token rather than evicting an unexpired entry: eviction would let that token be
 * spent again. A restart forgets everything, so a token can be replayed once per restart: use Redis where
 * that matters.
 */
export class MemorySpentTokens implements SpentTokenStore {
  readonly #entries = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;
  #lastSweep = Number.NEGATIVE_INFINITY;

  constructor(options: { readonly maxEntries?: number; readonly now?: () => number } = {}) {
    this.#max = options.maxEntries ?? DEFAULT_MAX_SPENT_TOKENS;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  spend(keyId: Uint8Array, nonce: Uint8Array, expiresAtMs: number): Promise<SpendResult> {
    const now = this.#now();
    const id = `${toHex(keyId)}:${toHex(nonce)}`;
    const expiry = this.#entries.get(id);
    if (expiry !== undefined && expiry > now) return Promise.resolve('replay');
    if (expiry === undefined && this.#entries.size >= this.#max) this.#sweep(now);
    if (expiry === undefined && this.#entries.size >= this.#max) {
      return Promise.reject(new SpentTokensUnavailable(`the in-memory spent-token store holds ${this.#max} unexpired tokens, its bound; a token is refused rather than an unexpired one forgotten`));
    }
    this.#entries.set(id, expiresAtMs);
    return Promise.resolve('fresh');
  }

  /** At most once a second: a full store of unexpired entries is not walked again for every token refused. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    for (const [id, expiry] of this.#entries) if (expiry <= now) this.#entries.delete(id);
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }
}
