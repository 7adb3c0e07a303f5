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
  for (const x of [r.perRound, r.total]) {
    assert.ok(Math.abs(x.value - 1 / 1.1) < 1e-3, `ratio ${x.value}`);
    assert.ok(x.low <= x.value && x.value <= x.high);
    assert.ok(x.high - x.low < 0.01, 'a tight interval when every round agrees');
  }
  assert.deepEqual(pairedRatio(baseline, subject), r, 'deterministic');
});

it('pairedRatio widens its interval when the rounds disagree', () => {
  const base = Array.from({ length: 200 }, () => 1e6);
  const noisy = base.map((t, i) => t * (1.1 + 0.2 * Math.sin(i * 1.7)));
  const r = pairedRatio(summarize('a', base), summarize('b', noisy)).perRound;
  assert.ok(r.high - r.low > 0.01, `interval ${r.low}-${r.high}`);
  assert.ok(r.low <= r.value && r.value <= r.high);
});

it('pairedRatio counts the tails in the total ratio and not in the per-round median', () => {
  const base = Array.from({ length: 100 }, () => 1e6);
  // Every tenth subject call is four times slower (a collection, say).
  const subject = base.map((t, i) => (i % 10 === 0 ? 4 * t : t));
  const r = pairedRatio(summarize('a', base), summarize('b', subject));
  assert.equal(r.perRound.value, 1);
  assert.ok(Math.abs(r.total.value - 100 / 130) < 1e-9, `total ${r.total.value}`);
});
