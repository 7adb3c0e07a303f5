// The scan counts what Buffer.indexOf counts, once each, however the memory is cut into views: property tests
// against the plain count, and a scan of this process for a pattern it holds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PatternCounter, scanMappings, scanProcessMemory } from './memoryScan.js';

function plainCount(memory: Uint8Array, needle: Uint8Array): number {
  const bytes = Buffer.from(memory);
  let n = 0;
  for (let i = bytes.indexOf(needle); i !== -1; i = bytes.indexOf(needle, i + 1)) n++;
  return n;
}

/** Feeds `memory` to a counter in views of `chunk` new bytes each, as scanProcessMemory reads a mapping. */
function countInViews(memory: Uint8Array, patterns: Record<string, Uint8Array>, chunk: number): Record<string, number> {
  const counter = new PatternCounter(patterns);
  const buffer = new Uint8Array(chunk + counter.overlap);
  let carried = 0;
  for (let at = 0; at < memory.length; at += chunk) {
    const n = Math.min(chunk, memory.length - at);
    buffer.set(memory.subarray(at, at + n), carried);
    const view = buffer.subarray(0, carried + n);
    counter.count(view, carried, 'anon');
    carried = Math.min(counter.overlap, view.length);
    buffer.copyWithin(0, view.length - carried, view.length);
  }
  return Object.fromEntries(Object.entries(counter.counts).map(([k, v]) => [k, v.hits]));
}

describe('PatternCounter', () => {
  it('counts every occurrence once, at any alignment and across views (property)', () => {
    // A two-letter alphabet makes overlapping and repeated occurrences common.
    const memory = fc.integer({ min: 1, max: 64 }).chain((words) => fc.uint8Array({ minLength: words * 8, maxLength: words * 8, min: 0, max: 1 }));
    fc.assert(
      fc.property(memory, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 8 }), (mem, picks, chunkWords) => {
        const patterns: Record<string, Uint8Array> = {};
        for (const [i, [at, length]] of picks.entries()) {
          const from = at % mem.length;
          const taken = mem.slice(from, from + length);
          patterns[`p${i}`] = taken.length > 0 ? taken : new Uint8Array([0]);
        }
        const expected = Object.fromEntries(Object.entries(patterns).map(([k, p]) => [k, plainCount(mem, p)]));
        assert.deepEqual(countInViews(mem, patterns, chunkWords * 8), expected);
      }),
      { numRuns: 300 },
    );
  });

  it('anchors on the most varied word, so runs of one byte cost no false count', () => {
    const ink = new Uint8Array(48).fill(0xff);
    ink.set(randomBytes(24), 24);
    const memory = new Uint8Array(4096).fill(0xff);
    memory.set(ink, 1003);
    memory.set(ink, 2048);
    assert.deepEqual(countInViews(memory, { ink }, 256), { ink: 2 });
    // White, then black: one alignment has only uniform words to anchor on, so this one is searched plainly.
    const edge = new Uint8Array(32).fill(0xff, 0, 16);
    memory.set(edge, 3000);
    assert.deepEqual(countInViews(memory, { ink, edge }, 256), { ink: 2, edge: 1 });
  });

  it('refuses an empty pattern and views that are not whole aligned words', () => {
    assert.throws(() => new PatternCounter({ empty: new Uint8Array(0) }), RangeError);
    const counter = new PatternCounter({ a: new Uint8Array([1]) });
    assert.throws(() => {
      counter.count(new Uint8Array(12), 0, 'anon');
    }, RangeError);
  });
});

describe('scanMappings', () => {
  // A fake address space: `maps` lines over `memory`, which starts at address 0x10000.
  const BASE = 0x10000;
  const reader = (memory: Uint8Array) => (buffer: Uint8Array, offset: number, length: number, position: number): number => {
    const from = position - BASE;
    const n = Math.max(0, Math.min(length, memory.length - from));
    buffer.set(memory.subarray(from, from + n), offset);
    return n;
  };
  const line = (start: number, end: number, perms = 'rw-p'): string => `${(BASE + start).toString(16)}-${(BASE + end).toString(16)} ${perms} 00000000 00:00 0`;

  it('finds a pattern that crosses from one mapping into the next one adjacent to it', () => {
    const memory = new Uint8Array(3 * 4096);
    const crossing = randomBytes(32);
    const short = crossing.subarray(4, 13);
    memory.set(crossing, 4096 - 16);
    // Two mappings back to back (an mprotect splits one), then one after a gap.
    const { counts } = scanMappings([line(0, 4096), line(4096, 8192, 'r--p'), line(8192 + 4096, 8192 + 8192)], reader(memory), { crossing, short });
    assert.equal(counts.crossing?.hits, 1);
    assert.equal(counts.short?.hits, 1);
  });

  it('joins no mappings that are apart, nor one whose read stopped short to the next', () => {
    const memory = new Uint8Array(6 * 4096);
    const pattern = randomBytes(32);
    // Halves at the end of page 0 and the start of page 2 (page 1 unmapped), and of page 3 and page 5 (page 4
    // mapped with page 3, but unreadable).
    for (const page of [0, 3]) {
      memory.set(pattern.subarray(0, 16), (page + 1) * 4096 - 16);
      memory.set(pattern.subarray(16), (page + 2) * 4096);
    }
    const read = reader(memory);
    const holed = (buffer: Uint8Array, offset: number, length: number, position: number): number => (position >= BASE + 4 * 4096 && position < BASE + 5 * 4096 ? 0 : read(buffer, offset, Math.min(length, position < BASE + 4 * 4096 ? BASE + 4 * 4096 - position : length), position));
    const { counts } = scanMappings([line(0, 4096), line(2 * 4096, 3 * 4096), line(3 * 4096, 5 * 4096), line(5 * 4096, 6 * 4096)], holed, { pattern });
    assert.equal(counts.pattern?.hits, 0);
  });
});

describe('scanProcessMemory', () => {
  it('finds a pattern this process holds, long and short', () => {
    const held = randomBytes(32);
    const hits = scanProcessMemory(process.pid, { held, short: held.subarray(3, 12) });
    assert.ok((hits.held?.hits ?? 0) >= 1, JSON.stringify(hits));
    assert.ok((hits.short?.hits ?? 0) >= 1, JSON.stringify(hits));
  });
});
