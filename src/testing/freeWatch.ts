// Watches ArrayBuffer.prototype.transfer while `fn` runs: for every buffer freed that way (detached, its
// memory released), whether all of its bytes were zero at that moment. A freed buffer can no longer be
// read, so this is how a test tells "wiped, then freed" from "freed unwiped".
export async function watchFrees<T>(fn: () => T | Promise<T>): Promise<{ result: T; zeroWhenFreed: boolean[] }> {
  const original = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'transfer');
  const transfer = original?.value as ((this: ArrayBuffer, length?: number) => ArrayBuffer) | undefined;
  if (original === undefined || transfer === undefined) throw new Error('ArrayBuffer.prototype.transfer is missing');
  const zeroWhenFreed: boolean[] = [];
  Object.defineProperty(ArrayBuffer.prototype, 'transfer', {
    ...original,
    value(this: ArrayBuffer, length?: number): ArrayBuffer {
      zeroWhenFreed.push(new Uint8Array(this).every((b) => b === 0));
      return transfer.call(this, length);
    },
  });
  try {
    return { result: await fn(), zeroWhenFreed };
  } finally {
    Object.defineProperty(ArrayBuffer.prototype, 'transfer', original);
  }
}
