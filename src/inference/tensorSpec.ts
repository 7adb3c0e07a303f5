// The tensors a model of a pack takes and gives (docs/inference.md "Model packs"): name, element type,
// shape, and what the model accepts beyond its shape: bounds on each free dimension, and the values an
// input may hold. The pack's manifest declares them; the tensor endpoint checks requests against them
// (checkInputs.ts) before ONNX Runtime sees anything.

export const TENSOR_TYPES = ['float32', 'int64', 'int32', 'uint8'] as const;
export type TensorType = (typeof TENSOR_TYPES)[number];

/** What a free dimension (-1 in the shape) may be; a bound left out is not checked. */
export interface DimensionBounds {
  readonly min?: number;
  readonly max?: number;
  readonly multipleOf?: number;
}

export interface TensorSpec {
  readonly name: string;
  readonly type: TensorType;
  /** -1 for a dimension the caller chooses. */
  readonly shape: readonly number[];
  /** One entry per -1 of `shape`, in order. */
  readonly free?: readonly DimensionBounds[];
  /** The only values an element may hold (an input the model branches on, such as a sample rate). */
  readonly values?: readonly number[];
}

/** A bad field of a spec: its JSON path, and what it must be. */
export interface SpecProblem {
  readonly field: string;
  readonly message: string;
}

const KEYS = new Set(['name', 'type', 'shape', 'free', 'values']);
const BOUND_KEYS = new Set(['min', 'max', 'multipleOf']);
const VALUE_RANGE: Readonly<Record<TensorType, readonly [number, number] | undefined>> = {
  float32: undefined,
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint8: [0, 255],
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const positiveInteger = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1;

function bounds(v: unknown, path: string, problems: SpecProblem[]): DimensionBounds {
  if (!isObject(v)) {
    problems.push({ field: path, message: 'must be an object' });
    return {};
  }
  for (const k of Object.keys(v)) if (!BOUND_KEYS.has(k)) problems.push({ field: `${path}.${k}`, message: 'is not a bound (min, max, multipleOf)' });
  const out: { min?: number; max?: number; multipleOf?: number } = {};
  for (const k of ['min', 'max', 'multipleOf'] as const) {
    if (!(k in v)) continue;
    const n = v[k];
    if (positiveInteger(n)) out[k] = n;
    else problems.push({ field: `${path}.${k}`, message: 'must be a positive integer' });
  }
  if (out.min !== undefined && out.max !== undefined && out.min > out.max) problems.push({ field: path, message: 'min must not exceed max' });
  return out;
}

function values(v: unknown, type: TensorType | undefined, path: string, problems: SpecProblem[]): number[] {
  if (!Array.isArray(v) || v.length === 0) {
    problems.push({ field: path, message: 'must be a non-empty array' });
    return [];
  }
  const range = type === undefined ? undefined : VALUE_RANGE[type];
  for (const [i, n] of v.entries()) {
    const ok = range === undefined ? typeof n === 'number' && Number.isFinite(n) && Math.fround(n) === n : Number.isInteger(n) && (n as number) >= range[0] && (n as number) <= range[1];
    if (!ok) problems.push({ field: `${path}[${i}]`, message: range === undefined ? 'must be a number a float32 holds exactly' : `must be an integer from ${range[0]} to ${range[1]}` });
  }
  return v as number[];
}

function tensorSpec(v: unknown, path: string, problems: SpecProblem[]): TensorSpec {
  if (!isObject(v)) {
    problems.push({ field: path, message: 'must be an object' });
    return { name: '', type: 'float32', shape: [] };
  }
  for (const k of Object.keys(v)) if (!KEYS.has(k)) problems.push({ field: `${path}.${k}`, message: `is not a tensor field (${[...KEYS].join(', ')})` });
  const name = v.name;
  if (typeof name !== 'string' || name === '') problems.push({ field: `${path}.name`, message: 'must be a non-empty string' });
  const type = (TENSOR_TYPES as readonly unknown[]).includes(v.type) ? (v.type as TensorType) : undefined;
  if (type === undefined) problems.push({ field: `${path}.type`, message: `must be one of ${TENSOR_TYPES.join(', ')}` });
  const shape = Array.isArray(v.shape) && v.shape.every((d) => d === -1 || positiveInteger(d)) ? (v.shape as number[]) : undefined;
  if (shape === undefined) problems.push({ field: `${path}.shape`, message: 'must list positive dimensions or -1' });
  let free: DimensionBounds[] | undefined;
  if ('free' in v) {
    const freeCount = shape?.filter((d) => d === -1).length;
    if (!Array.isArray(v.free)) problems.push({ field: `${path}.free`, message: 'must be an array' });
    else if (freeCount !== undefined && v.free.length !== freeCount) problems.push({ field: `${path}.free`, message: `must have one entry per -1 of the shape (${freeCount})` });
    else free = v.free.map((b, i) => bounds(b, `${path}.free[${i}]`, problems));
  }
  const allowed = 'values' in v ? values(v.values, type, `${path}.values`, problems) : undefined;
  return { name: name as string, type: type ?? 'float32', shape: shape ?? [], ...(free === undefined ? {} : { free }), ...(allowed === undefined ? {} : { values: allowed }) };
}

/**
 * Reads a list of tensor specs at `path` (e.g. `models[0].inputs`); returns them with every problem
 * found. The specs are meaningful only when there is none.
 */
export function parseTensorSpecs(v: unknown, path: string): { specs: TensorSpec[]; problems: SpecProblem[] } {
  if (!Array.isArray(v)) return { specs: [], problems: [{ field: path, message: 'must be an array' }] };
  const problems: SpecProblem[] = [];
  const specs = v.map((t, i) => tensorSpec(t, `${path}[${i}]`, problems));
  return { specs, problems };
}
