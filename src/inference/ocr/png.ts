// A PNG decoder (ISO/IEC 15948) whose every buffer is made or adopted in the request's memory and disposed
// of as soon as it is used: the concatenated IDAT data (a copy of the caller's compressed bytes), the
// inflated scanlines (one zlib output chunk sized from the header, so zlib returns it without intermediate
// copies); the RGB output is the caller's, in the same memory. All colour types,
// bit depths 1 to 16, palettes with tRNS, and Adam7 interlacing; alpha is composited over white.
import { crc32, inflateSync } from 'node:zlib';
import { unscoped, type RequestMemory } from '../../base/memory/requestScope.js';
import { RuntimeError } from '../../base/runtimeErrors.js';

/** A PNG that does not decode; decodeImage turns it into an ImageDecodeError ('corrupt') with this as the cause. */
export class PngError extends RuntimeError {
  constructor(message: string) {
    super('MALFORMED_IMAGE', message);
  }
}

export interface PngHeader {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  readonly colourType: number;
  readonly interlaced: boolean;
}

const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Readonly<Record<number, readonly number[]>> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;
const IDAT = 0x49444154;
const PLTE = 0x504c5445;
const TRNS = 0x74524e53;
const IEND = 0x49454e44;

interface Pass {
  readonly x0: number;
  readonly y0: number;
  readonly dx: number;
  readonly dy: number;
  readonly width: number;
  readonly height: number;
}

function passes(h: PngHeader): Pass[] {
  if (!h.interlaced) return [{ x0: 0, y0: 0, dx: 1, dy: 1, width: h.width, height: h.height }];
  return ADAM7.map(([x0, y0, dx, dy]) => ({ x0, y0, dx, dy, width: Math.ceil((h.width - x0) / dx), height: Math.ceil((h.height - y0) / dy) })).filter((p) => p.width > 0 && p.height > 0);
}

const rowBytes = (h: PngHeader, width: number): number => Math.ceil((width * (CHANNELS[h.colourType] as number) * h.bitDepth) / 8);

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Unfilters one scanline in place (PNG section 9). */
function unfilter(filter: number, row: Uint8Array, prior: Uint8Array | undefined, bpp: number): void {
  const n = row.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] = ((row[i] as number) + (row[i - bpp] as number)) & 0xff;
      return;
    case 2:
      if (prior !== undefined) for (let i = 0; i < n; i++) row[i] = ((row[i] as number) + (prior[i] as number)) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) row[i] = ((row[i] as number) + (((i >= bpp ? (row[i - bpp] as number) : 0) + (prior?.[i] ?? 0)) >> 1)) & 0xff;
      return;
    case 4:
      for (let i = 0; i < n; i++) row[i] = ((row[i] as number) + paeth(i >= bpp ? (row[i - bpp] as number) : 0, prior?.[i] ?? 0, i >= bpp ? (prior?.[i - bpp] ?? 0) : 0)) & 0xff;
      return;
    default:
      throw new PngError(`unknown scanline filter ${filter}`);
  }
}

function sample(row: Uint8Array, index: number, depth: number): number {
  if (depth === 8) return row[index] as number;
  if (depth === 16) return row[index * 2] as number;
  return Math.round((indexOf(row, index, depth) * 255) / ((1 << depth) - 1));
}

interface Chunks {
  readonly idat: Uint8Array;
  readonly palette: Uint8Array | undefined;
  readonly alpha: Uint8Array | undefined;
}

const chunkName = (type: number): string => String.fromCharCode(type >>> 24, (type >>> 16) & 0xff, (type >>> 8) & 0xff, type & 0xff).replace(/[^\x21-\x7e]/g, '?');

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Why the chunk at `at` (its length field) fails its CRC-32 over type and data (PNG section 5.3), or undefined. */
export function chunkCrcMismatch(bytes: Uint8Array, at: number, length: number): string | undefined {
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at + 8 + length);
  const computed = crc32(bytes.subarray(at + 4, at + 8 + length));
  return computed === stored ? undefined : `its CRC is ${hex32(stored)}, its bytes give ${hex32(computed)}`;
}

