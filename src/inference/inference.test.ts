// Model packs, the tensor wire format, the bounded queue, and the generic tensor endpoint behind the
// gateway with the real Silero VAD pack (image/models/vad.json).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { tamperedVadPack } from '../testing/tamperedPack.js';
import { watchFrees } from '../testing/freeWatch.js';
import { RequestScope } from '../base/memory/requestScope.js';
import { CloisterError } from '../../attestation/errors.js';
import { DEFAULT_PADDING } from '../../attestation/protocols/padding.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { loadModelPack, PACKS_DIR, parseModelPack } from './manifest.js';
import { InferenceQueue, QueueClosedError, QueueFullError } from './queue.js';
import { allocateEncoded, decodeTensors, encodeTensors, fillEncoded, TensorFormatError } from './tensorCodec.js';
import { runModel } from './routes.js';
import { closePacks, openPack } from './sessions.js';

describe('model packs', () => {
  it('loads the bundled packs, every file matching its SHA-256', async () => {
    const vad = await loadModelPack(join(PACKS_DIR, 'vad.json'));
    assert.equal(vad.name, 'vad');
    assert.equal(vad.models[0]?.inputs.length, 3);
    const ocr = await loadModelPack(join(PACKS_DIR, 'ocr.json'));
    assert.deepEqual(ocr.models.map((m) => m.role), ['detection', 'recognition']);
    assert.equal(ocr.assets[0]?.role, 'dictionary');
  });

  it('refuses a model whose bytes differ from the manifest (MODEL_HASH_MISMATCH), naming both hashes', async () => {
    const dir = tamperedVadPack();
    await assert.rejects(loadModelPack(join(dir, 'vad.json')), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'MODEL_HASH_MISMATCH');
      assert.match((e as Error).message, /refusing the pack/);
      assert.equal((e as { expected?: string }).expected, '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3');
      return true;
    });
  });

  it('opens sessions from the bytes it hashed again, never by path: a file replaced after the manifest check is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-pack-'));
    const create = Object.getOwnPropertyDescriptor(ort.InferenceSession, 'create');
    try {
      const manifest = JSON.parse(readFileSync(join(PACKS_DIR, 'vad.json'), 'utf8')) as { models: { file: string; sha256: string }[] };
      const copy = join(dir, 'model.onnx');
      copyFileSync(join(PACKS_DIR, '..', '..', manifest.models[0]?.file ?? ''), copy);
      (manifest.models[0] as { file: string }).file = copy;
      writeFileSync(join(dir, 'vad.json'), JSON.stringify(manifest));
      const pack = await loadModelPack(join(dir, 'vad.json'));
      const given: unknown[] = [];
      const real = create?.value as (...args: unknown[]) => Promise<ort.InferenceSession>;
      const spy = (...args: unknown[]): Promise<ort.InferenceSession> => {
        given.push(args[0]);
        return real.apply(ort.InferenceSession, args);
      };
      Object.defineProperty(ort.InferenceSession, 'create', { ...create, value: spy });
      await closePacks([await openPack(pack)]);
      assert.equal(given.length, 1);
      assert.ok(given[0] instanceof Uint8Array, 'ONNX Runtime gets bytes, not a path');
      assert.equal(createHash('sha256').update(given[0]).digest('hex'), manifest.models[0]?.sha256);
      const bytes = readFileSync(copy);
      bytes[bytes.length - 1] = (bytes.at(-1) ?? 0) ^ 1;
      writeFileSync(copy, bytes);
      await assert.rejects(openPack(pack), (e: unknown) => {
        assert.equal((e as { code?: string }).code, 'MODEL_HASH_MISMATCH');
        assert.equal((e as { field?: string }).field, 'vad');
        assert.match((e as Error).message, /^pack vad: .*model\.onnx has SHA-256 [0-9a-f]{64}, the manifest says 1a153a22/);
        return true;
      });
      assert.equal(given.length, 1, 'the replaced file never reached ONNX Runtime');
    } finally {
      if (create !== undefined) Object.defineProperty(ort.InferenceSession, 'create', create);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const good = JSON.parse(readFileSync(join(PACKS_DIR, 'vad.json'), 'utf8')) as Record<string, unknown>;
  for (const [what, edit, field] of [
    ['an unknown processing', { processing: 'magic' }, 'processing'],
    ['no models', { models: [] }, 'models'],
    ['a zero thread count', { threads: { intraOp: 0, interOp: 1 } }, 'threads'],
    ['a bad hash', { models: [{ ...(good.models as object[])[0], sha256: 'abc' }] }, 'models[0].sha256'],
    ['a bad tensor type', { models: [{ ...(good.models as object[])[0], inputs: [{ name: 'x', type: 'float16', shape: [1] }] }] }, 'models[0].inputs[0].type'],
    ['a padding floor that is not a power of two', { padding: { floor: 1000 } }, 'padding.floor'],
    ['padding turned off', { padding: 'none' }, 'padding'],
    ['fine padding steps without fineFrom', { padding: { floor: 1024, steps: 8 } }, 'padding.fineFrom'],
    ['two bad padding fields, both named', { padding: { floor: 3, ceiling: 1 } }, 'padding.ceiling,padding.floor'],
  ] as const) {
    it(`refuses a manifest with ${what} (MODEL_PACK_INVALID)`, () => {
      assert.throws(() => parseModelPack({ ...good, ...edit }, 'test.json'), (e: unknown) => (e as { code?: string; field?: string }).code === 'MODEL_PACK_INVALID' && (e as { field?: string }).field === field);
    });
  }

  it('takes the padding a manifest declares (vad: a 2 KiB floor, above its answers), and the default when it declares none', () => {
    assert.deepEqual(parseModelPack(good, 'vad.json').padding, { floor: 2048 });
    assert.deepEqual(parseModelPack({ ...good, padding: { floor: 1024, fineFrom: 65536, steps: 8 } }, 'test.json').padding, { floor: 1024, fineFrom: 65536, steps: 8 });
    assert.equal(parseModelPack({ ...good, padding: undefined }, 'test.json').padding, DEFAULT_PADDING);
  });
});

