// ONNX Runtime sessions for the model packs, created at boot with the pack's explicit thread counts and
// without the CPU memory arena, which keeps freed tensor memory (and so request data) alive for reuse:
// without it every buffer goes back to malloc when a run ends, where the memory hygiene clears it
// (src/base/memory/hygiene.ts). Memory-pattern planning stays on: it only plans, and gets each run's
// intermediate tensors as one block that is freed with the run, instead of hundreds of allocations that
// glibc's perturb then fills twice each (with perturb on, recognition ran at 38 ms without the plan and
// 18 ms with it; the memory scrape finds nothing either way).
// ONNX Runtime logs nothing: its messages carry shapes derived from requests, and it writes them to stderr,
// outside the log schema (src/base/log.ts). A run's error is replaced by a ModelRunError, which drops them.
import * as ort from 'onnxruntime-node';
import { CloisterError } from '../../attestation/errors.js';
import { loadModelPacks, PACKS_DIR, readVerified, type ModelPack, type ModelSpec } from './manifest.js';
import type { RequestScope } from '../base/memory/requestScope.js';
import { RuntimeError } from '../base/runtimeErrors.js';

// The process-wide level, read once when the first session is created; each session gets its own too.
// Fatal (4) is ORT's highest, and a fatal error ends the process anyway. Verbosity governs only verbose
// messages (onnxruntime-node does not read it yet): set so that no default of its lets them through.
ort.env.logLevel = 'fatal';
const SILENT = { logSeverityLevel: 4, logVerbosityLevel: 0 } as const;

export interface LoadedModel {
  readonly spec: ModelSpec;
  readonly session: ort.InferenceSession;
}

export interface LoadedPack {
  readonly pack: ModelPack;
  readonly models: ReadonlyMap<string, LoadedModel>;
  /** Asset bytes by role (public data, e.g. the OCR dictionary). */
  readonly assets: ReadonlyMap<string, Uint8Array>;
}

/**
 * Opens every model of a pack from the bytes checked against the manifest (never from the path again,
 * which could name other bytes by then); throws MODEL_HASH_MISMATCH or MODEL_PACK_INVALID.
 */
export async function openPack(pack: ModelPack): Promise<LoadedPack> {
  const source = `pack ${pack.name}`;
  const models = new Map<string, LoadedModel>();
  try {
    for (const spec of pack.models) models.set(spec.role, { spec, session: await openModel(pack, spec, source) });
    const assets = new Map<string, Uint8Array>();
    for (const a of pack.assets) assets.set(a.role, await readVerified(a, source));
    return { pack, models, assets };
  } catch (e) {
    for (const m of models.values()) await m.session.release();
    throw e;
  }
}

async function openModel(pack: ModelPack, spec: ModelSpec, source: string): Promise<ort.InferenceSession> {
  const bytes = await readVerified(spec, source);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: pack.threads.intraOp,
      interOpNumThreads: pack.threads.interOp,
      executionMode: 'sequential',
      enableCpuMemArena: false,
      enableMemPattern: true,
      graphOptimizationLevel: 'all',
      ...SILENT,
    });
  } catch (cause) {
    throw new CloisterError('MODEL_PACK_INVALID', `pack ${pack.name}: ONNX Runtime cannot load ${spec.path}: ${(cause as Error).message}`, { field: spec.role, cause });
  }
  const names = (list: readonly string[]): string => [...list].sort().join(', ');
  if (names(session.inputNames) !== names(spec.inputs.map((t) => t.name)) || names(session.outputNames) !== names(spec.outputs.map((t) => t.name))) {
    await session.release();
    throw new CloisterError('MODEL_PACK_INVALID', `pack ${pack.name}: model ${spec.role} has inputs [${names(session.inputNames)}] and outputs [${names(session.outputNames)}], the manifest says [${names(spec.inputs.map((t) => t.name))}] and [${names(spec.outputs.map((t) => t.name))}]`, { field: spec.role });
  }
  return session;
}

/** Every manifest in `dir` (default image/models), verified and opened, in name order. */
export async function openPacks(dir = PACKS_DIR): Promise<LoadedPack[]> {
  return openEach(await loadModelPacks(dir));
}

/** Each pack opened in turn; on a failure, those already open are released. */
export async function openEach(packs: readonly ModelPack[]): Promise<LoadedPack[]> {
  const loaded: LoadedPack[] = [];
  try {
    for (const pack of packs) loaded.push(await openPack(pack));
  } catch (e) {
    await closePacks(loaded);
    throw e;
  }
  return loaded;
}

export async function closePacks(packs: readonly LoadedPack[]): Promise<void> {
  for (const p of packs) for (const m of p.models.values()) await m.session.release();
}

/** ONNX Runtime failed a run. Its message is dropped, not kept as the cause: it can carry shapes derived from the request. */
export class ModelRunError extends RuntimeError {
  constructor() {
    super('MODEL_RUN_FAILED', 'onnx runtime failed the run (its message is not kept)');
  }
}

/**
 * `session.run`, with its plain Errors (those of ONNX Runtime's native binding, and onnxruntime-common's
 * missing-input check) replaced by a ModelRunError; the TypeErrors and RangeErrors of its argument checks,
 * which only a bug of ours can cause, are passed on.
 */
export async function runSession(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, fetches?: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
  try {
    return await (fetches === undefined ? session.run(feeds) : session.run(feeds, fetches));
  } catch (e) {
    if (e instanceof Error && Object.getPrototypeOf(e) === Error.prototype) throw new ModelRunError();
    throw e;
  }
}

/**
 * Runs `session` with its outputs written into the arrays of `fetches`, which lie in `scope`.
 * onnxruntime-node still hands back a copy of every output: whatever it returns that the scope does not
 * own is such a copy, wiped and freed here, so the caller's arrays are the only ones that hold the
 * results, and no megabyte of garbage per run is left for the after-request collection.
 */
export async function runInto(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor>, scope: RequestScope): Promise<void> {
  let returned: ort.InferenceSession.ReturnType | undefined;
  try {
    returned = await runSession(session, feeds, fetches);
  } finally {
    if (returned !== undefined) disposeReturned(returned, scope);
  }
}

/** Disposes of what a run returned: its tensors, and the arrays among them that `scope` does not own (ORT's copies), wiped and freed now. */
export function disposeReturned(returned: ort.InferenceSession.ReturnType, scope: RequestScope): void {
  const tensors = Object.values(returned);
  const copies = tensors.map((t) => t.data as ArrayBufferView).filter((d) => !scope.owns(d));
  for (const t of tensors) t.dispose();
  scope.dispose(...copies);
}
