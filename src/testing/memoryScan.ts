// Test support: counts byte patterns in another process's memory (/proc/PID/maps and /proc/PID/mem),
// by kind of mapping. Needs ptrace rights over the process (root, or its parent under Yama scope 1).
//
// A process holds 1.5 GB of readable mappings or more, and a fleet's scan looks for hundreds of patterns in
// each of its nodes: one Buffer.indexOf pass per pattern would cost about 40 ms per pattern and node. So every
// pattern of 15 bytes or more is found through 8-byte anchors instead, in one pass whatever their number: an
// occurrence starting at address s holds the 8-aligned word at offset k = (-s) mod 8 (and k + 8, k + 16, ...),
// so each pattern registers, for each k in 0..7, one of those words; the pass looks up every aligned word of
// memory and compares the whole pattern where an anchor matches. Shorter patterns, and those that would have
// to anchor on a run of one byte, keep Buffer.indexOf.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export interface PatternHits {
  readonly hits: number;
  /** Hits per mapping kind: [heap], [stack], anon, or the mapped file's base name. */
  readonly where: Readonly<Record<string, number>>;
}

const CHUNK = 1 << 20;
/** Less than this read means the scan did not see the process (no ptrace rights, or it is gone). */
const MIN_SCANNED = 16 << 20;
const WORD = 8;
/** The shortest pattern found through anchors: every alignment then has a whole aligned word inside it. */
const MIN_ANCHORED = 2 * WORD - 1;
const SLOT_BITS = 24;

function kindOf(path: string | undefined): string {
  if (path === undefined || path === '') return 'anon';
  if (path.startsWith('[')) return path.startsWith('[anon') ? 'anon' : path;
  return path.split('/').pop() ?? path;
}

interface Anchor {
  readonly hi: number;
  /** The anchor word's offset in the pattern. */
  readonly offset: number;
  readonly needle: Buffer;
  readonly counts: { hits: number; where: Record<string, number> };
}

const distinct = (bytes: Uint8Array, offset: number): number => new Set(bytes.subarray(offset, offset + WORD)).size;

// Two filters of independent hashes (murmur3's finaliser over differently mixed words): memory holds a few words
// (zeros above all) hundreds of millions of times, and one anchor sharing such a word's slot in a single filter
// would send the pass to the anchor map at each of them.
const mix = (h: number): number => {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> (32 - SLOT_BITS);
};
const slotA = (lo: number, hi: number): number => mix(lo ^ Math.imul(hi, 0x9e3779b1));
const slotB = (lo: number, hi: number): number => mix(hi ^ Math.imul(lo, 0x27d4eb2f) ^ 0x165667b1);

/**
 * Counts every occurrence of a set of patterns in views of memory read chunk by chunk. A view's first `carried`
 * bytes are the end of the previous one (a multiple of 8, at least the longest pattern less one), and an
 * occurrence that ends inside them was counted there. Views start at 8-aligned addresses.
 */
export class PatternCounter {
  readonly counts: Record<string, { hits: number; where: Record<string, number> }>;
  /** How many bytes a view must carry over from the previous one. */
  readonly overlap: number;
  /** Patterns found with Buffer.indexOf. */
  readonly #plain: (readonly [Buffer, { hits: number; where: Record<string, number> }])[] = [];
  readonly #filterA = new Uint8Array(1 << SLOT_BITS);
  readonly #filterB = new Uint8Array(1 << SLOT_BITS);
  readonly #anchors = new Map<number, Anchor[]>();

  constructor(patterns: Readonly<Record<string, Uint8Array>>) {
    this.counts = Object.fromEntries(Object.keys(patterns).map((k) => [k, { hits: 0, where: {} }]));
    const longest = Math.max(0, ...Object.values(patterns).map((p) => p.length));
    this.overlap = Math.ceil(Math.max(0, longest - 1) / WORD) * WORD;
    const word = new Uint8Array(WORD);
    const words = new Uint32Array(word.buffer);
    for (const [k, pattern] of Object.entries(patterns)) {
      const needle = Buffer.from(pattern);
      const counts = this.counts[k] as Anchor['counts'];
      if (needle.length === 0) throw new RangeError(`pattern "${k}" is empty`);
      // Of the aligned words an occurrence of each alignment holds, the one of most distinct bytes: a run of 0x00
      // or 0xff as anchor would send the pass to compare at every such word in memory. A pattern that has no
      // better anchor for some alignment (a row of pixels, white then black) keeps Buffer.indexOf.
      const offsets = Array.from({ length: WORD }, (_, first) => {
        let offset = first;
        for (let o = first; o + WORD <= needle.length; o += WORD) {
          if (distinct(needle, o) > distinct(needle, offset)) offset = o;
        }
        return offset;
      });
      if (needle.length < MIN_ANCHORED || offsets.some((o) => distinct(needle, o) === 1)) {
        this.#plain.push([needle, counts]);
        continue;
      }
      for (const offset of offsets) {
        word.set(needle.subarray(offset, offset + WORD));
        const lo = words[0] as number;
        const hi = words[1] as number;
        this.#filterA[slotA(lo, hi)] = 1;
        this.#filterB[slotB(lo, hi)] = 1;
        const list = this.#anchors.get(lo) ?? [];
        list.push({ hi, offset, needle, counts });
        this.#anchors.set(lo, list);
      }
    }
  }

