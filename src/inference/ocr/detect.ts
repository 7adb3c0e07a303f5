// Text detection around PaddleOCR's DB model (Liao et al., "Real-time Scene Text Detection with
// Differentiable Binarization", 2020): the model input from an image, and boxes from the probability
// map it returns, following PaddleOCR's DetResizeForTest / NormalizeImage and DBPostProcess.
import type { RgbImage } from './image.js';
import { readingOrder } from './readingOrder.js';
import { expandRectangle, minAreaRectangle, rectangleContains, rectangleCorners, type Rectangle } from './rectangle.js';
import { distance, samplesPerAxis } from './sample.js';
import { unscoped, type RequestMemory } from '../../base/memory/requestScope.js';
import type { TextBox } from './textBox.js';

export type { TextBox };

interface DetectionOptions {
  /** A map pixel is text when its probability exceeds this. */
  readonly threshold?: number;
  /** A box is kept when the mean probability inside it reaches this. */
  readonly boxThreshold?: number;
  /** The box grows by area · unclipRatio / perimeter on every side. */
  readonly unclipRatio?: number;
  /** Shorter side, in map pixels, below which a box is dropped. */
  readonly minSize?: number;
  readonly maxBoxes?: number;
}

const STRIDE = 32;
// PaddleOCR reads images with OpenCV, in BGR order, and applies these ImageNet constants in that order:
// the model was trained so, hence planes B, G, R with mean 0.485, 0.456, 0.406.
const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;

/** For each of `size` output pixels and `n` samples: the clamped source neighbours and the weight of the second. */
function axis(size: number, n: number, scale: number, limit: number): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const i0 = new Int32Array(size * n);
  const i1 = new Int32Array(size * n);
  const f = new Float64Array(size * n);
  for (let t = 0; t < size; t += 1) {
    for (let s = 0; s < n; s += 1) {
      const c = Math.min(Math.max((t + (s + 0.5) / n) * scale - 0.5, 0), limit - 1);
      const lo = Math.floor(c);
      i0[t * n + s] = lo;
      i1[t * n + s] = Math.min(lo + 1, limit - 1);
      f[t * n + s] = c - lo;
    }
  }
  return { i0, i1, f };
}

/** The detection model's input: the image resized (sides multiples of 32, longer side <= maxSide), normalised, CHW. */
export function detectionInput(image: RgbImage, maxSide = 960, memory: RequestMemory = unscoped): { data: Float32Array; dims: [1, 3, number, number]; scaleX: number; scaleY: number } {
  const { width, height } = image;
  const ratio = Math.max(width, height) > maxSide ? maxSide / Math.max(width, height) : 1;
  const cap = Math.max(STRIDE, Math.floor(maxSide / STRIDE) * STRIDE);
  const side = (n: number): number => Math.min(cap, Math.max(STRIDE, Math.round((n * ratio) / STRIDE) * STRIDE));
  const w = side(width);
  const h = side(height);
  const scaleX = width / w;
  const scaleY = height / h;
  const data = memory.alloc(3 * w * h, Float32Array);
  const n = samplesPerAxis(Math.max(scaleX, scaleY));
  // The sample grid is separable: per output column (and row) the n source positions, their two
  // neighbours and weights, computed once; the loop below is addBilinear inlined, in the same order.
  const xs = axis(w, n, scaleX, width);
  const ys = axis(h, n, scaleY, height);
  const src = image.data;
  const plane = w * h;
  const k = 255 * n * n;
  for (let ty = 0; ty < h; ty += 1) {
    for (let tx = 0; tx < w; tx += 1) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let j = 0; j < n; j += 1) {
        const yj = ty * n + j;
        const row0 = (ys.i0[yj] as number) * width;
        const row1 = (ys.i1[yj] as number) * width;
        const fy = ys.f[yj] as number;
        for (let i = 0; i < n; i += 1) {
          const xi = tx * n + i;
          const x0 = xs.i0[xi] as number;
          const x1 = xs.i1[xi] as number;
          const fx = xs.f[xi] as number;
          const w00 = (1 - fx) * (1 - fy);
          const w01 = fx * (1 - fy);
          const w10 = (1 - fx) * fy;
          const w11 = fx * fy;
          const p00 = (row0 + x0) * 3;
          const p01 = (row0 + x1) * 3;
          const p10 = (row1 + x0) * 3;
          const p11 = (row1 + x1) * 3;
          r = r + (src[p00] as number) * w00 + (src[p01] as number) * w01 + (src[p10] as number) * w10 + (src[p11] as number) * w11;
          g = g + (src[p00 + 1] as number) * w00 + (src[p01 + 1] as number) * w01 + (src[p10 + 1] as number) * w10 + (src[p11 + 1] as number) * w11;
          b = b + (src[p00 + 2] as number) * w00 + (src[p01 + 2] as number) * w01 + (src[p10 + 2] as number) * w10 + (src[p11 + 2] as number) * w11;
        }
      }
      const p = ty * w + tx;
      data[p] = (b / k - MEAN[0]) / STD[0];
      data[plane + p] = (g / k - MEAN[1]) / STD[1];
      data[2 * plane + p] = (r / k - MEAN[2]) / STD[2];
    }
  }
  return { data, dims: [1, 3, h, w], scaleX, scaleY };
}

