// What a client checks, offline, before it believes an entry is in a log: the checkpoint is signed by the log and
// cosigned by enough witnesses (checkpoint.ts), the inclusion proof leads from the entry to the checkpoint's root at
// the checkpoint's size (merkle.ts), and, with a store, the checkpoint is consistent with the newest one the client
// saw for that log, which it then keeps (checkpointStore.ts). The first failure is thrown.
import { webCryptoHasher, type Hasher } from '../hash.js';
import { verifyCheckpoint, type CheckpointTrust, type VerifiedCheckpoint } from './checkpoint.js';
import { advanceCheckpoint, type CheckpointAdvance, type CheckpointStore, type ConsistencyProofSource } from './checkpointStore.js';
import { leafHash, verifyInclusion } from './merkle.js';
import type { NoteLimits, SignedNote } from './signedNote.js';

export interface LogEntryClaim {
  /** The signed checkpoint note. */
  readonly checkpoint: string | Uint8Array | SignedNote;
  /** The entry as the log stores it (its leaf hash is computed), or its leaf hash. */
  readonly entry: { readonly bytes: Uint8Array } | { readonly leafHash: Uint8Array };
  readonly index: number;
  /** The audit path to the checkpoint's tree size. */
  readonly proof: readonly Uint8Array[];
}

export interface VerifyLogEntryOptions {
  readonly trust: CheckpointTrust;
  /** The newest checkpoint seen per log; without it, consistency with earlier checkpoints is not checked. */
  readonly store?: CheckpointStore;
  /** Where consistency proofs come from when the checkpoint is newer than the stored one (TileReader.consistencyProof). */
  readonly consistency?: ConsistencyProofSource;
  readonly hasher?: Hasher;
  readonly limits?: NoteLimits;
}

export interface LogEntryVerdict {
  readonly checkpoint: VerifiedCheckpoint;
  readonly index: number;
  /** Against the store; undefined without one. */
  readonly advance: CheckpointAdvance | undefined;
}

const noConsistencySource: ConsistencyProofSource = () => Promise.resolve([]);

export async function verifyLogEntry(claim: LogEntryClaim, options: VerifyLogEntryOptions): Promise<LogEntryVerdict> {
  const hasher = options.hasher ?? webCryptoHasher;
  const checkpoint = await verifyCheckpoint(claim.checkpoint, options.trust, options.limits);
  const leaf = 'leafHash' in claim.entry ? claim.entry.leafHash : await leafHash(hasher, claim.entry.bytes);
  await verifyInclusion(hasher, leaf, { index: claim.index, size: checkpoint.checkpoint.size, hashes: claim.proof }, checkpoint.checkpoint.rootHash);
  const advance = options.store === undefined ? undefined : await advanceCheckpoint(options.store, checkpoint, options.consistency ?? noConsistencySource, hasher);
  return { checkpoint, index: claim.index, advance };
}
