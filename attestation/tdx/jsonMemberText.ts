// The exact text of one member's value in a JSON object, as it was written. Intel PCS signs the bytes of the
// `tcbInfo` / `enclaveIdentity` value inside its response body ({"tcbInfo":{...},"signature":"..."}), not a
// canonical form: serializing the parsed value again can change key order, number forms, escapes and
// whitespace, and the signature no longer verifies. So the value is cut out of the body as served.
//
// JSON.parse checks the whole text first; the scanner then walks only well-formed JSON (RFC 8259), and
// refuses a text in which any object repeats a key, since parsers disagree on which of the two counts
// (JSON.parse keeps the last, others the first) and the signed text could then be read two ways.
import { ParseError } from '../errors.js';

const WHITESPACE = ' \t\n\r';
/** Characters of numbers and of true, false and null. */
const LITERAL = /[-+.0-9a-zA-Z]/;

function fail(message: string, field: string, offset?: number): never {
  throw new ParseError('MALFORMED_FIELD', message, offset === undefined ? { field } : { field, offset });
}

/** A cursor over well-formed JSON text (JSON.parse has accepted it). */
class Scanner {
  at = 0;
  constructor(
    readonly text: string,
    readonly field: string,
  ) {}

  skipWhitespace(): void {
    while (this.at < this.text.length && WHITESPACE.includes(this.text[this.at] as string)) this.at++;
  }

  /** The string token at the cursor, decoded; the cursor moves past its closing quote. */
  string(): string {
    const start = this.at++;
    while (this.at < this.text.length && this.text[this.at] !== '"') this.at += this.text[this.at] === '\\' ? 2 : 1;
    this.at++;
    return JSON.parse(this.text.slice(start, this.at)) as string;
  }

  /** An object's next key and the colon after it; a key the object already has is refused. */
  key(keys: Set<string>): string {
    this.skipWhitespace();
    const offset = this.at;
    const key = this.string();
    if (keys.has(key)) fail(`${this.field}: key ${JSON.stringify(key)} appears twice in one object (at character ${offset})`, this.field, offset);
    keys.add(key);
    this.skipWhitespace();
    this.at++;
    this.skipWhitespace();
    return key;
  }

  /** Moves past the value at the cursor. Iterative, so deep nesting cannot exhaust the call stack. */
  value(): void {
    // One entry per open container: an object's keys so far, or null for an array.
    const open: (Set<string> | null)[] = [];
    for (;;) {
      this.skipWhitespace();
      const c = this.text[this.at];
      if (c === '{' || c === '[') {
        this.at++;
        this.skipWhitespace();
        const empty = this.text[this.at] === (c === '{' ? '}' : ']');
        if (!empty) {
          const keys = c === '{' ? new Set<string>() : null;
          open.push(keys);
          if (keys !== null) this.key(keys);
          continue;
        }
        this.at++;
      } else if (c === '"') this.string();
      else while (this.at < this.text.length && LITERAL.test(this.text[this.at] as string)) this.at++;
      // The value is done: close every container it completes, or go on after a comma.
      for (;;) {
        if (open.length === 0) return;
        this.skipWhitespace();
        if (this.text[this.at++] === ',') {
          const keys = open.at(-1);
          if (keys !== null && keys !== undefined) this.key(keys);
          break;
        }
        open.pop();
      }
    }
  }
}

/**
 * The text of `member`'s value in the JSON object `text`, exactly as written (a substring of `text`).
 * Throws ParseError MALFORMED_FIELD (field `field`) when `text` is not JSON, not an object, repeats a key in
 * any object, or has no such member at its top level.
 */
export function jsonMemberText(text: string, member: string, field = member): string {
  try {
    JSON.parse(text);
  } catch (cause) {
    throw new ParseError('MALFORMED_FIELD', `${field}: not valid JSON (${(cause as Error).message})`, { field, cause });
  }
  const s = new Scanner(text, field);
  s.skipWhitespace();
  if (text[s.at] !== '{') fail(`${field}: the JSON is not an object`, field, s.at);
  s.at++;
  s.skipWhitespace();
  let span: [number, number] | undefined;
  const keys = new Set<string>();
  while (s.at < text.length && text[s.at] !== '}') {
    const key = s.key(keys);
    const start = s.at;
    s.value();
    if (key === member) span = [start, s.at];
    s.skipWhitespace();
    if (text[s.at] === ',') s.at++;
  }
  if (span === undefined) fail(`${field}: the object has no member ${JSON.stringify(member)}`, field);
  return text.slice(span[0], span[1]);
}
