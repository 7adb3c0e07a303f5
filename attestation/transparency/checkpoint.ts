// Checkpoints, C2SP tlog-checkpoint v1.0.0: the text of a signed note (signedNote.ts) made of
//
//   <origin>                 non-empty; the log's identity (Cloister and Rekor: the key name as well)
//   <tree size>              ASCII decimal, no leading zeroes
//   <root hash>              base64 of the 32-byte RFC 6962 root hash at that size
//   [<extension line>...]    non-empty, opaque
//
// verifyCheckpoint: parse the note and the checkpoint, verify the signatures (signed-note rules), require one by
// the log's key, check the origin, then require cosignatures by at least `threshold` of the listed witnesses
// (C2SP tlog-cosignature; witness keys are usually type 0x04). Consistency with checkpoints seen before is
// checkpointStore.ts's job.
import { parseBase64, toBase64 } from '../bytes.js';
import { ParseError, PolicyError, VerificationError } from '../errors.js';
import { HASH_SIZE } from './merkle.js';
import { keyIdHex, parseSignedNote, verifyNote, type NoteLimits, type NoteVerifier, type SignedNote, type VerifiedSignature } from './signedNote.js';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly extensions: readonly string[];
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

function malformed(message: string, field: string): never {
  throw new ParseError('MALFORMED_CHECKPOINT', message, { field });
}

const isRootHash = (line: string): boolean => parseBase64(line)?.length === HASH_SIZE;

/** Which of the three mandatory lines a two-line body lacks, judged by what the two lines are. */
function missingLine([first, second]: readonly string[]): never {
  if (first !== undefined && second !== undefined) {
    if (DECIMAL.test(first) && isRootHash(second)) malformed('checkpoint has no origin line: its first line is a tree size, its second a root hash', 'origin');
    if (isRootHash(second)) malformed(`checkpoint has no tree size line: "${first}" is followed by a root hash`, 'size');
    if (DECIMAL.test(second)) malformed(`checkpoint has no root hash line: the tree size ${second} ends it`, 'rootHash');
  }
  return malformed(`checkpoint has ${first === undefined ? 0 : second === undefined ? 1 : 2} lines, fewer than the origin, tree size and root hash it needs`, 'checkpoint');
}

export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) malformed('checkpoint text does not end in a newline', 'checkpoint');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) missingLine(lines.filter((l) => l !== ''));
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin === '') malformed('checkpoint origin line is empty', 'origin');
  if (!DECIMAL.test(size)) malformed(`checkpoint tree size "${size}" is not a decimal number without leading zeroes`, 'size');
  const treeSize = Number(size);
  if (!Number.isSafeInteger(treeSize)) malformed(`checkpoint tree size ${size} is above 2^53-1, which this verifier does not handle`, 'size');
  const rootHash = parseBase64(root);
  if (rootHash === undefined || rootHash.length !== HASH_SIZE) malformed(`checkpoint root hash "${root}" is not base64 of ${HASH_SIZE} bytes`, 'rootHash');
  const empty = extensions.indexOf('');
  if (empty >= 0) malformed(`checkpoint extension line ${empty + 1} is empty`, 'extensions');
  return Object.freeze({ origin, size: treeSize, rootHash, extensions: Object.freeze(extensions) });
}

export function serializeCheckpoint(c: Checkpoint): string {
  if ([c.origin, ...c.extensions].some((line) => line.includes('\n'))) malformed('checkpoint origin or extension lines hold a newline', 'checkpoint');
  const text = [c.origin, String(c.size), toBase64(c.rootHash), ...c.extensions].join('\n') + '\n';
  parseCheckpoint(text);
  return text;
}

export interface LogKeys {
  /**
   * The origin line the log's checkpoints carry. Undefined accepts any origin, so that the key alone names the log:
   * Sigstore's Rekor v1 puts a shard's tree ID in its origin, which the trusted root does not carry.
   */
  readonly origin?: string;
  /** The log's keys; a checkpoint needs a valid signature by one of them. */
  readonly keys: readonly NoteVerifier[];
}

export interface WitnessPolicy {
  /** One verifier per witness. */
  readonly witnesses: readonly NoteVerifier[];
  /** How many of them must have cosigned (k of n). */
  readonly threshold: number;
}

export interface CheckpointTrust {
  readonly log: LogKeys;
  /** Without it, no cosignature is required (and witness lines are ignored as unknown keys). */
  readonly witnesses?: WitnessPolicy;
}

export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: SignedNote;
  /** The log's signatures that verified (usually one). */
  readonly logSignatures: readonly VerifiedSignature[];
  /** The listed witnesses' cosignatures that verified, each with its timestamp (type 0x04). */
  readonly cosignatures: readonly VerifiedSignature[];
}

function checkPolicy(trust: CheckpointTrust): void {
  const w = trust.witnesses;
  if (trust.log.keys.length === 0) throw new PolicyError('MALFORMED_POLICY', `no key is trusted for log ${trust.log.origin ?? '(any origin)'}`, { field: 'log.keys' });
  if (w !== undefined && (!Number.isInteger(w.threshold) || w.threshold < 0 || w.threshold > w.witnesses.length)) {
    throw new PolicyError('MALFORMED_POLICY', `witness threshold ${w.threshold} is not an integer in 0..${w.witnesses.length} (the witnesses listed)`, { field: 'witnesses.threshold' });
  }
}

const label = (v: NoteVerifier): string => `${v.name}+${keyIdHex(v.keyId)}`;

/** Verifies a signed checkpoint against the log's keys and the witness policy; throws the first failure. */
export async function verifyCheckpoint(input: string | Uint8Array | SignedNote, trust: CheckpointTrust, limits?: NoteLimits): Promise<VerifiedCheckpoint> {
  checkPolicy(trust);
  const note = typeof input === 'string' || input instanceof Uint8Array ? parseSignedNote(input, limits) : input;
  const checkpoint = parseCheckpoint(note.text);
  const witnesses = trust.witnesses?.witnesses ?? [];
  const verified = await verifyNote(note, [...trust.log.keys, ...witnesses]);
  const logSignatures = verified.filter((s) => trust.log.keys.includes(s.verifier));
  if (logSignatures.length === 0) {
    const keys = trust.log.keys.map(label).join(', ');
    throw new VerificationError('NOTE_UNVERIFIED', `the checkpoint is not signed by the log's key (${keys}), only by witnesses`, { field: 'signatures', expected: keys });
  }
  if (trust.log.origin !== undefined && checkpoint.origin !== trust.log.origin) {
    throw new VerificationError('CHECKPOINT_ORIGIN_MISMATCH', `checkpoint origin "${checkpoint.origin}" is not the log's, "${trust.log.origin}"`, {
      field: 'origin',
      expected: trust.log.origin,
      actual: checkpoint.origin,
    });
  }
  const cosignatures = verified.filter((s) => witnesses.includes(s.verifier));
  const threshold = trust.witnesses?.threshold ?? 0;
  if (cosignatures.length < threshold) {
    const missing = witnesses.filter((w) => !cosignatures.some((c) => c.verifier === w)).map(label);
    throw new VerificationError(
      'WITNESS_COSIGNATURES_MISSING',
      `the checkpoint of ${checkpoint.origin} at size ${checkpoint.size} has ${cosignatures.length} of the ${threshold} witness cosignatures required; missing: ${missing.join(', ')}`,
      { field: 'cosignatures', expected: `${threshold} of ${witnesses.map(label).join(', ')}`, actual: missing.join(', ') },
    );
  }
  return { checkpoint, note, logSignatures, cosignatures };
}
