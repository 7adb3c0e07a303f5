// Binary layouts declared once, as a `{ field: { offset, size, kind } }` table (the style of
// src/tee/ioctl.ts and go-tdx-guest abi.go), from which parsing, serializing and the must-be-zero
// checks are all driven. Offsets are written as hex literals matching the spec table; all integers are
// little-endian.
//
//   const HEADER = defineLayout({
//     name: 'TDX quote header', size: 0x30,
//     fields: {
//       version:  { offset: 0x000, size: 2, kind: 'u16' },
//       reserved: { offset: 0x008, size: 4, kind: 'zero', name: 'header RESERVED' },
//       userData: { offset: 0x01c, size: 20, kind: 'bytes' },
//     },
//   });
//   HEADER.parse(bytes)   -> frozen { version: number, userData: Uint8Array }
//   HEADER.serialize(h)   -> 0x30 bytes, reserved ranges zero
//
// Kinds: u8, u16, u32 (number), u64 (bigint), bytes (a copy), zero (must-be-zero: checked on parse,
// left zero on serialize, absent from the parsed object). Formats that differ by version list their
// `variants`; a field that only some variants have lists them in its own `variants` and reads as
// undefined in the others. A table whose fields overlap or run past its size is refused when it is
// declared (a programming error, thrown at module load). A must-be-zero range may lie inside a bytes
// field: that is how a format reserves the high bytes of a wider field (SEV-SNP SIGNATURE.R).
import { dataView, isAllZero, toHex } from './bytes.js';
import { ParseError } from './errors.js';

export type IntKind = 'u8' | 'u16' | 'u32' | 'u64';
export type FieldKind = IntKind | 'bytes' | 'zero';

const INT_SIZE: Readonly<Record<IntKind, number>> = { u8: 1, u16: 2, u32: 4, u64: 8 };

interface FieldBase {
  readonly offset: number;
  readonly size: number;
  /** The variants that have this field; absent: every variant. */
  readonly variants?: readonly number[];
}

export interface ValueField extends FieldBase {
  readonly kind: IntKind | 'bytes';
}

export interface ZeroField extends FieldBase {
  readonly kind: 'zero';
  /** How errors name the range: "reserved after key info". */
  readonly name: string;
}

export type FieldSpec = ValueField | ZeroField;
export type FieldTable = Readonly<Record<string, FieldSpec>>;

type KindValue<K> = K extends 'u64' ? bigint : K extends 'bytes' ? Uint8Array : number;
type ValueKeys<F extends FieldTable> = { [K in keyof F]: F[K] extends ZeroField ? never : K }[keyof F];
type FieldValue<S> = S extends { readonly variants: readonly number[] } ? KindValue<S extends ValueField ? S['kind'] : never> | undefined : KindValue<S extends ValueField ? S['kind'] : never>;

/** The parsed object: every value field, those of other variants undefined. */
export type Parsed<F extends FieldTable> = { readonly [K in ValueKeys<F>]: FieldValue<F[K]> };

export interface LayoutSpec<F extends FieldTable> {
  /** Names the structure in length errors: "SEV-SNP report is 12 bytes, expected 1184". */
  readonly name: string;
  /** ParseError.field of length errors; `name` when absent. */
  readonly field?: string;
  /** Bytes in the structure, or per variant. */
  readonly size: number | Readonly<Record<number, number>>;
  readonly variants?: readonly number[];
  readonly fields: F;
}

interface Compiled {
  readonly size: number;
  /** Must-be-zero ranges by ascending offset: the first bad one is the one reported. */
  readonly zero: readonly ZeroField[];
  /** Every value key in declaration order, set to undefined: what `read` copies and fills. */
  readonly template: Readonly<Record<string, undefined>>;
  /** The value fields this variant has, as parallel arrays for the read and write loops. */
  readonly keys: readonly string[];
  readonly specs: readonly ValueField[];
}

const hex = (n: number): string => `0x${n.toString(16).padStart(3, '0')}`;

export class Layout<F extends FieldTable> {
  readonly name: string;
  readonly fields: F;
  readonly variants: readonly number[] | undefined;
  readonly #field: string;
  /** The size when every variant has the same one. */
  readonly #fixedSize: number | undefined;
  readonly #compiled = new Map<number | undefined, Compiled>();

