// The Client of RFC 9576 (docs/privacy-pass.md "Client"): answers a server's PrivateToken challenge (RFC 9577) with a
// token of a key the issuer's directory lists, taken from the store or obtained from the issuer (RFC 9578), and
// remembers the challenge per scope so that the next request carries a token from the start. A challenge with an
// empty redemption_context takes tokens obtained ahead of time, so `batch` of them are obtained at once.
import { CloisterError } from '../../errors.js';
import { buildAuthorization, parseWwwAuthenticate } from '../../protocols/privacypass/authScheme.js';
import { challengeDigest } from '../../protocols/privacypass/token.js';
import { tokenKeyId } from '../../protocols/privacypass/tokenKey.js';
import type { PrivateTokenSource } from '../ohttpClient.js';
import { chooseChallenge, type ChosenChallenge } from './challengeChoice.js';
import { CLIENT_TOKEN_TYPES, hexTokenType, type ClientTokenType } from './clientTokenTypes.js';
import { IssuerClient, IssuerError, type IssuerClientOptions } from './issuerClient.js';
import { MemoryTokenStore, type TokenSlot, type TokenStore } from './tokenStore.js';

export interface PrivacyPassClientOptions extends IssuerClientOptions {
  /** Where tokens obtained ahead of use are kept; default a MemoryTokenStore. */
  readonly store?: TokenStore;
  /** Tokens obtained at once for a challenge that allows using them later (an empty redemption_context); default 1. */
  readonly batch?: number;
  /** The token types obtained, by token_type, in order of preference; default 0x0002 then 0x0001. */
  readonly tokenTypes?: readonly number[];
}

interface KnownChallenge {
  readonly chosen: ChosenChallenge;
  readonly slot: TokenSlot;
  readonly expiresAtMs: number;
}

const MAX_BATCH = 100;

export class PrivacyPassClient implements PrivateTokenSource {
  readonly issuer: IssuerClient;
  readonly store: TokenStore;
  readonly #batch: number;
  readonly #types: readonly ClientTokenType[];
  readonly #now: () => number;
  readonly #known = new Map<string, KnownChallenge>();

  /** Throws MALFORMED_POLICY for a batch outside 1..100 or a token type this client cannot obtain. */
  constructor(options: PrivacyPassClientOptions) {
    const batch = options.batch ?? 1;
    if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new CloisterError('MALFORMED_POLICY', `batch must be an integer in 1..${MAX_BATCH}, got ${batch}`, { field: 'batch' });
    const types = (options.tokenTypes ?? CLIENT_TOKEN_TYPES.map((t) => t.tokenType)).map((tokenType) => {
      const type = CLIENT_TOKEN_TYPES.find((t) => t.tokenType === tokenType);
      if (type === undefined) throw new CloisterError('MALFORMED_POLICY', `token type ${hexTokenType(tokenType)} is not one this client obtains (${CLIENT_TOKEN_TYPES.map((t) => hexTokenType(t.tokenType)).join(', ')})`, { field: 'tokenTypes' });
      return type;
    });
    this.issuer = new IssuerClient(options);
    this.store = options.store ?? new MemoryTokenStore();
    this.#batch = batch;
    this.#types = types;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The Authorization value to send first in `scope` (one server): a token for the challenge it last sent, stored or
   * obtained now; undefined before any challenge, after its max-age, or once the issuer no longer knows its key.
   */
  async authorization(scope: string): Promise<string | undefined> {
    const known = this.#known.get(scope);
    if (known === undefined) return undefined;
    if (this.#now() >= known.expiresAtMs) {
      this.#known.delete(scope);
      return undefined;
    }
    try {
      return buildAuthorization(await this.#token(known));
    } catch (e) {
      // The key was retired since: the server's next 401 names the current one.
      if (!(e instanceof IssuerError && e.problem === 'TOKEN_KEY_UNKNOWN')) throw e;
      this.#known.delete(scope);
      return undefined;
    }
  }

  /**
   * The Authorization value answering a WWW-Authenticate value of `scope`, which is remembered for the next
   * requests; undefined when the value holds no PrivateToken challenge.
   */
  async authorizationFor(wwwAuthenticate: string, scope: string): Promise<string | undefined> {
    const offered = parseWwwAuthenticate(wwwAuthenticate);
    if (offered.length === 0) return undefined;
    const chosen = await this.#choose(offered);
    const { challenge, tokenKey, maxAge } = chosen.challenge;
    const known: KnownChallenge = {
      chosen,
      slot: { challengeDigest: await challengeDigest(challenge), tokenKeyId: await tokenKeyId(tokenKey) },
      expiresAtMs: maxAge === undefined ? Infinity : this.#now() + maxAge * 1000,
    };
    this.#known.set(scope, known);
    return buildAuthorization(await this.#token(known));
  }

  /** Checked against the directory held, and when that does not list the key, against a fresh one (the issuer may have rotated). */
  async #choose(offered: Parameters<typeof chooseChallenge>[0]): Promise<ChosenChallenge> {
    const choose = async (refresh: boolean): Promise<ChosenChallenge> => {
      const { directory, url } = await this.issuer.directory(refresh);
      return chooseChallenge(offered, directory, this.#types, Math.floor(this.#now() / 1000), url);
    };
    try {
      return await choose(false);
    } catch (e) {
      if (!(e instanceof CloisterError && e.code === 'PRIVACY_PASS_KEY_INCONSISTENT')) throw e;
      return choose(true);
    }
  }

  /** A stored token for the challenge, else new ones (a batch when the challenge allows), one of them spent here. */
  async #token(known: KnownChallenge): Promise<Uint8Array> {
    const stored = await this.store.take(known.slot);
    if (stored !== undefined) return stored;
    const reusable = known.chosen.challenge.tokenChallenge.redemptionContext.length === 0;
    const [first, ...rest] = await this.#obtain(known.chosen, reusable ? this.#batch : 1);
    await this.store.add(known.slot, rest);
    return first as Uint8Array;
  }

  /** `count` tokens, requested at once; those obtained when some requests fail, the first failure when all do. */
  async #obtain(chosen: ChosenChallenge, count: number): Promise<Uint8Array[]> {
    const results = await Promise.allSettled(
      Array.from({ length: count }, async () => {
        const pending = await chosen.type.begin(chosen.challenge.challenge, chosen.key.tokenKey);
        return pending.finish(await this.issuer.requestToken(pending.request));
      }),
    );
    const tokens = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r) => r.status === 'rejected');
    if (tokens.length === 0 && failed !== undefined) throw failed.reason;
    return tokens;
  }
}
