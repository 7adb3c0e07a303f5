import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entries } from '../../attestation/testing/memoryLog.js';
import { serializeCheckpoint, verifyCheckpoint } from '../../attestation/transparency/checkpoint.js';
import { noteVerifier, type KeyedSigner } from '../../attestation/transparency/noteKeys.js';
import { parseSignatureLines, parseSignedNote, serializeSignedNote, signNote } from '../../attestation/transparency/signedNote.js';
import { serializeAddCheckpointRequest, TLOG_SIZE_MEDIA_TYPE } from '../../attestation/transparency/witnessProtocol.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { FileCheckpointStore, originHash } from './fileCheckpointStore.js';
import { generateNoteKey, logNoteSigner, witnessCosigner } from './nodeNoteKeys.js';
import { TileLog } from './tileLog.js';
import { handleAddCheckpoint, Witness, witnessStatus, type WitnessResponse } from './witness.js';

const ORIGIN = 'log.example/cloister';
const tempDir = temporaryDirectories('witness-');

describe('Witness: the tlog-witness add-checkpoint core', async () => {
  const logKey = generateNoteKey();
  const signer = await logNoteSigner(ORIGIN, logKey);
  const logKeys = [await noteVerifier(signer.vkey)];
  let clock = 1_750_000_000;
  const cosigner = await witnessCosigner('witness.example/w1', generateNoteKey(), () => clock);

  async function setup(): Promise<{ log: TileLog; witness: Witness; store: FileCheckpointStore; request: (old: number, checkpoint?: string, log?: TileLog) => Promise<WitnessResponse> }> {
    const log = await TileLog.open({ dir: tempDir(), origin: ORIGIN, signer, fsync: false });
    const store = new FileCheckpointStore(tempDir(), { fsync: false });
    const witness = new Witness({ logs: [{ origin: ORIGIN, keys: logKeys }], cosigner, store });
    const request = async (old: number, checkpoint?: string, from: TileLog = log): Promise<WitnessResponse> => {
      const proof = old === 0 ? [] : await from.consistencyProof(old);
      return handleAddCheckpoint(witness, serializeAddCheckpointRequest({ oldSize: old, proof, checkpoint: checkpoint ?? from.checkpoint }));
    };
    return { log, witness, store, request };
  }

  it('cosigns a first checkpoint and each consistent successor, and keeps the last one with the log\'s signature and its own', async () => {
    const { log, store, request } = await setup();
    await log.append(entries(10));
    clock = 1_750_000_100;
    const first = await request(0);
    assert.equal(first.status, 200);
    const [line] = parseSignatureLines(first.body);
    assert.equal(line?.name, 'witness.example/w1');
    await log.append(entries(300, 1));
    clock = 1_750_000_200;
    const second = await request(10);
    assert.equal(second.status, 200, second.body);
    const cosigned = `${log.checkpoint}${second.body}`;
    const trust = { log: { origin: ORIGIN, keys: logKeys }, witnesses: { witnesses: [await noteVerifier(cosigner.vkey)], threshold: 1 } };
    const verified = await verifyCheckpoint(cosigned, trust);
    assert.equal(verified.cosignatures[0]?.timestamp, 1_750_000_200);
    const kept = await store.noteByOriginHash(originHash(ORIGIN));
    assert.equal((await verifyCheckpoint(kept ?? assert.fail(), trust)).checkpoint.size, 310);
    assert.equal((await request(310)).status, 200, 'the same checkpoint again is cosigned again');
  });

  it('refuses a rollback: 409 with the known size for an older old size, 400 for a checkpoint below the old size', async () => {
    const { log, request } = await setup();
    await log.append(entries(5));
    const five = log.checkpoint;
    assert.equal((await request(0)).status, 200);
    await log.append(entries(5, 1));
    assert.equal((await request(5)).status, 200);
    const stale = await request(5, five);
    assert.deepEqual(stale, { status: 409, contentType: TLOG_SIZE_MEDIA_TYPE, body: '10\n' });
    const below = await request(10, five);
    assert.equal(below.status, 400);
    assert.match(below.body, /old size 10 is larger than the checkpoint's size 5/);
  });

  it('refuses a fork: 409 with the size for the same size with another root, 422 for a larger tree whose proof does not start from the cosigned root', async () => {
    const { log, store, request } = await setup();
    await log.append(entries(10));
    assert.equal((await request(0)).status, 200);
    const kept = await store.latest(ORIGIN);
    const fork = await TileLog.open({ dir: tempDir(), origin: ORIGIN, signer, fsync: false });
    await fork.append(entries(10, 9));
    const same = await handleAddCheckpoint(
      new Witness({ logs: [{ origin: ORIGIN, keys: logKeys }], cosigner, store }),
      serializeAddCheckpointRequest({ oldSize: 10, proof: [], checkpoint: fork.checkpoint }),
    );
    assert.deepEqual([same.status, same.contentType, same.body], [409, TLOG_SIZE_MEDIA_TYPE, '10\n']);
    await fork.append(entries(20, 8));
    const larger = await request(10, undefined, fork);
    assert.equal(larger.status, 422);
    assert.match(larger.body, /consistency proof from tree size 10 to 30 leads to old root/);
    assert.deepEqual(await store.latest(ORIGIN), kept, 'a refused checkpoint is not kept');
  });

  it('answers 404 for an unknown origin, 403 for another key or a bad signature, 400 for a malformed body, 422 for proofs the empty tree does not take', async () => {
    const { log, witness, request } = await setup();
    await log.append(entries(4));
    const other = await TileLog.open({ dir: tempDir(), origin: 'other.example/log', signer: await logNoteSigner('other.example/log', logKey), fsync: false });
    assert.equal((await request(0, other.checkpoint)).status, 404);
    const stranger: KeyedSigner = await logNoteSigner(ORIGIN, generateNoteKey());
    const foreign = serializeSignedNote(await signNote(parseSignedNote(log.checkpoint).text, [stranger]));
    assert.equal((await request(0, foreign)).status, 403);
    const note = parseSignedNote(log.checkpoint);
    const tampered = serializeSignedNote({ ...note, signatures: note.signatures.map((s) => ({ ...s, signature: s.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) })) });
    assert.equal((await request(0, tampered)).status, 403);
    assert.equal((await handleAddCheckpoint(witness, 'old 0\n\nnot a note')).status, 400);
    const withProof = serializeAddCheckpointRequest({ oldSize: 0, proof: [new Uint8Array(32)], checkpoint: log.checkpoint });
    assert.equal((await handleAddCheckpoint(witness, withProof)).status, 422);
    const emptyWrongRoot = serializeCheckpoint({ origin: ORIGIN, size: 0, rootHash: new Uint8Array(32), extensions: [] });
    assert.equal((await request(0, serializeSignedNote(await signNote(emptyWrongRoot, [signer])))).status, 422);
  });

  it('answers a bare 500 when keeping the checkpoint fails, and cosigns nothing', async () => {
    const { log } = await setup();
    await log.append(entries(2));
    const store = new FileCheckpointStore(tempDir(), { fsync: false });
    store.save = () => Promise.reject(new Error('disk full'));
    const answer = await handleAddCheckpoint(new Witness({ logs: [{ origin: ORIGIN, keys: logKeys }], cosigner, store }), serializeAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: log.checkpoint }));
    assert.deepEqual(answer, { status: 500, contentType: 'text/plain; charset=utf-8', body: 'internal error\n' });
    assert.equal(witnessStatus('not an error'), 500);
  });

  it('remembers across restarts, and of two concurrent requests from the same old size cosigns one and answers the other 409', async () => {
    const { log, store, request } = await setup();
    await log.append(entries(3));
    assert.equal((await request(0)).status, 200);
    const restarted = new Witness({ logs: [{ origin: ORIGIN, keys: logKeys }], cosigner, store: new FileCheckpointStore(store.dir, { fsync: false }) });
    const again = await handleAddCheckpoint(restarted, serializeAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: log.checkpoint }));
    assert.deepEqual([again.status, again.body], [409, '3\n']);
    await log.append(entries(2, 1));
    const five = log.checkpoint;
    const proofTo5 = await log.consistencyProof(3);
    await log.append(entries(4, 2));
    const [a, b] = await Promise.all([
      handleAddCheckpoint(restarted, serializeAddCheckpointRequest({ oldSize: 3, proof: await log.consistencyProof(3), checkpoint: log.checkpoint })),
      handleAddCheckpoint(restarted, serializeAddCheckpointRequest({ oldSize: 3, proof: proofTo5, checkpoint: five })),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
    const winner = a.status === 200 ? 9 : 5;
    assert.equal((await store.latest(ORIGIN))?.size, winner);
  });
});
