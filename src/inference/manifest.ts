// Model packs (docs/inference.md "Model packs"): a manifest baked into the image (image/models/*.json)
// names each ONNX file and asset with its SHA-256, the tensors each model takes and gives, the
// processing around it, its thread counts and the size classes its answers are padded to. Loading checks
// every hash: a file that differs is refused.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloisterError, VerificationError } from '../../attestation/errors.js';
import { parseTensorSpecs, type SpecProblem, type TensorSpec } from './tensorSpec.js';
import { assertPaddingPolicy, DEFAULT_PADDING, sizeClassesProblems, type SizeClasses } from '../../attestation/protocols/padding.js';

export { TENSOR_TYPES, type DimensionBounds, type TensorSpec, type TensorType } from './tensorSpec.js';
export const PROCESSINGS = ['ocr', 'tensor'] as const;
export type Processing = (typeof PROCESSINGS)[number];

export interface ModelSpec {
  readonly role: string;
  /** Absolute path, resolved against the pack root. */
  readonly path: string;
  readonly sha256: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

export interface AssetSpec {
  readonly role: string;
  readonly path: string;
  readonly sha256: string;
}

export interface ModelPack {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly license: string;
  readonly processing: Processing;
  readonly threads: { readonly intraOp: number; readonly interOp: number };
  readonly models: readonly ModelSpec[];
  readonly assets: readonly AssetSpec[];
  /** The size classes of its routes' answers, errors included (DEFAULT_PADDING when the manifest names none). */
  readonly padding: SizeClasses;
}

/** The repository (or image) root: dist/src/inference/ -> ../../../ */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PACKS_DIR = join(PROJECT_ROOT, 'image', 'models');

function invalid(source: string, field: string, message: string): never {
  throw new CloisterError('MODEL_PACK_INVALID', `${source}: ${field} ${message}`, { field });
}

type Json = Record<string, unknown>;

const str = (o: Json, key: string, source: string, path: string): string => {
  const v = o[key];
  if (typeof v !== 'string' || v === '') invalid(source, `${path}${key}`, 'must be a non-empty string');
  return v;
};

const obj = (v: unknown, source: string, path: string): Json => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(source, path, 'must be an object');
  return v as Json;
};

const arr = (v: unknown, source: string, path: string): unknown[] => {
  if (!Array.isArray(v)) invalid(source, path, 'must be an array');
  return v;
};

function fileOf(o: Json, source: string, path: string, root: string): { path: string; sha256: string } {
  const file = str(o, 'file', source, path);
  const sha256 = str(o, 'sha256', source, path);
  if (!/^[0-9a-f]{64}$/.test(sha256)) invalid(source, `${path}sha256`, 'must be 64 lowercase hex digits');
  return { path: isAbsolute(file) ? file : resolve(root, file), sha256 };
}

/** `padding`, its bad fields added to `problems`; a pack cannot turn padding off ("none"): its answers would show their sizes. */
function paddingOf(v: unknown, problems: SpecProblem[]): SizeClasses {
  if (v === undefined) return DEFAULT_PADDING;
  const found = v === 'none' ? ['padding: cannot be "none" in a pack'] : sizeClassesProblems(v, 'padding');
  for (const p of found) {
    const at = p.indexOf(': ');
    problems.push({ field: p.slice(0, at), message: p.slice(at + 2) });
  }
  return found.length > 0 ? DEFAULT_PADDING : (Object.freeze(assertPaddingPolicy(v)) as SizeClasses);
}

