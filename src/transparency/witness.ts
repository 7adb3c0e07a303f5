// The core of a transparency log witness, C2SP tlog-witness "add-checkpoint", with no HTTP of its own:
// Witness.addCheckpoint takes a request body and returns the cosignature lines or throws an error whose code
// witnessStatus maps to the status the specification requires; handleAddCheckpoint turns either into the
// response (status, content type, body) a node:http or fastify route sends as it is.
//
//   400  malformed request, checkpoint or note; old size above the checkpoint's size
//   403  no signature by a key the witness trusts for the origin, or a trusted key's signature that fails
//   404  an origin the witness does not follow
//   409  old size other than the size last cosigned, or the same size with another root (a fork); the body is
//        that size (text/x.tlog.size)
//   422  consistency proof that fails; size 0 without the empty root; a proof with old size 0
//
// For each log the witness keeps the last checkpoint it cosigned (a CheckpointStore, persisted before it answers),
// with the log's signatures and its own cosignature, as its monitoring endpoint serves it. Checking the old size
// and keeping the new checkpoint happen under one lock per origin, so concurrent requests cannot roll a log back;
// the lock is in this process: one witness process per store.
import { bytesEqual } from '../../attestation/bytes.js';
import { CloisterError, ParseError, type AnyErrorCode } from '../../attestation/errors.js';
import type { Hasher } from '../../attestation/hash.js';
import { parseCheckpoint } from '../../attestation/transparency/checkpoint.js';
import { checkAgainstSeen, type CheckpointStore, type StoredCheckpoint } from '../../attestation/transparency/checkpointStore.js';
import { EMPTY_ROOT } from '../../attestation/transparency/merkle.js';
import { formatSignatureLine, parseSignedNote, serializeSignedNote, signNoteText, verifyNote, type NoteSigner, type NoteVerifier } from '../../attestation/transparency/signedNote.js';
import { parseAddCheckpointRequest, TLOG_SIZE_MEDIA_TYPE } from '../../attestation/transparency/witnessProtocol.js';
import { VerificationError } from '../../attestation/errors.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';
import { RuntimeError } from '../base/runtimeErrors.js';

export interface WitnessedLog {
  readonly origin: string;
  /** The log's keys: a checkpoint needs a valid signature by one of them. */
  readonly keys: readonly NoteVerifier[];
}

export interface WitnessOptions {
  readonly logs: readonly WitnessedLog[];
  /** The witness's cosigner (type 0x04, witnessCosigner in nodeNoteKeys.ts). */
  readonly cosigner: NoteSigner;
  readonly store: CheckpointStore;
  readonly hasher?: Hasher;
}

/**
 * 409: the request's old size is not the size the witness last cosigned, `knownSize`; or, with `fork` (a
 * CHECKPOINT_FORK, its cause), the checkpoint has that size and another root hash.
 */
export class WitnessConflict extends RuntimeError {
  readonly knownSize: number;
  constructor(origin: string, oldSize: number, knownSize: number, fork?: CloisterError) {
    super('WITNESS_SIZE_CONFLICT', fork === undefined ? `the request for ${origin} starts from size ${oldSize}, but the witness last cosigned size ${knownSize}` : `refused a fork: ${fork.message}`, {
      field: fork === undefined ? 'old' : 'rootHash',
      expected: String(knownSize),
      actual: String(oldSize),
      ...(fork === undefined ? {} : { cause: fork }),
    });
    this.knownSize = knownSize;
  }
}

const STATUS: Partial<Record<AnyErrorCode, number>> = {
  WITNESS_REQUEST_INVALID: 400,
  NOTE_UNVERIFIED: 403,
  NOTE_SIGNATURE_INVALID: 403,
  WITNESS_UNKNOWN_LOG: 404,
  WITNESS_SIZE_CONFLICT: 409,
  CONSISTENCY_PROOF_INVALID: 422,
  CHECKPOINT_FORK: 409,
};

/** The tlog-witness status of a refusal: 400 for anything that does not parse, 500 for what is not a refusal. */
export function witnessStatus(error: unknown): number {
  if (error instanceof ParseError) return 400;
  if (error instanceof CloisterError) return STATUS[error.code] ?? 500;
  return 500;
}

