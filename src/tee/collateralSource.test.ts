import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { readTdxCollateral, type TdxCollateral } from '../../attestation/tdx/collateral.js';
import { parseQuote, type TdxQuote } from '../../attestation/tdx/quote.js';
import { vector } from '../../attestation/testing/vectors.js';
import { MAX_TIMER_MS, type TimerHandle } from '../base/timer.js';
import { CollateralCache, collateralSchedule, type CollateralFetch, type CollateralSource } from './collateralSource.js';
import { SimulatedCollateralSource } from './sim/simulatedCollateral.js';
import { createTdxDevChain } from './sim/tdxDevChain.js';
import { SimulatedTdx } from './sim/tdxSimulator.js';

const DAY = 86_400_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const DCAP_QVL = readTdxCollateral(JSON.parse(new TextDecoder().decode(vector('dcap-qvl/tdx_quote_collateral.json'))), '$').collateral ?? assert.fail('collateral');

/** A clock and a timer queue the test drives by hand. */
function fakeTime(): { now: () => number; set: (t: number) => void; setTimer: (fn: () => void, ms: number) => TimerHandle; timers: { fn: () => void; ms: number; cleared: boolean }[] } {
  let t = T0;
  const timers: { fn: () => void; ms: number; cleared: boolean }[] = [];
  return {
    now: () => t,
    set: (v) => (t = v),
    timers,
    setTimer: (fn, ms) => {
      // A timer that fired is done, like a cleared one.
      const timer = {
        fn: () => {
          timer.cleared = true;
          fn();
        },
        ms,
        cleared: false,
      };
      timers.push(timer);
      return { clear: () => (timer.cleared = true) };
    },
  };
}

const live = (timers: { cleared: boolean }[]): number => timers.filter((x) => !x.cleared).length;

let quote: TdxQuote;
let simulated: SimulatedCollateralSource;
let clock: ReturnType<typeof fakeTime>;

before(async () => {
  const chain = await createTdxDevChain();
  quote = parseQuote(await (await SimulatedTdx.create({}, { chain })).quote(new Uint8Array(64)));
  clock = fakeTime();
  simulated = new SimulatedCollateralSource(chain, { now: () => clock.now() });
});

/** A source that hands out the simulated collateral, or fails while `failing` is set; counts its fetches. */
function countingSource(): CollateralSource & { fetches: number; failing: boolean } {
  return {
    name: 'test',
    simulated: true,
    fetches: 0,
    failing: false,
    async fetch(q) {
      this.fetches++;
      if (this.failing) throw new Error('PCS unreachable');
      return simulated.fetch(q);
    },
  };
}

describe('collateralSchedule', () => {
  it('refreshes at 80% of the earliest-ending window among TCB info, QE identity and the CRLs', () => {
    // dcap-qvl's: the PCK CRL (2025-06-19T10:00:35Z .. 07-19T10:00:35Z) ends first, TCB info 15 minutes later.
    const s = collateralSchedule(DCAP_QVL);
    assert.equal(s.nextUpdate.toISOString(), '2025-07-19T10:00:35.000Z');
    assert.equal(s.refreshAt.toISOString(), '2025-07-13T10:00:35.000Z');
    assert.equal(collateralSchedule(DCAP_QVL, 0.5).refreshAt.toISOString(), '2025-07-04T10:00:35.000Z');
  });

  it('skips absent CRLs, and counts the root CA CRL too', () => {
    const withoutCrls = Object.fromEntries(Object.entries(DCAP_QVL).filter(([k]) => !k.endsWith('Crl'))) as unknown as TdxCollateral;
    const { rootCaCrl } = DCAP_QVL;
    assert.equal(collateralSchedule(withoutCrls).nextUpdate.toISOString(), '2025-07-19T10:16:03.000Z', 'TCB info ends first then');
    const later = (text: string): string => text.replace(/"nextUpdate":"[^"]+"/, '"nextUpdate":"2099-01-01T00:00:00Z"');
    const s = collateralSchedule({ ...withoutCrls, tcbInfo: later(DCAP_QVL.tcbInfo), qeIdentity: later(DCAP_QVL.qeIdentity), ...(rootCaCrl === undefined ? {} : { rootCaCrl }) });
    assert.ok(s.nextUpdate.getFullYear() < 2099, s.nextUpdate.toISOString());
  });

  it('refuses collateral without readable dates (MALFORMED_EVIDENCE)', () => {
    assert.throws(() => collateralSchedule({ ...DCAP_QVL, qeIdentity: '{}' }), (e: Error & { code?: string }) => e.code === 'MALFORMED_EVIDENCE');
  });
});

