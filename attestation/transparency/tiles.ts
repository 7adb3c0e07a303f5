// Tiled transparency logs, C2SP tlog-tiles: the static resources a log serves and how a client reads proofs from them.
//
//   tile/<L>/<N>[.p/<W>]        level L (0..63) tile N: W (1..255, partial) or 256 (full) consecutive 32-byte hashes;
//                               at level 0 the leaf hashes, at level L the MTH of each full tile of level L-1
//   tile/entries/<N>[.p/<W>]    entry bundle N: the entries of level 0 tile N, each as big-endian uint16 length || bytes
//
// <N> is written in 3-digit groups, all but the last prefixed with "x" (1234067 -> x001/x234/067). Hash n of a
// level L tile is the Merkle tree hash of entries [n * 256^L, (n + 1) * 256^L). For a tree of size s the rightmost
// tile of level L is partial with floor(s / 256^L) mod 256 hashes (none when that is 0).
//
// A TileReader fetches, through an injected fetcher, the tiles a tree of a given size has, and builds the RFC 9162
// inclusion and consistency proofs from them (merkle.ts), so a client needs no proof API, only static files.
import { concatBytes } from '../bytes.js';
import { ParseError } from '../errors.js';
import { webCryptoHasher, type Hasher } from '../hash.js';
import {
  consistencyProofSubtrees,
  HASH_SIZE,
  inclusionProofSubtrees,
  merkleRoot,
  subtreeHash,
  type InclusionProof,
  type NodeSource,
} from './merkle.js';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
/** An entry bundle's uint16 length prefix. */
export const MAX_ENTRY_SIZE = 0xffff;
const MAX_LEVEL = 63;

export interface TileId {
  /** A hash tile's level, or the entry bundles ('entries', which follow level 0). */
  readonly level: number | 'entries';
  readonly index: number;
  /** 1..255 for a partial tile, 256 for a full one. */
  readonly width: number;
}

/** Fetches a resource by its path below the log's prefix (`tile/0/x001/234`); a client over HTTP, a test over a map. */
export type TileFetcher = (path: string) => Promise<Uint8Array>;

function malformed(message: string, field = 'tile'): never {
  throw new ParseError('MALFORMED_TILE', message, { field });
}

function indexPath(n: number): string {
  const digits = String(n);
  const padded = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups = padded.match(/\d{3}/g) ?? [];
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

function checkTile({ level, index, width }: TileId): void {
  if (level !== 'entries' && (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL)) throw new RangeError(`tile level ${level} is not in 0..${MAX_LEVEL}`);
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`tile index ${index} is not an integer in 0..2^53-1`);
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new RangeError(`tile width ${width} is not in 1..${TILE_WIDTH}`);
}

export function tilePath(tile: TileId): string {
  checkTile(tile);
  return `tile/${tile.level}/${indexPath(tile.index)}${tile.width < TILE_WIDTH ? `.p/${tile.width}` : ''}`;
}

const TILE_PATH = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/** The tile a path names; MALFORMED_TILE for anything but the canonical path of a tile or an entry bundle. */
export function parseTilePath(path: string): TileId {
  const m = TILE_PATH.exec(path);
  if (m === null) malformed(`"${path}" is not a tile path tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]`, 'path');
  const [, levelText = '', indexText = '', widthText] = m;
  const level: TileId['level'] = levelText === 'entries' ? 'entries' : Number(levelText);
  const index = Number(indexText.replace(/x|\//g, ''));
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText);
  if ((level !== 'entries' && level > MAX_LEVEL) || (widthText !== undefined && width >= TILE_WIDTH) || !Number.isSafeInteger(index)) malformed(`"${path}" has a level, index or width out of range`, 'path');
  const tile: TileId = { level, index, width };
  if (tilePath(tile) !== path) malformed(`"${path}" is not the canonical path of its tile (leading x000 groups)`, 'path');
  return tile;
}

/** How many hashes a tree of `size` entries has at tile level `level` (for 'entries': its entries). */
function hashesAtLevel(level: number | 'entries', size: number): number {
  return Math.floor(size / TILE_WIDTH ** (level === 'entries' ? 0 : level));
}

/** Tile `index` of `level` as a tree of `size` entries has it (partial or full), or undefined when it has none. */
export function tileAt(level: number | 'entries', index: number, size: number): TileId | undefined {
  const available = hashesAtLevel(level, size);
  const full = Math.floor(available / TILE_WIDTH);
  if (index < full) return { level, index, width: TILE_WIDTH };
  const width = available % TILE_WIDTH;
  return index === full && width > 0 ? { level, index, width } : undefined;
}

/** The partial tiles of a tree of `size` entries, lowest level first, then its partial entry bundle. */
export function partialTiles(size: number): TileId[] {
  const out: TileId[] = [];
  for (let level = 0; hashesAtLevel(level, size) > 0; level++) {
    const tile = tileAt(level, Math.floor(hashesAtLevel(level, size) / TILE_WIDTH), size);
    if (tile !== undefined) out.push(tile);
  }
  const bundle = tileAt('entries', Math.floor(size / TILE_WIDTH), size);
  if (bundle !== undefined) out.push(bundle);
  return out;
}

/** The hashes of a hash tile, checked to be exactly `tile.width` hashes long. */
export function tileHashes(bytes: Uint8Array, tile: TileId): Uint8Array[] {
  if (bytes.length !== tile.width * HASH_SIZE) malformed(`${tilePath(tile)} is ${bytes.length} bytes, not ${tile.width} hashes of ${HASH_SIZE}`);
  return Array.from({ length: tile.width }, (_, i) => bytes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
}

export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length === 0 || entries.length > TILE_WIDTH) throw new RangeError(`an entry bundle holds 1..${TILE_WIDTH} entries, not ${entries.length}`);
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    if (e.length > MAX_ENTRY_SIZE) throw new RangeError(`an entry of ${e.length} bytes does not fit the uint16 length of an entry bundle`);
    parts.push(Uint8Array.of(e.length >> 8, e.length & 0xff), e);
  }
  return concatBytes(...parts);
}

