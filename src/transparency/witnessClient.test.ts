import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { entries } from '../../attestation/testing/memoryLog.js';
import { verifyCheckpoint } from '../../attestation/transparency/checkpoint.js';
import { noteVerifier } from '../../attestation/transparency/noteKeys.js';
import { parseSignedNote } from '../../attestation/transparency/signedNote.js';
import { serializeAddCheckpointRequest, TLOG_SIZE_MEDIA_TYPE } from '../../attestation/transparency/witnessProtocol.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { FileCheckpointStore } from './fileCheckpointStore.js';
import { generateNoteKey, logNoteSigner, witnessCosigner } from './nodeNoteKeys.js';
import { TileLog } from './tileLog.js';
import { Witness } from './witness.js';
import { cosign, type WitnessEndpoint } from './witnessClient.js';
import { MAX_ADD_CHECKPOINT_BYTES, startWitnessServer, type RunningWitness, type WitnessLogLine } from './witnessServer.js';

const ORIGIN = 'log.example/cloister';
const tempDir = temporaryDirectories('witness-client-');

describe('cosign: the log asks witnesses over HTTP (tlog-witness add-checkpoint)', async () => {
  const signer = await logNoteSigner(ORIGIN, generateNoteKey());
  const logKeys = [await noteVerifier(signer.vkey)];
  const running: RunningWitness[] = [];
  after(async () => {
    await Promise.all(running.map((r) => r.close()));
  });

  async function witness(name: string, log?: (line: WitnessLogLine) => void): Promise<WitnessEndpoint & { server: RunningWitness }> {
    const cosigner = await witnessCosigner(name, generateNoteKey(), () => 1_750_000_000);
    const w = new Witness({ logs: [{ origin: ORIGIN, keys: logKeys }], cosigner, store: new FileCheckpointStore(tempDir(), { fsync: false }) });
    const server = await startWitnessServer({ witness: w, port: 0, ...(log === undefined ? {} : { log }) });
    running.push(server);
    return { url: server.url, vkey: cosigner.vkey, server };
  }
  const openLog = (): Promise<TileLog> => TileLog.open({ dir: tempDir(), origin: ORIGIN, signer, fsync: false });
  const trust = async (ws: readonly WitnessEndpoint[], threshold: number) => ({
    log: { origin: ORIGIN, keys: logKeys },
    witnesses: { witnesses: await Promise.all(ws.map((w) => noteVerifier(w.vkey))), threshold },
  });
  const post = (url: string, body: string): Promise<Response> => fetch(`${url}/add-checkpoint`, { method: 'POST', body });

  it('gets 2 of 2 cosignatures, learns each witness\'s size from its 409, and the log serves the cosigned checkpoint', async () => {
    const lines: WitnessLogLine[] = [];
    const a = await witness('witness.example/a', (l) => lines.push(l));
    const b = await witness('witness.example/b');
    const log = await openLog();
    await log.append(entries(10));
    const first = await cosign(log, [a, b], { threshold: 2 });
    assert.equal((await verifyCheckpoint(first.checkpoint, await trust([a, b], 2))).checkpoint.size, 10);
    await log.append(entries(290, 1));
    // From old size 0 the witnesses answer 409 with 10; the client asks again from 10 with a proof.
    const second = await cosign(log, [a, b], { threshold: 2 });
    assert.deepEqual(second.witnesses.map((w) => [w.failure, w.size]), [[undefined, 300], [undefined, 300]]);
    assert.equal((await verifyCheckpoint(second.checkpoint, await trust([a, b], 2))).cosignatures.length, 2);
    assert.equal(await log.addCosignatures(second.checkpoint), true);
    assert.equal(new TextDecoder().decode(await log.fetch('checkpoint')), second.checkpoint);
    const reopened = await TileLog.open({ dir: log.dir, origin: ORIGIN, signer, fsync: false });
    assert.equal(reopened.checkpoint, second.checkpoint, 'the log opens again with the cosigned checkpoint');
    assert.equal(await log.addCosignatures(first.checkpoint), false, 'a cosigned older checkpoint is not served');
    assert.deepEqual(lines.map((l) => [l.route, l.status]), [['add-checkpoint', 200], ['add-checkpoint', 409], ['add-checkpoint', 200]]);
    assert.deepEqual(Object.keys(lines[0] ?? {}).sort(), ['ms', 'route', 'status'], 'the answer line has the allowlisted fields only');
  });

  it('fails with WITNESS_COSIGNING_FAILED naming a witness that is down when fewer than the threshold cosign', async () => {
    const a = await witness('witness.example/up');
    const b = await witness('witness.example/down');
    await b.server.close();
    const log = await openLog();
    await log.append(entries(3));
    await assert.rejects(cosign(log, [a, b], { threshold: 2, timeoutMs: 2000 }), (e: Error & { code: string; actual: string }) => {
      assert.equal(e.code, 'WITNESS_COSIGNING_FAILED');
      assert.match(e.message, /1 of 2 witnesses cosigned size 3/);
      assert.ok(e.message.includes(`${b.url} (unreachable (ECONNREFUSED))`), e.message);
      assert.equal(e.actual, b.url);
      return true;
    });
    const one = await cosign(log, [a, b], { threshold: 1 });
    assert.equal((await verifyCheckpoint(one.checkpoint, await trust([a, b], 1))).cosignatures.length, 1);
    await assert.rejects(cosign(log, [a], { threshold: 2 }), RangeError);
  });

  it('refuses a rollback (409 with the size) and a fork (409 at the same size, 422 with a proof from another root) over HTTP', async () => {
    const w = await witness('witness.example/strict');
    const log = await openLog();
    await log.append(entries(10));
    await cosign(log, [w], { threshold: 1 });
    const ten = log.checkpoint;
    await log.append(entries(10, 1));
    await cosign(log, [w], { threshold: 1 });
    const rollback = await post(w.url, serializeAddCheckpointRequest({ oldSize: 10, proof: [], checkpoint: ten }));
    assert.deepEqual([rollback.status, rollback.headers.get('content-type'), await rollback.text()], [409, TLOG_SIZE_MEDIA_TYPE, '20\n']);
    const below = await post(w.url, serializeAddCheckpointRequest({ oldSize: 20, proof: [], checkpoint: ten }));
    assert.equal(below.status, 400);

    const fork = await openLog();
    await fork.append(entries(20, 9));
    const same = await post(w.url, serializeAddCheckpointRequest({ oldSize: 20, proof: [], checkpoint: fork.checkpoint }));
    assert.deepEqual([same.status, await same.text()], [409, '20\n']);
    await fork.append(entries(5, 10));
    await assert.rejects(cosign(fork, [w], { threshold: 1 }), (e: Error & { code: string }) => e.code === 'WITNESS_COSIGNING_FAILED' && /\(422: the consistency proof from tree size 20 to 25/.test(e.message));
    // The witness still holds the honest log's size, and cosigns its next checkpoint.
    await log.append(entries(1, 2));
    assert.equal((await cosign(log, [w], { threshold: 1 })).witnesses[0]?.size, 21);
  });

  it('answers 404, 405 and 413 outside the protocol, and 400 for a body that does not parse', async () => {
    const w = await witness('witness.example/http');
    assert.equal((await fetch(`${w.url}/other`)).status, 404);
    const get = await fetch(`${w.url}/add-checkpoint`);
    assert.deepEqual([get.status, get.headers.get('allow')], [405, 'POST']);
    assert.equal((await post(w.url, 'x'.repeat(MAX_ADD_CHECKPOINT_BYTES + 1))).status, 413);
    assert.equal((await post(w.url, 'old 0\n\nnot a checkpoint')).status, 400);
  });

  it('does not count a witness whose answer carries a bad signature, or only another key\'s cosignature', async () => {
    const honest = await witness('witness.example/honest');
    const other = await witness('witness.example/other');
    const log = await openLog();
    await log.append(entries(4));
    // Two fake witnesses: one relays the honest witness's answer with a flipped bit, one relays another witness's.
    const relay = (target: string, mangle: (body: string) => string): Promise<string> => {
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          void post(target, Buffer.concat(chunks).toString()).then(async (r) => {
            res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? '' });
            res.end(r.status === 200 ? mangle(await r.text()) : await r.text());
          });
        });
      });
      running.push({ url: '', close: () => new Promise((resolve) => server.close(() => { resolve(); })) });
      return new Promise((resolve) => server.listen(0, '127.0.0.1', () => { resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`); }));
    };
    const flip = (body: string): string => {
      const [line] = parseSignedNote(`${log.checkpoint.split('\n\n')[0] ?? ''}\n\n${body}`).signatures;
      assert.ok(line);
      const signature = line.signature.map((b, i) => (i === 20 ? b ^ 1 : b));
      return `\u2014 ${line.name} ${Buffer.concat([Buffer.from([line.keyId >>> 24, (line.keyId >>> 16) & 0xff, (line.keyId >>> 8) & 0xff, line.keyId & 0xff]), signature]).toString('base64')}\n`;
    };
    const tampered = { url: await relay(honest.url, flip), vkey: honest.vkey };
    const impostor = { url: await relay(other.url, (b) => b), vkey: (await witness('witness.example/impostor')).vkey };
    await assert.rejects(cosign(log, [tampered, impostor], { threshold: 1 }), (e: Error & { code: string }) => {
      assert.equal(e.code, 'WITNESS_COSIGNING_FAILED');
      assert.match(e.message, /NOTE_SIGNATURE_INVALID/);
      assert.match(e.message, /NOTE_UNVERIFIED/);
      return true;
    });
  });
});