describe('CollateralCache', () => {
  it('fetches at start and again at 80% of the validity, before nextUpdate, then calls onRefresh', async () => {
    clock.set(T0);
    clock.timers.length = 0;
    const source = countingSource();
    const refreshed: CollateralFetch[] = [];
    const cache = await CollateralCache.start({ source, quote, now: clock.now, setTimer: clock.setTimer, onRefresh: (f) => void refreshed.push(f) });
    assert.equal(source.fetches, 1);
    const first = cache.current;
    assert.equal(first.nextUpdate.getTime(), T0 + 30 * DAY);
    assert.equal(first.refreshAt.getTime(), T0 + 24 * DAY);
    assert.equal(live(clock.timers), 1);
    assert.equal(clock.timers[0]?.ms, 24 * DAY);
    clock.set(T0 + 24 * DAY);
    clock.timers[0].fn();
    await cache.refresh(); // the refresh the timer started
    assert.equal(source.fetches, 2);
    assert.equal(refreshed.length, 1);
    assert.notEqual(cache.collateral, first.collateral);
    assert.equal(cache.current.nextUpdate.getTime(), T0 + 54 * DAY, 'the new collateral is issued at the refresh');
    assert.ok(cache.current.nextUpdate > first.nextUpdate);
    assert.equal(live(clock.timers), 1, 'the next refresh is scheduled');
    cache.close();
    assert.equal(live(clock.timers), 0);
  });

  it('passes the first fetch\'s failure on: the server does not start without collateral', async () => {
    const source = countingSource();
    source.failing = true;
    await assert.rejects(CollateralCache.start({ source, quote, now: clock.now, setTimer: clock.setTimer }), /PCS unreachable/);
  });

  it('waits again when a timer fires early (a delay beyond the longest timer), without fetching', async () => {
    clock.set(T0);
    clock.timers.length = 0;
    const source = countingSource();
    const late: CollateralSource = { name: 'late', simulated: true, fetch: async (q) => ({ ...(await source.fetch(q)), refreshAt: new Date(T0 + 48 * DAY) }) };
    const cache = await CollateralCache.start({ source: late, quote, now: clock.now, setTimer: clock.setTimer });
    const timer = clock.timers[0];
    assert.equal(timer?.ms, MAX_TIMER_MS);
    clock.set(T0 + MAX_TIMER_MS);
    timer.fn();
    assert.equal(source.fetches, 1);
    assert.equal(clock.timers.at(-1)?.ms, 48 * DAY - MAX_TIMER_MS, 'the rest of the wait');
    cache.close();
  });

  it('keeps the current collateral when a refresh fails, reports it, and retries after retryMs', async () => {
    clock.set(T0);
    clock.timers.length = 0;
    const source = countingSource();
    const errors: unknown[] = [];
    const cache = await CollateralCache.start({ source, quote, now: clock.now, setTimer: clock.setTimer, retryMs: 60_000, onError: (e) => errors.push(e) });
    const first = cache.collateral;
    source.failing = true;
    clock.set(T0 + 24 * DAY);
    clock.timers[0]?.fn();
    await cache.refresh().catch(() => undefined); // the refresh the timer started
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /PCS unreachable/);
    assert.equal(cache.collateral, first);
    const retry = clock.timers.at(-1);
    assert.equal(retry?.ms, 60_000);
    source.failing = false;
    clock.set(T0 + 24 * DAY + 60_000);
    retry.fn();
    await cache.refresh();
    assert.equal(source.fetches, 3);
    assert.notEqual(cache.collateral, first);
    cache.close();
  });

  it('waits at least retryMs when fetched collateral is already due, and reports a failing onRefresh', async () => {
    clock.set(T0);
    clock.timers.length = 0;
    const errors: unknown[] = [];
    const stale: CollateralSource = { name: 'stale', simulated: true, fetch: async (q) => ({ ...(await simulated.fetch(q)), refreshAt: new Date(T0 - DAY) }) };
    const cache = await CollateralCache.start({
      source: stale,
      quote,
      now: clock.now,
      setTimer: clock.setTimer,
      retryMs: 5_000,
      onRefresh: () => Promise.reject(new Error('re-issue failed')),
      onError: (e) => errors.push(e),
    });
    assert.equal(clock.timers[0]?.ms, 5_000, 'not a fetch loop');
    await Promise.all([cache.refresh(), cache.refresh()]);
    assert.equal(errors.length, 1, 'concurrent refreshes share one fetch');
    assert.match(String(errors[0]), /re-issue failed/);
    cache.close();
    const before = cache.collateral;
    await cache.refresh();
    assert.equal(cache.collateral, before, 'a closed cache keeps what it has');
    assert.equal(live(clock.timers), 0);
  });

  it('uses an unref\'d timer by default, which close() clears', async () => {
    const cache = await CollateralCache.start({ source: simulated, quote });
    cache.close();
  });
});
