// Private inference cost, in-process, cases interleaved call by call:
//   ocr: private text recognition of a receipt image (image/models/ocr.json) through the whole private
//        path (decapsulate the OHTTP request, decode, detect, recognise each line, encode, encapsulate,
//        wipe every plaintext buffer) beside raw `session.run` of the same model runs on the same input
//        tensors (one detection, one recognition per line), and the private path with wiping off;
//   tensors: the generic tensor endpoint on the recognition model alone (1 x 3 x 48 x 320 in, a 1 MiB
//        output back), beside raw `session.run`: the price of carrying a large output through OHTTP;
//        and its floor, the same model behind nothing but OHTTP and the memory hygiene (floorPath).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { encodeRequest, decapsulateRequest, encapsulateRequest, type GatewayKey, cipherSuite, AEAD_AES_128_GCM, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256, type KeyConfig } from '../attestation/protocols/index.js';
import { nodeHpke, free, wipe, RequestScope, afterRequest } from '../src/base/index.js';
import { loadModelPack, PACKS_DIR, InferenceQueue, inferenceRoutes, inThread, closePacks, openPack, runInto, type LoadedModel, encodeTensors, WorkerPool, TENSORS_MEDIA_TYPE, detectionBoxes, detectionInput, decodeImage, recognitionInput } from '../src/inference/index.js';
import { OhttpGateway, targetRouter } from '../src/ohttp/index.js';
import { measureInterleaved, pairedRatio, type Interval, type Measurement, type Ratio, type SuiteReport } from './measure.js';
import { renderTextImages } from '../src/testing/renderText.js';

const OPTIONS = { budgetMs: 20_000, minIterations: 100, warmup: 10 } as const;

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const interval = (i: Interval): string => `${pct(i.value)} (95% CI ${pct(i.low)}-${pct(i.high)})`;
const both = (r: Ratio): string => `${interval(r.perRound)} per round, ${interval(r.total)} in total over ${r.rounds} rounds`;
/** The cost of wiping: 1 - throughput with wiping / throughput without, per round and in total. */
const cost = (r: Ratio): string => `${pct(1 - r.perRound.value)} per round (95% CI ${pct(1 - r.perRound.high)}-${pct(1 - r.perRound.low)}), ${pct(1 - r.total.value)} in total`;
const ofMedians = (baseline: Measurement, subject: Measurement): string => `${((100 * baseline.medianUs) / subject.medianUs).toFixed(1)}%`;
const DIMS: readonly number[] = [1, 3, 48, 320];

async function gatewayFor(loaded: Awaited<ReturnType<typeof openPack>>): Promise<{ gateway: OhttpGateway; unwiped: OhttpGateway; config: KeyConfig; key: GatewayKey }> {
  const suite = cipherSuite(nodeHpke, KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_128_GCM);
  if (suite === undefined) throw new Error('no suite');
  const pair = await suite.kem.generateKeyPair();
  const config: KeyConfig = { keyId: 1, kemId: KEM_X25519_HKDF_SHA256, publicKey: new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)), suites: [{ kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM }] };
  const key: GatewayKey = { config, privateKey: pair.privateKey };
  const service = inThread([loaded], new InferenceQueue());
  // The server's own after-request hygiene (a minor GC) is part of the private path's cost.
  const target = targetRouter(inferenceRoutes(service));
  return {
    gateway: new OhttpGateway({ keys: () => key, target, primitives: nodeHpke, afterRequest }),
    // The same path whose request scopes skip zeroing (they still free and pool): the price of wiping.
    unwiped: new OhttpGateway({ keys: () => key, target, primitives: nodeHpke, afterRequest, openScope: () => new RequestScope({ wipe: () => undefined }) }),
    config,
    key,
  };
}

/** Raw frees what onnxruntime-node hands back (always fresh arrays), as the private path frees its own. */
const freeReturned = (returned: ort.InferenceSession.ReturnType): void => {
  free(...Object.values(returned).map((t) => t.data as ArrayBufferView));
};