  /** Counts the occurrences in `view` (8-aligned, its length a multiple of 8) that end after its first `carried` bytes. */
  count(view: Uint8Array, carried: number, kind: string): void {
    if (view.byteOffset % WORD !== 0 || view.length % WORD !== 0 || carried % WORD !== 0) throw new RangeError('a view and what it carries over are whole aligned words');
    const bytes = Buffer.from(view.buffer, view.byteOffset, view.length);
    const add = (c: Anchor['counts']): void => {
      c.hits++;
      c.where[kind] = (c.where[kind] ?? 0) + 1;
    };
    for (const [needle, c] of this.#plain) {
      for (let i = bytes.indexOf(needle); i !== -1; i = bytes.indexOf(needle, i + 1)) if (i + needle.length > carried) add(c);
    }
    if (this.#anchors.size === 0) return;
    const words = new Uint32Array(view.buffer, view.byteOffset, view.length / 4);
    const filterA = this.#filterA;
    const filterB = this.#filterB;
    for (let w = 0; w < words.length; w += 2) {
      const lo = words[w] as number;
      const hi = words[w + 1] as number;
      if (filterA[slotA(lo, hi)] === 0 || filterB[slotB(lo, hi)] === 0) continue;
      for (const a of this.#anchors.get(lo) ?? []) {
        if (a.hi !== hi) continue;
        const start = w * 4 - a.offset;
        const end = start + a.needle.length;
        if (start < 0 || end > bytes.length || end <= carried) continue;
        if (bytes.compare(a.needle, 0, a.needle.length, start, end) === 0) add(a.counts);
      }
    }
  }
}

/** Reads `length` bytes at address `position` into `buffer` at `offset`, as readSync on /proc/PID/mem; fewer at a hole. */
export type MemoryReader = (buffer: Uint8Array, offset: number, length: number, position: number) => number;

/**
 * Counts every occurrence of each pattern in the readable mappings of `maps` (/proc/PID/maps lines), read through
 * `read`. Mappings that follow one another without a gap are one stretch of memory (an mprotect or a differing
 * name splits one allocation into several), so an occurrence that crosses from one into the next is counted.
 */
export function scanMappings(maps: readonly string[], read: MemoryReader, patterns: Readonly<Record<string, Uint8Array>>): { counts: PatternCounter['counts']; scanned: number } {
  const counter = new PatternCounter(patterns);
  const overlap = counter.overlap;
  const buffer = new Uint8Array(CHUNK + overlap);
  let scanned = 0;
  let carried = 0;
  // Where the bytes carried in `buffer` end: the address the next mapping must start at to continue them.
  let carriedEnd = -1;
  for (const line of maps) {
    const [range, perms, , , , path] = line.split(/\s+/, 6);
    if (range === undefined || perms?.[0] !== 'r' || path === '[vvar]' || path === '[vsyscall]' || path === '[vvar_vclock]') continue;
    const [start, end] = range.split('-').map((h) => parseInt(h, 16)) as [number, number];
    const kind = kindOf(path);
    if (start !== carriedEnd) carried = 0;
    carriedEnd = -1;
    for (let at = start; at < end; at += CHUNK) {
      let n: number;
      try {
        n = read(buffer, carried, Math.min(CHUNK, end - at), at);
      } catch {
        break;
      }
      scanned += n;
      // Mappings and reads are whole pages; a short read ends the mapping's scan below.
      const view = buffer.subarray(0, carried + n - (n % WORD));
      counter.count(view, carried, kind);
      carried = Math.min(overlap, view.length);
      buffer.copyWithin(0, view.length - carried, view.length);
      if (n < Math.min(CHUNK, end - at)) break;
      carriedEnd = at + n;
    }
    if (carriedEnd !== end) carriedEnd = -1;
  }
  return { counts: counter.counts, scanned };
}

/**
 * Counts every occurrence of each pattern in the readable mappings of `pid`; throws when it could read
 * less than 16 MiB, so that a scan that saw nothing never reports a clean process.
 */
export function scanProcessMemory(pid: number, patterns: Readonly<Record<string, Uint8Array>>): Record<string, PatternHits> {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n');
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  let scan;
  try {
    scan = scanMappings(maps, (buffer, offset, length, position) => readSync(fd, buffer, offset, length, position), patterns);
  } finally {
    closeSync(fd);
  }
  if (scan.scanned < MIN_SCANNED) throw new Error(`read only ${scan.scanned} bytes of process ${pid}'s memory: no ptrace rights over it, or it has exited`);
  return scan.counts;
}
