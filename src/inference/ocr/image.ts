// PNG and JPEG to 8-bit RGB for OCR. The declared dimensions are read from the header (PNG IHDR,
// JPEG SOFn) and checked against the limits before a decoder allocates anything, so a decompression
// bomb costs a few header bytes. Every buffer is made or adopted in the request's memory (its scope): PNG is
// decoded here (./png.ts); JPEG by jpeg-js, whose output is adopted and whose internal scratch (component planes, coefficients, an intermediate copy of the
// pixels) is unreachable garbage that the process's memory hygiene clears when it is collected: a decode
// asks for a major collection after the request, since that garbage can reach the old generation.
import jpeg from 'jpeg-js';
import { requestMajorCollection } from '../../base/memory/hygiene.js';
import { chunkCrcMismatch, decodePngToRgb, PngError, type PngHeader as PngLayout } from './png.js';
import { unscoped, type RequestMemory } from '../../base/memory/requestScope.js';
import { RuntimeError } from '../../base/runtimeErrors.js';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** RGB, 3 bytes per pixel, row-major. */
  readonly data: Uint8Array;
}

type ImageDecodeReason = 'unsupported' | 'corrupt' | 'too-large';

export class ImageDecodeError extends RuntimeError {
  readonly reason: ImageDecodeReason;

  constructor(reason: ImageDecodeReason, message: string, options?: { cause?: unknown }) {
    super('MALFORMED_IMAGE', message, options?.cause === undefined ? {} : { cause: options.cause });
    this.reason = reason;
  }
}

interface ImageLimits {
  readonly maxPixels?: number;
  readonly maxSide?: number;
}

const MAX_PIXELS = 16_000_000;
const MAX_SIDE = 8192;

interface Header {
  readonly width: number;
  readonly height: number;
}

// PNG (ISO/IEC 15948:2004) §5.2 signature, §11.2.2 IHDR: the first chunk, 13 data bytes.
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
const JPEG_SOI = [0xff, 0xd8, 0xff] as const;
const PNG_IHDR_END = 0x21; // signature 8 + length 4 + type 4 + data 13 + CRC 4

interface PngHeader extends Header, PngLayout {}