/** The entries of a bundle, checked to be exactly `tile.width` of them with nothing after. */
export function decodeEntryBundle(bytes: Uint8Array, tile: TileId): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 2 > bytes.length) malformed(`${tilePath(tile)} ends inside the length of entry ${entries.length}`);
    const length = ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
    if (at + 2 + length > bytes.length) malformed(`${tilePath(tile)} entry ${entries.length} claims ${length} bytes, only ${bytes.length - at - 2} remain`);
    entries.push(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  if (entries.length !== tile.width) malformed(`${tilePath(tile)} holds ${entries.length} entries, not ${tile.width}`);
  return entries;
}

/** Reads a tree of a given size from its tiles: node hashes, the root, proofs, entries. Fetched tiles are cached. */
export class TileReader {
  readonly size: number;
  readonly #fetch: TileFetcher;
  readonly #hasher: Hasher;
  readonly #tiles = new Map<string, Promise<Uint8Array[]>>();

  constructor(fetch: TileFetcher, size: number, hasher: Hasher = webCryptoHasher) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`tree size ${size} is not an integer in 0..2^53-1`);
    this.#fetch = fetch;
    this.size = size;
    this.#hasher = hasher;
  }

  #tile(level: number | 'entries', index: number): Promise<Uint8Array[]> {
    const tile = tileAt(level, index, this.size);
    if (tile === undefined) throw new RangeError(`a tree of size ${this.size} has no tile ${index} at level ${level}`);
    const path = tilePath(tile);
    let hashes = this.#tiles.get(path);
    if (hashes === undefined) {
      hashes = this.#fetch(path).then((bytes) => (level === 'entries' ? decodeEntryBundle(bytes, tile) : tileHashes(bytes, tile)));
      this.#tiles.set(path, hashes);
    }
    return hashes;
  }

  /** The hash of the full subtree of 2^level entries starting at entry index * 2^level: one tile hash, or the MTH of up to 128 of them. */
  readonly nodeHash: NodeSource = async (level, index) => {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const span = 2 ** (level % TILE_HEIGHT);
    const first = index * span;
    const offset = first % TILE_WIDTH;
    const hashes = (await this.#tile(tileLevel, Math.floor(first / TILE_WIDTH))).slice(offset, offset + span);
    if (hashes.length !== span) throw new RangeError(`node ${index} of level ${level} is not in a tree of size ${this.size}`);
    return span === 1 ? (hashes[0] as Uint8Array) : merkleRoot(this.#hasher, hashes);
  };

  rootHash(): Promise<Uint8Array> {
    return subtreeHash(this.#hasher, { start: 0, end: this.size }, this.nodeHash);
  }

  leafHash(index: number): Promise<Uint8Array> {
    return this.nodeHash(0, index);
  }

  /** Entry `index`, from its entry bundle. */
  async entry(index: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) throw new RangeError(`entry ${index} is not in a tree of size ${this.size}`);
    return (await this.#tile('entries', Math.floor(index / TILE_WIDTH)))[index % TILE_WIDTH] as Uint8Array;
  }

  async inclusionProof(index: number): Promise<InclusionProof> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) throw new RangeError(`entry ${index} is not in a tree of size ${this.size}`);
    const hashes = await Promise.all(inclusionProofSubtrees(index, this.size).map((s) => subtreeHash(this.#hasher, s, this.nodeHash)));
    return { index, size: this.size, hashes };
  }

  /** The proof that this tree extends the tree of `olderSize` entries (empty for equal sizes and for the empty tree). */
  async consistencyProof(olderSize: number): Promise<Uint8Array[]> {
    if (!Number.isSafeInteger(olderSize) || olderSize < 0 || olderSize > this.size) throw new RangeError(`tree size ${olderSize} is not in 0..${this.size}`);
    if (olderSize === 0 || olderSize === this.size) return [];
    return Promise.all(consistencyProofSubtrees(olderSize, this.size).map((s) => subtreeHash(this.#hasher, s, this.nodeHash)));
  }
}
