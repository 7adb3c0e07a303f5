import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64 } from '../bytes.js';
import { VerificationError } from '../errors.js';
import { entries, MemoryLog } from '../testing/memoryLog.js';
import { testNoteSigner } from '../testing/noteSigners.js';
import { type CheckpointTrust } from './checkpoint.js';
import { MemoryCheckpointStore } from './checkpointStore.js';
import { noteVerifier } from './noteKeys.js';
import { verifyLogEntry } from './verifyEntry.js';

function refusedWith(code: string, check: (e: VerificationError) => void = () => undefined): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof VerificationError, String(e));
    assert.equal(e.code, code, e.message);
    check(e);
    return true;
  };
}

describe('a client verifying entries offline, with the newest checkpoint it has seen', async () => {
  const signer = await testNoteSigner('example.com/log');
  const trust: CheckpointTrust = { log: { origin: 'example.com/log', keys: [await noteVerifier(signer.vkey)] } };

  /** A log with `n` entries, its checkpoint, and the claim for entry `index` (its bytes and audit path). */
  async function logOf(n: number, tag = 0): Promise<{ log: MemoryLog; checkpoint: string }> {
    const log = new MemoryLog('example.com/log', signer);
    await log.append(...entries(n, tag));
    return { log, checkpoint: await log.checkpoint() };
  }

  async function claim(log: MemoryLog, checkpoint: string, index: number): Promise<Parameters<typeof verifyLogEntry>[0]> {
    return { checkpoint, entry: { bytes: await log.reader().entry(index) }, index, proof: (await log.reader().inclusionProof(index)).hashes };
  }

  it('accepts an entry, then a grown log with a consistency proof from the tiles, and keeps the newest checkpoint', async () => {
    const store = new MemoryCheckpointStore();
    const { log, checkpoint } = await logOf(10);
    assert.equal((await verifyLogEntry(await claim(log, checkpoint, 3), { trust, store })).advance, 'first');
    assert.equal((await verifyLogEntry(await claim(log, checkpoint, 9), { trust, store })).advance, 'same');
    await log.append(...entries(290, 1));
    const grown = await log.checkpoint();
    const consistency = (older: number): Promise<Uint8Array[]> => log.reader().consistencyProof(older);
    assert.equal((await verifyLogEntry(await claim(log, grown, 299), { trust, store, consistency })).advance, 'extended');
    assert.equal((await store.latest('example.com/log'))?.size, 300);
    assert.equal((await store.latest('example.com/log'))?.note, grown);
  });

  it('refuses an inclusion proof for another tree: INCLUSION_PROOF_INVALID naming the checkpoint\'s root', async () => {
    const { log, checkpoint } = await logOf(10);
    const other = await logOf(10, 7);
    const c = await claim(other.log, other.checkpoint, 4);
    const root = await log.reader().rootHash();
    await assert.rejects(
      verifyLogEntry({ ...c, checkpoint }, { trust }),
      refusedWith('INCLUSION_PROOF_INVALID', (e) => {
        assert.equal(e.expected, toBase64(root));
        assert.match(e.message, /leaf 4 leads to root \S+ at tree size 10, not to /);
      }),
    );
    const bigger = await logOf(12);
    await assert.rejects(verifyLogEntry({ ...(await claim(log, checkpoint, 4)), checkpoint: bigger.checkpoint }, { trust }), refusedWith('INCLUSION_PROOF_INVALID'));
  });

  it('refuses a checkpoint that forks from the one seen before: same size, another root (CHECKPOINT_FORK)', async () => {
    const store = new MemoryCheckpointStore();
    const honest = await logOf(10);
    await verifyLogEntry(await claim(honest.log, honest.checkpoint, 0), { trust, store });
    const forked = await logOf(10, 9);
    const seenRoot = toBase64(await honest.log.reader().rootHash());
    const forkedRoot = toBase64(await forked.log.reader().rootHash());
    await assert.rejects(
      verifyLogEntry(await claim(forked.log, forked.checkpoint, 0), { trust, store }),
      refusedWith('CHECKPOINT_FORK', (e) => {
        assert.equal(e.expected, seenRoot);
        assert.equal(e.actual, forkedRoot);
        assert.match(e.message, /^example\.com\/log has two root hashes for tree size 10/);
      }),
    );
    assert.equal((await store.latest('example.com/log'))?.note, honest.checkpoint, 'the fork did not replace what was seen');
  });

  it('refuses a larger checkpoint of a forked log: its consistency proof does not lead from the seen root (CONSISTENCY_PROOF_INVALID)', async () => {
    const store = new MemoryCheckpointStore();
    const honest = await logOf(10);
    await verifyLogEntry(await claim(honest.log, honest.checkpoint, 0), { trust, store });
    const forked = await logOf(20, 9);
    const consistency = (older: number): Promise<Uint8Array[]> => forked.log.reader().consistencyProof(older);
    await assert.rejects(verifyLogEntry(await claim(forked.log, forked.checkpoint, 15), { trust, store, consistency }), refusedWith('CONSISTENCY_PROOF_INVALID'));
    await assert.rejects(verifyLogEntry(await claim(forked.log, forked.checkpoint, 15), { trust, store }), refusedWith('CONSISTENCY_PROOF_INVALID'));
  });

  it('refuses a checkpoint smaller than the one seen (CHECKPOINT_ROLLBACK), even an honest older one', async () => {
    const store = new MemoryCheckpointStore();
    const { log } = await logOf(5);
    const older = await log.checkpoint();
    const olderClaim = await claim(log, older, 2);
    await log.append(...entries(5, 1));
    const newer = await log.checkpoint();
    await verifyLogEntry(await claim(log, newer, 7), { trust, store });
    await assert.rejects(
      verifyLogEntry(olderClaim, { trust, store }),
      refusedWith('CHECKPOINT_ROLLBACK', (e) => {
        assert.equal(e.expected, 'at least 10');
        assert.equal(e.actual, '5');
      }),
    );
  });
});
