import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CloisterError } from '../../attestation/errors.js';
import { entries } from '../../attestation/testing/memoryLog.js';
import { parseCheckpoint, verifyCheckpoint, type CheckpointTrust } from '../../attestation/transparency/checkpoint.js';
import { advanceCheckpoint, MemoryCheckpointStore } from '../../attestation/transparency/checkpointStore.js';
import { EMPTY_ROOT } from '../../attestation/transparency/merkle.js';
import { noteVerifier, type KeyedSigner } from '../../attestation/transparency/noteKeys.js';
import { parseSignedNote } from '../../attestation/transparency/signedNote.js';
import { verifyLogEntry } from '../../attestation/transparency/verifyEntry.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { generateNoteKey, logNoteSigner } from './nodeNoteKeys.js';
import { TileLog } from './tileLog.js';

const ORIGIN = 'log.example/cloister';
const tempDir = temporaryDirectories('tile-log-');

const failsWith = (code: string) => (e: unknown): boolean => {
  assert.ok(e instanceof CloisterError, String(e));
  assert.equal(e.code, code, e.message);
  return true;
};

describe('TileLog: an append-only tile log on disk', async () => {
  const signer = await logNoteSigner(ORIGIN, generateNoteKey());
  const trust: CheckpointTrust = { log: { origin: ORIGIN, keys: [await noteVerifier(signer.vkey)] } };
  const open = (dir: string, s: KeyedSigner = signer, fsync = false): Promise<TileLog> => TileLog.open({ dir, origin: ORIGIN, signer: s, fsync });

  it('starts with a signed checkpoint of the empty tree and lays its files out as tlog-tiles', async () => {
    const dir = tempDir();
    const log = await open(dir, signer, true);
    const empty = await verifyCheckpoint(readFileSync(join(dir, 'checkpoint'), 'utf8'), trust);
    assert.equal(empty.checkpoint.size, 0);
    assert.deepEqual(empty.checkpoint.rootHash, EMPTY_ROOT);
    const r = await log.append(entries(300));
    assert.deepEqual([r.firstIndex, r.size], [0, 300]);
    for (const f of ['tile/0/000', 'tile/0/001.p/44', 'tile/1/000.p/1', 'tile/entries/000', 'tile/entries/001.p/44']) assert.ok(existsSync(join(dir, f)), f);
    assert.equal(readFileSync(join(dir, 'checkpoint'), 'utf8'), r.checkpoint);
    assert.equal(readFileSync(join(dir, 'tile/0/001.p/44')).length, 44 * 32);
  });

  it('gives proofs, read back from its files, that verify against its checkpoints for any batches of appends; a changed byte fails (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.nat(), async (batches, pick, flip) => {
        const log = await open(tempDir());
        const store = new MemoryCheckpointStore();
        const consistency = (older: number): Promise<Uint8Array[]> => log.consistencyProof(older);
        for (const [b, n] of batches.entries()) {
          const { checkpoint, size } = await log.append(entries(n, b));
          const index = pick % size;
          const entry = await log.reader().entry(index);
          const proof = (await log.inclusionProof(index)).hashes;
          await verifyLogEntry({ checkpoint, entry: { bytes: entry }, index, proof }, { trust, store, consistency });
          const bit = flip % (8 * 32 * Math.max(proof.length, 1));
          if (proof.length > 0) {
            const bad = proof.map((h, i) => (i === Math.floor(bit / 256) ? h.map((x, j) => (j === Math.floor(bit / 8) % 32 ? x ^ (1 << bit % 8) : x)) : h));
            await assert.rejects(verifyLogEntry({ checkpoint, entry: { bytes: entry }, index, proof: bad }, { trust }), failsWith('INCLUSION_PROOF_INVALID'));
          }
          await assert.rejects(verifyLogEntry({ checkpoint, entry: { bytes: Uint8Array.of(...entry, 0) }, index, proof }, { trust }), failsWith('INCLUSION_PROOF_INVALID'));
        }
        assert.equal((await store.latest(ORIGIN))?.size, log.size);
      }),
      { numRuns: 15 },
    );
  });

  it('opens again where it was, and goes on appending consistently', async () => {
    const dir = tempDir();
    const first = await open(dir);
    const { checkpoint } = await first.append(entries(700));
    const again = await open(dir);
    assert.equal(again.size, 700);
    assert.equal(again.checkpoint, checkpoint);
    await again.append(entries(10, 1));
    const store = new MemoryCheckpointStore();
    await advanceCheckpoint(store, await verifyCheckpoint(checkpoint, trust), () => Promise.resolve([]));
    assert.equal(await advanceCheckpoint(store, await verifyCheckpoint(again.checkpoint, trust), (older) => again.consistencyProof(older)), 'extended');
  });

  it('after a crash between tiles and checkpoint, reopens at the last checkpoint and overwrites what the lost append left', async () => {
    const dir = tempDir();
    const log = await open(dir);
    const { checkpoint } = await log.append(entries(100));
    await log.append(entries(200, 1)); // its tiles are on disk; now "crash" before its checkpoint:
    writeFileSync(join(dir, 'checkpoint'), checkpoint);
    const reopened = await open(dir);
    assert.equal(reopened.size, 100);
    const r = await reopened.append(entries(50, 2));
    const store = new MemoryCheckpointStore();
    await advanceCheckpoint(store, await verifyCheckpoint(checkpoint, trust), () => Promise.resolve([]));
    await advanceCheckpoint(store, await verifyCheckpoint(r.checkpoint, trust), (older) => reopened.consistencyProof(older));
    assert.deepEqual(await reopened.reader().entry(120), entries(50, 2)[20]);
  });

  it('refuses to open a directory whose tiles, checkpoint or key disagree (TLOG_STATE_INVALID)', async () => {
    const dir = tempDir();
    const log = await open(dir);
    await log.append(entries(300));
    const tile = join(dir, 'tile/0/001.p/44');
    const bytes = readFileSync(tile);
    writeFileSync(tile, bytes.map((b, i) => (i === 7 ? b ^ 1 : b)));
    await assert.rejects(open(dir), failsWith('TLOG_STATE_INVALID'));
    writeFileSync(tile, bytes.subarray(32));
    await assert.rejects(open(dir), failsWith('TLOG_STATE_INVALID'));
    rmSync(tile);
    await assert.rejects(open(dir), failsWith('TLOG_STATE_INVALID'));
    writeFileSync(tile, bytes);
    await open(dir);
    await assert.rejects(open(dir, await logNoteSigner(ORIGIN, generateNoteKey())), failsWith('TLOG_STATE_INVALID'));
    await assert.rejects(TileLog.open({ dir, origin: 'other.example/log', signer, fsync: false }), failsWith('TLOG_STATE_INVALID'));
  });

  it('refuses an entry over 65535 bytes without changing the log, and stops after a failed append until reopened', async () => {
    const dir = tempDir();
    const log = await open(dir);
    await log.append(entries(3));
    await assert.rejects(log.append([new Uint8Array(10), new Uint8Array(0x10000)]), failsWith('TLOG_ENTRY_TOO_LARGE'));
    assert.equal((await log.append(entries(1, 1))).size, 4);
    const failing: KeyedSigner = { ...signer, sign: () => Promise.reject(new Error('the HSM is gone')) };
    const broken = await open(dir, failing);
    await assert.rejects(broken.append(entries(2, 2)), failsWith('TLOG_STATE_INVALID'));
    await assert.rejects(broken.append(entries(2, 2)), (e: unknown) => failsWith('TLOG_STATE_INVALID')(e) && /must be opened again/.test((e as Error).message));
    const reopened = await open(dir);
    assert.equal(reopened.size, 4);
    assert.equal(parseCheckpoint(parseSignedNote(reopened.checkpoint).text).size, 4);
  });

  it('joins appends made while another is written into one batch: one checkpoint, each caller its own first index, the same tree as one by one', async () => {
    const log = await open(tempDir());
    await log.append(entries(1, 9));
    const writing = log.append(entries(2));
    const settled = await Promise.allSettled([writing, log.append(entries(3, 1)), log.append([new Uint8Array(0x10000)]), log.append(entries(1, 2)), log.append(entries(4, 3))]);
    assert.equal(settled.splice(2, 1)[0]?.status, 'rejected', 'an oversized entry fails its own append only');
    const results = settled.map((r) => (r.status === 'fulfilled' ? r.value : assert.fail('an append failed')));
    assert.deepEqual(results.map((r) => [r.firstIndex, r.size]), [[1, 11], [3, 11], [6, 11], [7, 11]]);
    assert.equal(new Set(results.map((r) => r.checkpoint)).size, 1, 'one checkpoint for the batch');
    const sequential = await open(tempDir());
    for (const batch of [entries(1, 9), entries(2), entries(3, 1), entries(1, 2), entries(4, 3)]) await sequential.append(batch);
    assert.equal(parseSignedNote(sequential.checkpoint).text, parseSignedNote(log.checkpoint).text);
  });
});
