// The log's side of C2SP tlog-witness: ask each witness to cosign the log's current checkpoint (POST
// <url>/add-checkpoint, in parallel), and append the cosignatures that verify with the witnesses' vkeys to the
// checkpoint note, as the log then serves it (tlog-tiles `checkpoint`; TileLog.addCosignatures).
//
// A witness whose last cosigned size the log does not know gets a request from `oldSize` (0 by default); its 409
// names the size it knows, and the request is sent once more from that size with a consistency proof. A witness
// that knows a larger tree than the log's, or answers anything else, or whose answer holds no cosignature by its
// key that verifies, is not counted; fewer than `threshold` counted is WITNESS_COSIGNING_FAILED naming each of them.
import { readCapped } from '../../attestation/client/httpFetch.js';
import { CloisterError } from '../../attestation/errors.js';
import { noteVerifier } from '../../attestation/transparency/noteKeys.js';
import { parseSignatureLines, parseSignedNote, serializeSignedNote, verifyNote, type NoteSignature } from '../../attestation/transparency/signedNote.js';
import { parseWitnessSize, serializeAddCheckpointRequest, TLOG_SIZE_MEDIA_TYPE } from '../../attestation/transparency/witnessProtocol.js';
import { parseCheckpoint } from '../../attestation/transparency/checkpoint.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { ADD_CHECKPOINT_PATH } from './witnessServer.js';

/** What cosign needs of the log: its signed checkpoint and consistency proofs up to it (TileLog has both). */
export interface CosignableLog {
  readonly checkpoint: string;
  consistencyProof(olderSize: number, size: number): Promise<Uint8Array[]>;
}

export interface WitnessEndpoint {
  /** The submission prefix: add-checkpoint is POSTed to `<url>/add-checkpoint`. */
  readonly url: string;
  /** The witness's cosignature vkey (tlog-cosignature, type 0x04), as `cloister witness` prints it. */
  readonly vkey: string;
  /** The size this witness last cosigned, when the log knows it; default 0 (its 409 then tells). */
  readonly oldSize?: number;
}

export interface CosignOptions {
  readonly threshold: number;
  /** Per request; default 10 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof globalThis.fetch;
}

export interface WitnessOutcome {
  readonly url: string;
  /** Undefined when the witness cosigned. */
  readonly failure?: string;
  /** The size the witness last cosigned (after a 200, the checkpoint's). */
  readonly size?: number;
}

export interface CosignResult {
  /** The log's checkpoint note with the valid cosignature lines appended. */
  readonly checkpoint: string;
  readonly witnesses: readonly WitnessOutcome[];
}

/** The most a witness answer may be: 64 signature lines of a long key name are far less. */
const MAX_ANSWER_BYTES = 64 * 1024;

const boundedText = async (response: Response): Promise<string> => new TextDecoder('utf-8', { fatal: true }).decode(await readCapped(response, MAX_ANSWER_BYTES));

const reasonOf = (e: unknown): string => {
  if (e instanceof CloisterError) return `${e.code}: ${e.message}`;
  const cause = (e as { cause?: { code?: unknown } }).cause?.code;
  if ((e as Error).name === 'TimeoutError') return 'no answer in time';
  return typeof cause === 'string' ? `unreachable (${cause})` : `unreachable (${(e as Error).message})`;
};

/** Asks one witness; its cosignature lines that verify, or a failure. */
async function askWitness(log: CosignableLog, size: number, text: string, witness: WitnessEndpoint, options: CosignOptions): Promise<{ outcome: WitnessOutcome; lines: NoteSignature[] }> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const url = `${witness.url.replace(/\/+$/, '')}${ADD_CHECKPOINT_PATH}`;
  const verifier = await noteVerifier(witness.vkey);
  const post = async (oldSize: number): Promise<Response> => {
    const proof = oldSize === 0 ? [] : await log.consistencyProof(oldSize, size);
    return doFetch(url, {
      method: 'POST',
      body: serializeAddCheckpointRequest({ oldSize, proof, checkpoint: log.checkpoint }),
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  };
  const fail = (failure: string, known?: number): { outcome: WitnessOutcome; lines: NoteSignature[] } => ({ outcome: { url: witness.url, failure, ...(known === undefined ? {} : { size: known }) }, lines: [] });
  try {
    let response = await post(witness.oldSize ?? 0);
    if (response.status === 409) {
      const known = response.headers.get('content-type')?.split(';')[0]?.trim() === TLOG_SIZE_MEDIA_TYPE ? parseWitnessSize(await boundedText(response)) : undefined;
      if (known === undefined) return fail(`409 without a ${TLOG_SIZE_MEDIA_TYPE} size`);
      if (known > size) return fail(`409: the witness cosigned size ${known}, larger than the log's ${size}`, known);
      response = await post(known);
      if (response.status === 409) return fail(`409 again (from size ${known}): the witness moved on, or the log forked`, known);
    }
    const body = await boundedText(response);
    // The witness's text ends up in an error line on the operator's terminal: printable ASCII only, and short.
    if (response.status !== 200) return fail(`${response.status}: ${(body.split('\n')[0] ?? '').slice(0, 200).replace(/[^\x20-\x7e]/g, '?')}`);
    // Only lines of the witness's key count; a line of that key that does not verify spoils the answer.
    const verified = await verifyNote({ text, signatures: parseSignatureLines(body) }, [verifier]);
    return { outcome: { url: witness.url, size }, lines: verified.map((v) => v.signature) };
  } catch (e) {
    return fail(reasonOf(e));
  }
}

/** Collects cosignatures on `log.checkpoint` from `witnesses`; WITNESS_COSIGNING_FAILED when fewer than `threshold` gave one. */
export async function cosign(log: CosignableLog, witnesses: readonly WitnessEndpoint[], options: CosignOptions): Promise<CosignResult> {
  if (!Number.isInteger(options.threshold) || options.threshold < 1 || options.threshold > witnesses.length) {
    throw new RangeError(`a threshold of ${options.threshold} is not between 1 and the ${witnesses.length} witnesses`);
  }
  const note = parseSignedNote(log.checkpoint);
  const { size } = parseCheckpoint(note.text);
  const answers = await Promise.all(witnesses.map((w) => askWitness(log, size, note.text, w, options)));
  const failed = answers.filter((a) => a.outcome.failure !== undefined).map((a) => a.outcome);
  const cosigned = answers.length - failed.length;
  if (cosigned < options.threshold) {
    const names = failed.map((f) => `${f.url} (${f.failure ?? ''})`).join('; ');
    throw new RuntimeError('WITNESS_COSIGNING_FAILED', `${cosigned} of ${witnesses.length} witnesses cosigned size ${size}, fewer than the threshold ${options.threshold}; not cosigned by: ${names}`, {
      field: 'witnesses',
      expected: String(options.threshold),
      actual: failed.map((f) => f.url).join(', '),
    });
  }
  const checkpoint = serializeSignedNote({ text: note.text, signatures: [...note.signatures, ...answers.flatMap((a) => a.lines)] });
  return { checkpoint, witnesses: answers.map((a) => a.outcome) };
}
