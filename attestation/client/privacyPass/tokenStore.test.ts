import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryTokenStore } from './tokenStore.js';

const slot = (digest: number, keyId: number): { challengeDigest: Uint8Array; tokenKeyId: Uint8Array } => ({ challengeDigest: new Uint8Array(32).fill(digest), tokenKeyId: new Uint8Array(32).fill(keyId) });

describe('MemoryTokenStore', () => {
  it('gives each token once, oldest first, by (challenge digest, token key ID)', async () => {
    const store = new MemoryTokenStore();
    await store.add(slot(1, 1), [Uint8Array.of(1), Uint8Array.of(2)]);
    await store.add(slot(1, 2), [Uint8Array.of(3)]);
    await store.add(slot(2, 1), []);
    assert.equal(await store.count(slot(1, 1)), 2);
    assert.deepEqual(await store.take(slot(1, 1)), Uint8Array.of(1));
    assert.deepEqual(await store.take(slot(1, 1)), Uint8Array.of(2));
    assert.equal(await store.take(slot(1, 1)), undefined);
    assert.equal(await store.take(slot(2, 1)), undefined);
    assert.deepEqual(await store.take(slot(1, 2)), Uint8Array.of(3));
    assert.equal(await store.count(slot(1, 2)), 0);
  });

  it('keeps its own copies of the tokens added', async () => {
    const store = new MemoryTokenStore();
    const token = Uint8Array.of(9);
    await store.add(slot(3, 3), [token]);
    token[0] = 0;
    assert.deepEqual(await store.take(slot(3, 3)), Uint8Array.of(9));
  });
});
