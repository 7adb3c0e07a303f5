// Inference in worker threads, so that a run (20-250 ms of ONNX Runtime and JavaScript) never holds the
// server's event loop: status, keys and evidence answer while models run. Each worker opens the packs
// itself and runs one job at a time with a localExecutor of its own, in a RequestScope of its own, then
// a minor GC. A request's body is moved to the worker by transfer (the server's view is left empty) and
// the answer comes back the same way, into the request's scope: no plaintext is copied between threads.
// The one exception is a body in memory that cannot be transferred (a slice of Node's shared Buffer
// pool): it is copied into a buffer of its own, which goes, and the original stays in the scope, wiped
// when it closes. A worker that dies fails its job (INFERENCE_WORKER_FAILED) and is replaced.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BhttpResponse } from '../../attestation/protocols/bhttp.js';
import { errorFields } from '../base/log.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import type { RequestScope } from '../base/memory/requestScope.js';
import type { ModelPack } from './manifest.js';
import type { InferenceExecutor, InferenceJob, WorkLogger } from './work.js';

/** Messages to a worker. */
export type ToWorker =
  | { readonly type: 'job'; readonly id: number; readonly job: InferenceJob; readonly body: ArrayBuffer; readonly byteOffset: number; readonly byteLength: number }
  | { readonly type: 'abort'; readonly id: number };

/** Messages from a worker. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly code: string | undefined; readonly message: string }
  | { readonly type: 'done'; readonly id: number; readonly status: number; readonly headers: [string, string][]; readonly body: ArrayBuffer; readonly byteOffset: number; readonly byteLength: number }
  | { readonly type: 'error'; readonly id: number; readonly fields: { readonly err: { readonly type: string; readonly code: string | undefined } } }
  | { readonly type: 'log'; readonly level: 'warn' | 'error'; readonly fields: Record<string, unknown>; readonly msg: string };

export interface WorkerData {
  /** The model pack directory the worker opens. */
  readonly models: string;
  readonly maxElements?: number;
}

export interface WorkerPoolOptions extends WorkerData {
  /** Worker threads (default: workersFor(packs)). */
  readonly size?: number;
  readonly logger?: WorkLogger;
}

const WORKER = new URL('./inferenceWorker.js', import.meta.url);

/** As many workers as the cores hold the packs' intra-op threads, at least one. */
export function workersFor(packs: readonly ModelPack[], cores = availableParallelism()): number {
  const threads = Math.max(1, ...packs.map((p) => p.threads.intraOp));
  return Math.max(1, Math.floor(cores / threads));
}

interface Pending {
  readonly resolve: (r: BhttpResponse) => void;
  readonly reject: (e: Error) => void;
  readonly scope: RequestScope;
}

class PoolWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  ready: Promise<void>;

  constructor(data: WorkerData, onMessage: (w: PoolWorker, m: FromWorker) => void, onExit: (w: PoolWorker, code: number) => void) {
    this.worker = new Worker(WORKER, { workerData: data });
    this.ready = new Promise<void>((resolve, reject) => {
      const first = (m: FromWorker): void => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'failed') reject(new RuntimeError('INFERENCE_WORKER_FAILED', `an inference worker could not open the model packs: ${m.message}`));
        else return;
        this.worker.off('message', first);
      };
      this.worker.on('message', first);
      this.worker.once('exit', (code) => {
        reject(new RuntimeError('INFERENCE_WORKER_FAILED', `an inference worker exited (code ${code}) before it was ready`));
      });
    });
    this.worker.on('message', (m: FromWorker) => {
      onMessage(this, m);
    });
    this.worker.on('error', () => undefined);
    this.worker.on('exit', (code) => {
      onExit(this, code);
    });
  }
}

export class WorkerPool implements InferenceExecutor {
  readonly size: number;
  readonly #data: WorkerData;
  readonly #logger: WorkLogger | undefined;
  readonly #workers: PoolWorker[] = [];
  readonly #idle: PoolWorker[] = [];
  readonly #waiting: ((w: PoolWorker) => void)[] = [];
  #nextId = 1;
  #closed = false;

  private constructor(options: WorkerPoolOptions, size: number) {
    this.size = size;
    this.#data = { models: options.models, ...(options.maxElements === undefined ? {} : { maxElements: options.maxElements }) };
    this.#logger = options.logger;
  }

