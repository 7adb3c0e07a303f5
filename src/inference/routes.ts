// The inference targets behind the gateway (docs/inference.md), implementing its target interface:
// everything these routes allocate from a request (decoded tensors, ORT outputs and their copies,
// images, text) is made or adopted through the request's scope, which the gateway closes. Bodies are
// binary: tensors in application/vnd.cloister.tensors, images as PNG or JPEG, recognised text as UTF-8
// bytes assembled without JavaScript strings.
import * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { mediaType } from '../../attestation/protocols/httpText.js';
import type { BhttpRequest, BhttpResponse } from '../../attestation/protocols/bhttp.js';
import { textResponse, type TargetRoute } from '../ohttp/target.js';
import type { TensorSpec } from './manifest.js';
import { errorFields } from '../base/log.js';
import { BufferPool } from '../base/memory/bufferPool.js';
import type { RequestScope } from '../base/memory/requestScope.js';
import { checkInputs } from './checkInputs.js';
import { InferenceQueue, QueueClosedError, QueueFullError } from './queue.js';
import { disposeReturned, ModelRunError, runInto, runSession, type LoadedModel, type LoadedPack } from './sessions.js';
import { allocateEncoded, decodeTensors, encodeTensors, fillEncoded, TensorFormatError, TENSORS_MEDIA_TYPE, type TensorData, type WireTensor } from './tensorCodec.js';
import { ImageDecodeError, imageLabelProblem } from './ocr/image.js';

export interface OcrRecognizer {
  /** The recognised text, made in `scope`; every intermediate is made or adopted there too. */
  recognize(image: Uint8Array, scope: RequestScope, signal?: AbortSignal): Promise<{ text: Uint8Array; lines: number; boxes: number }>;
}

export interface InferenceService {
  readonly packs: readonly LoadedPack[];
  readonly queue: InferenceQueue;
  readonly ocr?: OcrRecognizer;
  /** Largest tensor request, in elements (default 16 Mi). */
  readonly maxElements?: number;
  /** Where a failed inference is logged, as errorFields only. */
  readonly logger?: Pick<Logger, 'warn' | 'error'>;
}

const MAX_ELEMENTS = 16 << 20;
const encoder = new TextEncoder();

const header = (r: BhttpRequest, name: string): string | undefined => r.headers.find(([n]) => n === name)?.[1];
const requestType = (r: BhttpRequest): string => mediaType(header(r, 'content-type'));

function busy(e: unknown): BhttpResponse | undefined {
  if (e instanceof QueueFullError) {
    const r = textResponse(503, 'busy, retry later');
    return { ...r, headers: [...r.headers, ['retry-after', String(e.retryAfterSeconds)]] };
  }
  if (e instanceof QueueClosedError) return textResponse(503, 'shutting down');
  return undefined;
}

/**
 * The answer to a run ONNX Runtime failed on tensors that passed checkInputs: the model refused them. It
 * names the model's inputs (which one ORT's message does not reliably say, and that message is dropped).
 */
export function refusedInput(e: unknown, inputs: readonly TensorSpec[]): BhttpResponse | undefined {
  if (!(e instanceof ModelRunError)) return undefined;
  return textResponse(400, `${inputs.length === 1 ? 'input' : 'inputs'} ${inputs.map((t) => t.name).join(', ')} rejected by the model`);
}

// Output shapes seen per model and input shapes: a model whose outputs have free dimensions runs into
// ORT-allocated arrays the first time it meets an input shape, and into pre-allocated ones afterwards.
const outputShapes = new WeakMap<LoadedModel, Map<string, readonly (readonly number[])[]>>();

/** Input and output tensors of the tensor endpoint, in reused memory, wiped whenever it is given back. */
const tensorBuffers = new BufferPool();

/**
 * One run of a model on wire tensors; the encoded outputs are made in `scope`. When the output shapes
 * are known (static in the manifest, or seen before for these input shapes), the response body is laid
 * out first, in a pooled buffer, and ONNX Runtime writes the outputs straight into it (aligned) or into
 * arrays copied in; otherwise ORT allocates, and its arrays are copied into the encoding.
 */
export async function runModel(model: LoadedModel, inputs: readonly WireTensor[], scope: RequestScope): Promise<Uint8Array> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of inputs) feeds[t.name] = new ort.Tensor(t.type, t.data, t.dims);
  const specs = model.spec.outputs;
  let seen = outputShapes.get(model);
  if (seen === undefined) outputShapes.set(model, (seen = new Map<string, readonly (readonly number[])[]>()));
  const key = inputs.map((t) => `${t.name}:${t.dims.join('x')}`).sort().join(' ');
  const known = specs.every((o) => !o.shape.includes(-1)) ? specs.map((o) => o.shape) : seen.get(key);
  if (known !== undefined) {
    const shapes = specs.map((o, i) => ({ name: o.name, type: o.type, dims: known[i] as readonly number[] }));
    const layout = allocateEncoded(shapes, (size) => scope.borrow(tensorBuffers, size), (size) => scope.alloc(size).buffer as ArrayBuffer);
    try {
      const fetches: Record<string, ort.Tensor> = {};
      for (const [i, o] of shapes.entries()) fetches[o.name] = new ort.Tensor(o.type, layout.data[i] as TensorData, o.dims);
      await runInto(model.session, feeds, fetches, scope);
      fillEncoded(layout, shapes);
      return layout.bytes;
    } catch (e) {
      scope.dispose(layout.bytes);
      // A learned shape can be wrong for an output whose shape depends on values: learn it again.
      if (seen.delete(key)) return await runModel(model, inputs, scope);
      throw e;
    } finally {
      scope.dispose(...layout.data.filter((_, i) => layout.inPlace[i] !== true));
    }
  }
  let result: ort.InferenceSession.ReturnType | undefined;
  try {
    result = await runSession(model.session, feeds);
    const returned = result;
    const outputs: WireTensor[] = specs.map((spec) => {
      const value = returned[spec.name] as ort.Tensor;
      return { name: spec.name, type: spec.type, dims: [...value.dims], data: value.data as TensorData };
    });
    if (seen.size < 256) seen.set(key, outputs.map((o) => o.dims));
    return encodeTensors(outputs, (size) => scope.alloc(size));
  } finally {
    if (result !== undefined) disposeReturned(result, scope);
  }
}

