// The inference worker thread (workerPool.ts): opens the model packs, then runs one job at a time in a
// RequestScope of its own; the answer's buffer is transferred back, everything else the job made is
// wiped when the scope closes, and a minor GC follows, as after a request in the server's thread.
import { parentPort, workerData } from 'node:worker_threads';
import { errorFields } from '../base/log.js';
import { afterRequest } from '../base/memory/hygiene.js';
import { RequestScope } from '../base/memory/requestScope.js';
import { openPacks } from './sessions.js';
import { localExecutor, localWork, type WorkLogger } from './work.js';
import type { FromWorker, ToWorker, WorkerData } from './workerPool.js';

const port = parentPort;
if (port === null) throw new Error('inferenceWorker.js runs as a worker thread (workerPool.ts)');
const data = workerData as WorkerData;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => {
  port.postMessage(m, transfer);
};

const logger: WorkLogger = {
  warn: (fields: object, msg?: string) => {
    post({ type: 'log', level: 'warn', fields: fields as Record<string, unknown>, msg: msg ?? '' });
  },
  error: (fields: object, msg?: string) => {
    post({ type: 'log', level: 'error', fields: fields as Record<string, unknown>, msg: msg ?? '' });
  },
};

try {
  const packs = await openPacks(data.models);
  const executor = localExecutor(localWork(packs, logger, { ownBuffers: true, ...(data.maxElements === undefined ? {} : { maxElements: data.maxElements }) }));
  const running = new Map<number, AbortController>();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'abort') {
      running.get(m.id)?.abort();
      return;
    }
    const controller = new AbortController();
    running.set(m.id, controller);
    const scope = new RequestScope();
    const content = scope.adopt(new Uint8Array(m.body)).subarray(m.byteOffset, m.byteOffset + m.byteLength);
    executor
      .run(m.job, content, scope, controller.signal)
      .then(
        (r) => {
          if (!scope.owns(r.content)) scope.adopt(r.content);
          const done = (answer: Uint8Array): void => {
            const body = answer.buffer as ArrayBuffer;
            post({ type: 'done', id: m.id, status: r.status, headers: r.headers.map(([n, v]) => [n, v]), body, byteOffset: answer.byteOffset, byteLength: answer.byteLength }, [body]);
          };
          try {
            done(r.content);
          } catch {
            // An answer in memory that cannot be transferred (Node's Buffer pool) goes as a copy of its own.
            const own = scope.alloc(r.content.byteLength);
            own.set(r.content);
            done(own);
          }
        },
        (e: unknown) => {
          post({ type: 'error', id: m.id, fields: errorFields(e) });
        },
      )
      .finally(() => {
        running.delete(m.id);
        scope.close();
        afterRequest();
      });
  });
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'failed', code: (e as { code?: string }).code, message: (e as Error).message });
}
