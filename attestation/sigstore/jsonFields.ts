// Reading Sigstore's JSON documents (bundles, trusted roots, DSSE envelopes, in-toto statements, Rekor entry bodies)
// field by field: each reader records a problem "path: what" instead of throwing, so that a document with several bad
// fields is refused once, with every bad path listed (sigstore-js `assertBundle` does the same).
//
// Protobuf-JSON conventions these documents follow: int64 values are decimal strings (a number is accepted too),
// bytes are standard base64 (padded; the URL-safe alphabet and line breaks are accepted, as protobuf-JSON parsers
// do), a null member is the default value (absent).
import { decodePaddedBase64 } from '../bytes.js';
import { ParseError, type ErrorCode } from '../errors.js';

export type JsonObject = { readonly [key: string]: unknown };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Base64 (standard alphabet and padded, or URL-safe with or without padding) to bytes; undefined when it is neither. */
export function decodeBase64Field(input: string): Uint8Array | undefined {
  // Most fields are plain padded base64: decoded in one pass, without the regular expressions below.
  const plain = decodePaddedBase64(input, false);
  if (plain !== undefined) return plain;
  // Line breaks are skipped, as Go's decoder (protojson, Sigstore's own tools) skips them: `base64` wraps its output.
  const text = input.replace(/\r?\n/g, '');
  let standard = text;
  if (!BASE64.test(text)) {
    if (!BASE64URL.test(text)) return undefined;
    const body = text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
    if (body.length % 4 === 1) return undefined;
    standard = body + '='.repeat((4 - (body.length % 4)) % 4);
  }
  const bin = atob(standard);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export class JsonFields {
  readonly problems: string[] = [];

  problem(path: string, what: string): void {
    this.problems.push(`${path}: ${what}`);
  }

  object(v: unknown, path: string): JsonObject | undefined {
    if (isObject(v)) return v;
    this.problem(path, v === undefined ? 'missing' : 'must be an object');
    return undefined;
  }

  array(v: unknown, path: string, { nonEmpty = false } = {}): readonly unknown[] | undefined {
    if (!Array.isArray(v)) { this.problem(path, v === undefined ? 'missing' : 'must be an array'); return; }
    if (nonEmpty && v.length === 0) { this.problem(path, 'must not be empty'); return; }
    return v as readonly unknown[];
  }

  string(v: unknown, path: string, { nonEmpty = false } = {}): string | undefined {
    if (typeof v !== 'string') { this.problem(path, v === undefined ? 'missing' : 'must be a string'); return; }
    if (nonEmpty && v === '') { this.problem(path, 'must not be empty'); return; }
    return v;
  }

  bytes(v: unknown, path: string, { nonEmpty = false, size }: { nonEmpty?: boolean; size?: number } = {}): Uint8Array | undefined {
    const text = this.string(v, path);
    if (text === undefined) return undefined;
    const out = decodeBase64Field(text);
    if (out === undefined) { this.problem(path, 'is not valid base64'); return; }
    if (nonEmpty && out.length === 0) { this.problem(path, 'must not be empty'); return; }
    if (size !== undefined && out.length !== size) { this.problem(path, `must be ${size} bytes, is ${out.length}`); return; }
    return out;
  }

  /** A protobuf-JSON int64 that must be a non-negative safe integer: a decimal string or a number. */
  count(v: unknown, path: string): number | undefined {
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && v >= 0) return v;
      this.problem(path, `${v} is not a non-negative integer`);
      return undefined;
    }
    if (typeof v !== 'string') { this.problem(path, v === undefined ? 'missing' : 'must be a decimal string'); return; }
    if (!/^-?(?:0|[1-9][0-9]*)$/.test(v)) { this.problem(path, `"${v}" is not a decimal integer`); return; }
    const n = Number(v);
    if (n < 0) { this.problem(path, `${v} is negative`); return; }
    if (Number.isSafeInteger(n)) return n;
    this.problem(path, `${v} is above 2^53-1`);
    return undefined;
  }

  /** An RFC 3339 time (protobuf Timestamp in JSON). */
  time(v: unknown, path: string): Date | undefined {
    const text = this.string(v, path);
    if (text === undefined) return undefined;
    const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/.test(text) ? new Date(text) : undefined;
    if (t !== undefined && !Number.isNaN(t.getTime())) return t;
    this.problem(path, `"${text}" is not an RFC 3339 time`);
    return undefined;
  }

  /** Throws `code` listing every problem, `field` joining their paths; returns `value` when there is none. */
  done<T>(code: ErrorCode, what: string, value: T | undefined): T {
    if (this.problems.length > 0 || value === undefined) {
      const problems = this.problems.length > 0 ? this.problems : ['$: invalid'];
      const fields = [...new Set(problems.map((p) => p.slice(0, p.indexOf(': '))))].join(', ');
      throw new ParseError(code, `invalid ${what}: ${problems.join('; ')}`, { field: fields });
    }
    return value;
  }

  /** Throws `code` listing every problem (there is at least one). */
  fail(code: ErrorCode, what: string): never {
    return this.done<never>(code, what, undefined);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** JSON text (a string or UTF-8 bytes) to a value; `code` when it is not UTF-8 JSON. */
export function parseJsonText(input: string | Uint8Array, code: ErrorCode, what: string): unknown {
  let text: string;
  try {
    text = typeof input === 'string' ? input : UTF8.decode(input);
  } catch (cause) {
    throw new ParseError(code, `${what} is not valid UTF-8`, { field: '$', cause });
  }
  try {
    // A null member is protobuf-JSON's default value: read as absent. A reviver makes JSON.parse several times
    // slower, so it runs only where the text can hold a null (it also matches "null" inside a string: still correct).
    return text.includes('null') ? (JSON.parse(text, (_key, v: unknown) => (v === null ? undefined : v)) as unknown) : (JSON.parse(text) as unknown);
  } catch (cause) {
    throw new ParseError(code, `${what} is not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`, { field: '$', cause });
  }
}