  /** Starts `size` workers and resolves when every one has opened the packs. */
  static async start(options: WorkerPoolOptions & { readonly size: number }): Promise<WorkerPool> {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`a worker pool needs at least one worker, got ${options.size}`);
    const pool = new WorkerPool(options, options.size);
    try {
      await Promise.all(Array.from({ length: options.size }, () => pool.#spawn()));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  async #spawn(): Promise<void> {
    const w = new PoolWorker(this.#data, (worker, m) => {
      this.#onMessage(worker, m);
    }, (worker, code) => {
      this.#onExit(worker, code);
    });
    this.#workers.push(w);
    await w.ready;
    this.#release(w);
  }

  #release(w: PoolWorker): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next(w);
    else this.#idle.push(w);
  }

  #acquire(): Promise<PoolWorker> {
    const w = this.#idle.shift();
    if (w !== undefined) return Promise.resolve(w);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #onMessage(w: PoolWorker, m: FromWorker): void {
    if (m.type === 'log') {
      this.#logger?.[m.level](m.fields, m.msg);
      return;
    }
    if (m.type !== 'done' && m.type !== 'error') return;
    const job = w.pending.get(m.id);
    if (job === undefined) return;
    w.pending.delete(m.id);
    this.#release(w);
    if (m.type === 'error') {
      job.reject(new RuntimeError('INFERENCE_WORKER_FAILED', `an inference worker failed a job (${m.fields.err.type}${m.fields.err.code === undefined ? '' : ` ${m.fields.err.code}`})`));
      return;
    }
    const content = new Uint8Array(m.body, m.byteOffset, m.byteLength);
    try {
      job.scope.adopt(new Uint8Array(m.body));
    } catch (e) {
      job.reject(e as Error);
      return;
    }
    job.resolve({ status: m.status, informational: [], headers: m.headers, content, trailers: [] });
  }

  #onExit(w: PoolWorker, code: number): void {
    const i = this.#workers.indexOf(w);
    if (i !== -1) this.#workers.splice(i, 1);
    const idle = this.#idle.indexOf(w);
    if (idle !== -1) this.#idle.splice(idle, 1);
    for (const job of w.pending.values()) job.reject(new RuntimeError('INFERENCE_WORKER_FAILED', `an inference worker exited (code ${code}) while running a job`));
    w.pending.clear();
    if (this.#closed) return;
    this.#logger?.error({ err: { type: 'RuntimeError', code: 'INFERENCE_WORKER_FAILED' }, exitCode: code }, 'inference worker exited; starting another');
    this.#spawn().catch((e: unknown) => {
      this.#logger?.error(errorFields(e), 'inference worker could not be replaced');
    });
  }

  async run(job: InferenceJob, content: Uint8Array, scope: RequestScope, signal?: AbortSignal): Promise<BhttpResponse> {
    if (this.#closed) throw new RuntimeError('QUEUE_CLOSED', 'the inference workers are shutting down');
    signal?.throwIfAborted();
    const source = content.buffer;
    if (!(source instanceof ArrayBuffer) || source.detached) throw new RuntimeError('INFERENCE_WORKER_FAILED', 'a request body in shared or detached memory cannot be moved to a worker');
    const w = await this.#acquire();
    if (signal?.aborted === true) {
      this.#release(w);
      signal.throwIfAborted();
    }
    const id = this.#nextId++;
    let body: ArrayBuffer = source;
    let byteOffset = content.byteOffset;
    const answer = new Promise<BhttpResponse>((resolve, reject) => {
      w.pending.set(id, { resolve, reject, scope });
    });
    const message = (b: ArrayBuffer): ToWorker => ({ type: 'job', id, job, body: b, byteOffset, byteLength: content.byteLength });
    try {
      w.worker.postMessage(message(body), [body]);
    } catch {
      // Memory Node will not let go of (its Buffer pool): this body alone goes as a copy of its own.
      const own = scope.alloc(content.byteLength);
      own.set(content);
      body = own.buffer as ArrayBuffer;
      byteOffset = 0;
      try {
        w.worker.postMessage(message(body), [body]);
      } catch (e) {
        // Not sent at all (the scope was closed, the worker gone): the worker is free for the next job.
        w.pending.delete(id);
        this.#release(w);
        throw e;
      }
    }
    const abort = (): void => {
      w.worker.postMessage({ type: 'abort', id } satisfies ToWorker);
    };
    signal?.addEventListener('abort', abort, { once: true });
    try {
      return await answer;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}
