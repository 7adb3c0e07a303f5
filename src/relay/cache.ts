// The relay's memory of the answers that are the same for every client (key configurations, the
// attestation certificate). Serving them from one copy means every client sees the same keys, and the
// gateway sees one fetch per lifetime instead of one per client, so it cannot tell who fetched them
// (RFC 9458 section 7, key consistency; RFC 9540 section 4). A client's no-cache goes past the stored
// copy, which after a key rotation may name a retired key; and what the relay passes on lets no cache
// after it keep an answer longer than the gateway meant.

export const DEFAULT_LIFETIME_SECONDS = 60;
export const MAX_LIFETIME_SECONDS = 300;

/** Cache-Control directives, names lowercased, values unquoted (RFC 9111 section 5.2). */
function directivesOf(cacheControl: string | undefined): Map<string, string | undefined> {
  const directives = new Map<string, string | undefined>();
  for (const part of (cacheControl ?? '').split(',')) {
    const [name = '', value] = part.split('=', 2);
    if (name.trim() !== '') directives.set(name.trim().toLowerCase(), value?.trim().replace(/^"(.*)"$/, '$1'));
  }
  return directives;
}

const seconds = (value: string | undefined): number | undefined => (value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined);

/**
 * Seconds the relay may keep an answer with this Cache-Control (RFC 9111 section 5.2.2): s-maxage, else
 * max-age, capped at MAX_LIFETIME_SECONDS; DEFAULT_LIFETIME_SECONDS without either; 0 (do not keep) for
 * no-store, no-cache, private or an invalid value.
 */
export function cacheLifetimeSeconds(cacheControl: string | undefined): number {
  const directives = directivesOf(cacheControl);
  if (directives.has('no-store') || directives.has('no-cache') || directives.has('private')) return 0;
  const directive = directives.has('s-maxage') ? 's-maxage' : 'max-age';
  if (!directives.has(directive)) return DEFAULT_LIFETIME_SECONDS;
  return Math.min(seconds(directives.get(directive)) ?? 0, MAX_LIFETIME_SECONDS);
}

/**
 * The Cache-Control the relay passes on with an answer that is `ageSeconds` old: max-age and s-maxage
 * capped at MAX_LIFETIME_SECONDS like its own cache, less the age (an invalid value becomes 0), so that
 * no cache after the relay keeps the answer longer than the gateway meant; other directives unchanged.
 */
export function forwardedCacheControl(cacheControl: string | undefined, ageSeconds: number): string | undefined {
  if (cacheControl === undefined) return undefined;
  return cacheControl
    .split(',')
    .map((part) => {
      const name = part.split('=', 1)[0]?.trim().toLowerCase() ?? '';
      if (name !== 'max-age' && name !== 's-maxage') return part.trim();
      const value = seconds(directivesOf(part).get(name)) ?? 0;
      return `${name}=${Math.max(0, Math.min(value, MAX_LIFETIME_SECONDS) - ageSeconds)}`;
    })
    .filter((part) => part !== '')
    .join(', ');
}

/** What a request's Cache-Control lets the relay answer (RFC 9111 section 5.2.1). */
export interface CacheRequest {
  /** no-cache, no-store or max-age=0: not from a stored copy, from the gateway. */
  readonly reload: boolean;
  /** False for no-store: the answer fetched for this request is not kept. */
  readonly store: boolean;
}

export function cacheRequestOf(cacheControl: string | undefined): CacheRequest {
  const directives = directivesOf(cacheControl);
  const noStore = directives.has('no-store');
  return { reload: noStore || directives.has('no-cache') || (directives.has('max-age') && seconds(directives.get('max-age')) === 0), store: !noStore };
}

export interface Cached<V> {
  readonly value: V;
  /** True when this caller caused no gateway fetch (a stored answer, or another caller's fetch in flight). */
  readonly cached: boolean;
  /** Milliseconds since the fetch that produced the value was sent. */
  readonly ageMs: number;
}

export class PublicCache<V> {
  readonly #entries = new Map<string, { value: V; fetchedAt: number; expires: number; order: number }>();
  readonly #pending = new Map<string, { fetchedAt: number; reload: boolean; value: Promise<V> }>();
  /** Numbers the fetches in the order they were sent. */
  #fetches = 0;

  /** `now` in milliseconds; `lifetimeMs` says how long a fetched value may be kept (0: not at all). */
  constructor(
    private readonly now: () => number,
    private readonly lifetimeMs: (value: V) => number,
  ) {}

  /**
   * A reload fetches past the stored copy and a plain fetch in flight, but joins a reload in flight: the
   * clients a key retirement sends back together share one fetch, and so one answer (the gateway cannot
   * tell them apart by the configuration it hands each). Unless `store` is false, its answer then takes the
   * stored copy's place.
   */
  async get(key: string, fetch: () => Promise<V>, request: CacheRequest = { reload: false, store: true }): Promise<Cached<V>> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && !request.reload) {
      if (this.now() < entry.expires) return { value: entry.value, cached: true, ageMs: this.now() - entry.fetchedAt };
      this.#entries.delete(key);
    }
    const pending = this.#pending.get(key);
    if (pending !== undefined && (!request.reload || pending.reload)) return { value: await pending.value, cached: true, ageMs: this.now() - pending.fetchedAt };
    // Ages count from the moment the request left: the gateway's max-age was set no earlier.
    const fetchedAt = this.now();
    const order = ++this.#fetches;
    const fetching = { fetchedAt, reload: request.reload, value: fetch() };
    this.#pending.set(key, fetching);
    try {
      const value = await fetching.value;
      const lifetime = this.lifetimeMs(value);
      const stored = this.#entries.get(key);
      // A newer answer replaces the stored one, or drops it when it may not be kept; an older never does.
      if (request.store && (stored === undefined || stored.order < order)) {
        if (lifetime > 0) this.#entries.set(key, { value, fetchedAt, expires: fetchedAt + lifetime, order });
        else this.#entries.delete(key);
      }
      return { value, cached: false, ageMs: this.now() - fetchedAt };
    } finally {
      if (this.#pending.get(key) === fetching) this.#pending.delete(key);
    }
  }
}
