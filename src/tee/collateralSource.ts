// Where the server's TDX collateral comes from (TCB info, QE identity, CRLs; attestation/tdx/collateral.ts)
// and how it is kept current. A CollateralSource answers for the platform that produced a quote: Intel PCS
// on hardware (GET .../tdx/certification/v4/tcb?fmspc=, .../qe/identity, the PCK and root CA CRLs; a fetcher
// plugs in here), the development keys on the simulated TEE (sim/simulatedCollateral.ts). A CollateralCache
// holds the current collateral and fetches it again at 80% of its validity (the earliest issueDate/thisUpdate
// .. nextUpdate window of its parts), long before a verifier would call it expired; a failed fetch keeps the
// current collateral and is retried.
import { fromHex } from '../../attestation/bytes.js';
import { CloisterError } from '../../attestation/errors.js';
import { collateralDates, type TdxCollateral } from '../../attestation/tdx/collateral.js';
import type { TdxQuote } from '../../attestation/tdx/quote.js';
import { parseCrl } from '../../attestation/x509.js';
import { MAX_TIMER_MS, unrefTimer, type TimerHandle } from '../base/timer.js';

export interface CollateralFetch {
  readonly collateral: TdxCollateral;
  /** The earliest nextUpdate of its parts: when it stops being current. */
  readonly nextUpdate: Date;
  /** When to fetch it again. */
  readonly refreshAt: Date;
}

export interface CollateralSource {
  /** What logs and /status call it ("Intel PCS", "SIMULATED ..."). */
  readonly name: string;
  readonly simulated: boolean;
  /** Collateral for the platform that produced `quote`: its PCK certificate names the FMSPC, PCE ID and PCK CA. */
  fetch(quote: TdxQuote): Promise<CollateralFetch>;
}

/** How far into its validity window collateral is fetched again. */
export const REFRESH_FRACTION = 0.8;

/**
 * The validity windows of `collateral`'s parts (TCB info, QE identity, and each CRL present), when it stops
 * being current (the earliest nextUpdate), and when to refresh it: `fraction` of the way through the
 * earliest-ending window. Throws MALFORMED_EVIDENCE when TCB info or QE identity has no readable dates.
 */
export function collateralSchedule(collateral: TdxCollateral, fraction = REFRESH_FRACTION): { nextUpdate: Date; refreshAt: Date } {
  const dates = collateralDates(collateral);
  if (dates === undefined) throw new CloisterError('MALFORMED_EVIDENCE', 'collateral tcbInfo / qeIdentity lack a readable issueDate and nextUpdate', { field: 'collateral' });
  const windows = [dates.tcbInfo, dates.qeIdentity];
  for (const hex of [collateral.rootCaCrl, collateral.pckCrl]) {
    if (hex === undefined) continue;
    const crl = parseCrl(fromHex(hex, 'collateral CRL'));
    if (crl.nextUpdate !== undefined) windows.push({ issueDate: crl.thisUpdate, nextUpdate: crl.nextUpdate });
  }
  const first = windows.reduce((a, b) => (b.nextUpdate < a.nextUpdate ? b : a));
  const start = first.issueDate.getTime();
  return { nextUpdate: first.nextUpdate, refreshAt: new Date(start + Math.floor((first.nextUpdate.getTime() - start) * fraction)) };
}

export interface CollateralCacheOptions {
  readonly source: CollateralSource;
  /** A quote of this platform; its PCK certificate says what to fetch, every time. */
  readonly quote: TdxQuote;
  /** Clock (default Date.now). */
  readonly now?: () => number;
  /** Timer (default an unref'd setTimeout). */
  readonly setTimer?: (fn: () => void, ms: number) => TimerHandle;
  /** Delay before retrying a failed fetch, and the least time between two fetches, in ms (default 300 000). */
  readonly retryMs?: number;
  /** Called after each scheduled or forced refresh with the new collateral (errors go to onError). */
  readonly onRefresh?: (fetched: CollateralFetch) => void | Promise<void>;
  /** Called when a refresh fails; the current collateral stays and the fetch is retried. */
  readonly onError?: (error: unknown) => void;
}

/** The current collateral of one platform, fetched again before it expires; close() stops the timer. */
export class CollateralCache {
  readonly source: CollateralSource;
  readonly #options: CollateralCacheOptions;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => TimerHandle;
  readonly #retryMs: number;
  #current: CollateralFetch;
  #timer: TimerHandle | undefined;
  #refreshing: Promise<void> | undefined;
  #closed = false;

  private constructor(options: CollateralCacheOptions, current: CollateralFetch) {
    this.source = options.source;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#setTimer = options.setTimer ?? unrefTimer;
    this.#retryMs = options.retryMs ?? 300_000;
    this.#current = current;
  }

  /** Fetches the first collateral (its failure is the caller's) and schedules the next fetch. */
  static async start(options: CollateralCacheOptions): Promise<CollateralCache> {
    const cache = new CollateralCache(options, await options.source.fetch(options.quote));
    cache.#schedule();
    return cache;
  }

  get current(): CollateralFetch {
    return this.#current;
  }

  get collateral(): TdxCollateral {
    return this.#current.collateral;
  }

  /** Fetches now and replaces the current collateral; concurrent calls share one fetch. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const next = await this.#options.source.fetch(this.#options.quote);
    if (this.#closed) return;
    this.#current = next;
    this.#schedule();
    try {
      await this.#options.onRefresh?.(next);
    } catch (e) {
      this.#options.onError?.(e);
    }
  }

  #schedule(delayMs: number = Math.max(this.#retryMs, this.#current.refreshAt.getTime() - this.#now())): void {
    this.#timer?.clear();
    if (this.#closed) return;
    const due = this.#now() + delayMs;
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      // A delay beyond the longest timer fires early: wait again for the rest.
      if (this.#now() < due) {
        this.#schedule(due - this.#now());
        return;
      }
      this.refresh().catch((e: unknown) => {
        this.#options.onError?.(e);
        this.#schedule(this.#retryMs);
      });
    }, Math.min(MAX_TIMER_MS, delayMs));
  }

  /** Stops refreshing. */
  close(): void {
    this.#closed = true;
    this.#timer?.clear();
    this.#timer = undefined;
  }
}
