// Issue 18, the bundle shipped with the evidence: `cloister serve --transparency-bundle FILE` puts the published
// Sigstore bundle into its RA-TLS certificate, and `cloister verify --log URL --publisher-key FILE` verifies that one
// exactly as one fetched from the log, without asking the log for it; a tampered one is refused with its code, and one
// that does not list the attested measurement is set aside and the log asked.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateDevChain } from '../tee/sim/devChain.js';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { cli } from '../testing/cliRun.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';

const work = temporaryDirectories('cloister-shipped-bundle-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const SIMULATED = (await simulatedMeasurementsHex())['sev-snp'];
const OTHER = 'ab'.repeat(48);
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const LOG = join(work, 'log');
const KEY = join(work, 'publisher.pem');
const bundlePath = (m: string): string => join(LOG, 'measurements', `${m}.sigstore.json`);
const bundlePaths = (s: StaticServer): string[] => s.requests.filter((p) => p.startsWith('/measurements/'));

async function publish(measurement: string): Promise<void> {
  const file = join(work, `${measurement.slice(0, 8)}.json`);
  writeFileSync(file, JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: 'cd'.repeat(32), variant: 'test' }, 'sev-snp': [{ measurement, vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }] }));
  const r = await cli('publish', '--measurements', file, '--key', KEY, '--log', LOG, '--commit', COMMIT);
  assert.equal(r.code, 0, r.stderr);
}

/** `cloister serve --simulated --transparency-bundle FILE`, stopped after `use`. */
async function serving<T>(bundle: string, use: (url: string) => Promise<T>): Promise<T> {
  let out = '';
  let url = '';
  let stop: (() => Promise<void>) | undefined;
  const io = { ...processIo, stdout: (t: string) => (out += t), stderr: (t: string) => (out += t) };
  const code = await serveCommand(['--simulated', '--models', 'none', '--port', '0', '--transparency-bundle', bundle], io, { stopSignal: (fn) => (stop = fn), onListening: (u) => (url = u), logDestination: { write: () => true } as unknown as NodeJS.WritableStream });
  assert.equal(code, 0, out);
  try {
    return await use(url);
  } finally {
    await stop?.();
  }
}

let logServer: StaticServer;
const verify = (url: string): ReturnType<typeof cli> => cli('verify', url, '--trust-simulated', '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub'));

before(async () => {
  await loadOrCreateDevChain(process.env.CLOISTER_STATE_DIR as string, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  writeFileSync(KEY, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
  chmodSync(KEY, 0o600);
  await publish(OTHER);
  await publish(SIMULATED);
  logServer = await serveDirectory(LOG);
});

after(async () => {
  await logServer.close();
});

describe('serve --transparency-bundle, then verify --log', () => {
  it('accepts with the shipped bundle and never asks the log for one', async () => {
    const r = await serving(bundlePath(SIMULATED), verify);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`measurement ${SIMULATED} listed at log index 1 of cloister\\.local/log \\(tree size 2\\)`));
    assert.deepEqual(bundlePaths(logServer), []);
  });

  it('refuses a tampered shipped bundle with its code, without falling back to the log', async () => {
    const tampered = join(work, 'tampered.sigstore.json');
    const json = JSON.parse(readFileSync(bundlePath(SIMULATED), 'utf8')) as { dsseEnvelope: { signatures: { sig: string }[] } };
    const sig = json.dsseEnvelope.signatures[0] as { sig: string };
    sig.sig = (sig.sig.startsWith('A') ? 'B' : 'A') + sig.sig.slice(1);
    writeFileSync(tampered, JSON.stringify(json));
    const r = await serving(tampered, verify);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^REJECTED \[DSSE_SIGNATURE_INVALID\] client\.transparency-log: /);
    assert.deepEqual(bundlePaths(logServer), []);
  });

  it('sets aside a shipped bundle that does not list the attested measurement and fetches from the log', async () => {
    const r = await serving(bundlePath(OTHER), verify);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(bundlePaths(logServer), [`/measurements/${SIMULATED}.sigstore.json`]);
  });

  it('accepts a shipped bundle older than the newest checkpoint seen, as a prefix of it (proof from the tiles)', async () => {
    const older = join(work, 'older.sigstore.json');
    copyFileSync(bundlePath(SIMULATED), older);
    await publish(SIMULATED);
    const newer = await serving(bundlePath(SIMULATED), verify);
    assert.equal(newer.code, 0, newer.stdout + newer.stderr);
    assert.match(newer.stdout, /listed at log index 2 of cloister\.local\/log \(tree size 3\)/);
    const before = logServer.requests.length;
    const r = await serving(older, verify);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /listed at log index 1 of cloister\.local\/log \(tree size 2\)/);
    // The log's key (no --log-key pinned), the tiles for the consistency proof and the hardware policy: no measurement bundle.
    const asked = logServer.requests.slice(before);
    assert.ok(asked.some((p) => p.startsWith('/tile/')) && asked.every((p) => p === '/log.vkey' || p === '/hardware-policy.sigstore.json' || p.startsWith('/tile/')), asked.join(' '));
  });

  it('refuses to start with a malformed bundle, in one line (exit 2)', async () => {
    const bad = join(work, 'bad.sigstore.json');
    copyFileSync(join(LOG, 'checkpoint'), bad);
    let out = '';
    const io = { ...processIo, stdout: (t: string) => (out += t), stderr: (t: string) => (out += t) };
    assert.equal(await serveCommand(['--simulated', '--models', 'none', '--port', '0', '--transparency-bundle', bad], io), 2);
    assert.match(out, /^error \[MALFORMED_[A-Z_]+\]: /);
    assert.equal(out.trimEnd().split('\n').length, 1);
    out = '';
    assert.equal(await serveCommand(['--simulated', '--http', '--transparency-bundle', bundlePath(SIMULATED)], io), 2);
    assert.match(out, /^error \[USAGE\]: --transparency-bundle travels in the RA-TLS certificate/);
  });
});
