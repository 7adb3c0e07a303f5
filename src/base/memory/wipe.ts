// Zeroing request data, byte by byte whatever the element type (BigInt64Array.fill(0) would throw), and
// freeing the buffers a request owns whole once they are zeroed. A view whose buffer was already freed
// (detached) has nothing left to wipe. One switch exists for the benchmark that prices wiping
// (bench/inference.ts); nothing else turns it off.
let enabled = true;

export function wipe(...views: (ArrayBufferView | undefined)[]): void {
  if (!enabled) return;
  for (const v of views) if (v !== undefined && !(v.buffer instanceof ArrayBuffer && v.buffer.detached)) new Uint8Array(v.buffer, v.byteOffset, v.byteLength).fill(0);
}

/** Benchmark only: measure the same path without wiping. */
export function setWipingForBenchmark(on: boolean): void {
  enabled = on;
}

/**
 * Wipes, then frees at once, by detaching it, the ArrayBuffer of each view that covers its buffer whole,
 * instead of leaving that memory to a later collection. The caller vouches that nothing else refers to
 * those buffers (the copies ONNX Runtime hands back, a request's own tensors); a view of part of a buffer
 * (a slice of Node's shared pool, a tensor inside a response) is only wiped.
 */
export function wipeAndFree(...views: (ArrayBufferView | undefined)[]): void {
  wipe(...views);
  free(...views);
}

/** The freeing half of wipeAndFree, for memory that holds no request data (the benchmark's raw runs). */
export function free(...views: (ArrayBufferView | undefined)[]): void {
  for (const v of views) {
    if (v === undefined || !(v.buffer instanceof ArrayBuffer) || v.buffer.detached) continue;
    if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) v.buffer.transfer(0);
  }
}
