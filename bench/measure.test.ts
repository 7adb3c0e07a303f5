import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pairedRatio, summarize } from './measure.js';

it('pairedRatio cancels drift shared by both cases of a round, and brackets its median', () => {
  // The machine slows down 3x over the run; the subject always takes 10% longer than the baseline.
  const drift = Array.from({ length: 101 }, (_, i) => 1e6 * (1 + (2 * i) / 100));
  const baseline = summarize('raw', drift);
  const subject = summarize('private', drift.map((t, i) => t * 1.1 + (i % 2 === 0 ? 1e3 : -1e3)));
  const r = pairedRatio(baseline, subject);
  assert.equal(r.rounds, 101);
  assert.ok(Math.abs(r.median - 1 / 1.1) < 1e-3, `median ${r.median}`);
  assert.ok(r.low <= r.median && r.median <= r.high);
  assert.ok(r.high - r.low < 0.01, 'a tight interval when every round agrees');
  assert.deepEqual(pairedRatio(baseline, subject), r, 'deterministic');
});

it('pairedRatio widens its interval when the rounds disagree', () => {
  const base = Array.from({ length: 200 }, () => 1e6);
  const noisy = base.map((t, i) => t * (1.1 + 0.2 * Math.sin(i * 1.7)));
  const r = pairedRatio(summarize('a', base), summarize('b', noisy));
  assert.ok(r.high - r.low > 0.01, `interval ${r.low}-${r.high}`);
  assert.ok(r.low <= r.median && r.median <= r.high);
});