  constructor(spec: LayoutSpec<F>) {
    this.name = spec.name;
    this.fields = spec.fields;
    this.variants = spec.variants;
    this.#field = spec.field ?? spec.name;
    this.#fixedSize = typeof spec.size === 'number' ? spec.size : undefined;
    const refuse = (why: string): never => {
      throw new Error(`layout ${spec.name}: ${why}`);
    };
    for (const [key, f] of Object.entries(spec.fields)) {
      if (!Number.isInteger(f.offset) || f.offset < 0 || !Number.isInteger(f.size) || f.size <= 0) refuse(`${key} has offset ${f.offset} and size ${f.size}`);
      if (f.kind !== 'bytes' && f.kind !== 'zero' && INT_SIZE[f.kind] !== f.size) refuse(`${key} is a ${f.kind} of ${f.size} bytes`);
      for (const v of f.variants ?? []) if (!(spec.variants ?? []).includes(v)) refuse(`${key} names variant ${v}, not one of the layout's`);
    }
    for (const variant of spec.variants ?? [undefined]) {
      const size = typeof spec.size === 'number' ? spec.size : variant === undefined ? undefined : spec.size[variant];
      if (size === undefined) refuse(`no size for variant ${String(variant)}`);
      this.#compiled.set(variant, compile(spec.fields, variant, size as number, refuse));
    }
  }

  /** The structure's size (for `variant`, when variants differ in size). */
  size(variant?: number): number {
    return variant === undefined && this.#fixedSize !== undefined ? this.#fixedSize : this.#variant(variant).size;
  }

  /** Checks `bytes` is exactly the structure's size: TRUNCATED when shorter, TRAILING_BYTES when longer. */
  checkSize(bytes: Uint8Array, variant?: number): void {
    const size = this.size(variant);
    if (bytes.length === size) return;
    const details = { field: this.#field, expected: String(size), actual: String(bytes.length) };
    const message = `${this.name} is ${bytes.length} bytes, expected ${size}`;
    if (bytes.length < size) throw new ParseError('TRUNCATED', message, details);
    throw new ParseError('TRAILING_BYTES', message, { ...details, offset: size });
  }

  /** Checks the size, then reads the whole structure from `bytes`. */
  parse(bytes: Uint8Array, variant?: number): Parsed<F> {
    this.checkSize(bytes, variant);
    return this.read(bytes, 0, variant);
  }

  /**
   * Reads the structure at `at` inside a larger buffer whose length the caller has checked: must-be-zero
   * ranges first (errors name offsets in `bytes`), then every field into a frozen object.
   */
  read(bytes: Uint8Array, at: number, variant?: number): Parsed<F> {
    const c = this.#variant(variant);
    this.#within(bytes, at, c.size);
    for (const z of c.zero) {
      const start = at + z.offset;
      const slice = bytes.subarray(start, start + z.size);
      if (!isAllZero(slice)) {
        throw new ParseError('RESERVED_NONZERO', `must-be-zero range ${hex(start)}..${hex(start + z.size)} (${z.name}) holds ${toHex(slice)}`, {
          field: z.name,
          expected: 'zero',
          actual: toHex(slice),
          offset: start,
        });
      }
    }
    const v = dataView(bytes);
    // A copy of the variant's template has every key already, in order: no shape changes while filling it.
    const out: Record<string, unknown> = { ...c.template };
    const { keys, specs } = c;
    for (let i = 0; i < keys.length; i++) {
      const f = specs[i] as ValueField;
      out[keys[i] as string] = readField(bytes, v, at + f.offset, f);
    }
    return Object.freeze(out) as Parsed<F>;
  }

  /** Reads one field at `at` + its offset, with no other check: for the fields a parser must judge first. */
  get<K extends ValueKeys<F>>(bytes: Uint8Array, key: K, at = 0): KindValue<F[K] extends ValueField ? F[K]['kind'] : never> {
    const f = this.fields[key] as ValueField;
    this.#within(bytes, at + f.offset, f.size);
    return readField(bytes, dataView(bytes), at + f.offset, f) as KindValue<F[K] extends ValueField ? F[K]['kind'] : never>;
  }

  /** Writes the structure into fresh bytes; must-be-zero ranges and fields given as undefined stay zero. */
  serialize(values: Parsed<F>, variant?: number): Uint8Array {
    const out = new Uint8Array(this.#variant(variant).size);
    this.write(out, 0, values, variant);
    return out;
  }

  /** Writes the structure into `out` at `at`. */
  write(out: Uint8Array, at: number, values: Parsed<F>, variant?: number): void {
    const c = this.#variant(variant);
    if (at + c.size > out.length) throw new RangeError(`${this.name} needs ${c.size} bytes at ${at}, the buffer is ${out.length}`);
    const v = dataView(out);
    const given = values as Readonly<Record<string, unknown>>;
    const { keys, specs } = c;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const f = specs[i] as ValueField;
      const value = given[key];
      if (value === undefined) continue;
      const o = at + f.offset;
      switch (f.kind) {
        case 'u8': v.setUint8(o, value as number); break;
        case 'u16': v.setUint16(o, value as number, true); break;
        case 'u32': v.setUint32(o, value as number, true); break;
        case 'u64': v.setBigUint64(o, value as bigint, true); break;
        case 'bytes': {
          const b = value as Uint8Array;
          if (b.length > f.size) throw new RangeError(`${this.name}: ${key} is ${b.length} bytes, its field holds ${f.size}`);
          out.set(b, o);
          break;
        }
      }
    }
  }

  #variant(variant: number | undefined): Compiled {
    const c = this.#compiled.get(variant);
    if (c === undefined) throw new RangeError(`layout ${this.name} has no variant ${String(variant)} (variants: ${this.variants?.join(', ') ?? 'none'})`);
    return c;
  }

