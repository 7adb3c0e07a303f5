// The in-memory spent-token store (bounded, refusing rather than evicting) and the issuer directory parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySpentTokens } from './spentTokens.js';

describe('Privacy Pass redemption: spent tokens in memory, the issuer directory', () => {
  it('the in-memory store drops expired entries to make room, sweeping at most once a second', async () => {
    let now = 0;
    const store = new MemorySpentTokens({ maxEntries: 2, now: () => now });
    const id = new Uint8Array(32);
    assert.equal(await store.spend(id, Uint8Array.of(1), 10), 'fresh');
    assert.equal(await store.spend(id, Uint8Array.of(2), 2000), 'fresh');
    assert.equal(await store.spend(id, Uint8Array.of(1), 10), 'replay');
    await assert.rejects(store.spend(id, Uint8Array.of(3), 30), { code: 'SPENT_TOKENS_UNAVAILABLE' });
    now = 15;
    // The failed attempt at 0 swept; the next sweep is a second later.
    await assert.rejects(store.spend(id, Uint8Array.of(3), 3000), { code: 'SPENT_TOKENS_UNAVAILABLE' });
    now = 1000;
    assert.equal(await store.spend(id, Uint8Array.of(3), 3000), 'fresh');
    assert.equal(store.size, 2);
  });
});
