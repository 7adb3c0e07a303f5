// Transparency logs (docs/transparency.md): C2SP signed notes, checkpoints, cosignatures and tiles, RFC 9162 proofs,
// and the client's offline checks. Browser-safe, like the rest of the SDK.
export {
  EMPTY_ROOT,
  HASH_SIZE,
  leafHash,
  nodeHash,
  merkleRoot,
  rootFromInclusionProof,
  verifyInclusion,
  verifyConsistency,
  inclusionProofSubtrees,
  consistencyProofSubtrees,
  subtreeHash,
  type InclusionProof,
  type TreeHead,
  type Subtree,
  type NodeSource,
} from './merkle.js';
export {
  parseSignedNote,
  serializeSignedNote,
  parseSignatureLines,
  formatSignatureLine,
  signNote,
  signNoteText,
  verifyNote,
  checkNoteText,
  isKeyName,
  keyIdHex,
  DEFAULT_NOTE_LIMITS,
  type SignedNote,
  type NoteSignature,
  type NoteLimits,
  type NoteVerifier,
  type NoteSigner,
  type SignatureCheck,
  type VerifiedSignature,
} from './signedNote.js';
export {
  parseVkey,
  formatVkey,
  noteKeyId,
  noteVerifier,
  noteVerifierFromSpki,
  ed25519NoteSigner,
  cosignatureNoteSigner,
  SIGNATURE_TYPE,
  type Vkey,
  type NoteCrypto,
  type KeyedVerifier,
  type KeyedSigner,
  type SignFunction,
  type SignatureType,
} from './noteKeys.js';
export { cosignedMessage, encodeTimestampedSignature, decodeTimestampedSignature, type TimestampedSignature } from './cosignature.js';
export { parseCheckpoint, serializeCheckpoint, verifyCheckpoint, type Checkpoint, type CheckpointTrust, type LogKeys, type WitnessPolicy, type VerifiedCheckpoint } from './checkpoint.js';
export {
  MemoryCheckpointStore,
  checkAgainstSeen,
  advanceCheckpoint,
  type CheckpointStore,
  type StoredCheckpoint,
  type ConsistencyProofSource,
  type CheckpointAdvance,
} from './checkpointStore.js';
export {
  TileReader,
  tilePath,
  parseTilePath,
  tileAt,
  partialTiles,
  tileHashes,
  encodeEntryBundle,
  decodeEntryBundle,
  TILE_HEIGHT,
  TILE_WIDTH,
  MAX_ENTRY_SIZE,
  type TileId,
  type TileFetcher,
} from './tiles.js';
export { TileBuilder, type TileWrite } from './tileBuilder.js';
export { parseAddCheckpointRequest, serializeAddCheckpointRequest, parseWitnessSize, MAX_PROOF_LINES, TLOG_SIZE_MEDIA_TYPE, type AddCheckpointRequest } from './witnessProtocol.js';
export { verifyLogEntry, type LogEntryClaim, type VerifyLogEntryOptions, type LogEntryVerdict } from './verifyEntry.js';
