import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ParseError } from './errors.js';
import { defineLayout, type FieldTable } from './layout.js';
import { onlyParseErrors } from './testing/parseErrors.js';

// A small versioned format: version 2 reserves what version 3 defines as `extra`.
const SAMPLE_SIZE = 0x20;
const SAMPLE = defineLayout({
  name: 'sample',
  size: SAMPLE_SIZE,
  variants: [2, 3],
  fields: {
    version: { offset: 0x000, size: 1, kind: 'u8' },
    flags: { offset: 0x001, size: 1, kind: 'u8' },
    kind: { offset: 0x002, size: 2, kind: 'u16' },
    count: { offset: 0x004, size: 4, kind: 'u32' },
    big: { offset: 0x008, size: 8, kind: 'u64' },
    digest: { offset: 0x010, size: 8, kind: 'bytes' },
    reservedV2: { offset: 0x018, size: 0x04, kind: 'zero', name: 'reserved after digest', variants: [2] },
    extra: { offset: 0x018, size: 4, kind: 'u32', variants: [3] },
    // The top half of `wide` is reserved, as SEV-SNP reserves the high bytes of SIGNATURE.R.
    wide: { offset: 0x01c, size: 4, kind: 'bytes' },
    wideHigh: { offset: 0x01e, size: 0x02, kind: 'zero', name: 'wide high bytes' },
  },
});

const fields = {
  version: 3,
  flags: 0x81,
  kind: 0xbeef,
  count: 0xdeadbeef,
  big: 0x0123456789abcdefn,
  digest: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
  extra: 0x11223344,
  wide: Uint8Array.from([9, 10, 0, 0]),
} as const;