export async function ocrSuite(): Promise<SuiteReport> {
  const loaded = await openPack(await loadModelPack(`${PACKS_DIR}/ocr.json`));
  const detection = loaded.models.get('detection')?.session;
  const recognition = loaded.models.get('recognition')?.session;
  if (detection === undefined || recognition === undefined) throw new Error('no OCR models');
  const [png] = await renderTextImages([['COFFEE 3.20', 'BAGEL 2.75', 'ORANGE JUICE 4.10', 'TOTAL 10.05']]);
  if (png === undefined) throw new Error('no image');
  // The raw case's inputs: exactly the tensors the pipeline feeds the models for this image.
  const image = decodeImage(png);
  const det = detectionInput(image);
  const probability = await detection.run({ x: new ort.Tensor('float32', det.data.slice(), det.dims) });
  const [, , h, w] = (probability['sigmoid_0.tmp_0'] as ort.Tensor).dims;
  const boxes = detectionBoxes((probability['sigmoid_0.tmp_0'] as ort.Tensor).data as Float32Array, h ?? 0, w ?? 0, det.scaleX, det.scaleY);
  const lines = boxes.map((b) => recognitionInput(image, b));
  const detFeeds = { x: new ort.Tensor('float32', det.data, det.dims) };
  const recFeeds = lines.map((l) => ({ x: new ort.Tensor('float32', l.data, l.dims) }));
  const { gateway, unwiped, config } = await gatewayFor(loaded);
  const message = encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/ocr', headers: [['content-type', 'image/png']], content: png, trailers: [] });
  const request = await encapsulateRequest(config, message, { primitives: nodeHpke });
  const check = await gateway.handle(request.bytes);
  if (check.kind !== 'encapsulated' || check.status !== 200) throw new Error(`the private path failed: ${JSON.stringify(check)}`);
  const privatePath = async (): Promise<void> => {
    const r = await gateway.handle(request.bytes);
    if (r.kind !== 'encapsulated') throw new Error('failed');
  };
  const unwipedPath = async (): Promise<void> => {
    const r = await unwiped.handle(request.bytes);
    if (r.kind !== 'encapsulated') throw new Error('failed');
  };
  try {
    const rows = await measureInterleaved(
      [
        {
          name: 'raw session.run (det + rec per line)',
          fn: async () => {
            // Raw frees what it gets back, as the private path frees its own: each case pays for its own
            // memory, and none leaves garbage for another's after-request collection to sweep.
            freeReturned(await detection.run(detFeeds));
            for (const f of recFeeds) freeReturned(await recognition.run(f));
          },
        },
        { name: 'private path (POST /v1/ocr)', fn: privatePath },
        { name: 'private path, wiping off', fn: unwipedPath },
      ],
      { budgetMs: 12_000, minIterations: 30, warmup: 3 },
    );
    const [raw, priv, noWipe] = rows;
    if (raw === undefined || priv === undefined || noWipe === undefined) throw new Error('missing rows');
    const ratio = pairedRatio(raw, priv);
    const wiping = pairedRatio(noWipe, priv);
    return {
      title: `Private text recognition, PP-OCRv4 (a ${image.width}x${image.height} receipt PNG of ${png.length} bytes, ${boxes.length} lines; ${loaded.pack.threads.intraOp} intra-op threads; cases interleaved call by call)`,
      rows,
      baseline: raw.name,
      notes: [
        `private path throughput = ${both(ratio)}, ${ofMedians(raw, priv)} as a ratio of medians, of raw session.run's (informational: the gap is mostly the pipeline's own work, image decoding and pre/post-processing in JavaScript, which raw session.run skips)`,
        `wiping costs ${cost(wiping)} of the private path's throughput (target < 10%: ${1 - wiping.perRound.value < 0.1 && 1 - wiping.total.value < 0.1 ? 'PASS' : 'MISS'})`,
      ],
    };
  } finally {
    await closePacks([loaded]);
  }
}

/**
 * The tensor suites' request and raw inputs: one recognition input, its encapsulated request (checked once
 * through `gateway`), and raw session.run at its best: the output written into one array kept across calls
 * (the copy onnxruntime-node still returns is freed at once, as the private path frees its own).
 */
