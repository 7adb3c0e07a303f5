// Public keys imported once and kept, as a client keeps the keys it pins (a log's key, a publisher's key):
// importing costs as much as a verification, and verifiers meet the same few keys again and again. Entries are
// keyed by the key's bytes (never by the identity of the array that held them), bounded, and the oldest goes
// first; a key that fails to import is not kept, so the next call fails afresh. Results of verifications are
// never cached, only imported keys.

const MAX_KEYS = 256;

export class KeyCache<K> {
  readonly #keys = new Map<string, Promise<K>>();

  /** The key imported under `id` (the key's bytes and whatever else shapes the import), importing it the first time. */
  get(id: string, importKey: () => Promise<K>): Promise<K> {
    const hit = this.#keys.get(id);
    if (hit !== undefined) return hit;
    const imported = importKey();
    imported.catch(() => this.#keys.delete(id));
    if (this.#keys.size >= MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value ?? '');
    this.#keys.set(id, imported);
    return imported;
  }
}

/** One KeyCache per backend object (an importer, a set of backends): keys imported by one backend are not another's. */
export class KeyCaches<K> {
  readonly #caches = new WeakMap<object, KeyCache<K>>();

  for(backend: object): KeyCache<K> {
    let cache = this.#caches.get(backend);
    if (cache === undefined) {
      cache = new KeyCache<K>();
      this.#caches.set(backend, cache);
    }
    return cache;
  }
}
