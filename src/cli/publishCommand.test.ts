// Issue 18 as a new user tries it: `cloister publish` a measurements file holding the simulated TEE's measurement to a
// tile log, serve the log directory over loopback HTTP, and `cloister verify --log URL --publisher-key FILE` accepts
// the simulated server; a server with another launch measurement is refused, MEASUREMENT_NOT_LOGGED naming it.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromHex } from '../../attestation/bytes.js';
import { loadOrCreateDevChain } from '../tee/sim/devChain.js';
import { startAttestedServer, type LoopbackServer } from '../tee/sim/ratlsServer.js';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { cli } from '../testing/cliRun.js';
import { logNoteSigner, witnessCosigner } from '../transparency/nodeNoteKeys.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { startWitness } from '../testing/witnessProcess.js';

const work = temporaryDirectories('cloister-publish-cli-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const SIMULATED = (await simulatedMeasurementsHex())['sev-snp'];
const OTHER = 'ab'.repeat(48);
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const LOG = join(work, 'log');

function keyFile(name: string, mode: number): string {
  const path = join(work, name);
  writeFileSync(path, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
  chmodSync(path, mode);
  return path;
}

function measurementsFile(name: string, measurement: string): string {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: 'cd'.repeat(32), variant: 'test' }, 'sev-snp': [{ measurement, vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }] }));
  return path;
}

let published: LoopbackServer;
let relaunched: LoopbackServer;
let logServer: StaticServer;

