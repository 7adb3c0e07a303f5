// The relay's memory of the answers that are the same for every client (key configurations, the
// attestation certificate). Serving them from one copy means every client sees the same keys, and the
// gateway sees one fetch per lifetime instead of one per client, so it cannot tell who fetched them
// (RFC 9458 section 7, key consistency; RFC 9540 section 4).

export const DEFAULT_LIFETIME_SECONDS = 60;
export const MAX_LIFETIME_SECONDS = 300;

/**
 * Seconds the relay may keep an answer with this Cache-Control (RFC 9111 section 5.2.2): s-maxage, else
 * max-age, capped at MAX_LIFETIME_SECONDS; DEFAULT_LIFETIME_SECONDS without either; 0 (do not keep) for
 * no-store, no-cache, private or an invalid value.
 */
export function cacheLifetimeSeconds(cacheControl: string | undefined): number {
  const directives = new Map<string, string | undefined>();
  for (const part of (cacheControl ?? '').split(',')) {
    const [name = '', value] = part.split('=', 2);
    if (name.trim() !== '') directives.set(name.trim().toLowerCase(), value?.trim().replace(/^"(.*)"$/, '$1'));
  }
  if (directives.has('no-store') || directives.has('no-cache') || directives.has('private')) return 0;
  const directive = directives.has('s-maxage') ? 's-maxage' : 'max-age';
  if (!directives.has(directive)) return DEFAULT_LIFETIME_SECONDS;
  const age = directives.get(directive) ?? '';
  return /^\d+$/.test(age) ? Math.min(Number(age), MAX_LIFETIME_SECONDS) : 0;
}

export interface Cached<V> {
  readonly value: V;
  /** True when this caller caused no gateway fetch (a stored answer, or another caller's fetch in flight). */
  readonly cached: boolean;
}

export class PublicCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();
  readonly #pending = new Map<string, Promise<V>>();

  /** `now` in milliseconds; `lifetimeMs` says how long a fetched value may be kept (0: not at all). */
  constructor(
    private readonly now: () => number,
    private readonly lifetimeMs: (value: V) => number,
  ) {}

  async get(key: string, fetch: () => Promise<V>): Promise<Cached<V>> {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      if (this.now() < entry.expires) return { value: entry.value, cached: true };
      this.#entries.delete(key);
    }
    const pending = this.#pending.get(key);
    if (pending !== undefined) return { value: await pending, cached: true };
    const fetching = fetch();
    this.#pending.set(key, fetching);
    try {
      const value = await fetching;
      const lifetime = this.lifetimeMs(value);
      if (lifetime > 0) this.#entries.set(key, { value, expires: this.now() + lifetime });
      return { value, cached: false };
    } finally {
      this.#pending.delete(key);
    }
  }
}
