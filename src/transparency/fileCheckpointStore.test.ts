import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { entries, MemoryLog } from '../../attestation/testing/memoryLog.js';
import { testNoteSigner } from '../../attestation/testing/noteSigners.js';
import { parseCheckpoint } from '../../attestation/transparency/checkpoint.js';
import { parseSignedNote } from '../../attestation/transparency/signedNote.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { FileCheckpointStore, originHash } from './fileCheckpointStore.js';

const tempDir = temporaryDirectories('checkpoint-store-');
const failsWith = (code: string) => (e: unknown): boolean => e instanceof CloisterError && e.code === code;

describe('FileCheckpointStore', async () => {
  const log = new MemoryLog('example.com/log', await testNoteSigner('example.com/log'));
  await log.append(...entries(3));
  const note = await log.checkpoint();
  const { size, rootHash } = parseCheckpoint(parseSignedNote(note).text);

  it('keeps one note per origin under the hex SHA-256 of the origin, and reads it back', async () => {
    const store = new FileCheckpointStore(tempDir());
    assert.equal(await store.latest('example.com/log'), undefined);
    await store.save({ origin: 'example.com/log', size, rootHash, note });
    assert.equal(originHash('example.com/log').length, 64);
    assert.equal(await store.noteByOriginHash(originHash('example.com/log')), note);
    assert.equal(await store.noteByOriginHash('../checkpoint'), undefined);
    assert.deepEqual(await store.latest('example.com/log'), { origin: 'example.com/log', size, rootHash, note });
  });

  it('refuses to keep a note that is not the checkpoint it is given for, and a file that holds another origin\'s note', async () => {
    const dir = tempDir();
    const store = new FileCheckpointStore(dir, { fsync: false });
    await assert.rejects(store.save({ origin: 'example.com/log', size: size + 1, rootHash, note }), failsWith('TLOG_STATE_INVALID'));
    writeFileSync(join(dir, originHash('other.example/log')), note);
    await assert.rejects(store.latest('other.example/log'), failsWith('TLOG_STATE_INVALID'));
    await assert.rejects(new FileCheckpointStore(join(dir, originHash('other.example/log'))).save({ origin: 'example.com/log', size, rootHash, note }), failsWith('UNWRITABLE_OUTPUT'));
  });
});