function parseError(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ParseError, `expected ParseError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ParseError');
}

describe('defineLayout: parse and serialize from one table', () => {
  it('round-trips every kind, little-endian', () => {
    const bytes = SAMPLE.serialize(fields, 3);
    assert.equal(bytes.length, SAMPLE_SIZE);
    assert.deepEqual([...bytes.subarray(0, 8)], [3, 0x81, 0xef, 0xbe, 0xef, 0xbe, 0xad, 0xde]);
    const parsed = SAMPLE.parse(bytes, 3);
    assert.deepEqual(parsed, fields);
    assert.ok(Object.isFrozen(parsed));
    assert.deepEqual(SAMPLE.serialize(parsed, 3), bytes);
  });

  it('reads the fields a variant lacks as undefined, and leaves them unwritten', () => {
    const v2 = SAMPLE.serialize({ ...fields, version: 2 }, 2);
    assert.deepEqual([...v2.subarray(0x018, 0x01c)], [0, 0, 0, 0]);
    const parsed = SAMPLE.parse(v2, 2);
    assert.equal(parsed.extra, undefined);
    assert.equal(parsed.count, fields.count);
  });

  it('copies bytes fields, so changing the input does not change what was parsed', () => {
    const bytes = SAMPLE.serialize(fields, 3);
    const parsed = SAMPLE.parse(bytes, 3);
    bytes[0x010] = 0xff;
    assert.equal(parsed.digest[0], 1);
  });

  it('reads at a byteOffset inside a larger buffer and at an offset inside the bytes', () => {
    const pool = new Uint8Array(SAMPLE_SIZE + 40);
    pool.set(SAMPLE.serialize(fields, 3), 37);
    assert.deepEqual(SAMPLE.parse(pool.subarray(37, 37 + SAMPLE_SIZE), 3), fields);
    const at7 = pool.subarray(30);
    assert.deepEqual(SAMPLE.read(at7, 7, 3), fields);
    assert.equal(SAMPLE.get(at7, 'count', 7), fields.count);
  });

  it('writes into a larger buffer at an offset, and refuses a bytes value longer than its field', () => {
    const out = new Uint8Array(SAMPLE_SIZE + 4);
    SAMPLE.write(out, 4, fields, 3);
    assert.deepEqual(out.subarray(4), SAMPLE.serialize(fields, 3));
    assert.throws(() => { SAMPLE.write(new Uint8Array(SAMPLE_SIZE), 1, fields, 3); }, RangeError);
    assert.throws(() => SAMPLE.serialize({ ...fields, digest: new Uint8Array(9) }, 3), RangeError);
  });

  it('checks the total length first: TRUNCATED when short, TRAILING_BYTES at the end when long', () => {
    const bytes = SAMPLE.serialize(fields, 3);
    const short = parseError(() => SAMPLE.parse(bytes.subarray(0, SAMPLE_SIZE - 1), 3));
    assert.equal(short.code, 'TRUNCATED');
    assert.equal(short.message, `sample is ${SAMPLE_SIZE - 1} bytes, expected ${SAMPLE_SIZE}`);
    const long = parseError(() => SAMPLE.parse(Uint8Array.from([...bytes, 0]), 3));
    assert.equal(long.code, 'TRAILING_BYTES');
    assert.equal(long.offset, SAMPLE_SIZE);
    assert.equal(parseError(() => SAMPLE.read(bytes, 1, 3)).code, 'TRUNCATED');
  });

  it('names the must-be-zero range in hex and the bytes found there', () => {
    const bytes = SAMPLE.serialize({ ...fields, version: 2 }, 2);
    bytes[0x01a] = 0x5a;
    const e = parseError(() => SAMPLE.parse(bytes, 2));
    assert.equal(e.code, 'RESERVED_NONZERO');
    assert.equal(e.message, 'must-be-zero range 0x018..0x01c (reserved after digest) holds 00005a00');
    assert.equal(e.field, 'reserved after digest');
    assert.equal(e.actual, '00005a00');
    assert.equal(e.offset, 0x018);
    // Version 3 defines those bytes as `extra`.
    assert.equal(SAMPLE.parse(bytes, 3).extra, 0x005a0000);
  });

  it('checks a must-be-zero range inside a bytes field, and reports the first bad range by offset', () => {
    const bytes = SAMPLE.serialize(fields, 2);
    bytes[0x01f] = 1;
    bytes[0x018] = 1;
    assert.equal(parseError(() => SAMPLE.parse(bytes, 2)).field, 'reserved after digest');
    assert.equal(parseError(() => SAMPLE.parse(bytes, 3)).message, 'must-be-zero range 0x01e..0x020 (wide high bytes) holds 0001');
  });

  it('offsets in errors count from the start of the bytes given to read', () => {
    const pool = new Uint8Array(0x10 + SAMPLE_SIZE);
    pool.set(SAMPLE.serialize(fields, 2), 0x10);
    pool[0x10 + 0x018] = 7;
    const e = parseError(() => SAMPLE.read(pool, 0x10, 2));
    assert.equal(e.offset, 0x028);
    assert.match(e.message, /^must-be-zero range 0x028\.\.0x02c /);
  });

  it('sizes per variant', () => {
    const body = defineLayout({ name: 'body', size: { 1: 4, 2: 8 }, variants: [1, 2], fields: { a: { offset: 0x0, size: 4, kind: 'u32' }, b: { offset: 0x4, size: 4, kind: 'u32', variants: [2] } } });
    assert.equal(body.size(1), 4);
    assert.equal(body.size(2), 8);
    assert.deepEqual(body.parse(new Uint8Array(8), 2), { a: 0, b: 0 });
    assert.throws(() => body.size(), RangeError);
    assert.throws(() => body.parse(new Uint8Array(4), 3), RangeError);
  });
});

describe('defineLayout refuses a bad table when it is declared', () => {
  /** The message a table is refused with (a plain Error: a programming error, not bad input), or undefined. */
  const refused = (fieldsTable: FieldTable, size = 8, variants?: readonly number[]): string | undefined => {
    try {
      defineLayout({ name: 'bad', size, fields: fieldsTable, ...(variants === undefined ? {} : { variants }) });
    } catch (e) {
      assert.ok(e instanceof Error && !(e instanceof ParseError));
      return e.message;
    }
    return undefined;
  };

  it('overlapping fields', () => {
    assert.equal(refused({ a: { offset: 0x0, size: 4, kind: 'u32' }, b: { offset: 0x2, size: 4, kind: 'u32' } }), 'layout bad: a (0x000..0x004) overlaps b (0x002..0x006)');
  });

  it('overlapping fields of one variant, while different variants may reuse the bytes', () => {
    assert.ok(refused({ a: { offset: 0x0, size: 4, kind: 'u32', variants: [1] }, b: { offset: 0x2, size: 2, kind: 'u16', variants: [1, 2] } }, 8, [1, 2]));
    assert.equal(refused({ a: { offset: 0x0, size: 4, kind: 'u32', variants: [1] }, b: { offset: 0x0, size: 4, kind: 'zero', name: 'r', variants: [2] } }, 8, [1, 2]), undefined);
  });

  it('a field running past the total length', () => {
    assert.equal(refused({ a: { offset: 0x6, size: 4, kind: 'bytes' } }), 'layout bad: a (0x006..0x00a) runs past the size 0x008');
  });

  it('a must-be-zero range over an integer field, or sticking out of its bytes field', () => {
    assert.ok(refused({ a: { offset: 0x0, size: 4, kind: 'u32' }, r: { offset: 0x2, size: 2, kind: 'zero', name: 'r' } }));
    assert.ok(refused({ a: { offset: 0x0, size: 4, kind: 'bytes' }, r: { offset: 0x2, size: 4, kind: 'zero', name: 'r' } }));
  });

  it('an integer whose size is not its kind, empty or negative fields, unknown variants, missing sizes', () => {
    assert.ok(refused({ a: { offset: 0x0, size: 2, kind: 'u32' } }));
    assert.ok(refused({ a: { offset: 0x0, size: 0, kind: 'bytes' } }));
    assert.ok(refused({ a: { offset: -1, size: 1, kind: 'u8' } }));
    assert.ok(refused({ a: { offset: 0x0, size: 1, kind: 'u8', variants: [3] } }, 8, [1, 2]));
    assert.throws(() => defineLayout({ name: 'bad', size: { 1: 4 }, variants: [1, 2], fields: {} }), /no size for variant 2/);
  });
});

describe('layout parsers never throw anything but ParseError', () => {
  it('arbitrary bytes of any length, for each variant', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3 * SAMPLE_SIZE }), fc.constantFrom(2, 3), fc.nat({ max: 2 * SAMPLE_SIZE }), (bytes, variant, at) => {
        onlyParseErrors(() => SAMPLE.parse(bytes, variant));
        onlyParseErrors(() => SAMPLE.read(bytes, at, variant));
        onlyParseErrors(() => SAMPLE.get(bytes, 'big', at));
      }),
      { numRuns: 1000 },
    );
  });

  it('arbitrary bytes with their must-be-zero ranges cleared parse and serialize back byte for byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: SAMPLE_SIZE, maxLength: SAMPLE_SIZE }), fc.constantFrom(2, 3), (bytes, variant) => {
        if (variant === 2) bytes.fill(0, 0x018, 0x01c);
        bytes.fill(0, 0x01e, 0x020);
        assert.deepEqual(SAMPLE.serialize(SAMPLE.parse(bytes, variant), variant), bytes);
      }),
      { numRuns: 500 },
    );
  });
});
