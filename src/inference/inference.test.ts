// Model packs, the tensor wire format, the bounded queue, and the generic tensor endpoint behind the
// gateway with the real Silero VAD pack (image/models/vad.json).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { tamperedVadPack } from '../testing/tamperedPack.js';
import { looseManifest } from '../testing/loosePack.js';
import { createLogger } from '../base/log.js';
import { targetRouter, type TargetHandler } from '../ohttp/target.js';
import { watchFrees } from '../testing/freeWatch.js';
import { RequestScope } from '../base/memory/requestScope.js';
import { CloisterError } from '../../attestation/errors.js';
import { DEFAULT_PADDING } from '../../attestation/protocols/padding.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { loadModelPack, PACKS_DIR, parseModelPack, type TensorSpec } from './manifest.js';
import { checkInputs } from './checkInputs.js';
import { InferenceQueue, QueueClosedError, QueueFullError } from './queue.js';
import { allocateEncoded, decodeTensors, encodeTensors, fillEncoded, TensorFormatError, TENSORS_MEDIA_TYPE, type WireTensor } from './tensorCodec.js';
import { inferenceRoutes, inThread } from './routes.js';
import { localExecutor, runModel, type OcrRecognizer } from './work.js';
import { closePacks, openPack, type LoadedPack } from './sessions.js';

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
    ['bounds for a shape without free dimensions', { models: [{ ...(good.models as object[])[0], inputs: [{ name: 'x', type: 'float32', shape: [1], free: [{ min: 1 }] }] }] }, 'models[0].inputs[0].free'],
    ['a bound of 0', { models: [{ ...(good.models as object[])[0], inputs: [{ name: 'x', type: 'float32', shape: [-1], free: [{ multipleOf: 0 }] }] }] }, 'models[0].inputs[0].free[0].multipleOf'],
    ['a min above its max', { models: [{ ...(good.models as object[])[0], inputs: [{ name: 'x', type: 'float32', shape: [-1], free: [{ min: 64, max: 32 }] }] }] }, 'models[0].inputs[0].free[0]'],
    ['an unknown bound', { models: [{ ...(good.models as object[])[0], inputs: [{ name: 'x', type: 'float32', shape: [-1], free: [{ step: 8 }] }] }] }, 'models[0].inputs[0].free[0].step'],
    ['an unknown tensor field (a misspelt constraint would go unchecked)', { models: [{ ...(good.models as object[])[0], inputs: [{ name: 'sr', type: 'int64', shape: [], valeus: [16000] }] }] }, 'models[0].inputs[0].valeus'],
    ['an int64 value that is not an integer', { models: [{ ...(good.models as object[])[0], inputs: [{ name: 'sr', type: 'int64', shape: [], values: [16000.5] }] }] }, 'models[0].inputs[0].values[0]'],
    ['no allowed values', { models: [{ ...(good.models as object[])[0], inputs: [{ name: 'sr', type: 'int64', shape: [], values: [] }] }] }, 'models[0].inputs[0].values'],
    ['a padding floor that is not a power of two', { padding: { floor: 1000 } }, 'padding.floor'],
    ['padding turned off', { padding: 'none' }, 'padding'],
    ['fine padding steps without fineFrom', { padding: { floor: 1024, steps: 8 } }, 'padding.fineFrom'],
    ['two bad padding fields, both named', { padding: { floor: 3, ceiling: 1 } }, 'padding.ceiling,padding.floor'],
    ['a bad tensor field and a bad padding, both named', { padding: { floor: 3 }, models: [{ ...(good.models as object[])[0], inputs: [{ name: 'sr', type: 'int64', shape: [], valeus: [16000] }] }] }, 'models[0].inputs[0].valeus,padding.floor'],
  ] as const) {
    it(`refuses a manifest with ${what} (MODEL_PACK_INVALID)`, () => {
      assert.throws(() => parseModelPack({ ...good, ...edit }, 'test.json'), (e: unknown) => (e as { code?: string; field?: string }).code === 'MODEL_PACK_INVALID' && (e as { field?: string }).field === field);
    });
  }

  it('lists every bad tensor field of a manifest at once, each by its path', () => {
    const model = { ...(good.models as object[])[0], inputs: [{ name: '', type: 'float32', shape: [-1, 0] }, { name: 'sr', type: 'int64', shape: [], values: ['16000'] }], outputs: [{ name: 'y', type: 'float32', shape: [-1], free: [{ max: 0 }], extra: true }] };
    assert.throws(
      () => parseModelPack({ ...good, models: [model] }, 'test.json'),
      (e: unknown) => {
        assert.equal((e as { code?: string }).code, 'MODEL_PACK_INVALID');
        assert.equal((e as { field?: string }).field, 'models[0].inputs[0].name,models[0].inputs[0].shape,models[0].inputs[1].values[0],models[0].outputs[0].extra,models[0].outputs[0].free[0].max');
        assert.match((e as Error).message, /^test\.json: models\[0\]\.inputs\[0\]\.name must be a non-empty string; .*values\[0\] must be an integer from -9007199254740991 to 9007199254740991; /);
        return true;
      },
    );
  });

  it('reads the bounds of free dimensions and the allowed values the bundled packs declare', async () => {
    const vad = await loadModelPack(join(PACKS_DIR, 'vad.json'));
    assert.deepEqual(vad.models[0]?.inputs.find((t) => t.name === 'sr')?.values, [16000]);
    const ocr = await loadModelPack(join(PACKS_DIR, 'ocr.json'));
    assert.deepEqual(ocr.models[0]?.inputs[0]?.free, [{ min: 32, max: 2048, multipleOf: 32 }, { min: 32, max: 2048, multipleOf: 32 }]);
    assert.deepEqual(ocr.models[1]?.inputs[0]?.free, [{ max: 4096 }]);
  });
});

