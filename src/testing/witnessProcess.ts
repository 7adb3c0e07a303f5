// Test support: `cloister witness` in-process, with a new key, for the log in a directory (the origin and key its
// log.vkey names): its URL, its vkey, and what stops it.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processIo } from '../cli/io.js';
import { witnessCommand } from '../cli/witnessCommand.js';

export interface RunningWitness {
  readonly url: string;
  readonly vkey: string;
  stop(): Promise<void>;
}

/** Starts a witness named `name` for the log in `logDir`; its key and state go below `work`. */
export async function startWitness(work: string, logDir: string, name = 'witness.test/w1'): Promise<RunningWitness> {
  const logVkey = readFileSync(join(logDir, 'log.vkey'), 'utf8').trim();
  const origin = logVkey.split('+')[0] ?? '';
  const key = join(work, 'witness.pem');
  writeFileSync(key, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  let url = '';
  let stop: (() => Promise<void>) | undefined;
  let banner = '';
  const io = { ...processIo, stdout: () => undefined, stderr: (t: string) => (banner += t) };
  assert.equal(await witnessCommand(['--key', key, '--name', name, '--log', `${origin}=${logVkey}`, '--state', join(work, 'witness-state'), '--port', '0'], io, { stopSignal: (fn) => (stop = fn), onListening: (u) => (url = u), log: () => undefined }), 0);
  const vkey = /vkey: (\S+)/.exec(banner)?.[1];
  assert.ok(vkey !== undefined && stop !== undefined, banner);
  return { url, vkey, stop };
}
