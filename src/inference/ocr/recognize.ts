// Text-line recognition around PaddleOCR's CRNN-style recogniser (PP-OCRv4 rec, CTC head): the model
// input for one detected box (PaddleOCR's get_rotate_crop_image then resize_norm_img), the dictionary
// and greedy CTC decoding. Recognised text only ever exists as UTF-8 bytes, never as a JS string.
import type { TextBox } from './textBox.js';
import type { RgbImage } from './image.js';
import { squareToQuad, type Quad } from './perspective.js';
import { addBilinear, distance, samplesPerAxis } from './sample.js';
import { unscoped, type RequestMemory } from '../../base/memory/requestScope.js';

// PaddleOCR pads every line to at least its rec_image_shape ratio, 320 / 48, as in training.
const MIN_ASPECT = 320 / 48;
/** The model emits one time step per 8 input columns (T = floor(W / 8)); input widths are multiples of it. */
export const WIDTH_STEP = 8;
// get_rotate_crop_image turns a crop this much taller than wide into a horizontal line.
const ROTATE_ASPECT = 1.5;

/** The recognition model's input for one box: cropped, turned horizontal, height `height`, normalised to [-1, 1], CHW. */
export function recognitionInput(image: RgbImage, box: TextBox, height = 48, maxWidth = 1280, memory: RequestMemory = unscoped): { data: Float32Array; dims: [1, 3, number, number] } {
  const [p0, p1, p2, p3] = box.points;
  if (p0 === undefined || p1 === undefined || p2 === undefined || p3 === undefined || box.points.length !== 4) throw new RangeError(`a text box has 4 corners, this one ${box.points.length}`);
  if (!Number.isInteger(height) || height < 1 || maxWidth < WIDTH_STEP) throw new RangeError(`height ${height} must be a positive integer and maxWidth ${maxWidth} at least ${WIDTH_STEP}`);
  const quad: Quad = [p0, p1, p2, p3];
  const cropWidth = Math.max(1, distance(p0, p1), distance(p3, p2));
  const cropHeight = Math.max(1, distance(p0, p3), distance(p1, p2));
  const rotate = cropHeight >= ROTATE_ASPECT * cropWidth;
  const lineWidth = rotate ? cropHeight : cropWidth;
  const lineHeight = rotate ? cropWidth : cropHeight;
  const limit = Math.floor(maxWidth / WIDTH_STEP) * WIDTH_STEP;
  // Lines longer than `limit` at this height are squeezed into it, as one bounded run.
  const resized = Math.min(limit, Math.max(1, Math.ceil((height * lineWidth) / lineHeight)));
  const width = Math.min(limit, Math.ceil(Math.max(resized, height * MIN_ASPECT) / WIDTH_STEP) * WIDTH_STEP);
  const toSource = squareToQuad(quad);
  const n = samplesPerAxis(Math.max(lineWidth / resized, lineHeight / height));
  const data = memory.alloc(3 * height * width, Float32Array);
  const plane = height * width;
  const acc = memory.alloc(3, Float64Array);
  for (let ty = 0; ty < height; ty += 1) {
    for (let tx = 0; tx < resized; tx += 1) {
      acc.fill(0);
      for (let j = 0; j < n; j += 1) {
        for (let i = 0; i < n; i += 1) {
          const lx = ((tx + (i + 0.5) / n) * lineWidth) / resized;
          const ly = ((ty + (j + 0.5) / n) * lineHeight) / height;
          // np.rot90 turns counter-clockwise: the line's top-left is the crop's top-right.
          const u = rotate ? cropWidth - ly : lx;
          const v = rotate ? lx : ly;
          const [x, y] = toSource(u / cropWidth, v / cropHeight);
          addBilinear(image, x, y, acc);
        }
      }
      // BGR planes, as OpenCV loads images for PaddleOCR; (x / 255 - 0.5) / 0.5.
      const k = 127.5 * n * n;
      const p = ty * width + tx;
      data[p] = (acc[2] as number) / k - 1;
      data[plane + p] = (acc[1] as number) / k - 1;
      data[2 * plane + p] = (acc[0] as number) / k - 1;
    }
  }
  memory.dispose(acc);
  return { data, dims: [1, 3, height, width] };
}


/** CTC classes: 0 is the blank, then one per dictionary line, then a space (PaddleOCR's use_space_char). */
export class Dictionary {
  readonly size: number;
  readonly #entries: readonly Uint8Array[];

  private constructor(entries: readonly Uint8Array[]) {
    this.#entries = entries;
    this.size = entries.length;
  }

  /** One entry per line of the UTF-8 file (LF or CRLF; a final newline ends the last line). */
  static fromFile(text: Uint8Array): Dictionary {
    const entries: Uint8Array[] = [new Uint8Array(0)];
    let start = 0;
    for (let i = 0; i <= text.length; i += 1) {
      if (i < text.length && text[i] !== 0x0a) continue;
      if (i === text.length && start === i) break;
      const end = i > start && text[i - 1] === 0x0d ? i - 1 : i;
      entries.push(new Uint8Array(text.subarray(start, end)));
      start = i + 1;
    }
    entries.push(new Uint8Array([0x20]));
    return new Dictionary(entries);
  }

  /** UTF-8 bytes of a class (the blank's are empty). A shared view: read it, do not modify it. */
  bytesOf(classIndex: number): Uint8Array {
    const entry = this.#entries[classIndex];
    if (entry === undefined) throw new RangeError(`class ${classIndex} is outside the dictionary's 0..${this.size - 1}`);
    return entry;
  }
}

/**
 * Greedy CTC decoding of a [steps, classes] probability matrix: the best class per step, repeats
 * collapsed, blanks (class 0) dropped. Confidence is the mean probability of the kept steps (0 if none).
 */
export function ctcDecode(probabilities: Float32Array, steps: number, classes: number, dictionary: Dictionary, memory: RequestMemory = unscoped): { text: Uint8Array; confidence: number } {
  if (!Number.isInteger(steps) || !Number.isInteger(classes) || steps < 0 || classes < 1 || probabilities.length !== steps * classes) {
    throw new RangeError(`probabilities hold ${probabilities.length} values, expected steps ${steps} x classes ${classes}`);
  }
  if (classes > dictionary.size) throw new RangeError(`the model has ${classes} classes, the dictionary ${dictionary.size}`);
  const kept = memory.alloc(steps, Int32Array);
  try {
    let count = 0;
    let bytes = 0;
    let sum = 0;
    let previous = -1;
    for (let t = 0; t < steps; t += 1) {
      const row = t * classes;
      let best = 0;
      let bestP = probabilities[row] as number;
      for (let c = 1; c < classes; c += 1) {
        const p = probabilities[row + c] as number;
        if (p > bestP) {
          best = c;
          bestP = p;
        }
      }
      if (best !== 0 && best !== previous) {
        kept[count++] = best;
        bytes += dictionary.bytesOf(best).length;
        sum += bestP;
      }
      previous = best;
    }
    const text = memory.alloc(bytes);
    for (let i = 0, at = 0; i < count; i += 1) {
      const entry = dictionary.bytesOf(kept[i] as number);
      text.set(entry, at);
      at += entry.length;
    }
    return { text, confidence: count === 0 ? 0 : sum / count };
  } finally {
    memory.dispose(kept);
  }
}
