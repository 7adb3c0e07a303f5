import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseError } from '../../errors.js';
import { bigintToBytes, curveRhs, deserializeElement, deserializeScalar, GENERATOR, IDENTITY, invert, N, P, serializeElement, serializeScalar, sqrtField } from './p384.js';

const element = (prefix: number, x: bigint): Uint8Array => Uint8Array.of(prefix, ...bigintToBytes(x, 48));
const firstXOffCurve = (): bigint => {
  let x = 0n;
  while (sqrtField(curveRhs(x)) !== undefined) x++;
  return x;
};

describe('P-384 encodings', () => {
  const g = serializeElement(GENERATOR);

  it('the generator compresses to 03 || Gx (Gy is odd) and decodes back', () => {
    assert.equal(g[0], 0x03);
    assert.ok(serializeElement(deserializeElement(g)).every((b, i) => b === g[i]));
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['the identity (one zero byte)', Uint8Array.of(0), /is 1 bytes, not a 49-byte/],
    ['uncompressed prefix 04', Uint8Array.of(0x04, ...g.subarray(1)), /starts 0x04, not 0x02 or 0x03/],
    ['x = p', element(0x02, P), /x coordinate not below p/],
    ['x off the curve', element(0x02, firstXOffCurve()), /not on the P-384 curve/],
    ['one byte short', g.subarray(1), /is 48 bytes/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`deserializeElement refuses ${name}`, () => {
      assert.throws(() => deserializeElement(bytes), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_VOPRF' && message.test(e.message));
    });
  }

  it('the identity has no encoding', () => {
    assert.throws(() => serializeElement(IDENTITY), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_VOPRF');
  });

  it('scalars: 48 bytes below n; n itself and other lengths are refused', () => {
    assert.equal(deserializeScalar(serializeScalar(N - 1n)), N - 1n);
    assert.throws(() => deserializeScalar(bigintToBytes(N, 48)), /not below the P-384 group order/);
    assert.throws(() => deserializeScalar(new Uint8Array(47)), /is 47 bytes, not 48/);
  });

  it('invert: a * a^-1 = 1 mod p and mod n; 0 has inverse 0 (inv0)', () => {
    for (const m of [P, N]) assert.equal((123456789n * invert(123456789n, m)) % m, 1n);
    assert.equal(invert(0n, P), 0n);
  });
});
