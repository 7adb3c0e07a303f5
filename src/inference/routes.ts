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
import type { LoadedModel, LoadedPack } from './sessions.js';
import { TENSORS_MEDIA_TYPE } from './tensorCodec.js';
import { imageLabelProblem } from './ocr/image.js';
import { localExecutor, type InferenceExecutor, type InferenceJob, type LocalWork } from './work.js';

export interface InferenceService extends LocalWork {
  readonly queue: InferenceQueue;
  /** Where jobs run (default: in this thread, a localExecutor over `packs` and `ocr`). */
  readonly executor?: InferenceExecutor;
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
async function queued(service: InferenceService, executor: InferenceExecutor, job: InferenceJob, content: Uint8Array, context: TargetContext): Promise<BhttpResponse> {
  try {
    return await service.queue.run((s) => executor.run(job, content, context.scope, s), context.signal);
  } catch (e) {
    const r = busy(e);
    if (r !== undefined) return r;
    throw e;
  }
}

function tensorRoute(service: InferenceService, executor: InferenceExecutor, pack: LoadedPack, model: LoadedModel): TargetRoute {
  const job: InferenceJob = { kind: 'tensors', pack: pack.pack.name, role: model.spec.role };
  return {
    method: 'POST',
    path: `/v1/models/${pack.pack.name}/${model.spec.role}`,
    model: pack.pack.name,
    padding: pack.pack.padding,
    handler: (request, context) => {
      if (requestType(request) !== TENSORS_MEDIA_TYPE) return Promise.resolve(textResponse(415, `send ${TENSORS_MEDIA_TYPE}`));
      return queued(service, executor, job, request.content, context);
    },
  };
}

function ocrRoute(service: InferenceService, executor: InferenceExecutor): TargetRoute {
  const pack = service.packs.find((p) => p.pack.processing === 'ocr')?.pack;
  return {
    method: 'POST',
    path: '/v1/ocr',
    model: pack?.name ?? 'ocr',
    ...(pack === undefined ? {} : { padding: pack.padding }),
    handler: (request, context) => {
      const type = requestType(request);
      if (type !== 'image/png' && type !== 'image/jpeg') return Promise.resolve(textResponse(415, 'send image/png or image/jpeg'));
      const mislabelled = imageLabelProblem(type, request.content);
      if (mislabelled !== undefined) return Promise.resolve(textResponse(400, mislabelled));
      return queued(service, executor, { kind: 'ocr' }, request.content, context);
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
  const executor = service.executor ?? localExecutor(service);
  return [
    modelsRoute(service),
    ...service.packs.flatMap((p) => [...p.models.values()].map((m) => tensorRoute(service, executor, p, m))),
    ...(service.ocr === undefined ? [] : [ocrRoute(service, executor)]),
  ];
}
