// The hashes the measurement calculators and the TDX verifier need, behind one interface: WebCrypto by default (Node and
// browsers); the CLI injects node:crypto (src/base/crypto/nodeHasher.ts), which hashes many small inputs
// without a promise round trip through the thread pool each.
import { concatBytes } from './bytes.js';

export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface Hasher {
  /** The digest of `parts` joined, without joining them where the backend can avoid it. */
  digest(name: HashName, parts: readonly Uint8Array[]): Promise<Uint8Array>;
  /** The same digest without a promise, where the backend hashes on the calling thread: a Merkle proof's many small hashes then cost no microtask each. */
  readonly digestSync?: (name: HashName, parts: readonly Uint8Array[]) => Uint8Array;
}

// WebCrypto hashes one buffer: a single ArrayBuffer-backed part as it is, anything else joined.
const joined = (parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const [only] = parts;
  return parts.length === 1 && only !== undefined && only.buffer instanceof ArrayBuffer ? (only as Uint8Array<ArrayBuffer>) : concatBytes(...parts);
};

export const webCryptoHasher: Hasher = {
  async digest(name, parts) {
    return new Uint8Array(await globalThis.crypto.subtle.digest(name, joined(parts)));
  },
};
