// The newest checkpoint seen per log, and the rule a new one must meet against it (RFC 9162 section 2.1.4 and
// C2SP tlog-witness "add-checkpoint"): the same size must carry the same root hash (else the log forked), a larger
// size must come with a consistency proof from the seen one, and a smaller size is a rollback. Clients persist
// the store (src/transparency/fileCheckpointStore.ts on disk; MemoryCheckpointStore here), and a witness keeps its
// last cosigned checkpoint per log the same way.
import { bytesEqual, toBase64 } from '../bytes.js';
import { VerificationError } from '../errors.js';
import { webCryptoHasher, type Hasher } from '../hash.js';
import type { VerifiedCheckpoint } from './checkpoint.js';
import { EMPTY_ROOT, verifyConsistency, type TreeHead } from './merkle.js';
import { serializeSignedNote } from './signedNote.js';

export interface StoredCheckpoint extends TreeHead {
  readonly origin: string;
  /** The signed note as it was verified, so that two conflicting ones can be shown to others. */
  readonly note: string;
}

export interface CheckpointStore {
  latest(origin: string): Promise<StoredCheckpoint | undefined>;
  /** Replaces the checkpoint kept for its origin. Callers check it against the kept one first (advanceCheckpoint). */
  save(checkpoint: StoredCheckpoint): Promise<void>;
}

export class MemoryCheckpointStore implements CheckpointStore {
  readonly #byOrigin = new Map<string, StoredCheckpoint>();

  latest(origin: string): Promise<StoredCheckpoint | undefined> {
    return Promise.resolve(this.#byOrigin.get(origin));
  }

  save(checkpoint: StoredCheckpoint): Promise<void> {
    this.#byOrigin.set(checkpoint.origin, checkpoint);
    return Promise.resolve();
  }
}

/** The consistency proof between two tree sizes (from tiles, a witness request, a bundle). */
export type ConsistencyProofSource = (olderSize: number, newerSize: number) => Promise<readonly Uint8Array[]>;

/** `first`: nothing was seen; `same`: the seen checkpoint again; `extended`: a larger tree, proven consistent. */
export type CheckpointAdvance = 'first' | 'same' | 'extended';

/**
 * Checks `next` against the newest tree head seen for the same log: CHECKPOINT_ROLLBACK when it is smaller,
 * CHECKPOINT_FORK when it has the same size and another root hash, CONSISTENCY_PROOF_INVALID when it is larger
 * and the proof does not show it extends the seen one. The empty tree is extended by any tree without a proof.
 */
export async function checkAgainstSeen(origin: string, seen: TreeHead | undefined, next: TreeHead, proof: ConsistencyProofSource, hasher: Hasher = webCryptoHasher): Promise<CheckpointAdvance> {
  if (seen === undefined) return 'first';
  if (next.size < seen.size) {
    throw new VerificationError('CHECKPOINT_ROLLBACK', `the checkpoint of ${origin} has tree size ${next.size}, below the size ${seen.size} already seen`, {
      field: 'size',
      expected: `at least ${seen.size}`,
      actual: String(next.size),
    });
  }
  if (next.size === seen.size) {
    if (bytesEqual(next.rootHash, seen.rootHash)) return 'same';
    throw new VerificationError('CHECKPOINT_FORK', `${origin} has two root hashes for tree size ${seen.size}: ${toBase64(seen.rootHash)} seen before, ${toBase64(next.rootHash)} now`, {
      field: 'rootHash',
      expected: toBase64(seen.rootHash),
      actual: toBase64(next.rootHash),
    });
  }
  if (seen.size === 0) {
    if (!bytesEqual(seen.rootHash, EMPTY_ROOT)) throw new VerificationError('CONSISTENCY_PROOF_INVALID', `the seen checkpoint of ${origin} at size 0 does not have the empty tree's root hash`, { field: 'rootHash' });
    return 'extended';
  }
  await verifyConsistency(hasher, seen, next, await proof(seen.size, next.size));
  return 'extended';
}

/** Checks a verified checkpoint against the store's newest for its origin and keeps it when it is newer. */
export async function advanceCheckpoint(store: CheckpointStore, verified: VerifiedCheckpoint, proof: ConsistencyProofSource, hasher?: Hasher): Promise<CheckpointAdvance> {
  const { origin, size, rootHash } = verified.checkpoint;
  const advance = await checkAgainstSeen(origin, await store.latest(origin), { size, rootHash }, proof, hasher);
  if (advance !== 'same') await store.save({ origin, size, rootHash, note: serializeSignedNote(verified.note) });
  return advance;
}
