// Binary HTTP messages (RFC 9292), the plaintext inside Oblivious HTTP (RFC 9458). Every integer is a
// QUIC varint (./varint.ts); (i) below is one, (..) a run of bytes.
//
//   Known-Length Request  { Framing Indicator (i) = 0, Request Control Data, KL Field Section (headers),
//                           Content Length (i), Content (..), KL Field Section (trailers), Padding }
//   Known-Length Response { Framing Indicator (i) = 1, (Status Code (i) = 100..199, KL Field Section)...,
//                           Status Code (i) = 200..599, KL Field Section, Content Length (i), Content (..),
//                           KL Field Section, Padding }
//   Request Control Data  { Method Length (i), Method, Scheme Length (i), Scheme,
//                           Authority Length (i), Authority, Path Length (i), Path }
//   KL Field Section      { Length (i), Field Line (..) ... }
//   Field Line            { Name Length (i) = 1.., Name (..), Value Length (i), Value (..) }
//
// Indeterminate length (framing 2 and 3): a field section is Field Lines ended by a 0 where a Name Length
// would be; content is chunks { Chunk Length (i) = 1.., Chunk (..) } ended by a 0.
// Truncation (section 3.8): a message may end after its control data, header section or content; the
// missing parts are empty. Padding is any number of zero bytes after the trailer section; after a truncated
// message the first zeros read as the empty sections it left out ("Zero-valued bytes will be interpreted as
// a zero-length part"), and only zeros may follow. The encoder writes padding after the trailer section
// (padding.ts chooses how much), so the message's size hides inside the encryption.
// Field names and values follow RFC 9113 section 8.2.1 (section 3.6): names are lowercase tokens
// (pseudo-fields, which start with ':', are refused: Cloister uses no extension that defines one);
// values are bytes, held here as Latin-1 strings, without NUL, CR, LF or surrounding SP/HTAB.
import { concatBytes, firstNonZero } from '../bytes.js';
import { ParseError } from '../errors.js';
import { encodeVarint, VarintReader } from './varint.js';

export type BhttpFields = readonly (readonly [name: string, value: string])[];

export interface BhttpRequest {
  readonly method: string;
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
  readonly headers: BhttpFields;
  readonly content: Uint8Array;
  readonly trailers: BhttpFields;
}

export interface BhttpInformational {
  readonly status: number;
  readonly headers: BhttpFields;
}

export interface BhttpResponse {
  readonly status: number;
  readonly informational: readonly BhttpInformational[];
  readonly headers: BhttpFields;
  readonly content: Uint8Array;
  readonly trailers: BhttpFields;
}

const FRAMING = {
  knownLengthRequest: 0,
  knownLengthResponse: 1,
  indeterminateLengthRequest: 2,
  indeterminateLengthResponse: 3,
} as const;

// RFC 9110 section 5.6.2 token; field names additionally exclude A-Z (RFC 9113 section 8.2.1).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// RFC 3986 section 3.1; empty for CONNECT, whose :scheme and :path RFC 9113 omits.
const SCHEME = /^(?:[A-Za-z][A-Za-z0-9+.-]*)?$/;
const VISIBLE_ASCII = /^[!-~]*$/;
const EDGE_WHITESPACE = /^[ \t]|[ \t]$/;

const EMPTY_FIELDS: BhttpFields = Object.freeze([]);

