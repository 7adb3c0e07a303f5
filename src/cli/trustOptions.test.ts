// Where `cloister verify` and `request` take the launch measurements they accept from: the options, the
// simulated TEE's with --trust-simulated alone, none with --any-measurement; and none at all is a usage error.
// The commands' output for each is tested against servers in verifyCommand.test.ts and localCommand.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { loadOrCreateDevChain } from '../tee/sim/devChain.js';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { processIo } from './io.js';
import { trustFromOptions, type TrustValues } from './trustOptions.js';

const state = mkdtempSync(join(tmpdir(), 'cloister-trust-'));
const OTHER = 'ab'.repeat(48);
const trust = (values: TrustValues) => trustFromOptions(values, processIo, 'request', 'start the local stack first');
const usage = (pattern: RegExp) => (e: unknown): boolean => e instanceof CloisterError && e.code === 'USAGE' && pattern.test(e.message);

describe('trustFromOptions: the measurement source', () => {
  let saved: string | undefined;
  before(async () => {
    saved = process.env.CLOISTER_STATE_DIR;
    process.env.CLOISTER_STATE_DIR = state;
    await loadOrCreateDevChain(state, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  });
  after(() => {
    if (saved === undefined) delete process.env.CLOISTER_STATE_DIR;
    else process.env.CLOISTER_STATE_DIR = saved;
  });

  it('refuses without one, naming the flags', async () => {
    await assert.rejects(trust({}), usage(/^no launch measurement to accept: give --measurement HEX or --measurements FILE .*--any-measurement .*\(see cloister request --help\)$/));
    const policy = join(state, 'debug.json');
    writeFileSync(policy, JSON.stringify({ allowDebug: true }));
    await assert.rejects(trust({ policy }), usage(/^no launch measurement to accept/));
  });

  it("with --trust-simulated alone, accepts exactly the simulated TEE's measurement of each platform", async () => {
    const sim = await simulatedMeasurementsHex();
    const t = await trust({ 'trust-simulated': true });
    assert.equal(t.measurementSource, 'simulated');
    assert.deepEqual([t.client.policy.snp?.measurements, t.client.policy.tdx?.mrtds], [[sim['sev-snp']], [sim.tdx]]);
    assert.equal(t.client.anyMeasurement, undefined);
  });

  it('takes the given measurements, from --measurement or a --policy file, and adds no simulated one', async () => {
    const flag = await trust({ measurement: [OTHER], 'trust-simulated': true });
    assert.equal(flag.measurementSource, 'given');
    assert.deepEqual([flag.client.policy.snp?.measurements, flag.client.policy.tdx?.mrtds], [[OTHER], [OTHER]]);
    const policy = join(state, 'pinned.json');
    writeFileSync(policy, JSON.stringify({ measurements: [OTHER] }));
    const file = await trust({ policy, 'trust-simulated': true });
    assert.equal(file.measurementSource, 'given');
    assert.deepEqual([file.client.policy.snp?.measurements, file.client.policy.tdx?.mrtds], [[OTHER], undefined]);
  });

  it('with --any-measurement, lists none and tells the client so; it contradicts --measurement and --measurements', async () => {
    const any = await trust({ 'any-measurement': true });
    assert.equal(any.measurementSource, 'any');
    assert.equal(any.client.anyMeasurement, true);
    assert.deepEqual([any.client.policy.snp?.measurements, any.client.policy.tdx?.mrtds], [undefined, undefined]);
    for (const values of [{ measurement: [OTHER] }, { measurements: join(state, 'm.json') }]) {
      await assert.rejects(trust({ ...values, 'any-measurement': true }), usage(/^--any-measurement contradicts --measurement and --measurements/));
    }
  });
});