describe('input checks against the declared inputs (checkInputs)', () => {
  const specs: TensorSpec[] = [
    { name: 'x', type: 'float32', shape: [1, -1, -1], free: [{ min: 32, max: 64, multipleOf: 32 }, { max: 10 }] },
    { name: 'sr', type: 'int64', shape: [], values: [8000, 16000] },
  ];
  const x = (dims: number[]): WireTensor => ({ name: 'x', type: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });
  const sr = (v: bigint): WireTensor => ({ name: 'sr', type: 'int64', dims: [], data: BigInt64Array.from([v]) });
  for (const [what, tensors, problem] of [
    ['tensors within every bound', [x([1, 64, 10]), sr(16000n)], undefined],
    ['the other allowed value, the lower bounds', [sr(8000n), x([1, 32, 1])], undefined],
    ['a missing input', [x([1, 32, 1]), x([1, 32, 1])], 'missing input sr'],
    ['one input too many', [x([1, 32, 1]), sr(8000n), sr(8000n)], 'expected 2 input tensors, got 3'],
    ['a wrong type', [{ ...x([1, 32, 1]), type: 'int32', data: new Int32Array(32) }, sr(8000n)], 'input x must be float32'],
    ['a wrong rank', [x([32, 1]), sr(8000n)], 'input x must have shape [1, -1, -1]'],
    ['a zero dimension', [x([1, 32, 0]), sr(8000n)], 'input x must have shape [1, -1, -1]'],
    ['a free dimension not a multiple', [x([1, 48, 1]), sr(8000n)], 'input x dimension 1 must be a multiple of 32 from 32 to 64'],
    ['a free dimension below its minimum', [x([1, 1, 1]), sr(8000n)], 'input x dimension 1 must be a multiple of 32 from 32 to 64'],
    ['a free dimension above its maximum', [x([1, 32, 11]), sr(8000n)], 'input x dimension 2 must be at most 10'],
    ['a value not allowed', [x([1, 32, 1]), sr(-1n)], 'input sr must hold only 8000, 16000'],
  ] as const) {
    it(`${problem === undefined ? 'accepts' : 'refuses'} ${what}`, () => {
      assert.equal(checkInputs(specs, tensors), problem);
    });
  }

  it('checks allowed values of every type, element by element', () => {
    const spec: TensorSpec[] = [{ name: 'f', type: 'float32', shape: [2], values: [0, 0.5] }];
    assert.equal(checkInputs(spec, [{ name: 'f', type: 'float32', dims: [2], data: Float32Array.from([0.5, 0]) }]), undefined);
    assert.equal(checkInputs(spec, [{ name: 'f', type: 'float32', dims: [2], data: Float32Array.from([0.5, NaN]) }]), 'input f must hold only 0, 0.5');
  });
});

