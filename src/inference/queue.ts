// A bounded inference queue: at most `concurrency` jobs run, at most `maxQueued` wait; beyond that a job
// is refused at once (the route answers 503 with Retry-After) rather than piling up. A job's signal
// (the request deadline) removes it from the queue or aborts it while it runs. close() refuses new and
// queued jobs and waits for the running ones, which wipe their own buffers on their way out.
import { CloisterError } from '../../attestation/errors.js';
import { RuntimeError } from '../base/runtimeErrors.js';

export class QueueFullError extends RuntimeError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('QUEUE_FULL', `the inference queue is full; retry in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class QueueClosedError extends RuntimeError {
  constructor() {
    super('QUEUE_CLOSED', 'the server is shutting down');
  }
}

interface Waiting {
  readonly start: () => void;
  readonly reject: (e: Error) => void;
  readonly signal: AbortSignal | undefined;
}

export interface QueueOptions {
  readonly concurrency?: number;
  readonly maxQueued?: number;
}

export class InferenceQueue {
  readonly concurrency: number;
  readonly maxQueued: number;
  #running = 0;
  readonly #waiting: Waiting[] = [];
  readonly #idle: (() => void)[] = [];
  #closed = false;
  #served = 0;
  #totalMs = 0;

  constructor(options: QueueOptions = {}) {
    this.concurrency = options.concurrency ?? 1;
    this.maxQueued = options.maxQueued ?? 16;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1 || !Number.isInteger(this.maxQueued) || this.maxQueued < 0) throw new RangeError('concurrency must be >= 1 and maxQueued >= 0');
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Seconds a refused client should wait: the queue's length times the mean job time, at least 1. */
  #retryAfter(): number {
    const mean = this.#served === 0 ? 1000 : this.#totalMs / this.#served;
    return Math.max(1, Math.ceil(((this.#waiting.length + 1) * mean) / this.concurrency / 1000));
  }

  async run<T>(job: (signal: AbortSignal | undefined) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#closed) throw new QueueClosedError();
    signal?.throwIfAborted();
    if (this.#running < this.concurrency) this.#running++;
    else {
      if (this.#waiting.length >= this.maxQueued) throw new QueueFullError(this.#retryAfter());
      // A finishing job hands its slot over (#release): #running already counts this one when it starts.
      await new Promise<void>((resolve, reject) => {
        const entry: Waiting = { start: resolve, reject, signal };
        this.#waiting.push(entry);
        signal?.addEventListener(
          'abort',
          () => {
            const i = this.#waiting.indexOf(entry);
            if (i !== -1) {
              this.#waiting.splice(i, 1);
              reject(signal.reason instanceof Error ? signal.reason : new CloisterError('ABORTED', `the job was aborted while queued: ${String(signal.reason)}`, { cause: signal.reason }));
            }
          },
          { once: true },
        );
      });
    }
    const started = performance.now();
    try {
      return await job(signal);
    } finally {
      this.#served++;
      this.#totalMs += performance.now() - started;
      this.#release();
    }
  }

  #release(): void {
    const entry = this.#waiting.shift();
    if (entry !== undefined) {
      entry.start();
      return;
    }
    this.#running--;
    if (this.#running === 0) for (const f of this.#idle.splice(0)) f();
  }

  /** Refuses new and queued jobs, then resolves when the running ones have finished. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.reject(new QueueClosedError());
    if (this.#running > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}
