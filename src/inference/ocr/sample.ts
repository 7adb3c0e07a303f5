// Resampling of RgbImage pixels shared by the detection and recognition inputs. Coordinates are in
// OpenCV's pixel-index space (pixel i has its centre at i); outside the image the border is replicated.
import type { RgbImage } from './image.js';

export const distance = (p: readonly [number, number], q: readonly [number, number]): number => Math.hypot(p[0] - q[0], p[1] - q[1]);

/** Adds the bilinear RGB value at (x, y) to acc[0..2]. */
export function addBilinear(image: RgbImage, x: number, y: number, acc: Float64Array): void {
  const { width, height, data } = image;
  const cx = Math.min(Math.max(x, 0), width - 1);
  const cy = Math.min(Math.max(y, 0), height - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const fx = cx - x0;
  const fy = cy - y0;
  const x1 = Math.min(x0 + 1, width - 1);
  const y1 = Math.min(y0 + 1, height - 1);
  const p00 = (y0 * width + x0) * 3;
  const p01 = (y0 * width + x1) * 3;
  const p10 = (y1 * width + x0) * 3;
  const p11 = (y1 * width + x1) * 3;
  const w00 = (1 - fx) * (1 - fy);
  const w01 = fx * (1 - fy);
  const w10 = (1 - fx) * fy;
  const w11 = fx * fy;
  for (let c = 0; c < 3; c += 1) {
    acc[c] = (acc[c] as number) + (data[p00 + c] as number) * w00 + (data[p01 + c] as number) * w01 + (data[p10 + c] as number) * w10 + (data[p11 + c] as number) * w11;
  }
}

/**
 * Samples per output pixel and axis when one output pixel spans `scale` source pixels: bilinear alone
 * skips source pixels and aliases thin strokes; averaging a grid of samples approximates an area filter.
 */
export function samplesPerAxis(scale: number): number {
  return Math.min(4, Math.max(1, Math.ceil(scale - 1e-9)));
}
