// The tensor endpoint's input check: a request's tensors against the model's declared inputs (their names,
// types, shapes, the bounds of free dimensions and the values allowed), before ONNX Runtime sees them.
// A pure function, run where the request's tensors are decoded (work.ts: in the server's thread or in an
// inference worker), before the model. Its answer names only what the manifest declares, never a value
// from the request.
import type { DimensionBounds, TensorSpec } from './tensorSpec.js';
import type { WireTensor } from './tensorCodec.js';

function describe(b: DimensionBounds): string {
  const range = b.min !== undefined && b.max !== undefined ? `from ${b.min} to ${b.max}` : b.min !== undefined ? `at least ${b.min}` : b.max !== undefined ? `at most ${b.max}` : '';
  return [b.multipleOf === undefined ? '' : `a multiple of ${b.multipleOf}`, range].filter((s) => s !== '').join(' ');
}

const within = (d: number, b: DimensionBounds): boolean => (b.min === undefined || d >= b.min) && (b.max === undefined || d <= b.max) && (b.multipleOf === undefined || d % b.multipleOf === 0);

/** Whether every element of `data` is one of `allowed`. */
function onlyValues(data: WireTensor['data'], allowed: readonly number[]): boolean {
  if (data instanceof BigInt64Array) {
    const set = new Set(allowed.map((v) => BigInt(v)));
    return data.every((v) => set.has(v));
  }
  const set = new Set(allowed);
  return data.every((v) => set.has(v));
}

/** What is wrong with `tensors` as the inputs `specs` declare, or undefined when nothing is. */
export function checkInputs(specs: readonly TensorSpec[], tensors: readonly WireTensor[]): string | undefined {
  if (tensors.length !== specs.length) return `expected ${specs.length} input tensors, got ${tensors.length}`;
  for (const spec of specs) {
    const t = tensors.find((x) => x.name === spec.name);
    if (t === undefined) return `missing input ${spec.name}`;
    if (t.type !== spec.type) return `input ${spec.name} must be ${spec.type}`;
    if (t.dims.length !== spec.shape.length || spec.shape.some((d, i) => d !== -1 && d !== t.dims[i]) || t.dims.some((d) => d === 0)) return `input ${spec.name} must have shape [${spec.shape.join(', ')}]`;
    let free = 0;
    for (const [i, d] of spec.shape.entries()) {
      if (d !== -1) continue;
      const bounds = spec.free?.[free++];
      if (bounds !== undefined && !within(t.dims[i] as number, bounds)) return `input ${spec.name} dimension ${i} must be ${describe(bounds)}`;
    }
    if (spec.values !== undefined && !onlyValues(t.data, spec.values)) return `input ${spec.name} must hold only ${spec.values.join(', ')}`;
  }
  return undefined;
}
