import assert from 'node:assert/strict';
import { afterEach, beforeEach, it, mock } from 'node:test';
import { afterRequest, requestMajorCollection } from './hygiene.js';

const original = globalThis.gc;
let calls: unknown[] = [];
const stub = ((options?: unknown) => void calls.push(options)) as typeof globalThis.gc;
beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout'] });
  calls = [];
  globalThis.gc = stub;
});
afterEach(() => {
  mock.timers.reset();
  globalThis.gc = original;
});

it('collects the young generation after a request, and everything once after a request that asked for it', () => {
  afterRequest();
  requestMajorCollection();
  afterRequest();
  afterRequest();
  mock.timers.tick(1000);
  assert.deepEqual(calls, [{ type: 'minor' }, { type: 'major' }, { type: 'minor' }], 'the request that ended cancelled the fallback');
});

it('collects everything within a second when no request ends after the one that asked', () => {
  requestMajorCollection();
  requestMajorCollection();
  mock.timers.tick(999);
  assert.deepEqual(calls, []);
  mock.timers.tick(1);
  assert.deepEqual(calls, [{ type: 'major' }]);
});

it('without an exposed gc, the end of a request settles a pending major collection: nothing is left to fire later', () => {
  globalThis.gc = undefined;
  requestMajorCollection();
  afterRequest();
  globalThis.gc = stub;
  mock.timers.tick(1000);
  afterRequest();
  assert.deepEqual(calls, [{ type: 'minor' }]);
});
