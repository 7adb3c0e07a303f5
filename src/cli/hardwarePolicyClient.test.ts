// Issue 18, clients apply the logged hardware policy: `cloister verify --log` judges the simulated SEV-SNP server
// (Milan, REPORTED_TCB snp=24 microcode=219) by the hardware policy the log publishes. No policy: accepted, and
// the output says the caller's policy stood alone; a policy above the server's TCB: POLICY_TCB_TOO_LOW naming the
// policy version; a policy it meets: accepted naming the version; the log serving an older version afterwards:
// HARDWARE_POLICY_VERSION (the newest version accepted is kept in $CLOISTER_STATE_DIR/hardware-policy).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateDevChain } from '../tee/sim/devChain.js';
import { startAttestedServer, type LoopbackServer } from '../tee/sim/ratlsServer.js';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { cli } from '../testing/cliRun.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';

const work = temporaryDirectories('cloister-hwpolicy-cli-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const SIMULATED = (await simulatedMeasurementsHex())['sev-snp'];
const LOG = join(work, 'log');
const KEY = join(work, 'publisher.pem');

function policyFile(version: number, milan: Record<string, number>): string {
  const path = join(work, `hardware-policy-${version}.json`);
  writeFileSync(path, JSON.stringify({ schema: 'cloister-hardware-policy/v1', version, 'sev-snp': { minTcb: { Milan: milan } }, tdx: { acceptedTcbStatuses: ['UpToDate'], minTcbEvaluationDataNumber: 17 } }));
  return path;
}

let server: LoopbackServer;
let logServer: StaticServer;
const verify = (...more: string[]): ReturnType<typeof cli> => cli('verify', server.url, '--trust-simulated', '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub'), ...more);

before(async () => {
  const chain = await loadOrCreateDevChain(process.env.CLOISTER_STATE_DIR as string, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  server = await startAttestedServer(chain, { keyConfigs: [new Uint8Array([1, 0, 32, ...new Array<number>(32).fill(7), 0, 4, 0, 1, 0, 1])] });
  writeFileSync(KEY, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const measurements = join(work, 'm.json');
  writeFileSync(measurements, JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: 'cd'.repeat(32), variant: 'test' }, 'sev-snp': [{ measurement: SIMULATED, vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }] }));
  const r = await cli('publish', '--measurements', measurements, '--key', KEY, '--log', LOG, '--commit', '0123456789abcdef0123456789abcdef01234567');
  assert.equal(r.code, 0, r.stderr);
  logServer = await serveDirectory(LOG);
});

after(async () => {
  await server.close();
  await logServer.close();
});

describe('cloister verify --log applies the logged hardware policy', () => {
  it('without a logged hardware policy: accepted, and the output says the caller\'s policy stood alone', async () => {
    const r = await verify();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\n {2}hardware {5}no hardware policy in the log cloister\.local\/log: the caller's policy alone\n/);
  });

  it('--require-hardware-policy refuses when the log publishes none, in one line (exit 1); it needs --log', async () => {
    const r = await verify('--require-hardware-policy');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, 'REJECTED [HARDWARE_POLICY_NOT_LOGGED] client.hardware-policy: the log cloister.local/log publishes no hardware policy (hardware-policy.sigstore.json), and one is required (field hardware-policy.sigstore.json: expected a logged hardware policy, actual none)\n');
    const usage = await cli('verify', server.url, '--trust-simulated', '--require-hardware-policy');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^error \[USAGE\]: --require-hardware-policy needs --log URL/);
  });

  it('refuses a server below the logged minimum SEV-SNP TCB, naming the policy version (exit 1)', async () => {
    assert.equal((await cli('publish', '--hardware-policy', policyFile(1, { snp: 25 }), '--key', KEY, '--log', LOG)).code, 0);
    copyFileSync(join(LOG, 'hardware-policy.sigstore.json'), join(work, 'hardware-policy-1.sigstore.json'));
    const r = await verify();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^REJECTED \[POLICY_TCB_TOO_LOW\] client\.hardware-policy: reported_tcb snp=24 is lower than the logged hardware policy version 1's minimum for Milan, snp=25 \(field REPORTED_TCB\.snp: expected >= 25, actual 24\)\n$/);
  });

  it('accepts a server that meets the logged policy, and names its version', async () => {
    assert.equal((await cli('publish', '--hardware-policy', policyFile(2, { snp: 24, microcode: 219 }), '--key', KEY, '--log', LOG)).code, 0);
    const r = await verify();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\n {2}hardware {5}hardware policy version 2 at log index 2 of cloister\.local\/log\n/);
    const required = await verify('--require-hardware-policy');
    assert.equal(required.code, 0, required.stdout + required.stderr);
    assert.match(required.stdout, /\n {2}hardware {5}hardware policy version 2 at log index 2 of cloister\.local\/log\n/);
    assert.ok(existsSync(join(process.env.CLOISTER_STATE_DIR as string, 'hardware-policy')), 'the version accepted is kept');
  });

  it('refuses a log that serves an older hardware policy than one accepted before (HARDWARE_POLICY_VERSION)', async () => {
    copyFileSync(join(work, 'hardware-policy-1.sigstore.json'), join(LOG, 'hardware-policy.sigstore.json'));
    const r = await verify();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^REJECTED \[HARDWARE_POLICY_VERSION\] client\.hardware-policy: the log's hardware policy is version 1, older than version 2 accepted before/);
  });
});