/** Quoted and cut short, for error details: field names and control data, never field values. */
function shown(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}...` : s);
}

// Each check returns what is wrong, or undefined; the decoder adds the offset, the encoder throws as is.
function methodProblem(s: string): string | undefined {
  return TOKEN.test(s) ? undefined : `${shown(s)} is not an HTTP token`;
}

function schemeProblem(s: string): string | undefined {
  return SCHEME.test(s) ? undefined : `${shown(s)} is not a URI scheme`;
}

function visibleAsciiProblem(s: string): string | undefined {
  return VISIBLE_ASCII.test(s) ? undefined : `${shown(s)} holds bytes outside visible ASCII (0x21..0x7e)`;
}

function nameProblem(s: string): string | undefined {
  if (FIELD_NAME.test(s)) return undefined;
  if (/[A-Z]/.test(s)) return `${shown(s)} is not lowercase`;
  return `${shown(s)} is not a lowercase HTTP token`;
}

function valueProblem(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return `holds U+${c.toString(16).padStart(4, '0')} at index ${i}, which is not one byte (Latin-1)`;
    if (c === 0x00 || c === 0x0a || c === 0x0d) return `holds byte 0x${c.toString(16).padStart(2, '0')} at index ${i} (NUL, LF and CR are not allowed)`;
  }
  return EDGE_WHITESPACE.test(s) ? 'starts or ends with SP or HTAB' : undefined;
}

/** Each byte one char (U+0000..U+00FF), so any byte string round-trips. */
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    // apply() takes the typed array as an array-like; spreading it would go through its iterator, byte by byte.
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return s;
}

/** Callers have checked that every char is <= U+00FF. */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function totalLength(parts: readonly Uint8Array[]): number {
  let total = 0;
  for (const p of parts) total += p.length;
  return total;
}

/**
 * concatBytes for lists of any size (spreading hundreds of thousands of arguments overflows the stack),
 * into `length` bytes when given: what is past the parts stays zero.
 */
function joinBytes(parts: readonly Uint8Array[], length = totalLength(parts)): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function freezeFields(fields: [string, string][]): BhttpFields {
  return Object.freeze(fields.map((f) => Object.freeze(f)));
}

// ---- decoding ----

interface Body {
  readonly headers: BhttpFields;
  readonly content: Uint8Array;
  readonly trailers: BhttpFields;
}

function readText(r: VarintReader, field: string, problem: (s: string) => string | undefined): string {
  const at = r.offset;
  const text = latin1(r.lengthPrefixed(field));
  const p = problem(text);
  if (p !== undefined) r.fail(field, p, { at });
  return text;
}

function readFieldLine(r: VarintReader, section: string, nameLength: number): [string, string] {
  const nameAt = r.offset;
  const name = latin1(r.bytes(nameLength, `${section} Name`));
  const np = nameProblem(name);
  if (np !== undefined) r.fail(`${section} Name`, np, { at: nameAt, actual: shown(name) });
  const valueAt = r.offset;
  const value = latin1(r.lengthPrefixed(`${section} Value`));
  const vp = valueProblem(value);
  if (vp !== undefined) r.fail(`${section} Value`, `of ${shown(name)} ${vp}`, { at: valueAt });
  return [name, value];
}

function readFieldSection(r: VarintReader, indeterminate: boolean, section: string): BhttpFields {
  const fields: [string, string][] = [];
  if (indeterminate) {
    for (;;) {
      // A 0 where a Name Length would be is the Content Terminator that ends the section.
      const nameLength = r.varint(`${section} Name Length`);
      if (nameLength === 0) break;
      fields.push(readFieldLine(r, section, nameLength));
    }
  } else {
    const length = r.varint(`${section} Length`);
    const s = r.sub(length, section);
    while (!s.atEnd()) {
      const at = s.offset;
      const nameLength = s.varint(`${section} Name Length`);
      if (nameLength === 0) s.fail(`${section} Name Length`, 'is 0', { at, expected: '>= 1', actual: '0' });
      fields.push(readFieldLine(s, section, nameLength));
    }
  }
  return freezeFields(fields);
}

function readChunkedContent(r: VarintReader): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const length = r.varint('Chunk Length');
    if (length === 0) break;
    chunks.push(r.bytes(length, 'Chunk'));
  }
  return joinBytes(chunks);
}


/** Header section, content, trailer section and padding, each of the first three possibly truncated away. */
function readBody(r: VarintReader, indeterminate: boolean): Body {
  if (r.atEnd()) return { headers: EMPTY_FIELDS, content: new Uint8Array(0), trailers: EMPTY_FIELDS };
  const headers = readFieldSection(r, indeterminate, 'Header Section');
  if (r.atEnd()) return { headers, content: new Uint8Array(0), trailers: EMPTY_FIELDS };
  // Known-length content is a view into the input, not a copy: wiping the input wipes it too.
  const content = indeterminate ? readChunkedContent(r) : r.lengthPrefixed('Content');
  if (r.atEnd()) return { headers, content, trailers: EMPTY_FIELDS };
  try {
    const trailers = readFieldSection(r, indeterminate, 'Trailer Section');
    const padding = r.bytes(r.remaining, 'Padding');
    const nonZero = firstNonZero(padding);
    if (nonZero >= 0) {
      r.fail('Padding', 'holds a non-zero byte', { at: r.offset - padding.length + nonZero, expected: '0x00', actual: `0x${(padding[nonZero] as number).toString(16).padStart(2, '0')}` });
    }
    return { headers, content, trailers };
  } catch (e) {
    // The joined chunks are a copy nobody else will see: a message that fails after them must not leave it behind.
    if (indeterminate) content.fill(0);
    throw e;
  }
}

function readFraming(r: VarintReader, known: number, indeterminate: number, other: string): boolean {
  const framing = r.varint('Framing Indicator');
  if (framing === known) return false;
  if (framing === indeterminate) return true;
  const what = framing <= FRAMING.indeterminateLengthResponse ? `is ${framing}, which frames a ${other}` : `is ${framing}, not one RFC 9292 defines`;
  return r.fail('Framing Indicator', what, { at: 0, expected: `${known} or ${indeterminate}`, actual: String(framing) });
}

/**
 * Decodes a known-length (framing 0) or indeterminate-length (framing 2) request. For known-length
 * input, `content` is a view into `bytes`: copy it before wiping or reusing the input.
 */
export function decodeRequest(bytes: Uint8Array): BhttpRequest {
  const r = new VarintReader(bytes, 'bhttp request');
  const indeterminate = readFraming(r, FRAMING.knownLengthRequest, FRAMING.indeterminateLengthRequest, 'response');
  const method = readText(r, 'Method', methodProblem);
  const scheme = readText(r, 'Scheme', schemeProblem);
  const authority = readText(r, 'Authority', visibleAsciiProblem);
  const path = readText(r, 'Path', visibleAsciiProblem);
  return Object.freeze({ method, scheme, authority, path, ...readBody(r, indeterminate) });
}

/**
 * Decodes a known-length (framing 1) or indeterminate-length (framing 3) response. For known-length
 * input, `content` is a view into `bytes`: copy it before wiping or reusing the input.
 */
export function decodeResponse(bytes: Uint8Array): BhttpResponse {
  const r = new VarintReader(bytes, 'bhttp response');
  const indeterminate = readFraming(r, FRAMING.knownLengthResponse, FRAMING.indeterminateLengthResponse, 'request');
  const informational: BhttpInformational[] = [];
  for (;;) {
    const at = r.offset;
    const status = r.varint(informational.length === 0 ? 'Status Code' : 'Final Response Control Data');
    if (status >= 100 && status <= 199) {
      informational.push(Object.freeze({ status, headers: readFieldSection(r, indeterminate, 'Informational Header Section') }));
      continue;
    }
    if (status < 200 || status > 599) r.fail('Status Code', `${status} is neither informational (100..199) nor final (200..599)`, { at, expected: '100..599', actual: String(status) });
    return Object.freeze({ status, informational: Object.freeze(informational), ...readBody(r, indeterminate) });
  }
}

// ---- encoding ----

function invalid(field: string, problem: string, expected?: string): never {
  throw new ParseError('MALFORMED_BHTTP', `bhttp: cannot encode ${field}: ${problem}`, { field, ...(expected === undefined ? {} : { expected }) });
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  return concatBytes(encodeVarint(bytes.length), bytes);
}

function encodeText(value: string, field: string, problem: (s: string) => string | undefined): Uint8Array {
  const p = problem(value);
  if (p !== undefined) invalid(field, p);
  return lengthPrefixed(latin1Bytes(value));
}

function encodeFieldSection(fields: BhttpFields, section: string): Uint8Array {
  const lines = fields.map(([name, value]) => {
    const np = nameProblem(name);
    if (np !== undefined) invalid(`${section} Name`, np, 'a lowercase token (RFC 9113 section 8.2.1)');
    const vp = valueProblem(value);
    if (vp !== undefined) invalid(`${section} Value`, `of ${shown(name)} ${vp}`);
    return concatBytes(lengthPrefixed(latin1Bytes(name)), lengthPrefixed(latin1Bytes(value)));
  });
  return lengthPrefixed(joinBytes(lines));
}

// All three sections are written even when empty: RFC 9292 section 3.8 lets an encoder omit empty trailers,
// and empty content before them, but not the header section; an untruncated message is valid everywhere.
/** Header section, content and trailer section. */
// The content is passed through, not copied: an encoder that joins these parts makes the only copy.
function encodeBody(m: Body): Uint8Array[] {
  return [encodeFieldSection(m.headers, 'Header Section'), encodeVarint(m.content.length), m.content, encodeFieldSection(m.trailers, 'Trailer Section')];
}

export interface EncodeOptions {
  /**
   * Pads the message with zero bytes (RFC 9292 section 3.8) to the length this returns for its unpadded
   * length (padding.ts paddedLength); a length below the message's cannot be encoded. Default: no padding.
   */
  readonly padTo?: (length: number) => number;
}

/** How many zero bytes follow a message of `length` bytes. */
function paddingFor(length: number, options: EncodeOptions): number {
  if (options.padTo === undefined) return 0;
  const total = options.padTo(length);
  if (!Number.isSafeInteger(total) || total < length) invalid('Padding', `the padded length ${total} is not a whole number of bytes at least the message's ${length}`, `>= ${length}`);
  return total - length;
}

