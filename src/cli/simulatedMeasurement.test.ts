// Issue 18, "change one byte of the image and it is refused", without QEMU: `cloister serve --simulated
// --simulated-measurement HEX` reports the launch measurement it is given (as the image boot test's host states
// it), so a server on the published measurement is accepted by `cloister verify --log`, and one on a measurement
// that differs in one byte is refused with MEASUREMENT_NOT_LOGGED. The boot test does the same with a real image.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../testing/cliRun.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';

const work = temporaryDirectories('cloister-simulated-measurement-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const LOG = join(work, 'log');
const PUBLISHED = '5e'.repeat(48);
const ONE_BYTE_OFF = `5f${'5e'.repeat(47)}`;

let logServer: StaticServer;

async function serving<T>(args: readonly string[], use: (url: string, output: () => string) => Promise<T>): Promise<T> {
  let text = '';
  let close: (() => Promise<void>) | undefined;
  let url = '';
  const io = { ...processIo, stdout: (t: string) => (text += t), stderr: (t: string) => (text += t) };
  const logs: string[] = [];
  const logDestination = { write: (chunk: string) => logs.push(chunk) } as unknown as NodeJS.WritableStream;
  const code = await serveCommand(['--simulated', '--port', '0', ...args], io, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u), logDestination });
  assert.equal(code, 0, text);
  try {
    return await use(url, () => text + logs.join(''));
  } finally {
    await close?.();
  }
}

const verify = (url: string): ReturnType<typeof cli> => cli('verify', url, '--trust-simulated', '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub'));

before(async () => {
  const key = join(work, 'publisher.pem');
  writeFileSync(key, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const measurements = join(work, 'measurements.json');
  writeFileSync(measurements, JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: 'ab'.repeat(32), variant: 'test' }, 'sev-snp': [{ measurement: PUBLISHED, vcpus: 2, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }], tdx: [{ mrTd: PUBLISHED }] }));
  const r = await cli('publish', '--measurements', measurements, '--key', key, '--log', LOG, '--commit', '0123456789abcdef0123456789abcdef01234567');
  assert.equal(r.code, 0, r.stderr);
  logServer = await serveDirectory(LOG);
});

after(async () => {
  await logServer.close();
});

describe('cloister serve --simulated --simulated-measurement', () => {
  it('SEV-SNP: the published measurement is accepted by verify --log, and says in its log that it was given', async () => {
    await serving(['--simulated-measurement', PUBLISHED.toUpperCase()], async (url, output) => {
      const r = await verify(url);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(PUBLISHED));
      assert.match(output(), /the SIMULATED TEE reports the launch measurement it was given, not one it measured/);
      assert.match(output(), new RegExp(`"snpMeasurement":"${PUBLISHED}"`));
    });
  });

  it('SEV-SNP: a measurement one byte off is refused with MEASUREMENT_NOT_LOGGED (exit 1)', async () => {
    await serving(['--simulated-measurement', ONE_BYTE_OFF], async (url) => {
      const r = await verify(url);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^REJECTED \\[MEASUREMENT_NOT_LOGGED\\] client\\.transparency-log: the sev-snp launch measurement ${ONE_BYTE_OFF} is not in the transparency log`));
    });
  });

  it('TDX: the measurement given is the MRTD', async () => {
    await serving(['--platform', 'tdx', '--simulated-measurement', PUBLISHED], async (url) => {
      const r = await cli('verify', url, '--trust-simulated', '--measurement', PUBLISHED);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`\\n {2}measurement {2}${PUBLISHED} \\(MRTD\\)`));
      assert.match(r.stdout, /\n {2}tcb {10}UpToDate: .* \(TCB evaluation data \d+\)\n/, 'the TCB the verifier evaluated, not a stale "not implemented"');
    });
  });

  for (const [why, args, message] of [
    ['a value that is not 48 bytes of hex', ['--simulated', '--simulated-measurement', 'ab'.repeat(47)], /--simulated-measurement must be 48 bytes in hex/],
    ['the option without --simulated', ['--simulated-measurement', PUBLISHED], /--simulated-measurement apply only with --simulated/],
  ] as const) {
    it(`refuses ${why} with one usage line (exit 2)`, async () => {
      let text = '';
      const code = await serveCommand([...args, '--port', '0'], { ...processIo, stdout: (t) => (text += t), stderr: (t) => (text += t) });
      assert.equal(code, 2);
      assert.match(text, message);
      assert.equal(text.trim().split('\n').length, 1, text);
    });
  }
});
