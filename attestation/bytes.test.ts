import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bytesEqual, decodePaddedBase64, parseBase64, parseBase64Url, toBase64, toBase64Url } from './bytes.js';

describe('bytesEqual', () => {
  it('agrees with a byte-by-byte comparison at every length and alignment (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), fc.nat(7), fc.option(fc.nat(299)), (bytes, offA, offB, flip) => {
      const a = new Uint8Array(bytes.length + offA).subarray(offA);
      const b = new Uint8Array(bytes.length + offB).subarray(offB);
      a.set(bytes);
      b.set(bytes);
      if (flip !== null && flip < b.length) b[flip] = (b[flip] as number) ^ 0x80;
      const naive = a.every((x, i) => x === b[i]);
      assert.equal(bytesEqual(a, b), naive);
    }), { numRuns: 500 });
    assert.equal(bytesEqual(new Uint8Array(64), new Uint8Array(65)), false);
  });
});

describe('base64url', () => {
  it('round-trips any bytes, padded or not, and refuses other alphabets, bad lengths and stray bits', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      assert.deepEqual(parseBase64Url(toBase64Url(bytes)), bytes);
      assert.deepEqual(parseBase64Url(toBase64Url(bytes, true)), bytes);
      assert.doesNotMatch(toBase64Url(bytes), /[+/=]/);
    }));
    assert.equal(toBase64Url(new Uint8Array([0xfb, 0xff]), true), '-_8=');
    for (const bad of ['+/8=', 'AB=', 'A', 'AB==C', 'AAF', 'AB=A', 'AA===', ' AA']) assert.equal(parseBase64Url(bad), undefined, bad);
  });

  it('takes a string of the alphabet exactly when encoding what it decodes to gives the string back (property)', () => {
    const alphabet = fc.constantFrom(...Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'));
    // The definition: decode leniently (atob ignores stray bits), encode again, compare.
    const lenient = (text: string): Uint8Array => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
    fc.assert(fc.property(fc.string({ unit: alphabet, maxLength: 12 }), (text) => {
      if (text.length % 4 === 1) {
        assert.equal(parseBase64Url(text), undefined);
        return;
      }
      const decoded = lenient(text);
      assert.deepEqual(parseBase64Url(text), toBase64Url(decoded) === text ? decoded : undefined);
    }), { numRuns: 2000 });
  });
});

describe('base64 (canonical, padded)', () => {
  it('round-trips any bytes and refuses unpadded, url-safe, whitespace and stray-bit forms', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      assert.deepEqual(parseBase64(toBase64(bytes)), bytes);
    }));
    for (const bad of ['AB', 'AB=', '-_8=', 'AF==', 'AA A', 'AAA=\n', 'A===', '=AAA']) assert.equal(parseBase64(bad), undefined, bad);
  });
});

describe('decodePaddedBase64', () => {
  const alphabet = fc.constantFrom(...Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ é'));
  const PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  const viaAtob = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

  it('takes exactly the padded standard form and decodes it as atob does; canonical also refuses stray bits (property)', () => {
    fc.assert(fc.property(fc.string({ unit: alphabet, maxLength: 16 }), (text) => {
      const expected = PADDED.test(text) ? viaAtob(text) : undefined;
      assert.deepEqual(decodePaddedBase64(text, false), expected);
      assert.deepEqual(decodePaddedBase64(text, true), expected !== undefined && toBase64(expected) === text ? expected : undefined);
    }), { numRuns: 5000 });
  });
});