async function recognitionFixture(model: LoadedModel, gateway: OhttpGateway, config: KeyConfig): Promise<{ input: Float32Array; body: Uint8Array; request: { bytes: Uint8Array }; feeds: Record<string, ort.Tensor>; fetches: Record<string, ort.Tensor> }> {
  const input = Float32Array.from({ length: DIMS.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37));
  const body = encodeTensors([{ name: 'x', type: 'float32', dims: DIMS, data: input }]);
  const message = encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/models/ocr/recognition', headers: [['content-type', TENSORS_MEDIA_TYPE]], content: body, trailers: [] });
  const request = await encapsulateRequest(config, message, { primitives: nodeHpke });
  const check = await gateway.handle(request.bytes);
  if (check.kind !== 'encapsulated' || check.status !== 200) throw new Error(`the private path failed: ${JSON.stringify(check)}`);
  const feeds = { x: new ort.Tensor('float32', input.slice(), DIMS) };
  const outputName = model.spec.outputs[0]?.name ?? '';
  const outputDims = ((await model.session.run(feeds))[outputName] as ort.Tensor).dims;
  const fetches = { [outputName]: new ort.Tensor('float32', new Float32Array(outputDims.reduce((a, b) => a * b, 1)), outputDims) };
  return { input, body, request, feeds, fetches };
}

export async function tensorSuite(): Promise<SuiteReport> {
  const loaded = await openPack(await loadModelPack(`${PACKS_DIR}/ocr.json`));
  const model = loaded.models.get('recognition');
  if (model === undefined) throw new Error('no recognition model');
  const { gateway, unwiped, config, key } = await gatewayFor(loaded);
  const { input, body, request, feeds, fetches } = await recognitionFixture(model, gateway, config);
  const privatePath = async (): Promise<void> => {
    const r = await gateway.handle(request.bytes);
    if (r.kind !== 'encapsulated') throw new Error('failed');
  };
  const unwipedPath = async (): Promise<void> => {
    const r = await unwiped.handle(request.bytes);
    if (r.kind !== 'encapsulated') throw new Error('failed');
  };
  try {
    const rows = await measureInterleaved(
      [
        {
          name: 'raw session.run',
          fn: async () => {
            freeReturned(await model.session.run(feeds, fetches));
          },
        },
        { name: 'private path', fn: privatePath },
        { name: 'private path, wiping off', fn: unwipedPath },
        { name: 'floor: OHTTP + hygiene only', fn: await floorPath(model, key, config, input, fetches) },
      ],
      OPTIONS,
    );
    const [raw, priv, noWipe, least] = rows;
    if (raw === undefined || priv === undefined || noWipe === undefined || least === undefined) throw new Error('missing rows');
    const ratio = pairedRatio(raw, priv);
    const floor = pairedRatio(raw, least);
    const wiping = pairedRatio(noWipe, priv);
    return {
      title: `Private inference, PP-OCRv4 recognition model through the tensor endpoint (input ${DIMS.join('x')} float32, ${(body.length / 1024).toFixed(0)} KiB request; ${loaded.pack.threads.intraOp} intra-op threads; cases interleaved call by call)`,
      rows,
      baseline: raw.name,
      notes: [
        `private path throughput = ${both(ratio)}, ${ofMedians(raw, priv)} as a ratio of medians, of raw session.run's for the recognition model (target >= 90%: per round ${ratio.perRound.value >= 0.9 ? 'PASS' : 'MISS'}, in total ${ratio.total.value >= 0.9 ? 'PASS' : 'MISS'}); a 1 MiB output is written in place, encrypted and wiped; a minor GC after each request`,
        `wiping costs ${cost(wiping)} of the private path's throughput (target < 10%: ${1 - wiping.perRound.value < 0.1 && 1 - wiping.total.value < 0.1 ? 'PASS' : 'MISS'})`,
        `floor = ${both(floor)} of raw session.run's: what privacy alone costs (decapsulate the bare float32 input, run into a reused array, encapsulate the output, wipe, the after-request minor GC; no routing, Binary HTTP, tensor codec or queue); the private path reaches ${pct(ratio.total.value / floor.total.value)} of the floor's throughput`,
      ],
    };
  } finally {
    await closePacks([loaded]);
  }
}

/**
 * The least any private path must do per request, from the real path's own parts: the request is the
 * input tensor's bytes alone, decapsulated by the gateway's code; the model runs on them in place (when
 * aligned) into one output array kept across calls; the output is encapsulated as the gateway does it;
 * then every plaintext byte is wiped and the after-request collection runs.
 */
