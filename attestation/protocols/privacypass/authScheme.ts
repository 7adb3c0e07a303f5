// The PrivateToken HTTP authentication scheme (RFC 9577 section 2). An origin challenges with
//   WWW-Authenticate: PrivateToken challenge="<TokenChallenge>", token-key="<issuer key>", max-age="<seconds>"
// (several challenges may share one header, beside other schemes' challenges) and the client redeems with
//   Authorization: PrivateToken token="<Token>"
// Values are base64url (RFC 4648 section 5); the builders pad and quote them, the parsers take them padded or not,
// quoted or bare. Scheme and parameter names are case-insensitive; unknown parameters are ignored (section 2.1).
// The header grammar is RFC 9110 section 11: challenges are a comma-separated list, each a scheme followed by a
// token68 or by comma-separated auth-params, whose values are tokens or quoted strings.
import { parseBase64Url, toBase64Url } from '../../bytes.js';
import { malformed } from './tlsReader.js';
import { decodeTokenChallenge, type TokenChallenge } from './tokenChallenge.js';

export const PRIVATE_TOKEN_SCHEME = 'PrivateToken';

export interface PrivateTokenChallenge {
  /** The TokenChallenge as the origin sent it: challenge_digest is over these bytes. */
  readonly challenge: Uint8Array;
  readonly tokenChallenge: TokenChallenge;
  /** The issuer key the token must be of (for type 0x0002, its RFC 9578 section 6.5 SPKI). */
  readonly tokenKey: Uint8Array;
  /** Seconds the challenge and key may be cached. */
  readonly maxAge?: number;
}

export type ChallengeInput = Pick<PrivateTokenChallenge, 'challenge' | 'tokenKey' | 'maxAge'>;

interface AuthElement {
  readonly scheme: string;
  readonly params: ReadonlyMap<string, string>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_OR_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z/]+=*/;
// Sticky: from lastIndex, the run of qdtext there (a token's 300-odd base64url characters in one match).
const QDTEXT_RUN = /[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]*/y;
const QUOTED_PAIR = /[\t \x21-\x7e\x80-\xff]/;

/** Splits a WWW-Authenticate or Authorization value into schemes and their auth-params. */
class AuthLexer {
  private at = 0;
  constructor(
    private readonly text: string,
    private readonly header: string,
  ) {}

  private fail(what: string): never {
    return malformed(`${this.header} value is malformed: ${what} at offset ${this.at}`, this.header, this.at);
  }

  private peek(): string | undefined {
    return this.text[this.at];
  }

  private spaces(): number {
    const start = this.at;
    while (this.peek() === ' ' || this.peek() === '\t') this.at++;
    return this.at - start;
  }

  private separators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.at++;
  }

  private token(): string {
    const start = this.at;
    while (this.at < this.text.length && TCHAR.test(this.text[this.at] as string)) this.at++;
    if (this.at === start) this.fail('expected a token');
    return this.text.slice(start, this.at);
  }

  private quoted(): string {
    this.at++;
    let out = '';
    for (;;) {
      QDTEXT_RUN.lastIndex = this.at;
      QDTEXT_RUN.test(this.text);
      out += this.text.slice(this.at, QDTEXT_RUN.lastIndex);
      this.at = QDTEXT_RUN.lastIndex;
      const c = this.peek();
      if (c === undefined) this.fail('unterminated quoted string');
      this.at++;
      if (c === '"') return out;
      if (c !== '\\') this.fail('control character in quoted string');
      const next = this.peek();
      if (next === undefined || !QUOTED_PAIR.test(next)) this.fail('bad escape in quoted string');
      out += next;
      this.at++;
    }
  }

  /** Whether the list element from here on starts a new challenge (a scheme) rather than another auth-param. */
  private startsChallenge(): boolean {
    const m = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*(.?)/.exec(this.text.slice(this.at));
    return m !== null && m[1] !== '=';
  }

  /** A token68 (skipped: no PrivateToken field is one) when what follows the scheme is one. */
  private skipToken68(): boolean {
    const m = TOKEN68_OR_TOKEN.exec(this.text.slice(this.at));
    if (m === null) return false;
    const after = /^[ \t]*(.?)/.exec(this.text.slice(this.at + m[0].length));
    if (after?.[1] !== ',' && after?.[1] !== '') return false;
    this.at += m[0].length;
    return true;
  }

  elements(): AuthElement[] {
    const out: AuthElement[] = [];
    this.separators();
    while (this.at < this.text.length) {
      const scheme = this.token();
      const params = new Map<string, string>();
      out.push({ scheme, params });
      const gap = this.spaces();
      if (this.peek() !== undefined && this.peek() !== ',') {
        if (gap === 0) this.fail('expected a space after the scheme');
        if (!this.skipToken68()) this.params(params);
      }
      this.spaces();
      if (this.peek() !== undefined && this.peek() !== ',') this.fail('expected a comma');
      this.separators();
    }
    return out;
  }

  private params(params: Map<string, string>): void {
    for (;;) {
      const name = this.token().toLowerCase();
      this.spaces();
      if (this.peek() !== '=') this.fail(`expected "=" after parameter ${name}`);
      this.at++;
      this.spaces();
      let value: string;
      if (this.peek() === '"') value = this.quoted();
      else {
        const m = TOKEN68_OR_TOKEN.exec(this.text.slice(this.at));
        if (m === null) this.fail(`expected a value for parameter ${name}`);
        value = m[0];
        this.at += value.length;
      }
      if (params.has(name)) this.fail(`parameter ${name} repeated`);
      params.set(name, value);
      const mark = this.at;
      this.spaces();
      if (this.peek() !== ',') return;
      this.separators();
      if (this.peek() === undefined || this.startsChallenge()) {
        this.at = mark;
        return;
      }
    }
  }
}