export class Witness {
  readonly #logs: ReadonlyMap<string, WitnessedLog>;
  readonly #cosigner: NoteSigner;
  readonly #store: CheckpointStore;
  readonly #hasher: Hasher;
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(options: WitnessOptions) {
    this.#logs = new Map(options.logs.map((l) => [l.origin, l]));
    this.#cosigner = options.cosigner;
    this.#store = options.store;
    this.#hasher = options.hasher ?? nodeHasher;
  }

  /** The checkpoint last cosigned for `origin`, with the log's signatures and the witness's cosignature. */
  latest(origin: string): Promise<StoredCheckpoint | undefined> {
    return this.#store.latest(origin);
  }

  /** Checks an add-checkpoint request and cosigns it: the cosignature lines of the 200 answer. */
  async addCheckpoint(body: string | Uint8Array): Promise<string> {
    const request = parseAddCheckpointRequest(body);
    const note = parseSignedNote(request.checkpoint);
    const checkpoint = parseCheckpoint(note.text);
    const log = this.#logs.get(checkpoint.origin);
    if (log === undefined) throw new RuntimeError('WITNESS_UNKNOWN_LOG', `the witness does not follow ${checkpoint.origin}`, { field: 'origin', actual: checkpoint.origin });
    const logSignatures = await verifyNote(note, log.keys);
    if (request.oldSize > checkpoint.size) {
      throw new RuntimeError('WITNESS_REQUEST_INVALID', `old size ${request.oldSize} is larger than the checkpoint's size ${checkpoint.size}`, { field: 'old', actual: String(request.oldSize) });
    }
    return this.#locked(checkpoint.origin, async () => {
      const seen = await this.#store.latest(checkpoint.origin);
      const known = seen?.size ?? 0;
      if (request.oldSize !== known) throw new WitnessConflict(checkpoint.origin, request.oldSize, known);
      if (checkpoint.size === 0 && !bytesEqual(checkpoint.rootHash, EMPTY_ROOT)) {
        throw new VerificationError('CONSISTENCY_PROOF_INVALID', `the checkpoint of ${checkpoint.origin} at size 0 does not have the empty tree's root hash`, { field: 'rootHash' });
      }
      if (request.oldSize === 0 && request.proof.length > 0) {
        throw new VerificationError('CONSISTENCY_PROOF_INVALID', `a request from old size 0 carries ${request.proof.length} consistency proof lines; the empty tree needs none`, { field: 'proof' });
      }
      await checkAgainstSeen(checkpoint.origin, seen, checkpoint, () => Promise.resolve(request.proof), this.#hasher).catch((e: unknown) => {
        // tlog-witness: the same size with another root hash is a 409 with the size, like a stale old size.
        throw e instanceof CloisterError && e.code === 'CHECKPOINT_FORK' ? new WitnessConflict(checkpoint.origin, request.oldSize, known, e) : e;
      });
      const cosignatures = await signNoteText(note.text, [this.#cosigner]);
      const kept = serializeSignedNote({ text: note.text, signatures: [...logSignatures.map((s) => s.signature), ...cosignatures] });
      await this.#store.save({ origin: checkpoint.origin, size: checkpoint.size, rootHash: checkpoint.rootHash, note: kept });
      return cosignatures.map(formatSignatureLine).join('');
    });
  }

  /** Runs `step` after every earlier step for the same origin has settled. */
  #locked<T>(origin: string, step: () => Promise<T>): Promise<T> {
    const run = (this.#locks.get(origin) ?? Promise.resolve()).then(step);
    const settled = run.catch(() => undefined);
    this.#locks.set(origin, settled);
    void settled.then(() => {
      if (this.#locks.get(origin) === settled) this.#locks.delete(origin);
    });
    return run;
  }
}

export interface WitnessResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** The HTTP answer to an add-checkpoint request body; errors other than refusals become a bare 500. */
export async function handleAddCheckpoint(witness: Witness, body: string | Uint8Array): Promise<WitnessResponse> {
  try {
    return { status: 200, contentType: 'text/plain; charset=utf-8', body: await witness.addCheckpoint(body) };
  } catch (e) {
    if (e instanceof WitnessConflict) return { status: 409, contentType: TLOG_SIZE_MEDIA_TYPE, body: `${e.knownSize}\n` };
    const status = witnessStatus(e);
    return { status, contentType: 'text/plain; charset=utf-8', body: status === 500 ? 'internal error\n' : `${(e as Error).message}\n` };
  }
}