before(async () => {
  const chain = await loadOrCreateDevChain(process.env.CLOISTER_STATE_DIR as string, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  const keyConfigs = [new Uint8Array([1, 0, 32, ...new Array<number>(32).fill(7), 0, 4, 0, 1, 0, 1])];
  published = await startAttestedServer(chain, { keyConfigs });
  relaunched = await startAttestedServer(chain, { keyConfigs, snp: { measurement: fromHex(OTHER) } });
  logServer = await serveDirectory(LOG);
});

after(async () => {
  await published.close();
  await relaunched.close();
  await logServer.close();
});

describe('cloister publish, then verify --log', () => {
  it('refuses a publisher or log key file others can read (SIGNING_KEY_UNSAFE, NOTE_KEY_UNSAFE), before writing anything', async () => {
    const r = await cli('publish', '--measurements', measurementsFile('m.json', SIMULATED), '--key', keyFile('open.pem', 0o644), '--log', LOG, '--commit', COMMIT);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error \[SIGNING_KEY_UNSAFE\]: key file ".*open\.pem" has mode 0644/);
    const openLogKey = await cli('publish', '--measurements', measurementsFile('m.json', SIMULATED), '--key', keyFile('closed.pem', 0o600), '--log', LOG, '--log-key', keyFile('open-log.pem', 0o644), '--commit', COMMIT);
    assert.match(openLogKey.stderr, /^error \[NOTE_KEY_UNSAFE\]: key file ".*open-log\.pem" has mode 0644/);
    assert.equal(existsSync(LOG), false);
  });

  it('publishes: one summary line with the log index, tree size and bundle; the log key created beside the log', async () => {
    const r = await cli('publish', '--measurements', measurementsFile('m.json', SIMULATED), '--key', keyFile('publisher.pem', 0o600), '--log', LOG, '--commit', COMMIT, '--out', join(work, 'out.sigstore.json'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^published: log index 0, tree size 1, bundle .*\/log\/bundles\/[0-9a-f]{64}\.sigstore\.json \(and .*out\.sigstore\.json\); clients pin .*publisher\.pub and .*log\.vkey \(cloister\.local\/log\+[0-9a-f]{8}\+/);
    assert.equal(r.stdout.trimEnd().split('\n').length, 1);
    assert.match(r.stderr, /created the log key .*log\.log-key\.pem/);
    assert.match(readFileSync(join(work, 'out.sigstore.json'), 'utf8'), /application\/vnd\.dev\.sigstore\.bundle\.v0\.3\+json/);
  });

  it('verify --log accepts the server whose measurement was published, and says where the log lists it', async () => {
    const r = await cli('verify', published.url, '--trust-simulated', '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub'));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`measurement {2}${SIMULATED}, in the transparency log\\n`));
    assert.match(r.stdout, new RegExp(`\\n {2}log {10}measurement ${SIMULATED} listed at log index 0 of cloister\\.local/log \\(tree size 1\\), source commit ${COMMIT}\\n`));
    assert.ok(logServer.requests.includes(`/measurements/${SIMULATED}.sigstore.json`));
    assert.ok(existsSync(join(process.env.CLOISTER_STATE_DIR as string, 'checkpoints')), 'the checkpoint seen is kept');
  });

  it('verify --log refuses a measurement not in the log, in one line naming it (exit 1)', async () => {
    const r = await cli('verify', relaunched.url, '--trust-simulated', '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub'));
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`^REJECTED \\[MEASUREMENT_NOT_LOGGED\\] client\\.transparency-log: the sev-snp launch measurement ${OTHER} is not in the transparency log cloister\\.local/log: no statement lists it`));
    assert.equal(r.stdout.trimEnd().split('\n').length, 1);
  });

  it('verify --log refuses a statement signed by another key than the pinned publisher key', async () => {
    const other = join(work, 'other.pub');
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }));
    const r = await cli('verify', published.url, '--trust-simulated', '--log', logServer.url, '--publisher-key', other);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^REJECTED \[DSSE_SIGNATURE_INVALID\] client\.transparency-log: /);
  });

  it('verify --log holds the checkpoint to a pinned --log-key and to the --witness keys', async () => {
    const pub = join(LOG, 'publisher.pub');
    const vkey = readFileSync(join(LOG, 'log.vkey'), 'utf8').trim();
    const pinned = await cli('verify', published.url, '--trust-simulated', '--log', logServer.url, '--publisher-key', pub, '--log-key', vkey);
    assert.equal(pinned.code, 0, pinned.stdout + pinned.stderr);
    const otherLog = await logNoteSigner('cloister.local/log', generateKeyPairSync('ed25519').privateKey);
    const wrongLog = await cli('verify', published.url, '--trust-simulated', '--log', logServer.url, '--publisher-key', pub, '--log-key', otherLog.vkey);
    assert.equal(wrongLog.code, 1);
    assert.match(wrongLog.stdout, /^REJECTED \[TLOG_UNKNOWN_LOG\] client\.transparency-log: /);
    const witness = await witnessCosigner('witness.example/w1', generateKeyPairSync('ed25519').privateKey);
    const unwitnessed = await cli('verify', published.url, '--trust-simulated', '--log', logServer.url, '--publisher-key', pub, '--witness', witness.vkey);
    assert.equal(unwitnessed.code, 1);
    assert.match(unwitnessed.stdout, /^REJECTED \[WITNESS_COSIGNATURES_MISSING\] client\.transparency-log: /);
    assert.match((await cli('verify', published.url, '--log', logServer.url, '--publisher-key', pub, '--witness', witness.vkey, '--witnesses-required', '2')).stderr, /^error \[USAGE\]: --witnesses-required must be 1\.\.1/);
  });

  it('verify --log needs --publisher-key, and contradicts --measurement (usage, exit 2)', async () => {
    assert.match((await cli('verify', published.url, '--log', logServer.url)).stderr, /^error \[USAGE\]: --log needs --publisher-key FILE/);
    assert.match((await cli('verify', published.url, '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub'), '--measurement', SIMULATED)).stderr, /^error \[USAGE\]: --log contradicts --measurement/);
    assert.match((await cli('verify', published.url, '--publisher-key', join(LOG, 'publisher.pub'), '--measurement', SIMULATED)).stderr, /^error \[USAGE\]: --publisher-key needs --log URL/);
  });

  it('publishes a hardware policy (--hardware-policy), refusing a version that does not go up', async () => {
    const path = join(work, 'hardware-policy.json');
    const write = (version: number): void => {
      writeFileSync(path, JSON.stringify({ schema: 'cloister-hardware-policy/v1', version, 'sev-snp': { minTcb: { Milan: { snp: 24 } } }, tdx: { acceptedTcbStatuses: ['UpToDate'], minTcbEvaluationDataNumber: 17 } }));
    };
    write(1);
    const r = await cli('publish', '--hardware-policy', path, '--key', join(work, 'publisher.pem'), '--log', LOG);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^published: log index 1, tree size 2, /);
    assert.ok(existsSync(join(LOG, 'hardware-policy.sigstore.json')));
    const again = await cli('publish', '--hardware-policy', path, '--key', join(work, 'publisher.pem'), '--log', LOG);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^error \[HARDWARE_POLICY_VERSION\]: the hardware policy's version 1 is not above version 1/m);
    assert.match((await cli('publish', '--hardware-policy', path, '--measurements', path, '--key', 'k', '--log', LOG)).stderr, /^error \[USAGE\]: give one of --measurements FILE, --hardware-policy FILE and --web-manifest FILE/);
  });

  it('publish --witness has a running cloister witness cosign the checkpoint; verify --witness then accepts', async () => {
    const witness = await startWitness(work, LOG);
    const { url, vkey: witnessVkey } = witness;
    try {
      const key = join(work, 'publisher.pem');
      const down = await cli('publish', '--measurements', measurementsFile('m3.json', SIMULATED), '--key', key, '--log', LOG, '--commit', COMMIT, '--witness', `${url}=${witnessVkey}`, '--witness', `http://127.0.0.1:1=${witnessVkey}`);
      assert.equal(down.code, 2, 'both witnesses required by default, one is down');
      assert.match(down.stderr, /^error \[WITNESS_COSIGNING_FAILED\]: .*127\.0\.0\.1:1/m);
      const r = await cli('publish', '--measurements', measurementsFile('m3.json', SIMULATED), '--key', key, '--log', LOG, '--commit', COMMIT, '--witness', `${url}=${witnessVkey}`, '--witness', `http://127.0.0.1:1=${witnessVkey}`, '--witnesses-required', '1');
      assert.equal(r.code, 0, r.stderr);
      assert.match(readFileSync(join(LOG, 'checkpoint'), 'utf8'), /\n— witness\.test\/w1 /, 'the log serves the cosigned checkpoint');
      // The hardware policy logged above carries a checkpoint no witness cosigned: verify --witness judges the server
      // by the logged hardware policy too, so publish it again under the witness.
      const policy = join(work, 'hardware-policy.json');
      writeFileSync(policy, JSON.stringify({ schema: 'cloister-hardware-policy/v1', version: 2, 'sev-snp': { minTcb: { Milan: { snp: 24 } } } }));
      assert.equal((await cli('publish', '--hardware-policy', policy, '--key', key, '--log', LOG, '--witness', `${url}=${witnessVkey}`)).code, 0);
      const accepted = await cli('verify', published.url, '--trust-simulated', '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub'), '--witness', witnessVkey);
      assert.equal(accepted.code, 0, accepted.stdout + accepted.stderr);
      assert.match((await cli('publish', '--measurements', measurementsFile('m3.json', SIMULATED), '--key', key, '--log', LOG, '--witness', 'not-a-witness')).stderr, /^error \[USAGE\]: --witness must be URL=VKEY/);
    } finally {
      await witness.stop();
    }
  });

  it('prints its help', async () => {
    const r = await cli('publish', '--help');
    assert.equal(r.code, 0);
    assert.ok(r.stdout.startsWith('Usage: cloister publish (--measurements FILE | --hardware-policy FILE.json | --web-manifest FILE) --key KEY.pem --log DIR'));
  });
});
