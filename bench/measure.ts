// A small timing harness: one process.hrtime.bigint() sample per call, time-boxed with a minimum
// iteration count, and cases interleaved call by call so that machine noise (frequency scaling, a
// neighbour's load, GC of another case's garbage) falls on every case alike.

/** A sync or async operation; a returned promise is awaited inside the timed span. */
export type Op = () => unknown;

export interface MeasureOptions {
  /** Untimed calls before the first timed one (JIT, caches, lazy imports). */
  readonly warmup: number;
  /** Wall-clock budget for the timed calls, in milliseconds. */
  readonly budgetMs: number;
  /** Timed calls to make even when the budget is spent. */
  readonly minIterations: number;
}

export interface Measurement {
  readonly name: string;
  /** Per-call times in nanoseconds, in the order taken. */
  readonly samples: readonly number[];
  readonly medianUs: number;
  readonly p99Us: number;
  /** 1 / median: the rate one caller doing nothing else would see. */
  readonly opsPerSec: number;
}

export interface Case {
  readonly name: string;
  readonly fn: Op;
}

/** What a suite hands back to bench/run.ts: a table and lines printed under it. */
export interface SuiteReport {
  readonly title: string;
  readonly rows: readonly Measurement[];
  /** Name of the row the "vs" column compares to (throughput ratio, baseline = 100%). */
  readonly baseline?: string;
  readonly notes: readonly string[];
}

async function call(fn: Op): Promise<void> {
  const out = fn();
  // Only await real promises: awaiting a plain value would add a microtask turn to sync cases.
  if (out instanceof Promise) await out;
}

async function warm(fn: Op, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await call(fn);
}

/** Calls `fn` until `budgetMs` has passed and at least `minIterations` calls were timed. */
async function collect(fn: Op, budgetMs: number, minIterations: number): Promise<number[]> {
  const samples: number[] = [];
  const deadline = process.hrtime.bigint() + BigInt(Math.round(budgetMs * 1e6));
  while (samples.length < minIterations || process.hrtime.bigint() < deadline) {
    const start = process.hrtime.bigint();
    await call(fn);
    samples.push(Number(process.hrtime.bigint() - start));
  }
  return samples;
}

/** Nearest-rank percentile of an ascending array (q in 0..1). */
function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** The median of an ascending array. */
const medianOfSorted = (sorted: readonly number[]): number => {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
};

export function summarize(name: string, samples: readonly number[]): Measurement {
  const sorted = [...samples].sort((a, b) => a - b);
  const medianNs = medianOfSorted(sorted);
  return { name, samples, medianUs: medianNs / 1e3, p99Us: percentile(sorted, 0.99) / 1e3, opsPerSec: 1e9 / medianNs };
}

export async function measure(name: string, fn: Op, opts: MeasureOptions): Promise<Measurement> {
  await warm(fn, opts.warmup);
  return summarize(name, await collect(fn, opts.budgetMs, opts.minIterations));
}

/**
 * Warms every case, then runs rounds that call every case once each, until the budget is spent and every
 * case has `minIterations` samples: each case sees the same machine state. The order turns by one case
 * each round, so no case always follows the same one (and inherits its garbage or its cache misses).
 * Sample i of every case comes from round i.
 */
export async function measureInterleaved(cases: readonly Case[], opts: MeasureOptions): Promise<Measurement[]> {
  for (const c of cases) await warm(c.fn, opts.warmup);
  const pooled = cases.map(() => [] as number[]);
  const deadline = process.hrtime.bigint() + BigInt(Math.round(opts.budgetMs * 1e6));
  for (let n = 0; n < opts.minIterations || process.hrtime.bigint() < deadline; n++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (n + k) % cases.length;
      const start = process.hrtime.bigint();
      await call((cases[i] as Case).fn);
      pooled[i]?.push(Number(process.hrtime.bigint() - start));
    }
  }
  return cases.map((c, i) => summarize(c.name, pooled[i] ?? []));
}

/** A ratio with its bootstrap 95% confidence interval. */
export interface Interval {
  readonly value: number;
  readonly low: number;
  readonly high: number;
}

/** Throughput of a subject relative to a baseline over the same rounds, two ways. */
export interface Ratio {
  /** Median over rounds of baseline time / subject time: the typical request, drift cancelled round by round. */
  readonly perRound: Interval;
  /** Total baseline time / total subject time: requests per second over the whole run, tails included. */
  readonly total: Interval;
  readonly rounds: number;
}

const BLOCK = 8;

/**
 * Throughput of `subject` relative to `baseline` from measureInterleaved's rounds: the median of the
 * per-round ratios (a round's cases run back to back, so the ratio cancels drift that shifts whole
 * stretches of rounds) and the ratio of the totals (what a steady caller gets, outliers included), each
 * with a 95% interval from a moving-block bootstrap over rounds (blocks of 8 keep the correlation of
 * neighbouring rounds; the resampling is deterministic).
 */
export function pairedRatio(baseline: Measurement, subject: Measurement, resamples = 2000): Ratio {
  const n = Math.min(baseline.samples.length, subject.samples.length);
  const base = baseline.samples.slice(0, n);
  const subj = subject.samples.slice(0, n);
  const ratios = base.map((b, i) => b / (subj[i] ?? Number.NaN));
  const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
  let seed = 0x9e3779b9;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x1_0000_0000;
  };
  const block = Math.min(BLOCK, n);
  const perRound: number[] = [];
  const total: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const rounds: number[] = [];
    while (rounds.length < n) {
      const start = Math.floor(next() * (n - block + 1));
      for (let k = 0; k < block && rounds.length < n; k++) rounds.push(start + k);
    }
    perRound.push(medianOfSorted(rounds.map((i) => ratios[i] ?? Number.NaN).sort((a, b) => a - b)));
    total.push(sum(rounds.map((i) => base[i] ?? Number.NaN)) / sum(rounds.map((i) => subj[i] ?? Number.NaN)));
  }
  const interval = (value: number, draws: number[]): Interval => {
    draws.sort((a, b) => a - b);
    return { value, low: percentile(draws, 0.025), high: percentile(draws, 0.975) };
  };
  return { perRound: interval(medianOfSorted([...ratios].sort((a, b) => a - b)), perRound), total: interval(sum(base) / sum(subj), total), rounds: n };
}

const fixed = (v: number, digits: number): string => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Plain-text table: case | median µs | p99 µs | ops/s | vs <baseline> | n (samples). */
export function formatTable(rows: readonly Measurement[], baseline?: string): string {
  const base = rows.find((r) => r.name === baseline);
  const header = ['case', 'median µs', 'p99 µs', 'ops/s', ...(base === undefined ? [] : [`vs ${base.name}`]), 'n'];
  const body = rows.map((r) => [
    r.name,
    fixed(r.medianUs, 1),
    fixed(r.p99Us, 1),
    fixed(r.opsPerSec, 0),
    ...(base === undefined ? [] : [`${fixed((100 * base.medianUs) / r.medianUs, 1)}%`]),
    String(r.samples.length),
  ]);
  const widths = header.map((h, col) => Math.max(h.length, ...body.map((cells) => (cells[col] ?? '').length)));
  // First column left-aligned (names), the rest right-aligned (numbers).
  const line = (cells: readonly string[]): string =>
    cells.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join(' | ');
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  return [line(header), rule, ...body.map(line)].join('\n');
}
