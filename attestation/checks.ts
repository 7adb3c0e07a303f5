// The record of which checks a verification ran and how each ended, carried by every verdict.
import { CloisterError } from './errors.js';

export type CheckStatus = 'pass' | 'fail' | 'skipped';

export interface Check {
  readonly id: string;
  readonly status: CheckStatus;
  readonly detail?: string;
}

/** A verdict's error: CloisterError.toJSON() of the failure. */
export interface VerdictError {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  readonly expected?: string;
  readonly actual?: string;
}

export class CheckLog {
  readonly checks: Check[] = [];

  pass(id: string, detail?: string): void {
    this.checks.push(detail === undefined ? { id, status: 'pass' } : { id, status: 'pass', detail });
  }

  skip(id: string, detail: string): void {
    this.checks.push({ id, status: 'skipped', detail });
  }

  /** Records the failure and throws it. */
  fail(id: string, error: CloisterError): never {
    this.checks.push({ id, status: 'fail', detail: error.message });
    throw error;
  }

  /** runSync for a synchronous check: no promise, so no turn of the event loop per check. */
  runSync<T>(id: string, fn: () => T, detail?: (value: T) => string | undefined): T {
    let value: T;
    try {
      value = fn();
    } catch (e) {
      if (e instanceof CloisterError) this.fail(id, e);
      throw e;
    }
    this.pass(id, detail?.(value));
    return value;
  }

  /** Runs `fn`; a CloisterError it throws is recorded as this check's failure. */
  async run<T>(id: string, fn: () => T | Promise<T>, detail?: (value: T) => string | undefined): Promise<T> {
    let value: T;
    try {
      value = await fn();
    } catch (e) {
      if (e instanceof CloisterError) this.fail(id, e);
      throw e;
    }
    this.pass(id, detail?.(value));
    return value;
  }
}

/** What verifying evidence of any platform returns: never thrown, the failure travels in `error`. */
export interface Verdict<P extends string> {
  readonly accepted: boolean;
  readonly platform: P;
  /** The evidence declares it comes from the simulated TEE. Informational: trust comes only from roots. */
  readonly simulated: boolean;
  readonly error?: VerdictError;
  readonly checks: readonly Check[];
  readonly claims?: Record<string, unknown>;
}