/** A known-length request (framing 0), untruncated; padded with zero bytes to `options.padTo`'s length. */
export function encodeRequest(r: BhttpRequest, options: EncodeOptions = {}): Uint8Array {
  const parts = [
    encodeVarint(FRAMING.knownLengthRequest),
    encodeText(r.method, 'Method', methodProblem),
    encodeText(r.scheme, 'Scheme', schemeProblem),
    encodeText(r.authority, 'Authority', visibleAsciiProblem),
    encodeText(r.path, 'Path', visibleAsciiProblem),
    ...encodeBody(r),
  ];
  const length = totalLength(parts);
  return joinBytes(parts, length + paddingFor(length, options));
}

function encodeStatus(status: number, min: number, max: number, field: string): Uint8Array {
  if (!Number.isInteger(status) || status < min || status > max) invalid(field, `${status} is outside ${min}..${max}`, `${min}..${max}`);
  return encodeVarint(status);
}

/** A known-length response (framing 1), untruncated; padded with zero bytes to `options.padTo`'s length. */
export function encodeResponse(r: BhttpResponse, options: EncodeOptions = {}): Uint8Array {
  return joinBytes(encodeResponseParts(r, options));
}

/** One block of zeros, grown as needed, never written, always longer than any view of it handed out. */
let zeros = new Uint8Array(4096);

