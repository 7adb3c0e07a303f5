// Which OHTTP key schedules a server refuses, and which it starts with a warning.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { checkRotationSchedule, FRAGILE_OVERLAP_SECONDS } from './rotationSchedule.js';

describe('OHTTP key rotation schedule', () => {
  for (const [rotateSeconds, overlapSeconds, warnings] of [
    [86_400, 3600, 0],
    [0, 0, 0],
    [0, 5, 0],
    [120, FRAGILE_OVERLAP_SECONDS, 0],
    [20, 5, 1],
    [120, 59, 1],
    [60, 600, 0],
    [1, 254, 0],
  ] as const) {
    it(`starts with rotation every ${rotateSeconds} s and overlap ${overlapSeconds} s${warnings === 0 ? '' : ', warning'}`, () => {
      assert.equal(checkRotationSchedule({ rotateSeconds, overlapSeconds }).length, warnings);
    });
  }

  it('warns of a short overlap in a line that says what caches then do', () => {
    assert.match(checkRotationSchedule({ rotateSeconds: 20, overlapSeconds: 5 })[0] ?? '', /^OHTTP key overlap of 5 s is under 60 s: key configurations are served with max-age=5 at most, .*retired keys/);
  });

  for (const [rotateSeconds, overlapSeconds, why] of [
    [20, 0, /rotated every 20 s with no overlap: a rotated-out key would stop decrypting at once/],
    [1, 255, /would need up to 257 live keys, more than the 256 key IDs/],
    [10, 100_000, /more than the 256 key IDs/],
  ] as const) {
    it(`refuses rotation every ${rotateSeconds} s with overlap ${overlapSeconds} s`, () => {
      assert.throws(
        () => checkRotationSchedule({ rotateSeconds, overlapSeconds }),
        (e: unknown) => e instanceof CloisterError && e.code === 'OHTTP_SCHEDULE_UNWORKABLE' && e.field === 'ohttp.overlapSeconds' && why.test(e.message) && !e.message.includes('\n'),
      );
    });
  }

  it('counts the live keys against a fleet node\'s key ID range', () => {
    assert.deepEqual(checkRotationSchedule({ rotateSeconds: 86_400, overlapSeconds: 3600, keyIds: { first: 4, last: 5 } }), []);
    assert.throws(
      () => checkRotationSchedule({ rotateSeconds: 60, overlapSeconds: 120, keyIds: { first: 4, last: 6 } }),
      (e: unknown) => e instanceof CloisterError && e.code === 'OHTTP_SCHEDULE_UNWORKABLE' && /would need up to 4 live keys, more than the 3 key IDs of 4-6/.test(e.message),
    );
  });
});