/**
 * DB post-processing: binarise at `threshold`, take each 8-connected component (iterative fill), fit
 * its minimum-area rectangle (through pixel centres, like OpenCV's contours), score it by the mean
 * probability inside, grow it by area · unclipRatio / perimeter (the rectangle PaddleOCR's polygon
 * offset then minAreaRect yields), map it to source pixels and return the boxes in reading order.
 */
export function detectionBoxes(probability: Float32Array, height: number, width: number, scaleX: number, scaleY: number, options: DetectionOptions = {}, memory: RequestMemory = unscoped): TextBox[] {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || probability.length !== width * height) {
    throw new RangeError(`probability map has ${probability.length} values, expected height ${height} x width ${width}`);
  }
  const threshold = options.threshold ?? 0.3;
  const boxThreshold = options.boxThreshold ?? 0.6;
  const unclipRatio = options.unclipRatio ?? 1.5;
  const minSize = options.minSize ?? 3;
  const maxBoxes = options.maxBoxes ?? 1000;
  const sourceWidth = Math.round(width * scaleX);
  const sourceHeight = Math.round(height * scaleY);
  const scratch = newScratch(width, height, memory);
  const boxes: TextBox[] = [];
  try {
    for (let p = 0; p < scratch.mask.length; p += 1) scratch.mask[p] = (probability[p] as number) > threshold ? 1 : 0;
    for (let seed = 0; seed < scratch.mask.length && boxes.length < maxBoxes; seed += 1) {
      if (scratch.mask[seed] !== 1) continue;
      const extremes = componentExtremes(scratch, seed);
      const box = componentBox(minAreaRectangle(extremes), probability, width, height, { boxThreshold, unclipRatio, minSize });
      extremes.fill(0);
      if (box === undefined) continue;
      const points = orderCorners(rectangleCorners(box.rectangle).map(([x, y]): [number, number] => [clamp(x * scaleX, 0, sourceWidth - 1), clamp(y * scaleY, 0, sourceHeight - 1)]));
      // PaddleOCR's filter_tag_det_res: boxes 3 source pixels thin or less are dropped.
      if (distance(points[0], points[1]) <= 3 || distance(points[0], points[3]) <= 3) continue;
      boxes.push({ points, score: box.score });
    }
    return readingOrder(boxes).flat();
  } finally {
    memory.dispose(scratch.mask, scratch.stack, scratch.rowMin, scratch.rowMax);
  }
}

/** Component labelling state. The mask, stack and row extents trace the text's shape: in the request's memory, disposed of after use. */
interface Scratch {
  readonly width: number;
  readonly height: number;
  /** 0 background, 1 text not yet visited, 2 visited. */
  readonly mask: Uint8Array;
  readonly stack: Int32Array;
  /** Per row, the leftmost and rightmost pixel of the current component (width and -1 when none). */
  readonly rowMin: Int32Array;
  readonly rowMax: Int32Array;
}