/** `length` zero bytes: a view of the shared block (no allocation, nothing to wipe). */
function zeroBytes(length: number): Uint8Array {
  if (zeros.length <= length) zeros = new Uint8Array(2 ** Math.ceil(Math.log2(length + 1)));
  return zeros.subarray(0, length);
}

/** Whether `part` is padding from encodeResponseParts (a view of the shared zero block: not the request's, never to be wiped or freed). */
export function isPadding(part: Uint8Array): boolean {
  return part.buffer === zeros.buffer;
}

/**
 * The known-length response as parts whose concatenation is encodeResponse's output; the content is
 * one of them, the caller's own array, so a sender can encrypt the parts in turn without a plaintext
 * copy. Padding, when asked for, is a last part of its own: a view of one shared block of zeros (isPadding).
 */
export function encodeResponseParts(r: BhttpResponse, options: EncodeOptions = {}): Uint8Array[] {
  const parts = [
    encodeVarint(FRAMING.knownLengthResponse),
    ...r.informational.flatMap((i) => [encodeStatus(i.status, 100, 199, 'Informational Status Code'), encodeFieldSection(i.headers, 'Informational Header Section')]),
    encodeStatus(r.status, 200, 599, 'Status Code'),
    ...encodeBody(r),
  ];
  const padding = paddingFor(totalLength(parts), options);
  if (padding > 0) parts.push(zeroBytes(padding));
  return parts;
}
