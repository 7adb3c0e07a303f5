import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { watchFrees } from '../../testing/freeWatch.js';
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

  it('wipeAndFree frees a buffer its view covers whole, after wiping it; wipes and keeps a part of a buffer, and shared memory', async () => {
    const whole = new Float32Array(4).fill(9);
    const pool = new ArrayBuffer(16);
    const part = new Uint8Array(pool, 4, 8).fill(9);
    const shared = new Float32Array(new SharedArrayBuffer(8)).fill(3);
    const { zeroWhenFreed } = await watchFrees(() => {
      wipeAndFree(whole, part, undefined, shared, whole);
    });
    assert.deepEqual(zeroWhenFreed, [true], 'one buffer freed, once, and wiped before');
    assert.equal(whole.buffer.detached, true);
    assert.equal(pool.detached, false);
    assert.deepEqual([...new Uint8Array(pool)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...shared], [0, 0]);
    wipe(whole, part);
  });
});
