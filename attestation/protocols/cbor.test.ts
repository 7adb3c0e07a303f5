import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../bytes.js';
import { CBOR_MAX_DEPTH, decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { ParseError } from '../errors.js';

const map = (entries: [string, CborValue][]): CborValue => new Map(entries);

describe('cbor', () => {
  // Encodings from RFC 8949 Appendix A, restricted to the supported subset.
  const examples: [CborValue, string][] = [
    [0, '00'],
    [23, '17'],
    [24, '1818'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [new Uint8Array(0), '40'],
    [fromHex('01020304'), '4401020304'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['\u00fc', '62c3bc'],
    [[], '80'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [map([['a', 1], ['b', [2, 3]]]), 'a26161016162820203'],
  ];
  for (const [value, hex] of examples) {
    it(`encodes and decodes ${hex}`, () => {
      assert.equal(toHex(encodeCbor(value)), hex);
      assert.deepEqual(decodeCbor(fromHex(hex)), value);
    });
  }

  it('sorts map keys by their encoded bytes (shorter first), whatever the insertion order', () => {
    assert.equal(toHex(encodeCbor(map([['bb', 1], ['c', 2], ['a', 3]]))), 'a3616103616302626262' + '01');
  });

  const rejected: [string, string, string][] = [
    ['5f4101ff', 'MALFORMED_FIELD', 'indefinite length'],
    ['1817', 'MALFORMED_FIELD', 'shortest form'],
    ['190017', 'MALFORMED_FIELD', 'shortest form'],
    ['1a0000ffff', 'MALFORMED_FIELD', 'shortest form'],
    ['1b00000000ffffffff', 'MALFORMED_FIELD', 'shortest form'],
    ['1b0020000000000000', 'MALFORMED_FIELD', 'exceeds 2^53'],
    ['1c', 'MALFORMED_FIELD', 'reserved'],
    ['20', 'MALFORMED_FIELD', 'major type 1'],
    ['c04100', 'MALFORMED_FIELD', 'major type 6'],
    ['f5', 'MALFORMED_FIELD', 'major type 7'],
    ['a10101', 'MALFORMED_FIELD', 'not a text string'],
    ['a2616101616102', 'MALFORMED_FIELD', 'duplicate map key'],
    ['a2616201616102', 'MALFORMED_FIELD', 'deterministic order'],
    ['62c328', 'MALFORMED_FIELD', 'UTF-8'],
    ['0000', 'TRAILING_BYTES', '1 bytes after'],
    ['', 'TRUNCATED', 'needed'],
    ['4201', 'TRUNCATED', 'needed'],
    ['19', 'TRUNCATED', 'needed'],
    ['9b001fffffffffffff', 'TRUNCATED', 'needed'],
  ];
  for (const [hex, code, text] of rejected) {
    it(`rejects ${hex || '(empty)'} with ${code}`, () => {
      assert.throws(() => decodeCbor(fromHex(hex)), (e: unknown) => e instanceof ParseError && e.code === code && e.message.includes(text));
    });
  }

  it(`refuses nesting deeper than ${CBOR_MAX_DEPTH}`, () => {
    assert.ok(decodeCbor(new Uint8Array([...new Array<number>(CBOR_MAX_DEPTH).fill(0x81), 0])));
    assert.throws(() => decodeCbor(new Uint8Array([...new Array<number>(CBOR_MAX_DEPTH + 1).fill(0x81), 0])), /nesting deeper/);
  });

  it('round-trips arbitrary values of the subset', () => {
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.nat(),
        fc.string({ unit: 'grapheme' }),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.array(fc.tuple(fc.string({ maxLength: 6 }), tie('value')), { maxLength: 4 }).map((es) => new Map(es)),
      ),
    }));
    fc.assert(fc.property(value as fc.Arbitrary<CborValue>, (v) => {
      const bytes = encodeCbor(v);
      assert.deepEqual(decodeCbor(bytes), v);
      assert.deepEqual(encodeCbor(decodeCbor(bytes)), bytes);
    }));
  });

  it('arbitrary bytes either decode or throw ParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodeCbor(bytes);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
      }
    }), { numRuns: 2000 });
  });
});