async function floorPath(model: LoadedModel, key: GatewayKey, config: KeyConfig, input: Float32Array, fetches: Record<string, ort.Tensor>): Promise<() => Promise<void>> {
  const request = await encapsulateRequest(config, new Uint8Array(input.buffer, input.byteOffset, input.byteLength), { primitives: nodeHpke });
  const output = Object.values(fetches)[0]?.data as Float32Array;
  return async () => {
    const { message, responder } = await decapsulateRequest(request.bytes, () => key, nodeHpke);
    const scope = new RequestScope();
    scope.adopt(message);
    const data = scope.adopt(message.byteOffset % 4 === 0 ? new Float32Array(message.buffer, message.byteOffset, message.length / 4) : new Float32Array(message.slice().buffer));
    try {
      await runInto(model.session, { x: new ort.Tensor('float32', data, DIMS) }, fetches, scope);
      await responder.encapsulateChunks([new Uint8Array(output.buffer, output.byteOffset, output.byteLength)]);
    } finally {
      scope.close();
      wipe(output);
      afterRequest();
    }
  };
}

/**
 * With a core to spare: the tensor endpoint with inference in one worker thread with one intra-op
 * thread, beside raw `session.run` with one intra-op thread in this thread (the gateway's work overlaps
 * the worker's run on the other core). Cases interleaved call by call.
 */
/** Requests in flight in the loaded case: enough to keep one worker busy while the gateway works on the others. */
const IN_FLIGHT = 4;

export async function workerTensorSuite(): Promise<SuiteReport> {
  const models = mkdtempSync(join(tmpdir(), 'cloister-bench-worker-'));
  const manifest = JSON.parse(readFileSync(join(PACKS_DIR, 'ocr.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(models, 'ocr.json'), JSON.stringify({ ...manifest, threads: { intraOp: 1, interOp: 1 } }));
  const loaded = await openPack(await loadModelPack(join(models, 'ocr.json')));
  const model = loaded.models.get('recognition');
  if (model === undefined) throw new Error('no recognition model');
  const pool = await WorkerPool.start({ size: 1, models });
  const { config, key } = await gatewayFor(loaded);
  const gateway = new OhttpGateway({ keys: () => key, target: targetRouter(inferenceRoutes({ packs: [loaded.pack], queue: new InferenceQueue(), executor: pool })), primitives: nodeHpke, afterRequest });
  const { request, feeds, fetches } = await recognitionFixture(model, gateway, config);
  try {
    const rows = await measureInterleaved(
      [
        {
          name: 'raw session.run, 1 intra-op thread',
          fn: async () => {
            freeReturned(await model.session.run(feeds, fetches));
          },
        },
        {
          name: 'private path, worker with 1 intra-op thread',
          fn: async () => {
            const r = await gateway.handle(request.bytes);
            if (r.kind !== 'encapsulated') throw new Error('failed');
          },
        },
        {
          name: `raw session.run, ${IN_FLIGHT} runs back to back`,
          fn: async () => {
            for (let i = 0; i < IN_FLIGHT; i++) freeReturned(await model.session.run(feeds, fetches));
          },
        },
        {
          name: `private path, ${IN_FLIGHT} requests in flight`,
          fn: async () => {
            const rs = await Promise.all(Array.from({ length: IN_FLIGHT }, () => gateway.handle(request.bytes)));
            if (rs.some((r) => r.kind !== 'encapsulated')) throw new Error('failed');
          },
        },
      ],
      OPTIONS,
    );
    const [raw, priv, rawBatch, privBatch] = rows;
    if (raw === undefined || priv === undefined || rawBatch === undefined || privBatch === undefined) throw new Error('missing rows');
    const ratio = pairedRatio(raw, priv);
    const underLoad = pairedRatio(rawBatch, privBatch);
    return {
      title: `Private inference in a worker thread with a core to spare: PP-OCRv4 recognition through the tensor endpoint (input ${DIMS.join('x')} float32), one worker with one intra-op thread beside raw session.run with one; cases interleaved call by call`,
      rows,
      baseline: raw.name,
      notes: [
        `one request at a time (nothing overlaps: the latency view): private path throughput = ${both(ratio)}, ${ofMedians(raw, priv)} as a ratio of medians, of raw session.run's`,
        `${IN_FLIGHT} requests in flight (the gateway's work for one overlaps the worker's run of another, on the spare core): private path throughput = ${both(underLoad)}, ${ofMedians(rawBatch, privBatch)} as a ratio of medians, of raw session.run's back to back (target >= 95%: per round ${underLoad.perRound.value >= 0.95 ? 'PASS' : 'MISS'}, in total ${underLoad.total.value >= 0.95 ? 'PASS' : 'MISS'})`,
      ],
    };
  } finally {
    await pool.close();
    await closePacks([loaded]);
  }
}
