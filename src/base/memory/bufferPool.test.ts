import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferPool } from './bufferPool.js';

describe('BufferPool', () => {
  it('hands back a released buffer of the same size, wiped', () => {
    const pool = new BufferPool();
    const a = pool.acquire(64);
    new Uint8Array(a).fill(0x41);
    pool.release(a);
    assert.equal(pool.bytes, 64);
    const b = pool.acquire(64);
    assert.equal(b, a);
    assert.ok(new Uint8Array(b).every((x) => x === 0));
    assert.equal(pool.bytes, 0);
    assert.notEqual(pool.acquire(64), a, 'an empty pool allocates');
    assert.equal(pool.acquire(32).byteLength, 32);
  });

  it('keeps at most perSize buffers of a size and maxBytes in all, wiping even those it drops', () => {
    const pool = new BufferPool({ perSize: 2, maxBytes: 100 });
    const [a, b, c] = [pool.acquire(40), pool.acquire(40), pool.acquire(40)];
    for (const x of [a, b, c]) new Uint8Array(x).fill(1);
    pool.release(a);
    pool.release(b);
    pool.release(c);
    assert.equal(pool.bytes, 80);
    assert.ok(new Uint8Array(c).every((x) => x === 0), 'dropped, but wiped');
    const d = pool.acquire(30);
    new Uint8Array(d).fill(1);
    pool.release(d);
    assert.equal(pool.bytes, 80, 'over maxBytes: dropped');
    pool.release(a);
    assert.equal(pool.bytes, 80, 'a buffer already held is not kept twice');
  });
});
