// `cloister publish --refresh`: statements published before a witness was configured carry a checkpoint the witness
// never cosigned, so `verify --witness` refuses them; once a `cloister witness` runs, a refresh has it cosign the
// log's newest checkpoint and rewrites every bundle (measurements and hardware policy) with a proof at that
// checkpoint, appending nothing, and `verify --witness` accepts.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateDevChain } from '../tee/sim/devChain.js';
import { startAttestedServer, type LoopbackServer } from '../tee/sim/ratlsServer.js';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { cli } from '../testing/cliRun.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { startWitness } from '../testing/witnessProcess.js';

const work = temporaryDirectories('cloister-publish-refresh-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const SIMULATED = (await simulatedMeasurementsHex())['sev-snp'];
const LOG = join(work, 'log');
const KEY = join(work, 'publisher.pem');

let server: LoopbackServer;
let logServer: StaticServer;
let witnessUrl = '';
let witnessVkey = '';
let stopWitness: (() => Promise<void>) | undefined;

const verify = (...more: string[]): ReturnType<typeof cli> => cli('verify', server.url, '--trust-simulated', '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub'), ...more);
const cosignatureLines = (): number => readFileSync(join(LOG, 'checkpoint'), 'utf8').split('\n').filter((l) => l.startsWith('— witness.test/w1 ')).length;

/** `cloister publish OPTIONS --key KEY --log LOG` of `document` written to `name`; it must succeed. */
async function publish(option: '--measurements' | '--hardware-policy', name: string, document: object, ...more: string[]): Promise<void> {
  writeFileSync(join(work, name), JSON.stringify(document));
  const r = await cli('publish', option, join(work, name), '--key', KEY, '--log', LOG, ...more);
  assert.equal(r.code, 0, r.stderr);
}

before(async () => {
  writeFileSync(KEY, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const snp = { measurement: SIMULATED, vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' };
  await publish('--measurements', 'm.json', { schema: 'cloister-measurements/v1', image: { manifest: 'cd'.repeat(32), variant: 'test' }, 'sev-snp': [snp] }, '--commit', 'ab'.repeat(20));
  await publish('--hardware-policy', 'hardware-policy.json', { schema: 'cloister-hardware-policy/v1', version: 1, 'sev-snp': { minTcb: { Milan: { snp: 24 } } } });
  logServer = await serveDirectory(LOG);
  server = await startAttestedServer(await loadOrCreateDevChain(process.env.CLOISTER_STATE_DIR as string, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048));
});

after(async () => {
  await stopWitness?.();
  await server.close();
  await logServer.close();
});

describe('cloister publish --refresh', () => {
  it('refuses what it does not take, and a log key that does not exist (nothing is created)', async () => {
    const withKey = await cli('publish', '--refresh', '--log', LOG, '--key', KEY);
    assert.equal(withKey.code, 2);
    assert.equal(withKey.stderr, 'error [USAGE]: --refresh signs and appends nothing: it takes no --key (see cloister publish --help)\n');
    assert.match((await cli('publish', '--refresh', '--log', LOG, '--measurements', 'm.json')).stderr, /^error \[USAGE\]: --refresh signs and appends nothing: it takes no --measurements/);
    assert.match((await cli('publish', '--refresh', '--log', LOG, '--log-key', join(work, 'absent.pem'))).stderr, /^error \[UNREADABLE_INPUT\]: cannot read key file ".*absent\.pem": ENOENT/);
    assert.match((await cli('publish', '--refresh', '--log', join(work, 'no-log'), '--log-key', `${LOG}.log-key.pem`)).stderr, /\nerror \[TLOG_STATE_INVALID\]: .*no-log holds no log \(no checkpoint\): nothing to refresh/);
  });

  it('a witness configured after publishing: verify --witness refuses, publish --refresh has it cosign, verify --witness accepts', async () => {
    const before = await verify();
    assert.equal(before.code, 0, before.stdout + before.stderr);

    const witness = await startWitness(work, LOG);
    stopWitness = () => witness.stop();
    witnessUrl = witness.url;
    witnessVkey = witness.vkey;

    const unwitnessed = await verify('--witness', witnessVkey);
    assert.equal(unwitnessed.code, 1);
    assert.match(unwitnessed.stdout, /^REJECTED \[WITNESS_COSIGNATURES_MISSING\] client\.transparency-log: /);

    const checkpointBefore = readFileSync(join(LOG, 'checkpoint'), 'utf8').split('\n\n')[0];
    const bundlesBefore = readdirSync(join(LOG, 'bundles')).length;
    const r = await cli('publish', '--refresh', '--log', LOG, '--witness', `${witnessUrl}=${witnessVkey}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^refreshed: 4 bundle\(s\) in .*\/log now prove inclusion at tree size 2, in a checkpoint with 1 witness cosignature\(s\)\n$/);
    assert.equal(readFileSync(join(LOG, 'checkpoint'), 'utf8').split('\n\n')[0], checkpointBefore, 'nothing appended: the same checkpoint text');
    assert.equal(readdirSync(join(LOG, 'bundles')).length, bundlesBefore, 'each bundle of bundles/ replaced, none added');
    assert.equal(cosignatureLines(), 1);

    const accepted = await verify('--witness', witnessVkey);
    assert.equal(accepted.code, 0, accepted.stdout + accepted.stderr);
    assert.match(accepted.stdout, /\n {2}hardware {5}hardware policy version 1 at log index 1 of cloister\.local\/log\n/);
  });

  it('refreshed again, the checkpoint keeps one cosignature line per witness', async () => {
    const r = await cli('publish', '--refresh', '--log', LOG, '--witness', `${witnessUrl}=${witnessVkey}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(cosignatureLines(), 1);
    assert.equal((await verify('--witness', witnessVkey)).code, 0);
  });

  it('a witness that is down: WITNESS_COSIGNING_FAILED, and no bundle rewritten', async () => {
    const bundle = readFileSync(join(LOG, 'hardware-policy.sigstore.json'), 'utf8');
    const r = await cli('publish', '--refresh', '--log', LOG, '--witness', `http://127.0.0.1:1=${witnessVkey}`);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error \[WITNESS_COSIGNING_FAILED\]: .*127\.0\.0\.1:1/m);
    assert.equal(readFileSync(join(LOG, 'hardware-policy.sigstore.json'), 'utf8'), bundle);
  });
});
