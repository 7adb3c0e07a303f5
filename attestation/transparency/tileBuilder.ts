// The write side of C2SP tlog-tiles, without I/O: appending entries to a tree kept as its rightmost tiles, and the
// tiles and entry bundles each append creates or changes. A tile of 256 hashes at level L is complete for good and
// its MTH becomes the next hash of level L + 1; what is not complete is the rightmost, partial tile of its level,
// rewritten under a new width (`.p/<W>`) at each append that changes it. The peaks of the tree all lie in those
// partial tiles, so the root hash needs nothing else (TileReader over the builder's own tiles).
// src/transparency/tileLog.ts writes the results to disk and signs checkpoints.
import { concatBytes } from '../bytes.js';
import { webCryptoHasher, type Hasher } from '../hash.js';
import { leafHash, merkleRoot } from './merkle.js';
import { decodeEntryBundle, encodeEntryBundle, MAX_ENTRY_SIZE, partialTiles, TILE_WIDTH, TileReader, tileHashes, tilePath, type TileFetcher, type TileId } from './tiles.js';

export interface TileWrite {
  readonly path: string;
  readonly data: Uint8Array;
}

export class TileBuilder {
  readonly #hasher: Hasher;
  #size: number;
  /** The hashes of the rightmost, incomplete tile of each level. */
  readonly #levels: Uint8Array[][];
  /** The entries of the rightmost, incomplete entry bundle. */
  #bundle: Uint8Array[];

  private constructor(size: number, levels: Uint8Array[][], bundle: Uint8Array[], hasher: Hasher) {
    this.#size = size;
    this.#levels = levels;
    this.#bundle = bundle;
    this.#hasher = hasher;
  }

  /** An empty tree. */
  static empty(hasher: Hasher = webCryptoHasher): TileBuilder {
    return new TileBuilder(0, [], [], hasher);
  }

  /** The tree of `size` entries whose partial tiles and bundle `fetch` serves (a log reopening its directory). */
  static async restore(size: number, fetch: TileFetcher, hasher: Hasher = webCryptoHasher): Promise<TileBuilder> {
    const levels: Uint8Array[][] = [];
    let bundle: Uint8Array[] = [];
    for (const tile of partialTiles(size)) {
      const bytes = await fetch(tilePath(tile));
      if (tile.level === 'entries') bundle = decodeEntryBundle(bytes, tile).map((e) => e.slice());
      else levels[tile.level] = tileHashes(bytes, tile).map((h) => h.slice());
    }
    return new TileBuilder(size, Array.from({ length: levels.length }, (_, i) => levels[i] ?? []), bundle, hasher);
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Appends `entries` (each at most 65535 bytes; RangeError otherwise, before anything changes) and returns every
   * tile and entry bundle the append completed or changed, full ones first, each path once.
   */
  async append(entries: readonly Uint8Array[]): Promise<TileWrite[]> {
    const large = entries.findIndex((e) => e.length > MAX_ENTRY_SIZE);
    if (large >= 0) throw new RangeError(`entry ${large} is ${entries[large]?.length} bytes, more than the ${MAX_ENTRY_SIZE} an entry bundle holds`);
    const writes = new Map<string, Uint8Array>();
    const changed = new Set<number | 'entries'>();
    for (const entry of entries) {
      const index = this.#size;
      this.#bundle.push(entry);
      changed.add('entries');
      if (this.#bundle.length === TILE_WIDTH) {
        writes.set(tilePath({ level: 'entries', index: Math.floor(index / TILE_WIDTH), width: TILE_WIDTH }), encodeEntryBundle(this.#bundle));
        this.#bundle = [];
        changed.delete('entries');
      }
      await this.#push(0, await leafHash(this.#hasher, entry), index, writes, changed);
      this.#size = index + 1;
    }
    for (const tile of partialTiles(this.#size)) {
      if (changed.has(tile.level)) writes.set(tilePath(tile), this.#partialBytes(tile));
    }
    return [...writes].map(([path, data]) => ({ path, data }));
  }

  /** Adds hash number `position` of `level`; a tile it completes is written and its MTH pushed one level up. */
  async #push(level: number, hash: Uint8Array, position: number, writes: Map<string, Uint8Array>, changed: Set<number | 'entries'>): Promise<void> {
    const hashes = (this.#levels[level] ??= []);
    hashes.push(hash);
    changed.add(level);
    if (hashes.length < TILE_WIDTH) return;
    const index = Math.floor(position / TILE_WIDTH);
    writes.set(tilePath({ level, index, width: TILE_WIDTH }), concatBytes(...hashes));
    this.#levels[level] = [];
    changed.delete(level);
    await this.#push(level + 1, await merkleRoot(this.#hasher, hashes), index, writes, changed);
  }

  #partialBytes(tile: TileId): Uint8Array {
    return tile.level === 'entries' ? encodeEntryBundle(this.#bundle) : concatBytes(...(this.#levels[tile.level] ?? []));
  }

  /** Serves the current partial tiles, the only ones the root hash needs. */
  readonly #ownTiles: TileFetcher = (path) => {
    const tile = partialTiles(this.#size).find((t) => tilePath(t) === path);
    if (tile === undefined) return Promise.reject(new RangeError(`${path} is not a partial tile of the tree of size ${this.#size}`));
    return Promise.resolve(this.#partialBytes(tile));
  };

  rootHash(): Promise<Uint8Array> {
    return new TileReader(this.#ownTiles, this.#size, this.#hasher).rootHash();
  }
}
