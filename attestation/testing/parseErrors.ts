// Test support: the property every parser must hold, that bad bytes raise ParseError and nothing else.
import fc from 'fast-check';
import { ParseError } from '../errors.js';

export function onlyParseErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
}

/** Byte edits for mutation properties: up to 6 (offset, value) pairs below `max`. */
export const edits = (max: number): fc.Arbitrary<[number, number][]> =>
  fc.array(fc.tuple(fc.nat({ max: max - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });

export function applyEdits(base: Uint8Array, list: readonly [number, number][]): Uint8Array {
  const b = base.slice();
  for (const [at, v] of list) b[at] = v;
  return b;
}
