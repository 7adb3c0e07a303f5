// The generic tensor endpoint's body format, application/vnd.cloister.tensors (docs/inference.md):
//   "CTN1" | u16le count | count x ( u8 nameLength | name (ASCII) | u8 type | u8 rank | rank x u32le dim | data )
// type: 1 float32, 2 int64, 3 int32, 4 uint8; data little-endian, product(dims) elements. Binary on
// purpose: tensor values never become JSON or JavaScript strings. Decoded tensors are copies the caller
// owns (aligned typed arrays) and wipes.
import type { TensorType } from './tensorSpec.js';
import { wipe } from '../base/memory/wipe.js';
import { RuntimeError } from '../base/runtimeErrors.js';

export const TENSORS_MEDIA_TYPE = 'application/vnd.cloister.tensors';
const MAGIC = [0x43, 0x54, 0x4e, 0x31];
const TYPE_CODES: Readonly<Record<TensorType, number>> = { float32: 1, int64: 2, int32: 3, uint8: 4 };
const TYPE_OF_CODE: Readonly<Record<number, TensorType>> = { 1: 'float32', 2: 'int64', 3: 'int32', 4: 'uint8' };
const ELEMENT_SIZE: Readonly<Record<TensorType, number>> = { float32: 4, int64: 8, int32: 4, uint8: 1 };