describe('tensor wire format', () => {
  it('round-trips every type, and copies into aligned arrays', () => {
    const tensors = [
      { name: 'a', type: 'float32', dims: [2, 2], data: Float32Array.from([1.5, -2, 3, 4]) },
      { name: 'b', type: 'int64', dims: [], data: BigInt64Array.from([16000n]) },
      { name: 'c', type: 'int32', dims: [3], data: Int32Array.from([1, -2, 3]) },
      { name: 'd', type: 'uint8', dims: [1], data: Uint8Array.from([9]) },
    ] as const;
    const bytes = encodeTensors(tensors);
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    assert.deepEqual(decodeTensors(shifted, 100), tensors);
  });

  for (const [what, bytes] of [
    ['no magic', new Uint8Array([1, 2, 3, 4, 0, 0])],
    ['a truncated tensor', encodeTensors([{ name: 'a', type: 'float32', dims: [4], data: new Float32Array(4) }]).subarray(0, 20)],
    ['trailing bytes', new Uint8Array([...encodeTensors([]), 0])],
    ['an unknown type', Uint8Array.from([0x43, 0x54, 0x4e, 0x31, 1, 0, 1, 0x61, 9, 0])],
  ] as const) {
    it(`rejects ${what}`, () => {
      assert.throws(() => decodeTensors(bytes, 100), TensorFormatError);
      assert.throws(() => decodeTensors(bytes, 100), (e: unknown) => e instanceof RuntimeError && e.code === 'MALFORMED_TENSOR');
    });
  }

  it('lays out a body before the values exist, placing aligned tensors in place and copying the others in', () => {
    const shapes = [
      { name: 'abc', type: 'uint8', dims: [3] },
      { name: 'f', type: 'float32', dims: [2, 3] },
      { name: 'ii', type: 'int64', dims: [2] },
    ] as const;
    const layout = allocateEncoded(shapes);
    assert.ok(layout.inPlace[1], 'the largest tensor is aligned in place');
    (layout.data[0] as Uint8Array).set([1, 2, 3]);
    (layout.data[1] as Float32Array).set([0.5, 1, 1.5, 2, 2.5, 3]);
    (layout.data[2] as BigInt64Array).set([7n, -8n]);
    fillEncoded(layout, shapes);
    const decoded = decodeTensors(layout.bytes, 100);
    assert.deepEqual(decoded.map((t) => [t.name, t.type, t.dims, Array.from(t.data as ArrayLike<number | bigint>)]), [
      ['abc', 'uint8', [3], [1, 2, 3]],
      ['f', 'float32', [2, 3], [0.5, 1, 1.5, 2, 2.5, 3]],
      ['ii', 'int64', [2], [7n, -8n]],
    ]);
  });

  it('runs a model with free output dimensions into ORT arrays first, then into pre-allocated ones, with the same result', async () => {
    const pack = await openPack(await loadModelPack(join(PACKS_DIR, 'ocr.json')));
    const model = pack.models.get('recognition');
    assert.ok(model !== undefined);
    const input = () => [{ name: 'x', type: 'float32', dims: [1, 3, 48, 64], data: Float32Array.from({ length: 3 * 48 * 64 }, (_, i) => Math.cos(i)) }] as const;
    const scopes = [new RequestScope(), new RequestScope(), new RequestScope()] as const;
    const first = await runModel(model, input(), scopes[0]);
    const firstBytes = first.slice();
    const { zeroWhenFreed } = await watchFrees(() => {
      scopes[0].close();
    });
    assert.ok((first.buffer as ArrayBuffer).detached && zeroWhenFreed.length >= 1 && zeroWhenFreed.every(Boolean), 'closing the scope wipes and frees the ORT-allocated output');
    const second = await runModel(model, input(), scopes[1]);
    assert.deepEqual(second, firstBytes);
    const reused = second.buffer;
    scopes[1].close();
    assert.ok(new Uint8Array(reused).every((b) => b === 0), 'closing the scope wipes the pooled output');
    const third = await runModel(model, input(), scopes[2]);
    assert.equal(third.buffer, reused, 'the next run of the same shape reuses the wiped buffer');
    assert.deepEqual(third, firstBytes);
    scopes[2].close();
    assert.deepEqual(decodeTensors(firstBytes, 1 << 20)[0]?.dims, [1, 8, 6625]);
    await closePacks([pack]);
  });

  it('bounds the total element count before allocating', () => {
    const header = Uint8Array.from([0x43, 0x54, 0x4e, 0x31, 1, 0, 1, 0x61, 1, 2, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f]);
    assert.throws(() => decodeTensors(header, 1000), /more than 1000 elements/);
  });
});

