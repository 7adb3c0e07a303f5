// Zeroing memory, byte by byte whatever the element type (BigInt64Array.fill(0) would throw), and freeing
// buffers at once instead of leaving them to a later collection. A view whose buffer was already freed
// (detached) has nothing left to wipe. A request's plaintext is wiped through its RequestScope
// (requestScope.ts), which calls these.

export function wipe(...views: (ArrayBufferView | undefined)[]): void {
  for (const v of views) if (v !== undefined && !(v.buffer instanceof ArrayBuffer && v.buffer.detached)) new Uint8Array(v.buffer, v.byteOffset, v.byteLength).fill(0);
}

/**
 * Wipes, then frees at once, by detaching it, the ArrayBuffer of each view that covers its buffer whole.
 * The caller vouches that nothing else refers to those buffers; a view of part of a buffer (a slice of
 * Node's shared pool, a tensor inside a response) is only wiped.
 */
export function wipeAndFree(...views: (ArrayBufferView | undefined)[]): void {
  wipe(...views);
  free(...views);
}

/** The freeing half of wipeAndFree. */
export function free(...views: (ArrayBufferView | undefined)[]): void {
  for (const v of views) {
    if (v === undefined || !(v.buffer instanceof ArrayBuffer) || v.buffer.detached) continue;
    if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) v.buffer.transfer(0);
  }
}