describe('the tensor and OCR routes refuse what the model cannot take, with 400 and the pack\'s words only', () => {
  const log: string[] = [];
  const destination = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      log.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ simulated: true, platform: 'sev-snp', destination });
  const queue = new InferenceQueue();
  let bundled: TargetHandler;
  let loose: TargetHandler;
  let packs: LoadedPack[] = [];
  before(async () => {
    packs = [await openPack(await loadModelPack(join(PACKS_DIR, 'vad.json'))), await openPack(await loadModelPack(join(PACKS_DIR, 'ocr.json'))), await openPack(parseModelPack(looseManifest('vad'), 'loose vad.json')), await openPack(parseModelPack(looseManifest('ocr'), 'loose ocr.json'))];
    bundled = targetRouter(inferenceRoutes(inThread(packs.slice(0, 2), queue, { logger })));
    loose = targetRouter(inferenceRoutes(inThread(packs.slice(2), queue, { logger })));
  });
  after(async () => {
    await closePacks(packs);
  });

  const post = async (handler: TargetHandler, path: string, content: Uint8Array, type = TENSORS_MEDIA_TYPE): Promise<{ status: number; text: string }> => {
    const scope = new RequestScope();
    try {
      const r = await handler({ method: 'POST', scheme: 'https', authority: 'cloister', path, headers: [['content-type', type]], content, trailers: [] }, { signal: new AbortController().signal, scope, padWith: () => undefined });
      return { status: r.status, text: r.status === 200 ? '' : new TextDecoder().decode(r.content) };
    } finally {
      scope.close();
    }
  };
  const vad = (sr: bigint, batch = 1): Uint8Array =>
    encodeTensors([
      { name: 'input', type: 'float32', dims: [batch, 576], data: new Float32Array(batch * 576) },
      { name: 'state', type: 'float32', dims: [2, batch, 128], data: new Float32Array(2 * batch * 128) },
      { name: 'sr', type: 'int64', dims: [], data: BigInt64Array.from([sr]) },
    ]);
  const image = (h: number, w: number): Uint8Array => encodeTensors([{ name: 'x', type: 'float32', dims: [1, 3, h, w], data: new Float32Array(3 * h * w).fill(0.1) }]);

  it('VAD: a sample rate other than 16000 is refused before the model (it would take the 8 kHz branch and fail), 16000 runs', async () => {
    assert.deepEqual(await post(bundled, '/v1/models/vad/vad', vad(-1n)), { status: 400, text: 'input sr must hold only 16000' });
    assert.deepEqual(await post(bundled, '/v1/models/vad/vad', vad(8000n)), { status: 400, text: 'input sr must hold only 16000' });
    assert.equal((await post(bundled, '/v1/models/vad/vad', vad(16000n))).status, 200);
  });

  it('OCR detection: sides that are not multiples of 32 from 32 to 2048 are refused before the model, 64 x 96 runs', async () => {
    assert.deepEqual(await post(bundled, '/v1/models/ocr/detection', image(64, 1300)), { status: 400, text: 'input x dimension 3 must be a multiple of 32 from 32 to 2048' });
    assert.deepEqual(await post(bundled, '/v1/models/ocr/detection', image(5, 7)), { status: 400, text: 'input x dimension 2 must be a multiple of 32 from 32 to 2048' });
    assert.deepEqual(await post(bundled, '/v1/models/ocr/detection', image(2080, 32)), { status: 400, text: 'input x dimension 2 must be a multiple of 32 from 32 to 2048' });
    assert.equal((await post(bundled, '/v1/models/ocr/detection', image(64, 96))).status, 200);
    assert.deepEqual(await post(bundled, '/v1/models/ocr/recognition', encodeTensors([{ name: 'x', type: 'float32', dims: [1, 3, 48, 4100], data: new Float32Array(3 * 48 * 4100) }])), { status: 400, text: 'input x dimension 3 must be at most 4096' });
  });

  it('what ONNX Runtime still refuses is a 400 naming the inputs, never its message; the log holds its class and code only', async () => {
    log.length = 0;
    assert.deepEqual(await post(loose, '/v1/models/vad/vad', vad(-1n, 173)), { status: 400, text: 'inputs input, state, sr rejected by the model' });
    assert.deepEqual(await post(loose, '/v1/models/ocr/detection', image(64, 1300)), { status: 400, text: 'input x rejected by the model' });
    assert.deepEqual(await post(loose, '/v1/models/ocr/detection', image(5, 7)), { status: 400, text: 'input x rejected by the model' });
    const lines = log.map((l) => JSON.parse(l) as { model: string; err: unknown; msg: string });
    assert.deepEqual(
      lines.map((l) => [l.model, l.err, l.msg]),
      ['vad', 'ocr', 'ocr'].map((model) => [model, { type: 'ModelRunError', code: 'MODEL_RUN_FAILED' }, 'model refused the input']),
    );
    assert.doesNotMatch(log.join(''), /173|1300|Status Message|onnxruntime/);
    assert.equal((await post(loose, '/v1/models/vad/vad', vad(16000n, 3))).status, 200, 'the loose pack runs what the model takes');
  });

  it('OCR: an image whose magic bytes are the other format than its label is refused before decoding, with a fixed text', async () => {
    const decoded: Uint8Array[] = [];
    const ocr: OcrRecognizer = {
      recognize: (bytes, scope) => {
        decoded.push(bytes);
        return Promise.resolve({ text: scope.alloc(0), lines: 0, boxes: 0 });
      },
    };
    const handler = targetRouter(inferenceRoutes({ packs: [await loadModelPack(join(PACKS_DIR, 'ocr.json'))], queue, executor: localExecutor({ packs: [], ocr }) }));
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Uint8Array(32)]);
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, ...new Uint8Array(32)]);
    assert.deepEqual(await post(handler, '/v1/ocr', png, 'image/jpeg'), { status: 400, text: 'image is PNG but labelled image/jpeg' });
    assert.deepEqual(await post(handler, '/v1/ocr', jpeg, 'image/png'), { status: 400, text: 'image is JPEG but labelled image/png' });
    assert.equal(decoded.length, 0, 'nothing was decoded');
    assert.equal((await post(handler, '/v1/ocr', png, 'image/png')).status, 200);
    assert.equal((await post(handler, '/v1/ocr', jpeg, 'image/jpeg; charset=binary')).status, 200);
    assert.equal((await post(handler, '/v1/ocr', new Uint8Array(40), 'image/png')).status, 200, 'neither format: left to the decoder, which refuses it as unsupported');
    assert.equal(decoded.length, 3);
  });
});

describe('model pack padding', () => {
  const good = JSON.parse(readFileSync(join(PACKS_DIR, 'vad.json'), 'utf8')) as Record<string, unknown>;
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