describe('inference queue', () => {
  it('never runs more than `concurrency` jobs, even when a new job arrives while a slot is handed to a waiter', async () => {
    const queue = new InferenceQueue({ concurrency: 1, maxQueued: 4 });
    let active = 0;
    let peak = 0;
    const job = async (): Promise<void> => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setImmediate(r));
      active--;
    };
    const first = queue.run(job);
    const second = queue.run(job);
    await first;
    // `second` holds the slot now, though its code has not resumed yet: a newcomer must wait.
    const third = queue.run(job);
    assert.equal(queue.running, 1);
    await Promise.all([second, third]);
    assert.equal(peak, 1);
  });

  it('runs at most `concurrency` jobs, queues up to `maxQueued`, refuses beyond with a Retry-After, honours aborts, and drains on close', async () => {
    const queue = new InferenceQueue({ concurrency: 1, maxQueued: 1 });
    let release!: () => void;
    const first = queue.run(
      () =>
        new Promise<string>((r) => {
          release = () => {
            r('one');
          };
        }),
    );
    const second = queue.run(() => Promise.resolve('two'));
    assert.deepEqual([queue.running, queue.queued], [1, 1]);
    await assert.rejects(queue.run(() => Promise.resolve('three')), (e: unknown) => e instanceof QueueFullError && e.retryAfterSeconds >= 1);
    await assert.rejects(queue.run(() => Promise.resolve('three')), (e: unknown) => e instanceof QueueFullError && e.code === 'QUEUE_FULL');
    release();
    assert.deepEqual(await Promise.all([first, second]), ['one', 'two']);
    const controller = new AbortController();
    let hold!: () => void;
    const running = queue.run(() => new Promise<void>((r) => (hold = r)));
    const waiting = queue.run(() => Promise.resolve('never'), controller.signal);
    controller.abort(new Error('deadline'));
    await assert.rejects(waiting, /deadline/);
    const other = new AbortController();
    const abandoned = queue.run(() => Promise.resolve('never'), other.signal);
    other.abort('client gone');
    await assert.rejects(abandoned, (e: unknown) => e instanceof CloisterError && e.code === 'ABORTED' && e.cause === 'client gone');
    const queued = queue.run(() => Promise.resolve('refused at close'));
    const closing = queue.close();
    await assert.rejects(queued, (e: unknown) => e instanceof QueueClosedError && e instanceof RuntimeError && e.code === 'QUEUE_CLOSED');
    await assert.rejects(queue.run(() => Promise.resolve(1)), QueueClosedError);
    hold();
    await running;
    await closing;
  });
});
