import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { webCryptoHasher } from '../../../attestation/hash.js';
import { nodeHasher } from './nodeHasher.js';

describe('nodeHasher', () => {
  it('gives the WebCrypto digest of the joined parts, for both hashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('SHA-256' as const, 'SHA-384' as const), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), async (name, parts) => {
        assert.deepEqual(await nodeHasher.digest(name, parts), await webCryptoHasher.digest(name, parts));
      }),
      { numRuns: 200 },
    );
  });

  it('hashes the empty input to the known SHA-384 of nothing', async () => {
    const empty = Buffer.from(await nodeHasher.digest('SHA-384', [])).toString('hex');
    assert.equal(empty, '38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b');
  });
});
