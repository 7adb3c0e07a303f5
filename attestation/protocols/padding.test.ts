import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PolicyError } from '../errors.js';
import { assertPaddingPolicy, DEFAULT_PADDING, paddedLength, sizeClassesProblems, sizeClassOf, type SizeClasses } from './padding.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const FINE: SizeClasses = { floor: KiB, fineFrom: 64 * KiB, steps: 8 };

describe('size classes', () => {
  it('default: powers of two from 1 KiB', () => {
    const table: [number, number][] = [
      [0, KiB],
      [1, KiB],
      [KiB, KiB],
      [KiB + 1, 2 * KiB],
      [3000, 4 * KiB],
      [64 * KiB + 1, 128 * KiB],
      [MiB, MiB],
      [MiB + 1, 2 * MiB],
    ];
    for (const [length, size] of table) assert.equal(sizeClassOf(DEFAULT_PADDING, length), size, `${length} bytes`);
  });

  it('fine steps: doubling below fineFrom, then `steps` classes per doubling', () => {
    const table: [number, number][] = [
      [1000, KiB],
      [40_000, 64 * KiB],
      [64 * KiB, 64 * KiB],
      [64 * KiB + 1, 72 * KiB],
      [72 * KiB + 1, 80 * KiB],
      [128 * KiB, 128 * KiB],
      [128 * KiB + 1, 144 * KiB],
      // a 1 MiB tensor with its framing: 1 MiB + 128 KiB rather than 2 MiB
      [MiB + 90, MiB + 128 * KiB],
    ];
    for (const [length, size] of table) assert.equal(sizeClassOf(FINE, length), size, `${length} bytes`);
  });

  it("'none' leaves every length as it is", () => {
    for (const n of [0, 1, 1000, MiB + 7]) assert.equal(sizeClassOf('none', n), n);
    assert.equal(paddedLength('none', 77, 55), 77);
  });

  it('pads the message so that the message and its encapsulation overhead fill the class exactly', () => {
    assert.equal(paddedLength(DEFAULT_PADDING, 100, 55), KiB - 55);
    assert.equal(paddedLength(DEFAULT_PADDING, KiB - 55, 55), KiB - 55);
    assert.equal(paddedLength(DEFAULT_PADDING, KiB - 54, 55), 2 * KiB - 55);
    assert.equal(paddedLength(DEFAULT_PADDING, 0, 32), KiB - 32);
  });
});

describe('padding policy validation', () => {
  const table: [string, unknown, string][] = [
    ['not an object', 42, '$'],
    ['an array', [1024], '$'],
    ['a floor that is not a power of two', { floor: 1000 }, '$.floor'],
    ['a zero floor', { floor: 0 }, '$.floor'],
    ['a floor below 64', { floor: 32 }, '$.floor'],
    ['a floor above 2^30', { floor: 2 ** 31 }, '$.floor'],
    ['a floor as a string', { floor: '1024' }, '$.floor'],
    ['fineFrom without steps', { floor: 1024, fineFrom: 65536 }, '$.steps'],
    ['steps without fineFrom', { floor: 1024, steps: 8 }, '$.fineFrom'],
    ['fineFrom below floor', { floor: 4096, fineFrom: 2048, steps: 8 }, '$.fineFrom'],
    ['steps that are not a power of two', { floor: 1024, fineFrom: 65536, steps: 3 }, '$.steps'],
    ['more than 64 steps', { floor: 1024, fineFrom: 65536, steps: 128 }, '$.steps'],
    ['an unknown field', { floor: 1024, ceiling: 2 }, '$.ceiling'],
    ['another string than none', 'off', '$'],
  ];
  for (const [what, value, field] of table) {
    it(`refuses ${what} (MALFORMED_POLICY, field ${field})`, () => {
      assert.throws(
        () => assertPaddingPolicy(value),
        (e: unknown) => e instanceof PolicyError && e.code === 'MALFORMED_POLICY' && e.field === field,
      );
    });
  }

  it('lists every bad field at once, under the path it is given', () => {
    assert.deepEqual(sizeClassesProblems({ floor: 3, fineFrom: 5, steps: 7 }, 'padding').map((p) => p.split(':')[0]), ['padding.floor', 'padding.fineFrom', 'padding.steps']);
  });

  it('accepts the default, none, and fine steps', () => {
    assert.equal(assertPaddingPolicy(DEFAULT_PADDING), DEFAULT_PADDING);
    assert.equal(assertPaddingPolicy('none'), 'none');
    assert.deepEqual(assertPaddingPolicy(FINE), FINE);
  });

  it('checks a policy it has not seen before using it: a zero floor throws rather than never ending', () => {
    assert.throws(() => sizeClassOf({ floor: 0 }, 10), (e: unknown) => e instanceof PolicyError && e.code === 'MALFORMED_POLICY');
  });
});

const policies: fc.Arbitrary<SizeClasses> = fc
  .tuple(fc.integer({ min: 6, max: 20 }), fc.option(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 6 })), { nil: undefined }))
  .map(([floorBits, fine]) => (fine === undefined ? { floor: 2 ** floorBits } : { floor: 2 ** floorBits, fineFrom: 2 ** (floorBits + fine[0]), steps: 2 ** fine[1] }));

describe('size class properties', () => {
  it('a class holds the length, is its own class, grows with the length, and costs at most one doubling (1/steps above fineFrom)', () => {
    fc.assert(
      fc.property(policies, fc.nat({ max: 2 ** 32 }), fc.nat({ max: 2 ** 20 }), (policy, n, more) => {
        const c = sizeClassOf(policy, n);
        assert.ok(Number.isSafeInteger(c) && c >= n && c >= policy.floor);
        assert.equal(sizeClassOf(policy, c), c);
        assert.ok(sizeClassOf(policy, n + more) >= c);
        if (n > policy.floor) assert.ok(c < 2 * n);
        if (policy.fineFrom !== undefined && policy.steps !== undefined && n > policy.fineFrom) assert.ok(c - n < n / policy.steps, `${n} -> ${c}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('every length between a length and its class has that class: the classes cut lengths into intervals', () => {
    fc.assert(
      fc.property(policies, fc.nat({ max: 2 ** 30 }), fc.double({ min: 0, max: 1, noNaN: true }), (policy, n, at) => {
        const c = sizeClassOf(policy, n);
        assert.equal(sizeClassOf(policy, n + Math.floor(at * (c - n))), c);
      }),
      { numRuns: 1000 },
    );
  });
});
