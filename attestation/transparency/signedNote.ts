// Signed notes, C2SP signed-note v1.0.0: a text ending in a newline, a blank line, then one or more signature lines
//
//   <text, one or more lines, each ending in U+000A>
//   U+000A
//   U+2014 U+0020 <key name> U+0020 base64(uint32 key ID, big-endian || signature) U+000A
//   ...
//
// The text is everything up to and including the newline before the last empty line. The whole note is UTF-8 with
// no control character but the newline; key names are non-empty and hold no Unicode space and no '+'.
// Verification (verifyNote) follows the spec's rules: lines from unknown keys (name and key ID not both matching a
// trusted key) are ignored; a line from a trusted key that does not verify rejects the note; a note with no verified
// line from a trusted key is rejected.
import { concatBytes, parseBase64, toBase64 } from '../bytes.js';
import { ParseError, VerificationError } from '../errors.js';

export interface NoteSignature {
  readonly name: string;
  /** The signature's first four bytes, big-endian. */
  readonly keyId: number;
  /** The signature proper, after the key ID. */
  readonly signature: Uint8Array;
}

export interface SignedNote {
  /** The signed text, with its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface NoteLimits {
  /** UTF-8 bytes of the whole note. */
  readonly maxBytes: number;
  /** Signature lines; the spec asks verifiers to accept at least 16. */
  readonly maxSignatures: number;
}

/** Room for 16 post-quantum signatures of about 5 kB each, and more classic ones. */
export const DEFAULT_NOTE_LIMITS: NoteLimits = { maxBytes: 128 * 1024, maxSignatures: 64 };

/** Checks a signature over the note text; `timestamp` (POSIX seconds) for the timestamped cosignature types. */
export interface SignatureCheck {
  readonly valid: boolean;
  readonly timestamp?: number;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** The signature type identifier byte (signed-note "Signature types"). */
  readonly type: number;
  verify(text: Uint8Array, signature: Uint8Array): Promise<SignatureCheck>;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The signature over the note text, without the key ID. */
  sign(text: Uint8Array): Promise<Uint8Array>;
}

export interface VerifiedSignature {
  readonly verifier: NoteVerifier;
  readonly signature: NoteSignature;
  readonly timestamp: number | undefined;
}

const EM_DASH_SPACE = '\u2014 ';
// eslint-disable-next-line no-control-regex -- the control characters signed-note forbids are exactly what is matched
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE = /[\ud800-\udfff]/u;
const KEY_ID_SIZE = 4;

function malformed(message: string, field = 'note'): never {
  throw new ParseError('MALFORMED_NOTE', message, { field });
}

/** A key name as signed-note allows it: non-empty, no Unicode space, no '+'. */
export function isKeyName(name: string): boolean {
  return name !== '' && !/[\s+]/u.test(name) && !LONE_SURROGATE.test(name) && !CONTROL.test(name);
}

function checkCharacters(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) malformed(`${what} is not valid UTF-8 (a lone surrogate)`);
  const control = CONTROL.exec(text);
  if (control !== null) malformed(`${what} holds control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${control.index}`);
}

/** Checks that `text` can be signed as a note text: valid, without control characters but newlines, ending in a newline. */
export function checkNoteText(text: string): void {
  checkCharacters(text, 'note text');
  if (!text.endsWith('\n')) malformed('note text does not end in a newline');
}

function parseSignatureLine(line: string, n: number): NoteSignature {
  if (!line.startsWith(EM_DASH_SPACE)) malformed(`signature line ${n} does not start with an em dash and a space`, 'signatures');
  const rest = line.slice(EM_DASH_SPACE.length);
  const space = rest.indexOf(' ');
  if (space < 0) malformed(`signature line ${n} has no space between key name and signature`, 'signatures');
  const name = rest.slice(0, space);
  if (!isKeyName(name)) malformed(`signature line ${n} has key name "${name}", which is empty or holds a space or '+'`, 'signatures');
  const bytes = parseBase64(rest.slice(space + 1));
  if (bytes === undefined) malformed(`signature line ${n} (${name}) is not canonical base64`, 'signatures');
  if (bytes.length <= KEY_ID_SIZE) malformed(`signature line ${n} (${name}) has ${bytes.length} bytes, not a key ID and a signature`, 'signatures');
  const keyId = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  return { name, keyId, signature: bytes.subarray(KEY_ID_SIZE) };
}

/** Signature lines, each ending in a newline: a note's signature block, or a witness's add-checkpoint answer. */
export function parseSignatureLines(block: string, limits: NoteLimits = DEFAULT_NOTE_LIMITS): NoteSignature[] {
  checkCharacters(block, 'signature block');
  return signatureLines(block, limits);
}

