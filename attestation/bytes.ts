// Byte helpers that work the same in Node and in browsers (no Buffer).
import { ParseError } from './errors.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number] as string;
  return out;
}

export function fromHex(hex: string, field = 'hex'): Uint8Array {
  const clean = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new ParseError('MALFORMED_FIELD', `${field} is not an even-length hex string`, { field, actual: hex });
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    // apply() takes the typed array as an array-like; spreading it would go through its iterator, byte by byte.
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(s);
}

export function fromBase64(b64: string, field = 'base64'): Uint8Array {
  let bin: string;
  try {
    bin = atob(b64.replace(/\s+/g, ''));
  } catch (cause) {
    throw new ParseError('MALFORMED_FIELD', `${field} is not valid base64`, { field, cause });
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** RFC 4648 section 5 base64url; `padded` keeps the trailing '=' padding. */
export function toBase64Url(bytes: Uint8Array, padded = false): string {
  const b64 = toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_');
  return padded ? b64 : b64.replace(/=+$/, '');
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Canonical base64url, padded or not; undefined for anything else (other alphabets, bad length, stray bits). */
export function parseBase64Url(text: string): Uint8Array | undefined {
  const body = text.replace(/={1,2}$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1 || (body !== text && text.length % 4 !== 0)) return undefined;
  // Canonical: the last character's bits past the last whole byte (4 of them after 2 characters, 2 after 3) are zero.
  const spare = body.length % 4 === 2 ? 0x0f : body.length % 4 === 3 ? 0x03 : 0;
  if ((BASE64URL_ALPHABET.indexOf(body.at(-1) ?? 'A') & spare) !== 0) return undefined;
  const bin = atob(body.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (body.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUES = Int8Array.from({ length: 128 }, (_, c) => BASE64_ALPHABET.indexOf(String.fromCharCode(c)));
const PAD = 0x3d;

/** The 6-bit value of a base64 character (standard alphabet), -1 for any other. */
const sextet = (text: string, i: number): number => {
  const c = text.charCodeAt(i);
  return c < 128 ? (BASE64_VALUES[c] as number) : -1;
};

/**
 * Padded standard base64 (RFC 4648 section 4) to bytes in one pass; undefined unless the length is a multiple of
 * four, every character before the one or two '=' is of the alphabet, and, when `canonical`, the bits past the
 * last byte are zero. Not canonical, it decodes as atob does (those bits are dropped).
 */
export function decodePaddedBase64(text: string, canonical: boolean): Uint8Array | undefined {
  const n = text.length;
  if (n % 4 !== 0) return undefined;
  const pad = n === 0 || text.charCodeAt(n - 1) !== PAD ? 0 : text.charCodeAt(n - 2) === PAD ? 2 : 1;
  const out = new Uint8Array((n / 4) * 3 - pad);
  const whole = pad === 0 ? n : n - 4;
  let o = 0;
  for (let i = 0; i < whole; i += 4) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = sextet(text, i + 2);
    const d = sextet(text, i + 3);
    if ((a | b | c | d) < 0) return undefined;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >> 16;
    out[o++] = v >> 8;
    out[o++] = v;
  }
  if (pad === 0) return out;
  // The last group: two characters and "==" hold one byte and 4 spare bits, three and "=" two bytes and 2 spare bits.
  const a = sextet(text, whole);
  const b = sextet(text, whole + 1);
  const c = pad === 1 ? sextet(text, whole + 2) : 0;
  if ((a | b | c) < 0) return undefined;
  const v = (a << 18) | (b << 12) | (c << 6);
  out[o++] = v >> 16;
  if (pad === 1) out[o] = v >> 8;
  const spare = pad === 1 ? v & 0xff : v & 0xffff;
  return canonical && spare !== 0 ? undefined : out;
}

/** Canonical padded base64 (RFC 4648 section 4), as signed notes and checkpoints carry it; undefined for anything else. */
export function parseBase64(text: string): Uint8Array | undefined {
  return decodePaddedBase64(text, true);
}

/** Equal bytes; the time depends on the length only, never on where they differ. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  let i = 0;
  // Word by word where both views are 4-byte aligned (certificates, PCK chains: a few KiB compared per call).
  if (a.length >= 64 && a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const words = a.length >>> 2;
    const wa = new Uint32Array(a.buffer, a.byteOffset, words);
    const wb = new Uint32Array(b.buffer, b.byteOffset, words);
    for (let w = 0; w < words; w++) diff |= (wa[w] as number) ^ (wb[w] as number);
    i = words << 2;
  }
  for (; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

const WORDS_PER_BLOCK = 64;

/**
 * The index of the first non-zero byte, or -1. Binary HTTP padding runs to megabytes: the aligned middle is read 32 bits at
 * a time, a block of words at once, and only a block that holds a non-zero byte is read byte by byte (findIndex
 * took 9 ns a byte).
 */
export function firstNonZero(bytes: Uint8Array): number {
  const scan = (from: number, to: number): number => {
    for (let i = from; i < to; i++) if (bytes[i] !== 0) return i;
    return -1;
  };
  const head = Math.min(bytes.length, (4 - (bytes.byteOffset & 3)) & 3);
  const inHead = scan(0, head);
  if (inHead >= 0) return inHead;
  if (bytes.length - head < 4) return scan(head, bytes.length);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset + head, (bytes.length - head) >>> 2);
  for (let k = 0; k < words.length; k += WORDS_PER_BLOCK) {
    const end = Math.min(k + WORDS_PER_BLOCK, words.length);
    let any = 0;
    for (let j = k; j < end; j++) any |= words[j] as number;
    if (any !== 0) return scan(head + 4 * k, head + 4 * end);
  }
  return scan(head + 4 * words.length, bytes.length);
}

export function isAllZero(bytes: Uint8Array): boolean {
  return firstNonZero(bytes) < 0;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Copies into a fresh ArrayBuffer-backed array, as WebCrypto requires. */
export function toArrayBufferView(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

export function decodePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    blocks.push({ label: m[1] as string, der: fromBase64(m[2] as string, `PEM ${m[1] as string}`) });
  }
  return blocks;
}

export function encodePem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Two lists of byte strings with the same count, order and bytes. */
export function bytesListsEqual(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => bytesEqual(x, b[i] as Uint8Array));
}
