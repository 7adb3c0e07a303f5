// Size classes for Oblivious HTTP messages (docs/ohttp.md "Padding"). A Binary HTTP message may be followed
// by any number of zero bytes (RFC 9292 section 3.8), inside the encryption; padding each message so that
// the encapsulated message is exactly one of a few sizes leaves the relay and any observer only its class.
//
//   default     1 KiB, 2 KiB, 4 KiB, ... (powers of two from the floor)
//   fine steps  from `fineFrom` up, each doubling is cut into `steps` equal classes:
//               with fineFrom 64 KiB and 8 steps, 64 KiB, 72 KiB, 80 KiB, ..., 128 KiB, 144 KiB, ...
//
// Powers of two cost up to twice the message (a 1 MiB tensor just over its class goes out as 2 MiB); fine
// steps cost at most 1/steps more, and tell sizes apart `log2(steps)` bits more finely.
import { PolicyError } from '../errors.js';

export interface SizeClasses {
  /** The smallest class, in bytes: a power of two, 64..2^30. */
  readonly floor: number;
  /** Where classes stop doubling and go in `steps` per doubling: a power of two, floor..2^30. */
  readonly fineFrom?: number;
  /** Classes per doubling from `fineFrom` up: 2, 4, 8, 16, 32 or 64. Given with `fineFrom`, or not at all. */
  readonly steps?: number;
}

/** `'none'` sends every message at its own length (benchmarks, and peers that cannot take the classes). */
export type PaddingPolicy = SizeClasses | 'none';

/** Powers of two from 1 KiB: what clients send and the gateway answers unless a model pack says otherwise. */
export const DEFAULT_PADDING: SizeClasses = Object.freeze({ floor: 1024 });

const MIN_FLOOR = 64;
const MAX_CLASS_BASE = 2 ** 30;
const MAX_STEPS = 64;
const KNOWN = new Set(['floor', 'fineFrom', 'steps']);

const isPowerOfTwo = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max && (v & (v - 1)) === 0;

/** What is wrong with `value` as SizeClasses, one line per bad field, each starting with its path under `path`. */
export function sizeClassesProblems(value: unknown, path = '$'): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: must be an object with floor (and fineFrom, steps)`];
  const o = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) problems.push(`${path}.${k}: unknown field`);
  if (!isPowerOfTwo(o.floor, MIN_FLOOR, MAX_CLASS_BASE)) problems.push(`${path}.floor: must be a power of two from ${MIN_FLOOR} to 2^30`);
  if ((o.fineFrom === undefined) !== (o.steps === undefined)) problems.push(`${path}.${o.fineFrom === undefined ? 'fineFrom' : 'steps'}: must be given with ${o.fineFrom === undefined ? 'steps' : 'fineFrom'}`);
  if (o.fineFrom !== undefined && !(isPowerOfTwo(o.fineFrom, MIN_FLOOR, MAX_CLASS_BASE) && (typeof o.floor !== 'number' || o.fineFrom >= o.floor))) problems.push(`${path}.fineFrom: must be a power of two from floor to 2^30`);
  if (o.steps !== undefined && !isPowerOfTwo(o.steps, 2, MAX_STEPS)) problems.push(`${path}.steps: must be 2, 4, 8, 16, 32 or 64`);
  return problems;
}

/** Policies already checked: sizeClassOf checks any other before using it (a floor of 0 would never end). */
const checked = new WeakSet<SizeClasses>();

/** `value` as a PaddingPolicy; a PolicyError (MALFORMED_POLICY) naming every bad field otherwise. */
export function assertPaddingPolicy(value: unknown): PaddingPolicy {
  if (value === 'none') return value;
  if (typeof value === 'object' && value !== null && checked.has(value as SizeClasses)) return value as SizeClasses;
  const problems = sizeClassesProblems(value);
  if (problems.length > 0) throw new PolicyError('MALFORMED_POLICY', `invalid padding policy: ${problems.join('; ')}`, { field: problems.map((p) => p.split(':')[0]).join(',') });
  checked.add(value as SizeClasses);
  return value as SizeClasses;
}

/** The smallest class that holds `length` bytes (`length` itself for 'none'); throws MALFORMED_POLICY for an invalid policy. */
export function sizeClassOf(policy: PaddingPolicy, length: number): number {
  if (policy === 'none') return length;
  assertPaddingPolicy(policy);
  if (length <= policy.floor) return policy.floor;
  let power = policy.floor;
  while (power < length) power *= 2;
  const half = power / 2;
  if (policy.fineFrom === undefined || policy.steps === undefined || half < policy.fineFrom) return power;
  // Both are powers of two and half >= fineFrom >= 64 >= steps: the step is a whole number of bytes.
  const step = half / policy.steps;
  return Math.ceil(length / step) * step;
}

/**
 * The length to pad a message of `length` bytes to so that, with the `overhead` its encapsulation adds
 * (requestOverhead, Responder.overhead), the encapsulated message is exactly a class.
 */
export function paddedLength(policy: PaddingPolicy, length: number, overhead = 0): number {
  return sizeClassOf(policy, length + overhead) - overhead;
}