/** parseSignatureLines for a block whose characters were checked (with the rest of its note). */
function signatureLines(block: string, limits: NoteLimits): NoteSignature[] {
  if (block === '') malformed('the note has no signature line', 'signatures');
  if (!block.endsWith('\n')) malformed('the last signature line does not end in a newline', 'signatures');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > limits.maxSignatures) malformed(`the note has ${lines.length} signature lines, more than ${limits.maxSignatures}`, 'signatures');
  return lines.map((line, i) => parseSignatureLine(line, i + 1));
}

const UTF8 = new TextEncoder();

/** The note's UTF-8 size when it is above `max`; a UTF-16 code unit takes at most three bytes, so a short text is not encoded to be measured. */
function sizeAbove(input: string | Uint8Array, max: number): number | undefined {
  const size = typeof input !== 'string' ? input.length : input.length * 3 <= max ? 0 : UTF8.encode(input).length;
  return size > max ? size : undefined;
}

export function parseSignedNote(input: string | Uint8Array, limits: NoteLimits = DEFAULT_NOTE_LIMITS): SignedNote {
  const size = sizeAbove(input, limits.maxBytes);
  if (size !== undefined) malformed(`note is ${size} bytes, more than ${limits.maxBytes}`);
  let note: string;
  try {
    note = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
  } catch (cause) {
    throw new ParseError('MALFORMED_NOTE', 'note is not valid UTF-8', { field: 'note', cause });
  }
  checkCharacters(note, 'note');
  const blank = note.lastIndexOf('\n\n');
  if (blank < 0) malformed('note has no empty line between text and signatures');
  const text = note.slice(0, blank + 1);
  return { text, signatures: signatureLines(note.slice(blank + 2), limits) };
}

export function formatSignatureLine(s: NoteSignature): string {
  const id = new Uint8Array(KEY_ID_SIZE);
  new DataView(id.buffer).setUint32(0, s.keyId);
  return `${EM_DASH_SPACE}${s.name} ${toBase64(concatBytes(id, s.signature))}\n`;
}

export function serializeSignedNote(note: SignedNote): string {
  checkNoteText(note.text);
  if (note.signatures.length === 0) malformed('a note needs at least one signature line', 'signatures');
  for (const s of note.signatures) {
    if (!isKeyName(s.name)) malformed(`key name "${s.name}" is empty or holds a space or '+'`, 'signatures');
    if (!Number.isInteger(s.keyId) || s.keyId < 0 || s.keyId > 0xffffffff) malformed(`key ID ${s.keyId} is not a uint32`, 'signatures');
  }
  return `${note.text}\n${note.signatures.map(formatSignatureLine).join('')}`;
}

/** Signs `text` with each signer: the signature lines, in the signers' order. */
export async function signNoteText(text: string, signers: readonly NoteSigner[]): Promise<NoteSignature[]> {
  checkNoteText(text);
  const bytes = new TextEncoder().encode(text);
  const out: NoteSignature[] = [];
  for (const s of signers) out.push({ name: s.name, keyId: s.keyId, signature: await s.sign(bytes) });
  return out;
}

export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<SignedNote> {
  return { text, signatures: await signNoteText(text, signers) };
}

/** A key ID as vkeys write it: 8 lowercase hex digits. */
export const keyIdHex = (keyId: number): string => keyId.toString(16).padStart(8, '0');

const keyLabel = (name: string, keyId: number): string => `${name}+${keyIdHex(keyId)}`;

/**
 * The note's signatures by `verifiers`, one per trusted key (the first line of each; later lines of the same key
 * are ignored, as are lines of unknown keys). NOTE_SIGNATURE_INVALID when a line of a trusted key does not
 * verify, NOTE_UNVERIFIED when no line is from a trusted key.
 */
export async function verifyNote(note: SignedNote, verifiers: readonly NoteVerifier[]): Promise<VerifiedSignature[]> {
  const text = UTF8.encode(note.text);
  const out: VerifiedSignature[] = [];
  const done = new Set<NoteVerifier>();
  for (const signature of note.signatures) {
    const verifier = verifiers.find((v) => v.name === signature.name && v.keyId === signature.keyId);
    if (verifier === undefined || done.has(verifier)) continue;
    done.add(verifier);
    const check = await verifier.verify(text, signature.signature);
    if (!check.valid) {
      throw new VerificationError('NOTE_SIGNATURE_INVALID', `the signature of ${keyLabel(signature.name, signature.keyId)} does not verify over the note text`, {
        field: 'signatures',
        actual: keyLabel(signature.name, signature.keyId),
      });
    }
    out.push({ verifier, signature, timestamp: check.timestamp });
  }
  if (out.length === 0) {
    const trusted = verifiers.map((v) => keyLabel(v.name, v.keyId)).join(', ') || 'none';
    const found = note.signatures.map((s) => keyLabel(s.name, s.keyId)).join(', ');
    throw new VerificationError('NOTE_UNVERIFIED', `no signature line is from a trusted key (trusted: ${trusted}; signed by: ${found})`, { field: 'signatures', expected: trusted, actual: found });
  }
  return out;
}
