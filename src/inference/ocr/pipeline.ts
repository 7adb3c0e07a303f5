// Image bytes in, UTF-8 text bytes out: decode, detect (one run), recognise each box (one run per box,
// bounded memory), join. Everything the pipeline allocates from the request (pixels, tensors, their
// outputs, line fragments, the text) is made or adopted through the request's scope, and disposed of as
// soon as it is no longer needed, the decoders' scratch included; the scope's owner closes it, on every
// path. The image bytes are only read.
import * as ort from 'onnxruntime-node';
import { detectionBoxes, detectionInput, type TextBox } from './detect.js';
import { decodeImage, type RgbImage } from './image.js';
import { readingOrder } from './readingOrder.js';
import { ctcDecode, recognitionInput, WIDTH_STEP, type Dictionary } from './recognize.js';
import { runInto } from '../sessions.js';
import type { RequestScope } from '../../base/memory/requestScope.js';

export interface OcrSessions {
  readonly detection: ort.InferenceSession;
  readonly recognition: ort.InferenceSession;
}

interface OcrOptions {
  /** Longer side of the detection input (default 960). */
  readonly maxSide?: number;
  /** Lines recognised with a lower CTC confidence are dropped (default 0.5, PaddleOCR's drop_score). */
  readonly minConfidence?: number;
  /** Test hook: sees every buffer the pipeline holds for a request, so a test can check it ends wiped. */
  readonly onIntermediate?: (buffer: Uint8Array | Float32Array) => void;
}

interface OcrResult {
  /** Lines joined by '\n', boxes on one line by ' ', UTF-8; owned by the caller. */
  readonly text: Uint8Array;
  readonly lines: number;
  readonly boxes: number;
}

interface OcrProfile extends OcrResult {
  readonly milliseconds: { readonly decode: number; readonly detection: number; readonly recognition: number };
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

export class OcrPipeline {
  readonly #sessions: OcrSessions;
  readonly #dictionary: Dictionary;
  readonly #maxSide: number;
  readonly #minConfidence: number;
  readonly #track: (buffer: Uint8Array | Float32Array) => void;

  constructor(sessions: OcrSessions, dictionary: Dictionary, options: OcrOptions = {}) {
    this.#sessions = sessions;
    this.#dictionary = dictionary;
    this.#maxSide = options.maxSide ?? 960;
    this.#minConfidence = options.minConfidence ?? 0.5;
    this.#track = options.onIntermediate ?? (() => undefined);
  }

  /** Recognised lines joined by '\n' (0x0a) as UTF-8 bytes, made in `scope`; every intermediate is the scope's too. */
  async recognize(image: Uint8Array, scope: RequestScope, signal?: AbortSignal): Promise<OcrResult> {
    const { text, lines, boxes } = await this.profile(image, scope, signal);
    return { text, lines, boxes };
  }

  /** Timing helper for benchmarks: the same work, returning also the time per stage. */
  async profile(image: Uint8Array, scope: RequestScope, signal?: AbortSignal): Promise<OcrProfile> {
    signal?.throwIfAborted();
    const t0 = performance.now();
    const rgb = decodeImage(image, {}, scope);
    this.#track(rgb.data);
    const t1 = performance.now();
    signal?.throwIfAborted();
    const boxes = await this.#detect(rgb, scope);
    const t2 = performance.now();
    const lines: Uint8Array[][] = [];
    for (const line of readingOrder(boxes)) {
      const words: Uint8Array[] = [];
      for (const box of line) {
        signal?.throwIfAborted();
        const { text, confidence } = await this.#recognizeBox(rgb, box, scope);
        this.#track(text);
        if (confidence >= this.#minConfidence && text.length > 0) words.push(text);
      }
      if (words.length > 0) lines.push(words);
    }
    signal?.throwIfAborted();
    scope.dispose(rgb.data);
    const t3 = performance.now();
    return { text: join(lines, scope), lines: lines.length, boxes: boxes.length, milliseconds: { decode: t1 - t0, detection: t2 - t1, recognition: t3 - t2 } };
  }

  async #detect(rgb: RgbImage, scope: RequestScope): Promise<TextBox[]> {
    const input = detectionInput(rgb, this.#maxSide, scope);
    return this.#run(this.#sessions.detection, scope, input.data, input.dims, [1, 1, input.dims[2], input.dims[3]], (output, [, , height, width]) => detectionBoxes(output, height ?? 0, width ?? 0, input.scaleX, input.scaleY, {}, scope));
  }

  #recognizeBox(rgb: RgbImage, box: TextBox, scope: RequestScope): Promise<{ text: Uint8Array; confidence: number }> {
    const input = recognitionInput(rgb, box, undefined, undefined, scope);
    return this.#run(this.#sessions.recognition, scope, input.data, input.dims, [1, input.dims[3] / WIDTH_STEP, this.#dictionary.size], (output, [, steps, classes]) => ctcDecode(output, steps ?? 0, classes ?? 0, this.#dictionary, scope));
  }

  /**
   * One model run into an output made in the scope (so ONNX Runtime writes the result straight into it,
   * not into one of its own that it frees unwiped); `use` reads it with the dimensions given; the input
   * and the output are disposed of as soon as it has (runInto disposes of the binding's copy).
   */
  async #run<T>(session: ort.InferenceSession, scope: RequestScope, data: Float32Array, dims: readonly number[], outputDims: readonly number[], use: (output: Float32Array, dims: readonly number[]) => T): Promise<T> {
    const out = scope.alloc(outputDims.reduce((a, b) => a * b, 1), Float32Array);
    this.#track(data);
    this.#track(out);
    try {
      await runInto(session, { [session.inputNames[0] ?? 'x']: new ort.Tensor('float32', data, dims) }, { [session.outputNames[0] ?? '']: new ort.Tensor('float32', out, outputDims) }, scope);
      return use(out, outputDims);
    } finally {
      scope.dispose(data, out);
    }
  }
}

/** Words joined by ' ' within a line, lines by '\n'. */
function join(lines: readonly (readonly Uint8Array[])[], scope: RequestScope): Uint8Array {
  let length = Math.max(0, lines.length - 1);
  for (const words of lines) for (const w of words) length += w.length;
  for (const words of lines) length += words.length - 1;
  const text = scope.alloc(length);
  let at = 0;
  lines.forEach((words, i) => {
    if (i > 0) text[at++] = NEWLINE;
    words.forEach((w, j) => {
      if (j > 0) text[at++] = SPACE;
      text.set(w, at);
      at += w.length;
    });
  });
  return text;
}
