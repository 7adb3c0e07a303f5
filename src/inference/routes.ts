// The inference targets behind the gateway (docs/inference.md), implementing its target interface. A
// route checks what it can without reading the body's plaintext beyond its first bytes (media type,
// image magic), then queues the job; the executor does the work (work.ts), in this thread or in a
// worker thread, with everything it allocates from the request made or adopted through the request's
// scope, which the gateway closes. Bodies are binary: tensors in application/vnd.cloister.tensors,
// images as PNG or JPEG, recognised text as UTF-8 bytes assembled without JavaScript strings.
import { mediaType } from '../../attestation/protocols/httpText.js';
import type { BhttpRequest, BhttpResponse } from '../../attestation/protocols/bhttp.js';
import { textResponse, type TargetContext, type TargetRoute } from '../ohttp/target.js';
import { InferenceQueue, QueueClosedError, QueueFullError } from './queue.js';
import type { ModelPack, ModelSpec } from './manifest.js';
import { TENSORS_MEDIA_TYPE } from './tensorCodec.js';
import { imageLabelProblem } from './ocr/image.js';
import type { LoadedPack } from './sessions.js';
import { localExecutor, localWork, type InferenceExecutor, type InferenceJob, type OcrRecognizer, type WorkLogger } from './work.js';

export interface InferenceService {
  /** The packs served, by their manifests: a tensor route per model, /v1/ocr for an "ocr" pack, the listing. */
  readonly packs: readonly ModelPack[];
  readonly queue: InferenceQueue;
  /** Where the jobs run: a localExecutor (this thread) or a WorkerPool. */
  readonly executor: InferenceExecutor;
}

/** `loaded` served and run in this thread; `ocr` replaces the OCR pack's own pipeline (tests). */
export function inThread(loaded: readonly LoadedPack[], queue: InferenceQueue, options: { readonly logger?: WorkLogger; readonly ocr?: OcrRecognizer } = {}): InferenceService {
  const work = localWork(loaded, options.logger);
  return { packs: loaded.map((l) => l.pack), queue, executor: localExecutor(options.ocr === undefined ? work : { ...work, ocr: options.ocr }) };
}

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

/** Queues `job` on the request's body; a full or closing queue is a 503. */
async function queued(service: InferenceService, job: InferenceJob, content: Uint8Array, context: TargetContext): Promise<BhttpResponse> {
  try {
    return await service.queue.run((s) => service.executor.run(job, content, context.scope, s), context.signal);
  } catch (e) {
    const r = busy(e);
    if (r !== undefined) return r;
    throw e;
  }
}

function tensorRoute(service: InferenceService, pack: ModelPack, model: ModelSpec): TargetRoute {
  const job: InferenceJob = { kind: 'tensors', pack: pack.name, role: model.role };
  return {
    method: 'POST',
    path: `/v1/models/${pack.name}/${model.role}`,
    model: pack.name,
    padding: pack.padding,
    handler: (request, context) => {
      if (requestType(request) !== TENSORS_MEDIA_TYPE) return Promise.resolve(textResponse(415, `send ${TENSORS_MEDIA_TYPE}`));
      return queued(service, job, request.content, context);
    },
  };
}

function ocrRoute(service: InferenceService, pack: ModelPack): TargetRoute {
  return {
    method: 'POST',
    path: '/v1/ocr',
    model: pack.name,
    padding: pack.padding,
    handler: (request, context) => {
      const type = requestType(request);
      if (type !== 'image/png' && type !== 'image/jpeg') return Promise.resolve(textResponse(415, 'send image/png or image/jpeg'));
      const mislabelled = imageLabelProblem(type, request.content);
      if (mislabelled !== undefined) return Promise.resolve(textResponse(400, mislabelled));
      return queued(service, { kind: 'ocr' }, request.content, context);
    },
  };
}

function modelsRoute(service: InferenceService, ocr: ModelPack | undefined): TargetRoute {
  const listing = encoder.encode(
    JSON.stringify({
      packs: service.packs.map((pack) => ({
        name: pack.name,
        version: pack.version,
        description: pack.description,
        license: pack.license,
        processing: pack.processing,
        models: pack.models.map((m) => ({ role: m.role, sha256: m.sha256, path: `/v1/models/${pack.name}/${m.role}`, inputs: m.inputs, outputs: m.outputs })),
      })),
      ...(ocr === undefined ? {} : { ocr: '/v1/ocr' }),
    }),
  );
  return { method: 'GET', path: '/v1/models', handler: () => Promise.resolve({ status: 200, informational: [], headers: [['content-type', 'application/json']], content: listing.slice(), trailers: [] }) };
}

export function inferenceRoutes(service: InferenceService): TargetRoute[] {
  const ocr = service.packs.find((p) => p.processing === 'ocr');
  return [
    modelsRoute(service, ocr),
    ...service.packs.flatMap((p) => p.models.map((m) => tensorRoute(service, p, m))),
    ...(ocr === undefined ? [] : [ocrRoute(service, ocr)]),
  ];
}
