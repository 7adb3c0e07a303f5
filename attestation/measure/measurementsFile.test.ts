import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError, PolicyError } from '../errors.js';
import { allowedMeasurements, assertMeasurementsFile, parseMeasurementsFile, policyWithMeasurements, MEASUREMENTS_SCHEMA } from './measurementsFile.js';

const A = 'aa'.repeat(48);
const B = 'bb'.repeat(48);
const R1 = '11'.repeat(48);
const R2 = '22'.repeat(48);

const snp = (measurement: string, vcpus = 1): Record<string, unknown> => ({ measurement, vcpus, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1', inputs: { kernel: 'x' } });
const good = (): Record<string, unknown> => ({
  schema: MEASUREMENTS_SCHEMA,
  image: { manifest: 'cd'.repeat(32), variant: 'production' },
  notes: ['a note'],
  'sev-snp': [snp(A), snp(A.toUpperCase(), 2), snp(B, 4)],
  tdx: [{ mrTd: B, rtmr1: R1, rtmr2: R2, memory: '2G', qemu: '>=10.2' }],
});

describe('measurements file', () => {
  it('parses a good file, frozen, and gives each platform its lists (deduplicated, lowercase)', () => {
    const file = parseMeasurementsFile(JSON.stringify(good()));
    assert.ok(Object.isFrozen(file) && Object.isFrozen(file['sev-snp']?.[0]));
    assert.deepEqual(allowedMeasurements(file, 'sev-snp'), { measurements: [A, B] });
    assert.deepEqual(allowedMeasurements(file, 'tdx'), { mrtds: [B], rtmrs: [null, R1, R2, null] });
  });

  it('lists every bad field at once, by path', () => {
    const bad = { ...good(), schema: 'v0', image: { manifest: 'x' }, notes: [1], 'sev-snp': [{ ...snp('zz'), vcpus: 0, guestFeatures: '1' }, 3], tdx: [{ mrTd: A, rtmr1: 'no', inputs: 'x' }] };
    assert.throws(() => assertMeasurementsFile(bad), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.code, 'MALFORMED_POLICY');
      for (const path of ['$.schema', '$.image.manifest', '$.image.variant', '$.notes', '$.sev-snp[0].measurement', '$.sev-snp[0].vcpus', '$.sev-snp[0].guestFeatures', '$.sev-snp[1]', '$.tdx[0].rtmr1', '$.tdx[0].inputs']) {
        assert.ok(e.message.includes(`${path}:`), `${path} in ${e.message}`);
      }
      return true;
    });
  });

  const malformed: [string, string][] = [
    ['not JSON', '{'],
    ['not an object', '[]'],
    ['entries not an array', JSON.stringify({ ...good(), tdx: {} })],
  ];
  for (const [name, text] of malformed) {
    it(`refuses ${name} with MALFORMED_POLICY`, () => {
      assert.throws(() => parseMeasurementsFile(text), (e: unknown) => e instanceof CloisterError && e.code === 'MALFORMED_POLICY');
    });
  }

  it('allows nothing for a platform without entries, and no RTMRs when an entry predicts none', () => {
    const file = parseMeasurementsFile(JSON.stringify({ ...good(), 'sev-snp': undefined, tdx: [{ mrTd: A }, { mrTd: B, rtmr1: R1, rtmr2: R2 }] }));
    assert.deepEqual(allowedMeasurements(file, 'sev-snp'), { measurements: [] });
    assert.deepEqual(allowedMeasurements(file, 'tdx'), { mrtds: [A, B] });
  });

  it('refuses TDX entries predicting different RTMR pairs (a TDX policy holds one)', () => {
    const file = parseMeasurementsFile(JSON.stringify({ ...good(), tdx: [{ mrTd: A, rtmr1: R1, rtmr2: R2 }, { mrTd: B, rtmr1: R2, rtmr2: R1 }] }));
    assert.throws(() => allowedMeasurements(file, 'tdx'), /2 different RTMR1\/RTMR2 pairs/);
  });

  it('merges into an RA-TLS policy: lists joined, RTMRs the policy leaves null filled', () => {
    const file = parseMeasurementsFile(JSON.stringify(good()));
    const merged = policyWithMeasurements({ snp: { measurements: ['cc'.repeat(48)], allowDebug: false }, tdx: { rtmrs: ['33'.repeat(48), null, null, null] } }, file);
    assert.deepEqual(merged.snp, { measurements: ['cc'.repeat(48), A, B], allowDebug: false });
    assert.deepEqual(merged.tdx, { mrtds: [B], rtmrs: ['33'.repeat(48), R1, R2, null] });
  });
});