function tensorRoute(service: InferenceService, pack: LoadedPack, model: LoadedModel): TargetRoute {
  return {
    method: 'POST',
    path: `/v1/models/${pack.pack.name}/${model.spec.role}`,
    model: pack.pack.name,
    padding: pack.pack.padding,
    handler: async (request, { signal, scope }) => {
      if (requestType(request) !== TENSORS_MEDIA_TYPE) return textResponse(415, `send ${TENSORS_MEDIA_TYPE}`);
      let inputs: WireTensor[];
      try {
        inputs = decodeTensors(request.content, service.maxElements ?? MAX_ELEMENTS, (size) => scope.borrow(tensorBuffers, size));
      } catch (e) {
        if (e instanceof TensorFormatError) return textResponse(400, `malformed tensors: ${e.message}`);
        throw e;
      }
      try {
        const problem = checkInputs(model.spec.inputs, inputs);
        if (problem !== undefined) return textResponse(400, problem);
        const content = await service.queue.run(() => runModel(model, inputs, scope), signal);
        return { status: 200, informational: [], headers: [['content-type', TENSORS_MEDIA_TYPE]], content, trailers: [] };
      } catch (e) {
        const r = busy(e);
        if (r !== undefined) return r;
        const refused = refusedInput(e, model.spec.inputs);
        if (refused !== undefined) {
          service.logger?.warn({ model: pack.pack.name, ...errorFields(e) }, 'model refused the input');
          return refused;
        }
        if (!signal.aborted) service.logger?.error({ model: pack.pack.name, ...errorFields(e) }, 'inference failed');
        throw e;
      } finally {
        // Back to the pool now rather than after encapsulation: the next request can reuse them.
        scope.dispose(...inputs.map((t) => t.data));
      }
    },
  };
}

function ocrRoute(service: InferenceService, ocr: OcrRecognizer): TargetRoute {
  const pack = service.packs.find((p) => p.pack.processing === 'ocr')?.pack;
  const model = pack?.name ?? 'ocr';
  return {
    method: 'POST',
    path: '/v1/ocr',
    model,
    ...(pack === undefined ? {} : { padding: pack.padding }),
    handler: async (request, { signal, scope }) => {
      const type = requestType(request);
      if (type !== 'image/png' && type !== 'image/jpeg') return textResponse(415, 'send image/png or image/jpeg');
      const mislabelled = imageLabelProblem(type, request.content);
      if (mislabelled !== undefined) return textResponse(400, mislabelled);
      try {
        const { text } = await service.queue.run((s) => ocr.recognize(request.content, scope, s), signal);
        return { status: 200, informational: [], headers: [['content-type', 'text/plain; charset=utf-8']], content: text, trailers: [] };
      } catch (e) {
        const r = busy(e);
        if (r !== undefined) return r;
        if (e instanceof ImageDecodeError) return textResponse(400, `unreadable image (${e.reason})`);
        if (!signal.aborted) service.logger?.error({ model, ...errorFields(e) }, 'inference failed');
        throw e;
      }
    },
  };
}

function modelsRoute(service: InferenceService): TargetRoute {
  const listing = encoder.encode(
    JSON.stringify({
      packs: service.packs.map(({ pack }) => ({
        name: pack.name,
        version: pack.version,
        description: pack.description,
        license: pack.license,
        processing: pack.processing,
        models: pack.models.map((m) => ({ role: m.role, sha256: m.sha256, path: `/v1/models/${pack.name}/${m.role}`, inputs: m.inputs, outputs: m.outputs })),
      })),
      ...(service.ocr === undefined ? {} : { ocr: '/v1/ocr' }),
    }),
  );
  return { method: 'GET', path: '/v1/models', handler: () => Promise.resolve({ status: 200, informational: [], headers: [['content-type', 'application/json']], content: listing.slice(), trailers: [] }) };
}

export function inferenceRoutes(service: InferenceService): TargetRoute[] {
  return [
    modelsRoute(service),
    ...service.packs.flatMap((p) => [...p.models.values()].map((m) => tensorRoute(service, p, m))),
    ...(service.ocr === undefined ? [] : [ocrRoute(service, service.ocr)]),
  ];
}
