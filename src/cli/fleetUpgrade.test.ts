// A rolling upgrade as the fleet's directory sees it (docs/deploy.md "Rolling upgrade"): `cloister fleet --log`
// lists a node of a new image only once that image's measurement is published, and drops a node of the old image
// once it is stopped. Two `cloister serve --simulated` nodes state their launch measurements
// (--simulated-measurement, as the image boot test's host does); the log is a directory served over loopback HTTP,
// written by `cloister publish`.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FLEET_DIRECTORY_PATH, parseFleetDirectory } from '../../attestation/fleet/fleetDirectory.js';
import { cli } from '../testing/cliRun.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { fleetCommand } from './fleetCommand.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';

const work = temporaryDirectories('cloister-fleet-upgrade-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const LOG = join(work, 'log');
const KEY = join(work, 'publisher.pem');
const OLD = '01'.repeat(48);
const NEW = '02'.repeat(48);

async function publish(measurement: string): Promise<void> {
  const file = join(work, `measurements-${measurement.slice(0, 2)}.json`);
  writeFileSync(file, JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: measurement.slice(0, 64), variant: 'test' }, 'sev-snp': [{ measurement, vcpus: 2, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }], tdx: [{ mrTd: measurement }] }));
  const r = await cli('publish', '--measurements', file, '--key', KEY, '--log', LOG, '--commit', '0123456789abcdef0123456789abcdef01234567');
  assert.equal(r.code, 0, r.stderr);
}

const silentIo = { ...processIo, stdout: () => undefined, stderr: () => undefined };

/** `cloister serve --simulated` in this process; returns its URL and how to stop it. */
async function node(args: readonly string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  let close: (() => Promise<void>) | undefined;
  let url = '';
  const logDestination = { write: () => true } as unknown as NodeJS.WritableStream;
  const code = await serveCommand(['--simulated', '--port', '0', '--models', 'none', ...args], silentIo, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u), logDestination });
  assert.equal(code, 0);
  return { url, stop: async () => close?.() };
}

describe('cloister fleet --log during a rolling upgrade', () => {
  let logServer: StaticServer;
  let oldNode: { url: string; stop: () => Promise<void> };
  let newNode: { url: string; stop: () => Promise<void> };
  let closeFleet: (() => Promise<void>) | undefined;
  let directoryUrl = '';
  const fleetLog: string[] = [];

  before(async () => {
    writeFileSync(KEY, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    await publish(OLD);
    logServer = await serveDirectory(LOG);
    oldNode = await node(['--simulated-measurement', OLD, '--ohttp-key-ids', '0-3']);
    newNode = await node(['--simulated-measurement', NEW, '--ohttp-key-ids', '4-7']);
    const logDestination = { write: (chunk: string) => fleetLog.push(chunk) } as unknown as NodeJS.WritableStream;
    const args = ['--node', `node-old=${oldNode.url}=0-3`, '--node', `node-new=${newNode.url}=4-7`, '--gateway', 'https://fleet.example', '--refresh', '1', '--max-age', '1', '--port', '0', '--trust-simulated', '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub')];
    const code = await fleetCommand(args, silentIo, { stopSignal: (fn) => (closeFleet = fn), onListening: (u) => (directoryUrl = `${u}${FLEET_DIRECTORY_PATH}`), logDestination });
    assert.equal(code, 0);
  });

  after(async () => {
    await closeFleet?.();
    await newNode.stop();
    await oldNode.stop();
    await logServer.close();
  });

  const listed = async (): Promise<string[]> => {
    const r = await fetch(directoryUrl);
    return parseFleetDirectory(new Uint8Array(await r.arrayBuffer())).nodes.map((n) => n.name);
  };

  /** Polls the directory until `want` is listed (its refresh is 1 s), or fails after 15 s with what it lists. */
  const until = async (want: readonly string[]): Promise<void> => {
    const deadline = Date.now() + 15_000;
    let names = await listed();
    while (JSON.stringify(names) !== JSON.stringify(want) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      names = await listed();
    }
    assert.deepEqual(names, want);
  };

  it('lists only the node whose measurement is published, and says why the other is left out', async () => {
    assert.deepEqual(await listed(), ['node-old']);
    assert.match(fleetLog.join(''), /"left":\[\{"name":"node-new","code":"MEASUREMENT_NOT_LOGGED","reason":"[^"]*the sev-snp launch measurement (02){48} is not in the transparency log/);
  });

  it('lists the new image\'s node once its measurement is published', async () => {
    await publish(NEW);
    await until(['node-old', 'node-new']);
  });

  it('drops the old image\'s node once it is stopped', async () => {
    await oldNode.stop();
    await until(['node-new']);
    assert.match(fleetLog.join(''), /"nodes":\["node-new"\],"left":\[\{"name":"node-old","code":"FLEET_NODE_UNAVAILABLE"/);
  });
});
