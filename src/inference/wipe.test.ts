import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wipe, wipeAndFree } from './wipe.js';

describe('wipe', () => {
  it('zeroes every byte of views of any element type, and skips undefined', () => {
    const a = Float32Array.of(1.5, -2);
    const b = BigInt64Array.of(7n);
    const c = Uint8Array.of(1, 2, 3, 4).subarray(1, 3);
    wipe(a, undefined, b, c);
    assert.deepEqual([...a], [0, 0]);
    assert.deepEqual([...b], [0n]);
    assert.deepEqual([...new Uint8Array(c.buffer)], [1, 0, 0, 4], 'only the view\'s bytes');
  });

  it('wipeAndFree detaches each whole buffer once, leaves shared memory attached but zeroed', () => {
    const buffer = new ArrayBuffer(16);
    const first = new Uint8Array(buffer, 0, 8).fill(9);
    const second = new Uint8Array(buffer, 8, 8).fill(9);
    const shared = new Float32Array(new SharedArrayBuffer(8)).fill(3);
    wipeAndFree(first, second, undefined, shared);
    assert.equal(buffer.detached, true);
    assert.equal(first.length, 0);
    assert.equal(shared.buffer.byteLength, 8);
    assert.deepEqual([...shared], [0, 0]);
  });
});
