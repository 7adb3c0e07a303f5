// The messages of C2SP tlog-witness "add-checkpoint", which a log sends a witness and the witness answers:
//
//   request   old <size of the witness's last cosigned checkpoint>\n
//             <base64 consistency proof hash>\n        0 to 63 lines
//             \n
//             <the signed checkpoint note>
//   200       the witness's cosignature lines (signedNote.ts parseSignatureLines)
//   409       <the size the witness knows>\n           Content-Type: text/x.tlog.size
//
// The witness's checks live in src/transparency/witness.ts.
import { parseBase64, toBase64 } from '../bytes.js';
import { ParseError } from '../errors.js';
import { HASH_SIZE } from './merkle.js';
import { DEFAULT_NOTE_LIMITS } from './signedNote.js';

export const MAX_PROOF_LINES = 63;
export const TLOG_SIZE_MEDIA_TYPE = 'text/x.tlog.size';

export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note, as sent. */
  readonly checkpoint: string;
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

function malformed(message: string, field: string): never {
  throw new ParseError('MALFORMED_CHECKPOINT', message, { field });
}

function parseSize(text: string, field: string): number {
  const n = Number(text);
  if (!DECIMAL.test(text) || !Number.isSafeInteger(n)) malformed(`"${text}" is not a tree size (decimal, no leading zeroes, below 2^53)`, field);
  return n;
}

export function parseAddCheckpointRequest(body: string | Uint8Array): AddCheckpointRequest {
  const max = DEFAULT_NOTE_LIMITS.maxBytes + (MAX_PROOF_LINES + 1) * 64;
  if (body.length > max) malformed(`add-checkpoint request is ${body.length} bytes, more than ${max}`, 'request');
  let text: string;
  try {
    text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
  } catch (cause) {
    throw new ParseError('MALFORMED_CHECKPOINT', 'add-checkpoint request is not valid UTF-8', { field: 'request', cause });
  }
  const end = text.indexOf('\n\n');
  if (end < 0) malformed('add-checkpoint request has no empty line before the checkpoint', 'request');
  const [old = '', ...proofLines] = text.slice(0, end).split('\n');
  if (!old.startsWith('old ')) malformed(`add-checkpoint request starts with "${old}", not "old <size>"`, 'old');
  const oldSize = parseSize(old.slice(4), 'old');
  if (proofLines.length > MAX_PROOF_LINES) malformed(`add-checkpoint request has ${proofLines.length} consistency proof lines, more than ${MAX_PROOF_LINES}`, 'proof');
  const proof = proofLines.map((line, i) => {
    const hash = parseBase64(line);
    if (hash?.length !== HASH_SIZE) malformed(`consistency proof line ${i + 1} is not base64 of a ${HASH_SIZE}-byte hash`, 'proof');
    return hash;
  });
  return { oldSize, proof, checkpoint: text.slice(end + 2) };
}

export function serializeAddCheckpointRequest(r: AddCheckpointRequest): string {
  if (!Number.isSafeInteger(r.oldSize) || r.oldSize < 0) throw new RangeError(`old size ${r.oldSize} is not an integer in 0..2^53-1`);
  if (r.proof.length > MAX_PROOF_LINES) throw new RangeError(`a consistency proof of ${r.proof.length} hashes is longer than ${MAX_PROOF_LINES} lines`);
  return `old ${r.oldSize}\n${r.proof.map((h) => `${toBase64(h)}\n`).join('')}\n${r.checkpoint}`;
}

/** The body of a 409 answer: the tree size the witness last cosigned. */
export function parseWitnessSize(body: string): number {
  if (!body.endsWith('\n')) malformed('a text/x.tlog.size body does not end in a newline', 'size');
  return parseSize(body.slice(0, -1), 'size');
}