/** Validates a manifest object; file paths resolve against `root`. */
export function parseModelPack(json: unknown, source: string, root = PROJECT_ROOT): ModelPack {
  const o = obj(json, source, '$');
  const processing = str(o, 'processing', source, '');
  if (!(PROCESSINGS as readonly string[]).includes(processing)) invalid(source, 'processing', `must be one of ${PROCESSINGS.join(', ')}`);
  const threads = obj(o.threads, source, 'threads');
  const intraOp = threads.intraOp;
  const interOp = threads.interOp;
  if (!Number.isInteger(intraOp) || (intraOp as number) < 1 || !Number.isInteger(interOp) || (interOp as number) < 1) invalid(source, 'threads', 'must give intraOp and interOp as positive integers');
  const name = str(o, 'name', source, '');
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) invalid(source, 'name', 'must be [a-z0-9-]+');
  // Tensor specs and padding list every bad field at once.
  const problems: SpecProblem[] = [];
  const tensors = (v: unknown, path: string): TensorSpec[] => {
    const { specs, problems: found } = parseTensorSpecs(v, path);
    problems.push(...found);
    return specs;
  };
  const models = arr(o.models, source, 'models').map((m, i) => {
    const mo = obj(m, source, `models[${i}]`);
    return { role: str(mo, 'role', source, `models[${i}].`), ...fileOf(mo, source, `models[${i}].`, root), inputs: tensors(mo.inputs, `models[${i}].inputs`), outputs: tensors(mo.outputs, `models[${i}].outputs`) };
  });
  const padding = paddingOf(o.padding, problems);
  if (problems.length > 0) throw new CloisterError('MODEL_PACK_INVALID', `${source}: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, { field: problems.map((p) => p.field).join(',') });
  if (models.length === 0) invalid(source, 'models', 'must list at least one model');
  const assets = arr(o.assets ?? [], source, 'assets').map((a, i) => {
    const ao = obj(a, source, `assets[${i}]`);
    return { role: str(ao, 'role', source, `assets[${i}].`), ...fileOf(ao, source, `assets[${i}].`, root) };
  });
  return {
    name,
    version: str(o, 'version', source, ''),
    description: str(o, 'description', source, ''),
    license: str(o, 'license', source, ''),
    processing: processing as Processing,
    threads: { intraOp: intraOp as number, interOp: interOp as number },
    models,
    assets,
    padding,
  };
}

async function sha256File(path: string, source: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw new CloisterError('MODEL_PACK_INVALID', `${source}: cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { field: 'file', cause });
  }
  return hash.digest('hex');
}

function mismatch(source: string, file: ModelSpec | AssetSpec, actual: string): VerificationError {
  return new VerificationError('MODEL_HASH_MISMATCH', `${source}: ${file.path} has SHA-256 ${actual}, the manifest says ${file.sha256}; refusing the pack`, { field: file.role, expected: file.sha256, actual });
}

/**
 * One file of a pack read whole and checked against its SHA-256: what the caller loads are the bytes
 * that were hashed, so a file replaced after an earlier check is refused, not loaded.
 */
export async function readVerified(file: ModelSpec | AssetSpec, source: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file.path);
  } catch (cause) {
    throw new CloisterError('MODEL_PACK_INVALID', `${source}: cannot read ${file.path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { field: file.role, cause });
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== file.sha256) throw mismatch(source, file, actual);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Checks every file of the pack against its SHA-256; throws MODEL_HASH_MISMATCH naming the file. */
export async function verifyModelPack(pack: ModelPack, source: string): Promise<void> {
  for (const f of [...pack.models, ...pack.assets]) {
    const actual = await sha256File(f.path, source);
    if (actual !== f.sha256) throw mismatch(source, f, actual);
  }
}

/** Reads, validates and verifies one manifest file. */
export async function loadModelPack(manifestPath: string, root = PROJECT_ROOT): Promise<ModelPack> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (cause) {
    throw new CloisterError('MODEL_PACK_INVALID', `${manifestPath}: ${(cause as Error).message}`, { field: 'manifest', cause });
  }
  const pack = parseModelPack(json, manifestPath, root);
  await verifyModelPack(pack, manifestPath);
  return pack;
}

/** Every manifest in `dir` (default image/models), read, validated and verified, in name order. */
export async function loadModelPacks(dir = PACKS_DIR): Promise<ModelPack[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (cause) {
    throw new CloisterError('MODEL_PACK_INVALID', `cannot read the model pack directory ${dir}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { field: 'models', cause });
  }
  const packs: ModelPack[] = [];
  for (const n of names) packs.push(await loadModelPack(join(dir, n)));
  return packs;
}
