// `cloister witness`: help, key file checks, usage errors, and two witnesses cosigning a TileLog, in-process.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { entries } from '../../attestation/testing/memoryLog.js';
import { verifyCheckpoint } from '../../attestation/transparency/checkpoint.js';
import { noteVerifier } from '../../attestation/transparency/noteKeys.js';
import { generateNoteKey, logNoteSigner } from '../transparency/nodeNoteKeys.js';
import { TileLog } from '../transparency/tileLog.js';
import { cosign } from '../transparency/witnessClient.js';
import { processIo } from './io.js';
import { WITNESS_HELP, witnessCommand } from './witnessCommand.js';

const ORIGIN = 'log.example/cloister';
const dir = mkdtempSync(join(tmpdir(), 'witness-cli-'));
const keyFile = (name: string, mode: number): string => {
  const path = join(dir, name);
  writeFileSync(path, generateNoteKey().export({ type: 'pkcs8', format: 'pem' }), { mode });
  return path;
};

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string; url: string; stop: (() => Promise<void>) | undefined }> {
  let stdout = '';
  let stderr = '';
  let url = '';
  let stop: (() => Promise<void>) | undefined;
  const code = await witnessCommand(argv, { ...processIo, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, { stopSignal: (fn) => (stop = fn), onListening: (u) => (url = u), log: () => undefined });
  return { code, stdout, stderr, url, stop };
}

describe('cloister witness', async () => {
  const signer = await logNoteSigner(ORIGIN, generateNoteKey());
  const logArg = `${ORIGIN}=${signer.vkey}`;

  it('prints its help', async () => {
    const { code, stdout } = await run(['--help']);
    assert.deepEqual([code, stdout], [0, WITNESS_HELP]);
  });

  it('refuses a key file others may read, a key that is not Ed25519 PEM, a bad --log, and missing options, in one line each', async () => {
    const open = await run(['--key', keyFile('open.pem', 0o644), '--name', 'w', '--log', logArg, '--state', join(dir, 's0'), '--port', '0']);
    assert.equal(open.code, 2);
    assert.match(open.stderr, /NOTE_KEY_UNSAFE.*mode 0644/);
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'c2VjcmV0', { mode: 0o600 });
    const bad = await run(['--key', notPem, '--name', 'w', '--log', logArg, '--state', join(dir, 's0'), '--port', '0']);
    assert.match(bad.stderr, /NOTE_KEY_INVALID/);
    assert.ok(!bad.stderr.includes('c2VjcmV0'));
    assert.match((await run(['--key', notPem, '--name', 'w', '--log', 'no-vkey', '--state', dir])).stderr, /USAGE.*--log must be ORIGIN=VKEY/);
    assert.match((await run(['--key', notPem, '--name', 'w', '--log', `${ORIGIN}=nonsense`, '--state', dir])).stderr, /USAGE.*--log log\.example\/cloister/);
    assert.match((await run(['--name', 'w', '--log', logArg, '--state', dir])).stderr, /USAGE.*missing --key/);
    assert.equal((await run(['--key', notPem, '--name', 'w', '--log', logArg, '--state', dir, '--port', '70000'])).code, 2);
  });

  it('two witnesses print their vkeys and cosign a tile log\'s checkpoints, 2 of 2', async () => {
    const a = await run(['--key', keyFile('a.pem', 0o600), '--name', 'witness.example/a', '--log', logArg, '--state', join(dir, 'a'), '--port', '0']);
    const b = await run(['--key', keyFile('b.pem', 0o400), '--name', 'witness.example/b', '--log', logArg, '--state', join(dir, 'b'), '--port', '0']);
    try {
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const vkeyOf = (stderr: string): string => /vkey: (\S+)/.exec(stderr)?.[1] ?? assert.fail(stderr);
      const witnesses = [
        { url: a.url, vkey: vkeyOf(a.stderr) },
        { url: b.url, vkey: vkeyOf(b.stderr) },
      ];
      const log = await TileLog.open({ dir: join(dir, 'log'), origin: ORIGIN, signer, fsync: false });
      await log.append(entries(7));
      await cosign(log, witnesses, { threshold: 2 });
      await log.append(entries(9, 1));
      const { checkpoint } = await cosign(log, witnesses, { threshold: 2 });
      const trust = { log: { origin: ORIGIN, keys: [await noteVerifier(signer.vkey)] }, witnesses: { witnesses: await Promise.all(witnesses.map((w) => noteVerifier(w.vkey))), threshold: 2 } };
      assert.equal((await verifyCheckpoint(checkpoint, trust)).checkpoint.size, 16);
    } finally {
      await a.stop?.();
      await b.stop?.();
    }
  });
});