function readPngHeader(bytes: Uint8Array): PngHeader {
  if (bytes.length < PNG_IHDR_END) throw new ImageDecodeError('corrupt', `png is ${bytes.length} bytes, shorter than its IHDR chunk (${PNG_IHDR_END})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(0x08);
  const type = view.getUint32(0x0c);
  if (length !== 13 || type !== 0x49484452) throw new ImageDecodeError('corrupt', `png first chunk is not a 13-byte IHDR (length ${length}, type 0x${type.toString(16)})`);
  const crc = chunkCrcMismatch(bytes, 0x08, 13);
  if (crc !== undefined) throw new ImageDecodeError('corrupt', `png IHDR fails its CRC: ${crc}`);
  const width = view.getUint32(0x10);
  const height = view.getUint32(0x14);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) throw new ImageDecodeError('corrupt', `png IHDR width ${width} x height ${height} is outside 1..2^31-1`);
  return { width, height, bitDepth: view.getUint8(0x18), colourType: view.getUint8(0x19), interlaced: view.getUint8(0x1c) !== 0 };
}

// JPEG (ITU-T T.81) Annex B: markers are 0xFF then a code; all but SOI, EOI, RSTn and TEM carry a
// 2-byte big-endian length that counts itself. SOFn (B.2.2): P (1), Y (2), X (2), Nf (1).
const JPEG_BASELINE_OR_PROGRESSIVE = new Set([0xc0, 0xc1, 0xc2]);
const JPEG_OTHER_SOF = new Set([0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
const JPEG_SOS = 0xda;
const JPEG_EOI = 0xd9;

interface JpegHeader extends Header {
  /** Offset just past the SOF segment. */
  readonly end: number;
}

function readJpegHeader(bytes: Uint8Array): JpegHeader {
  const truncated = (): ImageDecodeError => new ImageDecodeError('corrupt', `jpeg ends at byte ${bytes.length} before its frame header (SOFn)`);
  let at = 2;
  for (;;) {
    if (at + 1 >= bytes.length) throw truncated();
    if (bytes[at] !== 0xff) throw new ImageDecodeError('corrupt', `jpeg byte 0x${at.toString(16)} is 0x${(bytes[at] ?? 0).toString(16)}, expected a marker (0xff)`);
    while (bytes[at + 1] === 0xff) at += 1; // fill bytes (B.1.1.2)
    const marker = bytes[at + 1] as number;
    at += 2;
    if ((marker >= 0xd0 && marker <= 0xd8) || marker === 0x01) continue;
    if (marker === JPEG_SOS || marker === JPEG_EOI) throw new ImageDecodeError('corrupt', `jpeg reaches marker 0x${marker.toString(16)} before a frame header (SOFn)`);
    if (at + 2 > bytes.length) throw truncated();
    const length = ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
    if (length < 2 || at + length > bytes.length) throw truncated();
    if (JPEG_OTHER_SOF.has(marker)) throw new ImageDecodeError('unsupported', `jpeg process SOF 0x${marker.toString(16)} (lossless, hierarchical or arithmetic) is not supported`);
    if (JPEG_BASELINE_OR_PROGRESSIVE.has(marker)) {
      if (length < 8) throw new ImageDecodeError('corrupt', `jpeg SOF segment length ${length} is shorter than 8`);
      const view = new DataView(bytes.buffer, bytes.byteOffset + at, length);
      const precision = view.getUint8(2);
      const height = view.getUint16(3);
      const width = view.getUint16(5);
      const components = view.getUint8(7);
      if (precision !== 8) throw new ImageDecodeError('unsupported', `jpeg sample precision P=${precision} is not 8`);
      if (height === 0) throw new ImageDecodeError('unsupported', 'jpeg frame height Y=0 (defined by a DNL marker) is not supported');
      if (width === 0) throw new ImageDecodeError('corrupt', 'jpeg frame width X is 0');
      if (components !== 1 && components !== 3 && components !== 4) throw new ImageDecodeError('unsupported', `jpeg with Nf=${components} components is not supported`);
      return { width, height, end: at + length };
    }
    at += length;
  }
}

function checkLimits(format: string, header: Header, limits: ImageLimits): void {
  const maxSide = limits.maxSide ?? MAX_SIDE;
  const maxPixels = limits.maxPixels ?? MAX_PIXELS;
  if (header.width > maxSide || header.height > maxSide || header.width * header.height > maxPixels) {
    throw new ImageDecodeError('too-large', `${format} is ${header.width} x ${header.height}, over the limit of ${maxSide} per side and ${maxPixels} pixels`);
  }
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** The media type a file's magic bytes say: image/png, image/jpeg, or undefined for anything else. */
export function imageMediaType(bytes: Uint8Array): 'image/png' | 'image/jpeg' | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'image/png';
  if (startsWith(bytes, JPEG_SOI)) return 'image/jpeg';
  return undefined;
}

const FORMAT_NAMES = { 'image/png': 'PNG', 'image/jpeg': 'JPEG' } as const;

/**
 * Why bytes sent as `declared` are refused before decoding: their magic bytes are the other format's
 * (`image is PNG but labelled image/jpeg`). Undefined when they match, or are neither format (which the
 * decoder refuses as unsupported). The text holds the two type names and nothing else from the request.
 */
export function imageLabelProblem(declared: 'image/png' | 'image/jpeg', bytes: Uint8Array): string | undefined {
  const actual = imageMediaType(bytes);
  return actual === undefined || actual === declared ? undefined : `image is ${FORMAT_NAMES[actual]} but labelled ${declared}`;
}

/**
 * Decodes a PNG or JPEG (chosen by its magic bytes, which the route has checked against the declared
 * type with imageLabelProblem) to RGB in `memory`. The caller's bytes are not modified.
 */
export function decodeImage(bytes: Uint8Array, limits: ImageLimits = {}, memory: RequestMemory = unscoped): RgbImage {
  const type = imageMediaType(bytes);
  if (type === 'image/png') {
    const header = readPngHeader(bytes);
    checkLimits('png', header, limits);
    return decodePng(bytes, header, memory);
  }
  if (type === 'image/jpeg') {
    const header = readJpegHeader(bytes);
    checkLimits('jpeg', header, limits);
    return decodeJpeg(bytes, header, limits, memory);
  }
  throw new ImageDecodeError('unsupported', 'not a PNG or JPEG (unknown magic bytes)');
}

function decodePng(bytes: Uint8Array, header: PngHeader, memory: RequestMemory): RgbImage {
  try {
    return { width: header.width, height: header.height, data: decodePngToRgb(bytes, header, memory) };
  } catch (cause) {
    if (cause instanceof PngError) throw new ImageDecodeError('corrupt', `png does not decode: ${cause.message}`, { cause });
    throw cause;
  }
}

function decodeJpeg(bytes: Uint8Array, header: JpegHeader, limits: ImageLimits, memory: RequestMemory): RgbImage {
  if (!hasEndOfImage(bytes, header.end)) throw new ImageDecodeError('corrupt', 'jpeg has no end-of-image marker (EOI) after its frame header: truncated');
  const maxPixels = limits.maxPixels ?? MAX_PIXELS;
  // jpeg-js copies a Uint8Array argument into a buffer we could not wipe; an ArrayBuffer it only views.
  // A view into a larger buffer (a pooled Buffer, say) is copied here, into a copy we wipe.
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  const own = whole ? undefined : memory.alloc(bytes.length);
  own?.set(bytes);
  requestMajorCollection();
  try {
    const image = jpeg.decode((own ?? bytes).buffer as ArrayBuffer, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: maxPixels / 1e6,
      // Coefficients (4 bytes per sample), component planes, the interleaved copy and the output.
      maxMemoryUsageInMB: Math.ceil((maxPixels * 24) / 2 ** 20) + 16,
    });
    memory.adopt(image.data);
    if (image.width !== header.width || image.height !== header.height || image.data.length !== header.width * header.height * 3) {
      memory.dispose(image.data);
      throw new ImageDecodeError('corrupt', `jpeg decoded to ${image.width} x ${image.height}, its SOF says ${header.width} x ${header.height}`);
    }
    return { width: image.width, height: image.height, data: image.data };
  } catch (cause) {
    if (cause instanceof ImageDecodeError) throw cause;
    const message = messageOf(cause);
    // jpeg-js has no error types; its resource-limit errors say "limit exceeded".
    const reason = /limit exceeded/.test(message) ? 'too-large' : /unsupported/i.test(message) ? 'unsupported' : 'corrupt';
    throw new ImageDecodeError(reason, `jpeg does not decode: ${message}`, { cause });
  } finally {
    memory.dispose(own);
  }
}

/** Entropy-coded data never holds 0xFF 0xD9 (T.81 B.1.1.5 stuffing), so its presence after SOF marks the end. */
function hasEndOfImage(bytes: Uint8Array, from: number): boolean {
  for (let i = bytes.length - 2; i >= from; i -= 1) if (bytes[i] === 0xff && bytes[i + 1] === JPEG_EOI) return true;
  return false;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
