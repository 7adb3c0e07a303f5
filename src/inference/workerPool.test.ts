// The worker pool on the VAD pack: a job's body is moved to the worker (the caller's view is left
// empty), the answer comes back into the request's scope, bad input is answered by the worker as it is
// in the server's thread, a body Node will not let go of (its Buffer pool) still works, aborts reach
// the worker, and the pool's size follows the cores and the packs' intra-op threads.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RequestScope } from '../base/memory/requestScope.js';
import { PACKS_DIR } from './manifest.js';
import { decodeTensors, encodeTensors } from './tensorCodec.js';
import { WorkerPool, workersFor } from './workerPool.js';
import type { ModelPack } from './manifest.js';

const vadRequest = (sr = 16000n): Uint8Array =>
  encodeTensors([
    { name: 'input', type: 'float32', dims: [1, 576], data: Float32Array.from({ length: 576 }, (_, i) => Math.sin(i / 7) * 0.5) },
    { name: 'state', type: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
    { name: 'sr', type: 'int64', dims: [], data: BigInt64Array.from([sr]) },
  ]);
const job = { kind: 'tensors', pack: 'vad', role: 'vad' } as const;

describe('inference worker pool', () => {
  let pool: WorkerPool;
  const logged: { fields: object; msg: string | undefined }[] = [];
  before(async () => {
    const models = mkdtempSync(join(tmpdir(), 'cloister-pool-'));
    copyFileSync(join(PACKS_DIR, 'vad.json'), join(models, 'vad.json'));
    const record = (fields: object, msg?: string): void => {
      logged.push({ fields, msg });
    };
    pool = await WorkerPool.start({ size: 2, models, logger: { warn: record, error: record } as never });
  });
  after(async () => {
    await pool.close();
  });

  it('moves the body to a worker and brings the answer back into the request scope', async () => {
    const scope = new RequestScope();
    const body = new Uint8Array(new ArrayBuffer(vadRequest().length));
    body.set(vadRequest());
    const answer = await pool.run(job, body, scope);
    assert.equal(answer.status, 200);
    assert.equal(body.byteLength, 0, 'the caller no longer holds the body: it was transferred, not copied');
    assert.ok(scope.owns(answer.content), 'the answer lies in the request scope');
    assert.deepEqual(decodeTensors(answer.content, 1000).map((t) => [t.name, t.dims]), [['output', [1, 1]], ['stateN', [2, 1, 128]]]);
    scope.close();
    assert.ok((answer.content.buffer as ArrayBuffer).detached, 'closing the scope wiped and freed the answer');
  });

  it('answers bad input from the worker as the server thread does, and runs jobs side by side', async () => {
    const scope = new RequestScope();
    const [bad, malformed, ...good] = await Promise.all([
      pool.run(job, vadRequest(-1n), scope),
      pool.run(job, Uint8Array.from([1, 2, 3]), scope),
      ...Array.from({ length: 6 }, () => pool.run(job, vadRequest(), scope)),
    ]);
    assert.equal(bad.status, 400);
    assert.equal(new TextDecoder().decode(bad.content), 'input sr must hold only 16000');
    assert.equal(malformed.status, 400);
    assert.deepEqual(good.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    scope.close();
  });

  it('copies a body in Node\'s Buffer pool (which cannot be transferred) once, into memory of its own that goes', async () => {
    const scope = new RequestScope();
    const pooled = Buffer.from(vadRequest().subarray(0, 3000));
    assert.ok(pooled.byteLength < pooled.buffer.byteLength, 'a slice of the shared pool');
    const answer = await pool.run(job, pooled, scope);
    assert.equal(answer.status, 400, 'the truncated tensors were read in the worker');
    scope.close();
  });

  it('sends no job whose request is already past its deadline', async () => {
    const scope = new RequestScope();
    const controller = new AbortController();
    controller.abort(new Error('past the deadline'));
    const body = vadRequest();
    await assert.rejects(pool.run(job, body, scope, controller.signal), /past the deadline/);
    assert.equal(body.byteLength, vadRequest().byteLength, 'the body stayed with the caller, whose scope wipes it');
    scope.close();
    assert.equal((await pool.run(job, vadRequest(), new RequestScope())).status, 200, 'the worker goes on serving');
  });

  it('sizes itself from the cores and the packs\' intra-op threads', () => {
    const pack = (intraOp: number): ModelPack => ({ threads: { intraOp, interOp: 1 } }) as unknown as ModelPack;
    assert.equal(workersFor([pack(2)], 2), 1);
    assert.equal(workersFor([pack(1)], 2), 2);
    assert.equal(workersFor([pack(2), pack(1)], 8), 4);
    assert.equal(workersFor([pack(4)], 2), 1);
    assert.equal(workersFor([], 4), 4);
  });
});
