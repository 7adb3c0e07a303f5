import assert from 'node:assert/strict';
import { afterEach, it } from 'node:test';
import { afterRequest, requestMajorCollection } from './hygiene.js';

const original = globalThis.gc;
afterEach(() => {
  globalThis.gc = original;
});

it('collects the young generation after a request, and everything once after a request that asked for it', () => {
  const calls: unknown[] = [];
  globalThis.gc = ((options?: unknown) => void calls.push(options)) as typeof globalThis.gc;
  afterRequest();
  requestMajorCollection();
  afterRequest();
  afterRequest();
  assert.deepEqual(calls, [{ type: 'minor' }, { type: 'major' }, { type: 'minor' }]);
});

it('collects everything within a second when no request ends after the one that asked', async () => {
  const calls: unknown[] = [];
  globalThis.gc = ((options?: unknown) => void calls.push(options)) as typeof globalThis.gc;
  requestMajorCollection();
  requestMajorCollection();
  await new Promise((r) => setTimeout(r, 1100));
  assert.deepEqual(calls, [{ type: 'major' }]);
});

it('does nothing without an exposed gc', () => {
  globalThis.gc = undefined;
  requestMajorCollection();
  assert.doesNotThrow(afterRequest);
});
