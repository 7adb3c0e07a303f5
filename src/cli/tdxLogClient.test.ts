// Issue 18 for TDX: `cloister serve --simulated --platform tdx` (MRTD the simulated one, RTMR0..RTMR3 zero, MRSEAM
// SHA-384("cloister simulated TDX module"), TCB UpToDate under simulated collateral of TCB evaluation data number
// 18), its measurements published with MRTD, RTMR1 and RTMR2, then `cloister verify --log`: accepted with the RTMRs
// checked and the logged TDX hardware policy applied; refused when the newest statement for the MRTD predicts
// another RTMR2, and when the logged policy asks for newer collateral than the server's.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { cli } from '../testing/cliRun.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';

const work = temporaryDirectories('cloister-tdx-log-cli-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const MRTD = (await simulatedMeasurementsHex()).tdx;
const ZERO = '00'.repeat(48);
const MRSEAM = createHash('sha384').update('cloister simulated TDX module').digest('hex');
const LOG = join(work, 'log');
const KEY = join(work, 'publisher.pem');
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

let url = '';
let stopServer: (() => Promise<void>) | undefined;
let logServer: StaticServer;
const verify = (): ReturnType<typeof cli> => cli('verify', url, '--trust-simulated', '--log', logServer.url, '--publisher-key', join(LOG, 'publisher.pub'), '--require-hardware-policy');

function publishMeasurements(name: string, rtmr2: string): ReturnType<typeof cli> {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: 'cd'.repeat(32), variant: 'test' }, tdx: [{ mrTd: MRTD, rtmr1: ZERO, rtmr2 }] }));
  return cli('publish', '--measurements', path, '--key', KEY, '--log', LOG, '--commit', COMMIT);
}

function publishPolicy(version: number, minTcbEvaluationDataNumber: number): ReturnType<typeof cli> {
  const path = join(work, `hardware-policy-${version}.json`);
  writeFileSync(path, JSON.stringify({ schema: 'cloister-hardware-policy/v1', version, tdx: { acceptedTcbStatuses: ['UpToDate'], minTcbEvaluationDataNumber, mrSeams: [MRSEAM] } }));
  return cli('publish', '--hardware-policy', path, '--key', KEY, '--log', LOG);
}

before(async () => {
  const code = await serveCommand(['--simulated', '--platform', 'tdx', '--port', '0'], { ...processIo, stdout: () => undefined, stderr: () => undefined }, { stopSignal: (fn) => (stopServer = fn), onListening: (u) => (url = u) });
  assert.equal(code, 0);
  writeFileSync(KEY, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const published = await publishMeasurements('m.json', ZERO);
  assert.equal(published.code, 0, published.stderr);
  logServer = await serveDirectory(LOG);
});

after(async () => {
  await stopServer?.();
  await logServer.close();
});

describe('cloister verify --log against a simulated TDX server', () => {
  it('accepts when MRTD, RTMR1 and RTMR2 are logged and the TD meets the logged TDX hardware policy', async () => {
    assert.equal((await publishPolicy(1, 18)).code, 0);
    const r = await verify();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`\\n {2}log {10}measurement ${MRTD}, RTMR1 and RTMR2 listed at log index 0 of cloister\\.local/log \\(tree size 1\\), source commit ${COMMIT}\\n`));
    assert.match(r.stdout, /\n {2}hardware {5}hardware policy version 1 at log index 1 of cloister\.local\/log\n/);
  });

  it('refuses a TD below the logged minimum TCB evaluation data number (POLICY_TCB_EVALUATION_DATA_NUMBER)', async () => {
    assert.equal((await publishPolicy(2, 19)).code, 0);
    const r = await verify();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^REJECTED \[POLICY_TCB_EVALUATION_DATA_NUMBER\] client\.hardware-policy: the TCB was evaluated with collateral of TCB evaluation data number 18, below the logged hardware policy version 2's minimum 19/);
    assert.equal((await publishPolicy(3, 18)).code, 0);
  });

  it('refuses when the statement the log lists the MRTD in predicts another RTMR2 (MEASUREMENT_NOT_LOGGED naming it)', async () => {
    const other = 'ab'.repeat(48);
    assert.equal((await publishMeasurements('m2.json', other)).code, 0);
    const r = await verify();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, `REJECTED [MEASUREMENT_NOT_LOGGED] client.transparency-log: the tdx launch measurement ${MRTD} is not in the transparency log cloister.local/log: the statement at log index 4 lists this MRTD with RTMR2 ${other}, but the quote's RTMR2 is ${ZERO} (field measurement: expected a logged measurement, actual ${MRTD})\n`);
  });
});