export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface WireTensor {
  readonly name: string;
  readonly type: TensorType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export class TensorFormatError extends RuntimeError {
  constructor(message: string) {
    super('MALFORMED_TENSOR', message);
  }
}

type BufferAllocator = (size: number) => ArrayBuffer;
const newBuffer: BufferAllocator = (size) => new ArrayBuffer(size);

function allocate(type: TensorType, length: number, allocateBuffer: BufferAllocator = newBuffer): TensorData {
  return view0(type, allocateBuffer(length * ELEMENT_SIZE[type]), 0, length);
}

const bytesOf = (d: TensorData): Uint8Array => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/**
 * Decodes a body; `maxElements` bounds the total allocation; each tensor's data gets a buffer of its
 * own from `allocateBuffer` (which may hand out reused, wiped ones). Throws TensorFormatError, having
 * wiped what it had copied.
 */
export function decodeTensors(body: Uint8Array, maxElements: number, allocateBuffer: BufferAllocator = newBuffer): WireTensor[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  const need = (n: number, what: string): void => {
    if (at + n > body.length) throw new TensorFormatError(`truncated in ${what} at byte ${at}`);
  };
  need(6, 'the header');
  if (!MAGIC.every((b, i) => body[i] === b)) throw new TensorFormatError('not a CTN1 tensor list');
  const count = view.getUint16(4, true);
  at = 6;
  const out: WireTensor[] = [];
  let elements = 0;
  try {
    for (let t = 0; t < count; t++) {
      need(1, 'a name length');
      const nameLength = body[at++] as number;
      need(nameLength + 2, 'a name');
      const name = String.fromCharCode(...body.subarray(at, at + nameLength));
      if (!/^[\x21-\x7e]+$/.test(name)) throw new TensorFormatError(`tensor ${t} has an empty or non-ASCII name`);
      at += nameLength;
      const type = TYPE_OF_CODE[body[at++] as number];
      if (type === undefined) throw new TensorFormatError(`tensor ${name} has an unknown type code ${body[at - 1] as number}`);
      const rank = body[at++] as number;
      need(rank * 4, 'the dimensions');
      const dims: number[] = [];
      let length = 1;
      for (let d = 0; d < rank; d++, at += 4) {
        const dim = view.getUint32(at, true);
        dims.push(dim);
        length *= dim;
      }
      elements += length;
      if (elements > maxElements) throw new TensorFormatError(`more than ${maxElements} elements in all`);
      const size = length * ELEMENT_SIZE[type];
      need(size, `the data of ${name}`);
      const data = allocate(type, length, allocateBuffer);
      bytesOf(data).set(body.subarray(at, at + size));
      at += size;
      out.push({ name, type, dims, data });
    }
    if (at !== body.length) throw new TensorFormatError(`${body.length - at} bytes after the last tensor`);
  } catch (e) {
    wipe(...out.map((t) => t.data));
    throw e;
  }
  return out;
}

/** "CTN1" and the u16 count. */
const LIST_HEADER = 6;
/** One tensor's header: name length, name, type, rank, dimensions. */
const headerSize = (t: { readonly name: string; readonly dims: readonly number[] }): number => 3 + t.name.length + 4 * t.dims.length;

/** Writes one tensor's name, type and dimensions at `at`; returns where its data starts. */
function writeHeader(out: Uint8Array, view: DataView, at: number, t: { readonly name: string; readonly type: TensorType; readonly dims: readonly number[] }): number {
  out[at++] = t.name.length;
  for (let i = 0; i < t.name.length; i++) out[at++] = t.name.charCodeAt(i);
  out[at++] = TYPE_CODES[t.type];
  out[at++] = t.dims.length;
  for (const d of t.dims) {
    view.setUint32(at, d, true);
    at += 4;
  }
  return at;
}

export function encodeTensors(tensors: readonly WireTensor[], allocateBytes: (size: number) => Uint8Array = (size) => new Uint8Array(size)): Uint8Array {
  const size = LIST_HEADER + tensors.reduce((n, t) => n + headerSize(t) + t.data.byteLength, 0);
  const out = allocateBytes(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(4, tensors.length, true);
  let at = LIST_HEADER;
  for (const t of tensors) {
    at = writeHeader(out, view, at, t);
    out.set(bytesOf(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

export interface TensorShape {
  readonly name: string;
  readonly type: TensorType;
  readonly dims: readonly number[];
}

/**
 * An encoded tensor list laid out before the values exist: the headers written, and for each tensor a
 * typed array over its data region when that region is aligned for the type (a model can then write
 * its output straight into the response), else a separate array for `fillEncoded` to copy in. The
 * buffer starts with padding chosen so that the largest tensor's region is aligned; `allocateBuffer`
 * must return a zero-filled buffer of the size asked.
 */
export function allocateEncoded(shapes: readonly TensorShape[], allocateBuffer: BufferAllocator = newBuffer, allocateSeparate: BufferAllocator = newBuffer): { bytes: Uint8Array; data: TensorData[]; inPlace: boolean[] } {
  const lengths = shapes.map((t) => t.dims.reduce((a, b) => a * b, 1));
  const offsets: number[] = [];
  let size = LIST_HEADER;
  for (const [i, t] of shapes.entries()) {
    size += headerSize(t);
    offsets.push(size);
    size += (lengths[i] as number) * ELEMENT_SIZE[t.type];
  }
  const largest = lengths.reduce((best, n, i) => (n * ELEMENT_SIZE[(shapes[i] as TensorShape).type] > (lengths[best] as number) * ELEMENT_SIZE[(shapes[best] as TensorShape).type] ? i : best), 0);
  const align = shapes.length === 0 ? 1 : ELEMENT_SIZE[(shapes[largest] as TensorShape).type];
  const pad = shapes.length === 0 ? 0 : (align - ((offsets[largest] as number) % align)) % align;
  const buffer = allocateBuffer(pad + size);
  const bytes = new Uint8Array(buffer, pad, size);
  const view = new DataView(buffer, pad, size);
  bytes.set(MAGIC, 0);
  view.setUint16(4, shapes.length, true);
  let at = LIST_HEADER;
  const data: TensorData[] = [];
  const inPlace: boolean[] = [];
  for (const [i, t] of shapes.entries()) {
    at = writeHeader(bytes, view, at, t);
    const n = lengths[i] as number;
    const start = pad + at;
    const aligned = start % ELEMENT_SIZE[t.type] === 0;
    inPlace.push(aligned);
    data.push(aligned ? view0(t.type, buffer, start, n) : allocate(t.type, n, allocateSeparate));
    at += n * ELEMENT_SIZE[t.type];
  }
  return { bytes, data, inPlace };
}

function view0(type: TensorType, buffer: ArrayBuffer, offset: number, length: number): TensorData {
  switch (type) {
    case 'float32':
      return new Float32Array(buffer, offset, length);
    case 'int64':
      return new BigInt64Array(buffer, offset, length);
    case 'int32':
      return new Int32Array(buffer, offset, length);
    case 'uint8':
      return new Uint8Array(buffer, offset, length);
  }
}

/** Copies the values of the tensors that allocateEncoded could not place in the buffer. */
export function fillEncoded(layout: { bytes: Uint8Array; data: TensorData[]; inPlace: boolean[] }, shapes: readonly TensorShape[]): void {
  let at = LIST_HEADER;
  for (const [i, t] of shapes.entries()) {
    at += headerSize(t);
    const d = layout.data[i] as TensorData;
    if (layout.inPlace[i] !== true) layout.bytes.set(bytesOf(d), at);
    at += d.byteLength;
  }
}
