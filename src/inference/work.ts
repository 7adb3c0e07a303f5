// The work a request's inference is, once the queue admits it: decode the body, check it against the
// pack, run the model(s), encode the answer, each made or adopted in the request's scope. The same work
// runs in the server's thread (localExecutor) or in a worker thread (workerPool.ts), which runs a
// localExecutor of its own; the routes only choose between them.
import * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import type { BhttpResponse } from '../../attestation/protocols/bhttp.js';
import { textResponse } from '../ohttp/target.js';
import type { TensorSpec } from './manifest.js';
import { errorFields } from '../base/log.js';
import { BufferPool } from '../base/memory/bufferPool.js';
import type { RequestScope } from '../base/memory/requestScope.js';
import { checkInputs } from './checkInputs.js';
import { disposeReturned, ModelRunError, runInto, runSession, type LoadedModel, type LoadedPack } from './sessions.js';
import { allocateEncoded, decodeTensors, encodeTensors, fillEncoded, TensorFormatError, TENSORS_MEDIA_TYPE, type TensorData, type WireTensor } from './tensorCodec.js';
import { ImageDecodeError } from './ocr/image.js';
import { ocrRecognizer } from './ocrPack.js';

export interface OcrRecognizer {
  /** The recognised text, made in `scope`; every intermediate is made or adopted there too. */
  recognize(image: Uint8Array, scope: RequestScope, signal?: AbortSignal): Promise<{ text: Uint8Array; lines: number; boxes: number }>;
}

/** What a request asks to run: the OCR pipeline, or one model of a pack on wire tensors. */
export type InferenceJob = { readonly kind: 'ocr' } | { readonly kind: 'tensors'; readonly pack: string; readonly role: string };

export interface InferenceExecutor {
  /**
   * The response to `job` on a request body; its content lies in `scope`. An executor that works
   * elsewhere takes the body's memory away (the caller's view is empty afterwards).
   */
  run(job: InferenceJob, content: Uint8Array, scope: RequestScope, signal?: AbortSignal): Promise<BhttpResponse>;
  close(): Promise<void>;
}

export type WorkLogger = Pick<Logger, 'warn' | 'error'>;

export interface LocalWork {
  readonly packs: readonly LoadedPack[];
  readonly ocr?: OcrRecognizer;
  /** Largest tensor request, in elements (default 16 Mi). */
  readonly maxElements?: number;
  /** Where a failed inference is logged, as errorFields only. */
  readonly logger?: WorkLogger;
  /** Response bodies in buffers of their own (never pooled), so they can be transferred whole. */
  readonly ownBuffers?: boolean;
}

const MAX_ELEMENTS = 16 << 20;

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
export async function runModel(model: LoadedModel, inputs: readonly WireTensor[], scope: RequestScope, ownBuffers = false): Promise<Uint8Array> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of inputs) feeds[t.name] = new ort.Tensor(t.type, t.data, t.dims);
  const specs = model.spec.outputs;
  let seen = outputShapes.get(model);
  if (seen === undefined) outputShapes.set(model, (seen = new Map<string, readonly (readonly number[])[]>()));
  const key = inputs.map((t) => `${t.name}:${t.dims.join('x')}`).sort().join(' ');
  const known = specs.every((o) => !o.shape.includes(-1)) ? specs.map((o) => o.shape) : seen.get(key);
  if (known !== undefined) {
    const shapes = specs.map((o, i) => ({ name: o.name, type: o.type, dims: known[i] as readonly number[] }));
    const own = (size: number): ArrayBuffer => scope.alloc(size).buffer as ArrayBuffer;
    const layout = allocateEncoded(shapes, ownBuffers ? own : (size) => scope.borrow(tensorBuffers, size), own);
    try {
      const fetches: Record<string, ort.Tensor> = {};
      for (const [i, o] of shapes.entries()) fetches[o.name] = new ort.Tensor(o.type, layout.data[i] as TensorData, o.dims);
      await runInto(model.session, feeds, fetches, scope);
      fillEncoded(layout, shapes);
      return layout.bytes;
    } catch (e) {
      scope.dispose(layout.bytes);
      // A learned shape can be wrong for an output whose shape depends on values: learn it again.
      if (seen.delete(key)) return await runModel(model, inputs, scope, ownBuffers);
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

async function tensorWork(work: LocalWork, pack: LoadedPack, model: LoadedModel, content: Uint8Array, scope: RequestScope, signal?: AbortSignal): Promise<BhttpResponse> {
  let inputs: WireTensor[];
  try {
    inputs = decodeTensors(content, work.maxElements ?? MAX_ELEMENTS, (size) => scope.borrow(tensorBuffers, size));
  } catch (e) {
    if (e instanceof TensorFormatError) return textResponse(400, `malformed tensors: ${e.message}`);
    throw e;
  }
  try {
    const problem = checkInputs(model.spec.inputs, inputs);
    if (problem !== undefined) return textResponse(400, problem);
    signal?.throwIfAborted();
    const body = await runModel(model, inputs, scope, work.ownBuffers);
    return { status: 200, informational: [], headers: [['content-type', TENSORS_MEDIA_TYPE]], content: body, trailers: [] };
  } catch (e) {
    const refused = refusedInput(e, model.spec.inputs);
    if (refused !== undefined) {
      work.logger?.warn({ model: pack.pack.name, ...errorFields(e) }, 'model refused the input');
      return refused;
    }
    if (signal?.aborted !== true) work.logger?.error({ model: pack.pack.name, ...errorFields(e) }, 'inference failed');
    throw e;
  } finally {
    // Back to the pool now rather than after encapsulation: the next request can reuse them.
    scope.dispose(...inputs.map((t) => t.data));
  }
}

async function ocrWork(work: LocalWork, ocr: OcrRecognizer, content: Uint8Array, scope: RequestScope, signal?: AbortSignal): Promise<BhttpResponse> {
  try {
    const { text } = await ocr.recognize(content, scope, signal);
    return { status: 200, informational: [], headers: [['content-type', 'text/plain; charset=utf-8']], content: text, trailers: [] };
  } catch (e) {
    if (e instanceof ImageDecodeError) return textResponse(400, `unreadable image (${e.reason})`);
    if (signal?.aborted !== true) work.logger?.error({ model: work.packs.find((p) => p.pack.processing === 'ocr')?.pack.name ?? 'ocr', ...errorFields(e) }, 'inference failed');
    throw e;
  }
}

/** The work of `packs` in this thread: their models, and the OCR pipeline of an "ocr" pack. */
export function localWork(packs: readonly LoadedPack[], logger?: WorkLogger, options: { readonly ownBuffers?: boolean; readonly maxElements?: number } = {}): LocalWork {
  const ocrPack = packs.find((p) => p.pack.processing === 'ocr');
  return { packs, ...(logger === undefined ? {} : { logger }), ...(ocrPack === undefined ? {} : { ocr: ocrRecognizer(ocrPack) }), ...options };
}

/** Runs jobs in this thread, on sessions this thread opened. */
export function localExecutor(work: LocalWork): InferenceExecutor {
  return {
    run: (job, content, scope, signal) => {
      if (job.kind === 'ocr') {
        if (work.ocr === undefined) return Promise.resolve(textResponse(404, 'not found'));
        return ocrWork(work, work.ocr, content, scope, signal);
      }
      const pack = work.packs.find((p) => p.pack.name === job.pack);
      const model = pack?.models.get(job.role);
      if (pack === undefined || model === undefined) return Promise.resolve(textResponse(404, 'not found'));
      return tensorWork(work, pack, model, content, scope, signal);
    },
    close: () => Promise.resolve(),
  };
}
