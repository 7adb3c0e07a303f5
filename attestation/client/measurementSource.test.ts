// The rule that clients fail closed on the launch measurement, on verdicts made here; the clients that apply it
// are tested against servers in src/cli/ohttpStack.test.ts and src/tee/sim/ratlsServer.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PolicyError } from '../errors.js';
import { parseMeasurementsFile } from '../measure/measurementsFile.js';
import type { RaTlsVerdict } from '../ratls/verifyCertificate.js';
import { ANY_MEASUREMENT_NOTE, clientPolicy, MEASUREMENT_SOURCE_CHECK, withMeasurementSource } from './measurementSource.js';

const M = '5a'.repeat(48);
const NO_SOURCE =
  "no launch measurement to accept: give the policy's snp.measurements or tdx.mrtds, or measurements (a measurements file); anyMeasurement: true accepts any (debugging only)";

const accepted = (platform: RaTlsVerdict['platform']): RaTlsVerdict => ({ accepted: true, platform, simulated: false, checks: [{ id: 'ratls.binding', status: 'pass' }] });

const missing = (e: unknown): boolean => e instanceof PolicyError && e.code === 'MEASUREMENT_SOURCE_MISSING' && e.message === NO_SOURCE && e.field === 'policy';

describe('clientPolicy', () => {
  it('refuses a policy that lists no launch measurement for any platform', () => {
    for (const policy of [undefined, {}, { snp: { allowDebug: true } }, { snp: {}, tdx: { reportData: '00'.repeat(64) } }]) {
      assert.throws(() => clientPolicy(policy === undefined ? {} : { policy }), missing);
    }
  });

  it('takes a list for one platform, even an empty one, or a measurements file, or anyMeasurement', () => {
    assert.deepEqual(clientPolicy({ policy: { tdx: { mrtds: [M] } } }), { tdx: { mrtds: [M] } });
    assert.deepEqual(clientPolicy({ policy: { snp: { measurements: [] } } }), { snp: { measurements: [] } });
    assert.deepEqual(clientPolicy({ anyMeasurement: true }), {});
    const file = parseMeasurementsFile(JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: '00'.repeat(32), variant: 'test' }, tdx: [{ mrTd: M }] }));
    assert.deepEqual(clientPolicy({ measurements: file }), { snp: { measurements: [] }, tdx: { mrtds: [M] } });
  });
});

describe('withMeasurementSource', () => {
  it('leaves a verdict whose platform the policy lists measurements for as it is', () => {
    const v = accepted('tdx');
    assert.equal(withMeasurementSource(v, { tdx: { mrtds: [M] } }, false), v);
    assert.equal(withMeasurementSource(v, { tdx: { mrtds: [M] } }, true), v);
  });

  it('refuses an accepted verdict of a platform the policy lists none for, naming the list', () => {
    const v = withMeasurementSource(accepted('tdx'), { snp: { measurements: [M] } }, false);
    const message = 'the policy lists no acceptable TDX launch measurement (tdx.mrtds) and no measurements file was given; anyMeasurement: true accepts any (debugging only)';
    assert.equal(v.accepted, false);
    assert.deepEqual(v.error, { name: 'PolicyError', code: 'MEASUREMENT_SOURCE_MISSING', message, field: 'tdx.mrtds', actual: 'none' });
    assert.deepEqual(v.checks.at(-1), { id: MEASUREMENT_SOURCE_CHECK, status: 'fail', detail: message });
    assert.equal(v.anyMeasurement, undefined);
  });

  it('keeps the first failure of a rejected verdict, and passes a verdict of no known platform', () => {
    const rejected: RaTlsVerdict = { accepted: false, platform: 'sev-snp', simulated: false, error: { name: 'VerificationError', code: 'UNTRUSTED_ROOT', message: 'x' }, checks: [] };
    assert.equal(withMeasurementSource(rejected, {}, false), rejected);
    const unknown: RaTlsVerdict = { accepted: false, platform: 'unknown', simulated: false, checks: [] };
    assert.equal(withMeasurementSource(unknown, {}, true), unknown);
  });

  it('with anyMeasurement, marks the verdict and records the skipped check', () => {
    const v = withMeasurementSource(accepted('sev-snp'), {}, true);
    assert.equal(v.accepted, true);
    assert.equal(v.anyMeasurement, true);
    assert.deepEqual(v.checks.at(-1), { id: MEASUREMENT_SOURCE_CHECK, status: 'skipped', detail: `${ANY_MEASUREMENT_NOTE}: the policy lists no acceptable SEV-SNP launch measurement (snp.measurements)` });
  });
});