function bytesParam(params: ReadonlyMap<string, string>, name: string, header: string): Uint8Array {
  const value = params.get(name);
  if (value === undefined) return malformed(`${header} PrivateToken has no ${name} parameter`, name);
  return parseBase64Url(value) ?? malformed(`${header} PrivateToken ${name} is not base64url`, name);
}

const isPrivateToken = (e: AuthElement): boolean => e.scheme.toLowerCase() === PRIVATE_TOKEN_SCHEME.toLowerCase();

/** The PrivateToken challenges of a WWW-Authenticate value, in order; other schemes' challenges are skipped. */
export function parseWwwAuthenticate(value: string): PrivateTokenChallenge[] {
  return new AuthLexer(value, 'WWW-Authenticate')
    .elements()
    .filter(isPrivateToken)
    .map(({ params }) => {
      const challenge = bytesParam(params, 'challenge', 'WWW-Authenticate');
      const tokenKey = bytesParam(params, 'token-key', 'WWW-Authenticate');
      const maxAgeText = params.get('max-age');
      const parsed: PrivateTokenChallenge = { challenge, tokenChallenge: decodeTokenChallenge(challenge), tokenKey };
      if (maxAgeText === undefined) return Object.freeze(parsed);
      const maxAge = /^[0-9]{1,15}$/.test(maxAgeText) ? Number(maxAgeText) : malformed('WWW-Authenticate PrivateToken max-age is not a number of seconds', 'max-age');
      return Object.freeze({ ...parsed, maxAge });
    });
}

export function buildWwwAuthenticate(challenges: readonly ChallengeInput[]): string {
  if (challenges.length === 0) malformed('a WWW-Authenticate value needs at least one challenge', 'WWW-Authenticate');
  return challenges
    .map((c) => {
      decodeTokenChallenge(c.challenge);
      const parts = [`challenge="${toBase64Url(c.challenge, true)}"`, `token-key="${toBase64Url(c.tokenKey, true)}"`];
      if (c.maxAge !== undefined) {
        if (!Number.isSafeInteger(c.maxAge) || c.maxAge < 0) malformed(`max-age must be a non-negative integer, got ${c.maxAge}`, 'max-age');
        parts.push(`max-age="${c.maxAge}"`);
      }
      return `${PRIVATE_TOKEN_SCHEME} ${parts.join(', ')}`;
    })
    .join(', ');
}

/** The Token bytes of an Authorization value (decode them with decodeToken). */
export function parseAuthorization(value: string): Uint8Array {
  const elements = new AuthLexer(value, 'Authorization').elements();
  const [only] = elements;
  if (elements.length !== 1 || only === undefined) return malformed(`Authorization holds ${elements.length} credentials, not one`, 'Authorization');
  if (!isPrivateToken(only)) return malformed('Authorization scheme is not PrivateToken', 'Authorization');
  return bytesParam(only.params, 'token', 'Authorization');
}

export function buildAuthorization(token: Uint8Array): string {
  return `${PRIVATE_TOKEN_SCHEME} token="${toBase64Url(token, true)}"`;
}