function readChunks(bytes: Uint8Array, memory: RequestMemory): Chunks {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  let palette: Uint8Array | undefined;
  let alpha: Uint8Array | undefined;
  let at = 8;
  let ended = false;
  while (at + 12 <= bytes.length) {
    const length = view.getUint32(at);
    const type = view.getUint32(at + 4);
    if (at + 12 + length > bytes.length) throw new PngError(`chunk at byte ${at} runs past the end of the file`);
    const crc = chunkCrcMismatch(bytes, at, length);
    if (crc !== undefined) throw new PngError(`chunk ${chunkName(type)} at byte ${at} fails its CRC: ${crc}`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === IDAT) parts.push(data);
    else if (type === PLTE) palette = data;
    else if (type === TRNS) alpha = data;
    at += 12 + length;
    if (type === IEND) {
      ended = true;
      break;
    }
  }
  if (!ended) throw new PngError('no IEND chunk: the file is truncated');
  if (parts.length === 0) throw new PngError('no image data (IDAT)');
  const idat = memory.alloc(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    idat.set(p, o);
    o += p.length;
  }
  return { idat, palette, alpha };
}

/** Decodes to RGB, 3 bytes per pixel, made in `memory`. The caller's bytes are only read. */
export function decodePngToRgb(bytes: Uint8Array, h: PngHeader, memory: RequestMemory = unscoped): Uint8Array {
  const channels = CHANNELS[h.colourType];
  if (channels === undefined || !(DEPTHS[h.colourType] ?? []).includes(h.bitDepth)) throw new PngError(`colour type ${h.colourType} with bit depth ${h.bitDepth} is not valid PNG`);
  const { idat, palette, alpha } = readChunks(bytes, memory);
  if (h.colourType === 3 && (palette === undefined || palette.length % 3 !== 0)) throw new PngError('palette image without a valid PLTE chunk');
  const layout = passes(h);
  const expected = layout.reduce((n, p) => n + p.height * (1 + rowBytes(h, p.width)), 0);
  let raw: Buffer | undefined;
  const rgb = memory.alloc(h.width * h.height * 3);
  try {
    try {
      raw = memory.adopt(inflateSync(idat, { maxOutputLength: expected, chunkSize: Math.max(64, expected + 64) }));
    } catch (cause) {
      throw new PngError(`image data does not inflate to its ${expected} declared bytes: ${(cause as Error).message}`);
    } finally {
      memory.dispose(idat);
    }
    if (raw.length !== expected) throw new PngError(`image data inflates to ${raw.length} bytes, the header implies ${expected}`);
    const bpp = Math.max(1, Math.ceil((channels * h.bitDepth) / 8));
    let at = 0;
    for (const p of layout) {
      const stride = rowBytes(h, p.width);
      let prior: Uint8Array | undefined;
      for (let y = 0; y < p.height; y++) {
        const filter = raw[at] as number;
        const row = raw.subarray(at + 1, at + 1 + stride);
        unfilter(filter, row, prior, bpp);
        prior = row;
        at += 1 + stride;
        const oy = p.y0 + y * p.dy;
        for (let x = 0; x < p.width; x++) {
          const o = (oy * h.width + p.x0 + x * p.dx) * 3;
          let r: number;
          let g: number;
          let b: number;
          let a = 255;
          if (h.colourType === 3) {
            const index = h.bitDepth === 8 ? (row[x] as number) : indexOf(row, x, h.bitDepth);
            if (index * 3 + 2 >= (palette as Uint8Array).length) throw new PngError(`palette index ${index} is outside the palette`);
            r = (palette as Uint8Array)[index * 3] as number;
            g = (palette as Uint8Array)[index * 3 + 1] as number;
            b = (palette as Uint8Array)[index * 3 + 2] as number;
            a = alpha?.[index] ?? 255;
          } else if (channels <= 2) {
            r = g = b = sample(row, x * channels, h.bitDepth);
            if (channels === 2) a = sample(row, x * 2 + 1, h.bitDepth);
          } else {
            r = sample(row, x * channels, h.bitDepth);
            g = sample(row, x * channels + 1, h.bitDepth);
            b = sample(row, x * channels + 2, h.bitDepth);
            if (channels === 4) a = sample(row, x * 4 + 3, h.bitDepth);
          }
          const paper = 255 * (255 - a) + 127;
          rgb[o] = (r * a + paper) / 255;
          rgb[o + 1] = (g * a + paper) / 255;
          rgb[o + 2] = (b * a + paper) / 255;
        }
      }
    }
    return rgb;
  } catch (e) {
    memory.dispose(rgb);
    throw e;
  } finally {
    memory.dispose(raw);
  }
}

/** A packed palette index (1, 2 or 4 bits) without rescaling. */
function indexOf(row: Uint8Array, index: number, depth: number): number {
  const perByte = 8 / depth;
  const byte = row[Math.floor(index / perByte)] as number;
  return (byte >> (8 - depth * ((index % perByte) + 1))) & ((1 << depth) - 1);
}