function newScratch(width: number, height: number, memory: RequestMemory): Scratch {
  return { width, height, mask: memory.alloc(width * height), stack: memory.alloc(width * height, Int32Array), rowMin: memory.alloc(height, Int32Array).fill(width), rowMax: memory.alloc(height, Int32Array).fill(-1) };
}

/**
 * Visits the 8-connected component of `seed` with an explicit stack (no recursion) and returns its
 * row extremes as points [x, y, ...]: they have the same convex hull as the whole component.
 */
function componentExtremes(s: Scratch, seed: number): number[] {
  const { width, height, mask, stack, rowMin, rowMax } = s;
  let top = 0;
  let minY = height;
  let maxY = -1;
  stack[top++] = seed;
  mask[seed] = 2;
  while (top > 0) {
    const q = stack[--top] as number;
    const x = q % width;
    const y = (q - x) / width;
    if (x < (rowMin[y] as number)) rowMin[y] = x;
    if (x > (rowMax[y] as number)) rowMax[y] = x;
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
    for (let ny = Math.max(0, y - 1); ny <= Math.min(height - 1, y + 1); ny += 1) {
      for (let nx = Math.max(0, x - 1); nx <= Math.min(width - 1, x + 1); nx += 1) {
        const r = ny * width + nx;
        if (mask[r] === 1) {
          mask[r] = 2;
          stack[top++] = r;
        }
      }
    }
  }
  const extremes: number[] = [];
  for (let y = minY; y <= maxY; y += 1) {
    if ((rowMax[y] as number) >= 0) extremes.push(rowMin[y] as number, y, rowMax[y] as number, y);
    rowMin[y] = width;
    rowMax[y] = -1;
  }
  return extremes;
}

function componentBox(rectangle: Rectangle, probability: Float32Array, width: number, height: number, o: { boxThreshold: number; unclipRatio: number; minSize: number }): { rectangle: Rectangle; score: number } | undefined {
  const sides = (r: Rectangle): [number, number] => [r.u1 - r.u0, r.v1 - r.v0];
  const [a, b] = sides(rectangle);
  if (Math.min(a, b) < o.minSize) return undefined;
  const score = meanInside(rectangle, probability, width, height);
  if (score < o.boxThreshold) return undefined;
  const perimeter = 2 * (a + b);
  const grown = expandRectangle(rectangle, perimeter > 0 ? (a * b * o.unclipRatio) / perimeter : 0);
  // PaddleOCR re-checks the grown box against minSize + 2.
  if (Math.min(...sides(grown)) < o.minSize + 2) return undefined;
  return { rectangle: grown, score };
}

function meanInside(r: Rectangle, probability: Float32Array, width: number, height: number): number {
  const corners = rectangleCorners(r);
  const xs = corners.map(([x]) => x);
  const ys = corners.map(([, y]) => y);
  const x0 = clamp(Math.floor(Math.min(...xs)), 0, width - 1);
  const x1 = clamp(Math.ceil(Math.max(...xs)), 0, width - 1);
  const y0 = clamp(Math.floor(Math.min(...ys)), 0, height - 1);
  const y1 = clamp(Math.ceil(Math.max(...ys)), 0, height - 1);
  let sum = 0;
  let count = 0;
  for (let y = y0; y <= y1; y += 1) {
    for (let x = x0; x <= x1; x += 1) {
      if (!rectangleContains(r, x, y, 1e-3)) continue;
      sum += probability[y * width + x] as number;
      count += 1;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/** PaddleOCR's corner order: of the two leftmost points the upper is top-left; of the two rightmost the upper is top-right. */
function orderCorners(corners: [number, number][]): [[number, number], [number, number], [number, number], [number, number]] {
  const sorted = [...corners].sort((p, q) => p[0] - q[0]);
  const [l0, l1, r0, r1] = sorted as [[number, number], [number, number], [number, number], [number, number]];
  const [topLeft, bottomLeft] = l1[1] > l0[1] ? [l0, l1] : [l1, l0];
  const [topRight, bottomRight] = r1[1] > r0[1] ? [r0, r1] : [r1, r0];
  return [topLeft, topRight, bottomRight, bottomLeft];
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
