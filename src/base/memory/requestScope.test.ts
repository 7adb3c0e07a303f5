import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { watchFrees } from '../../testing/freeWatch.js';
import { BufferPool } from './bufferPool.js';
import { CloisterError } from '../../../attestation/errors.js';
import { RequestScope, RequestScopeClosedError } from './requestScope.js';

const filled = <T extends ArrayBufferView>(v: T): T => {
  new Uint8Array(v.buffer, v.byteOffset, v.byteLength).fill(0x5a);
  return v;
};
const zero = (v: ArrayBufferView): boolean => new Uint8Array(v.buffer, v.byteOffset, v.byteLength).every((b) => b === 0);

describe('RequestScope', () => {
  it('on close wipes and frees what it made and adopted whole, wipes adopted parts of foreign buffers, gives borrowed buffers back wiped', async () => {
    const pool = new BufferPool();
    const scope = new RequestScope();
    const made = filled(scope.alloc(16, Float32Array));
    const adopted = scope.adopt(filled(new Uint8Array(32)));
    const foreign = new Uint8Array(64).fill(7);
    const part = scope.adopt(filled(foreign.subarray(8, 24)));
    const borrowed = scope.borrow(pool, 128);
    filled(new Uint8Array(borrowed));
    assert.equal(scope.bytes, 64 + 32 + 16 + 128);
    const { zeroWhenFreed } = await watchFrees(() => {
      scope.close();
    });
    assert.deepEqual(zeroWhenFreed, [true, true], 'the two whole buffers, each wiped before it was freed');
    assert.ok(made.buffer.detached && (adopted.buffer).detached);
    assert.ok(zero(part) && foreign[7] === 7 && foreign[24] === 7, 'only the adopted bytes of a foreign buffer');
    assert.equal(pool.bytes, 128, 'the borrowed buffer is back in its pool');
    assert.ok(zero(new Uint8Array(borrowed)));
    assert.equal(scope.bytes, 0);
  });

  it('closes once: a second close does nothing, and nothing can be made or adopted after', () => {
    const scope = new RequestScope();
    scope.close();
    scope.close();
    assert.ok(scope.closed);
    assert.throws(() => scope.alloc(4), RequestScopeClosedError);
    assert.throws(() => scope.borrow(new BufferPool(), 4), RequestScopeClosedError);
    const late = new Uint8Array(8).fill(1);
    assert.throws(() => scope.adopt(late), RequestScopeClosedError);
    assert.ok(zero(late), 'plaintext handed to a closed scope is still wiped');
  });

  it('dispose ends one buffer early: freed, given back to its pool, or (a part) only wiped; a copy it never held is wiped and freed', async () => {
    const pool = new BufferPool();
    const scope = new RequestScope();
    const made = filled(scope.alloc(8));
    const borrowed = scope.borrow(pool, 32);
    const inside = filled(new Uint8Array(borrowed, 4, 8));
    const copy = filled(new Float32Array(4));
    const { zeroWhenFreed } = await watchFrees(() => {
      scope.dispose(inside);
      assert.ok(zero(inside) && pool.bytes === 0, 'part of a borrowed buffer: wiped, still borrowed');
      scope.dispose(made, copy, undefined);
      scope.dispose(new Uint8Array(borrowed));
    });
    assert.deepEqual(zeroWhenFreed, [true, true]);
    assert.ok((made.buffer as ArrayBuffer).detached && copy.buffer.detached);
    assert.equal(pool.bytes, 32, 'given back at dispose');
    assert.equal(scope.bytes, 0);
    scope.close();
    assert.equal(pool.bytes, 32, 'not given back twice');
  });

  it('never touches a buffer again once it gave it back to its pool: another request may hold it', () => {
    const pool = new BufferPool();
    const a = new RequestScope();
    const borrowed = a.borrow(pool, 32);
    const stale = new Float32Array(borrowed);
    a.dispose(new Uint8Array(borrowed));
    const b = new RequestScope();
    const taken = b.borrow(pool, 32);
    assert.equal(taken, borrowed, 'the next request gets it');
    filled(new Uint8Array(taken));
    a.dispose(stale);
    assert.throws(() => a.adopt(stale), (e: unknown) => e instanceof CloisterError && e.code === 'INVALID_STATE');
    a.close();
    assert.ok(!taken.detached && new Uint8Array(taken).every((x) => x === 0x5a), 'the other request\'s buffer is intact');
    b.close();
    assert.equal(pool.acquire(32), borrowed, 'given back once, by its holder');
    assert.equal(pool.bytes, 0);
  });

  it('owns a buffer it gave back and then borrowed again', () => {
    const pool = new BufferPool();
    const scope = new RequestScope();
    const first = scope.borrow(pool, 16);
    scope.dispose(new Uint8Array(first));
    const again = scope.borrow(pool, 16);
    assert.equal(again, first);
    const view = filled(new Uint8Array(again));
    assert.ok(scope.owns(view));
    scope.dispose(view);
    assert.ok(zero(view) && pool.bytes === 16, 'given back, wiped, a second time');
  });

  it('owns what lies in its memory, not the copies a library makes; adopting twice changes nothing', () => {
    const scope = new RequestScope();
    const made = scope.alloc(16);
    const foreign = new Uint8Array(64);
    const part = scope.adopt(foreign.subarray(0, 32));
    assert.ok(scope.owns(made) && scope.owns(made.subarray(4, 8)) && scope.owns(part.subarray(8, 16)));
    assert.ok(!scope.owns(foreign.subarray(16, 48)) && !scope.owns(new Uint8Array(16)));
    scope.adopt(made);
    scope.adopt(foreign);
    assert.ok(scope.owns(foreign.subarray(40, 48)), 'adopting the whole buffer widens a part');
    scope.close();
    assert.ok(foreign.buffer.detached);
  });

  it('wipes with the wiper it was given (a benchmark that prices wiping skips it), and still frees and pools', () => {
    const pool = new BufferPool();
    const wiped: number[] = [];
    const scope = new RequestScope({ wipe: (v) => wiped.push(v.byteLength) });
    const made = filled(scope.alloc(8));
    const borrowed = scope.borrow(pool, 16);
    scope.close();
    assert.deepEqual(wiped.sort((a, b) => a - b), [8, 16]);
    assert.ok((made.buffer as ArrayBuffer).detached);
    assert.equal(pool.acquire(16), borrowed);
  });
});
