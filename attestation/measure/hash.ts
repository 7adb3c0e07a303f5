// The hashes the measurement calculators need, behind one interface: WebCrypto by default (Node and
// browsers); the CLI injects node:crypto (src/base/crypto/nodeHasher.ts), which hashes many small inputs
// without a promise round trip through the thread pool each.

export type HashName = 'SHA-256' | 'SHA-384';

export interface Hasher {
  /** The digest of `parts` joined, without joining them where the backend can avoid it. */
  digest(name: HashName, parts: readonly Uint8Array[]): Promise<Uint8Array>;
}

const joined = (parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> => {
  if (parts.length === 1 && parts[0] !== undefined && parts[0].buffer instanceof ArrayBuffer) return parts[0] as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

export const webCryptoHasher: Hasher = {
  async digest(name, parts) {
    return new Uint8Array(await globalThis.crypto.subtle.digest(name, joined(parts)));
  },
};
