// The measurement calculators' Hasher (attestation/measure/hash.ts) on node:crypto: synchronous
// incremental hashing, so the many small digests of a launch-digest chain cost no thread-pool round trip
// and large inputs are hashed part by part without being joined.
import { createHash, hash } from 'node:crypto';
import type { Hasher } from '../../../attestation/hash.js';

const ALGORITHM = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' } as const;

function digestSync(name: keyof typeof ALGORITHM, parts: readonly Uint8Array[]): Uint8Array {
  // One part: the one-shot hash, which skips creating a Hash object (most of the cost of a 4 KiB page).
  if (parts.length === 1 && parts[0] !== undefined) return new Uint8Array(hash(ALGORITHM[name], parts[0], 'buffer'));
  const h = createHash(ALGORITHM[name]);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export const nodeHasher: Hasher = {
  digest: (name, parts) => Promise.resolve(digestSync(name, parts)),
  digestSync,
};