  #within(bytes: Uint8Array, at: number, size: number): void {
    if (at < 0 || at + size > bytes.length) {
      throw new ParseError('TRUNCATED', `${this.name} needs ${size} bytes at ${hex(at)}, input is ${bytes.length} bytes`, { field: this.#field, expected: `>= ${at + size}`, actual: String(bytes.length), offset: bytes.length });
    }
  }
}

function readField(bytes: Uint8Array, v: DataView, o: number, f: ValueField): number | bigint | Uint8Array {
  switch (f.kind) {
    case 'u8': return v.getUint8(o);
    case 'u16': return v.getUint16(o, true);
    case 'u32': return v.getUint32(o, true);
    case 'u64': return v.getBigUint64(o, true);
    case 'bytes': return bytes.slice(o, o + f.size);
  }
}

function compile(fields: FieldTable, variant: number | undefined, size: number, refuse: (why: string) => never): Compiled {
  const has = (f: FieldSpec): boolean => f.variants === undefined || (variant !== undefined && f.variants.includes(variant));
  const present = Object.entries(fields).filter(([, f]) => has(f));
  const where = variant === undefined ? '' : ` in variant ${variant}`;
  const span = (key: string, f: FieldSpec): string => `${key} (${hex(f.offset)}..${hex(f.offset + f.size)})`;
  for (const [key, f] of present) if (f.offset + f.size > size) refuse(`${span(key, f)} runs past the size ${hex(size)}${where}`);
  const overlap = (a: FieldSpec, b: FieldSpec): boolean => a.offset < b.offset + b.size && b.offset < a.offset + a.size;
  const inside = (a: FieldSpec, b: FieldSpec): boolean => a.offset >= b.offset && a.offset + a.size <= b.offset + b.size;
  for (let i = 0; i < present.length; i++) {
    for (let j = i + 1; j < present.length; j++) {
      const [ka, a] = present[i] as [string, FieldSpec];
      const [kb, b] = present[j] as [string, FieldSpec];
      if (!overlap(a, b)) continue;
      // The one overlap allowed: a must-be-zero range inside a bytes field, the reserved part of a wider field.
      const reservedPart = (a.kind === 'zero' && b.kind === 'bytes' && inside(a, b)) || (b.kind === 'zero' && a.kind === 'bytes' && inside(b, a));
      if (!reservedPart) refuse(`${span(ka, a)} overlaps ${span(kb, b)}${where}`);
    }
  }
  const zero = present.flatMap(([, f]) => (f.kind === 'zero' ? [f] : [])).sort((a, b) => a.offset - b.offset);
  const values = Object.entries(fields).flatMap(([key, f]) => (f.kind === 'zero' ? [] : [[key, has(f) ? f : undefined] as const]));
  const mine = values.flatMap(([key, f]) => (f === undefined ? [] : [[key, f] as const]));
  const template = Object.fromEntries(values.map(([key]) => [key, undefined])) as Record<string, undefined>;
  return { size, zero, template, keys: mine.map(([key]) => key), specs: mine.map(([, f]) => f) };
}

/** Declares a layout; throws if its fields overlap, run past its size or name unknown variants. */
export function defineLayout<const F extends FieldTable>(spec: LayoutSpec<F>): Layout<F> {
  return new Layout(spec);
}
