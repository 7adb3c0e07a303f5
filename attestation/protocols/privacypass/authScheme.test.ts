import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import { onlyParseErrors } from '../../testing/parseErrors.js';
import { PROTOCOL_VECTORS } from '../../testing/vectors.js';
import { buildAuthorization, buildWwwAuthenticate, parseAuthorization, parseWwwAuthenticate } from './authScheme.js';
import { decodeToken } from './token.js';

type HeaderVector = Readonly<Record<string, string | number>> & { readonly 'WWW-Authenticate': string };
const load = (file: string): unknown => JSON.parse(readFileSync(`${PROTOCOL_VECTORS}${file}`, 'utf8'));
const headerVectors = [...(load('privacypass-auth-rfc9577/auth_scheme_header_v14.json') as HeaderVector[]), ...(load('privacypass-auth-rfc9577/auth_scheme_header_complicated.json') as HeaderVector[])];
const rfcToken = ((load('privacypass-rfc9578/rfc9578-type2-blindrsa.json') as { token: string }[])[0] as { token: string }).token;

const expected = (v: HeaderVector): { type: number; key: string; challenge: string; maxAge: number }[] => {
  const out = [];
  for (let i = 0; `token-challenge-${i}` in v; i++) out.push({ type: Number(v[`token-type-${i}`]), key: String(v[`token-key-${i}`]), challenge: String(v[`token-challenge-${i}`]), maxAge: Number(v[`max-age-${i}`]) });
  return out;
};

describe('RFC 9577 PrivateToken authentication scheme', () => {
  headerVectors.forEach((v, i) => {
    it(`Cloudflare header vector ${i + 1}: parses to the vector's challenges, keys and max-age, and builds back`, () => {
      const parsed = parseWwwAuthenticate(v['WWW-Authenticate']);
      assert.deepEqual(
        parsed.map((c) => ({ type: c.tokenChallenge.tokenType, key: toHex(c.tokenKey), challenge: toHex(c.challenge), maxAge: c.maxAge })),
        expected(v),
      );
      const built = buildWwwAuthenticate(parsed);
      assert.deepEqual(parseWwwAuthenticate(built), parsed);
      if (v['WWW-Authenticate'].includes('"')) assert.equal(built, v['WWW-Authenticate'].replaceAll(',unknownChallengeAttribute="ignore-me"', ''));
    });
  });

  it('skips other schemes, takes names in any case, bare or unpadded values, and challenges without max-age', () => {
    const [c] = parseWwwAuthenticate(headerVectors[0]?.['WWW-Authenticate'] ?? '');
    assert.ok(c);
    const challenge = Buffer.from(c.challenge).toString('base64url');
    const key = Buffer.from(c.tokenKey).toString('base64url');
    const header = `Basic realm="a, b", Bearer abc+/==, Negotiate,privatetoken  CHALLENGE = ${challenge} ,\tToken-Key="${key}",, Digest nonce="x\\"y"`;
    const [p, ...rest] = parseWwwAuthenticate(header);
    assert.ok(p);
    assert.equal(rest.length, 0);
    assert.deepEqual(p.challenge, c.challenge);
    assert.deepEqual(p.tokenKey, c.tokenKey);
    assert.equal('maxAge' in p, false);
    assert.deepEqual(parseWwwAuthenticate('Basic realm="x"'), []);
    assert.deepEqual(parseWwwAuthenticate(''), []);
    assert.equal(buildWwwAuthenticate([{ challenge: c.challenge, tokenKey: c.tokenKey }]).includes('max-age'), false);
  });

  it('builds and parses Authorization: PrivateToken token=...', () => {
    const token = fromHex(rfcToken);
    const header = buildAuthorization(token);
    assert.match(header, /^PrivateToken token="[A-Za-z0-9_-]+=*"$/);
    assert.deepEqual(parseAuthorization(header), token);
    assert.deepEqual(parseAuthorization(`privateTOKEN token=${Buffer.from(token).toString('base64url')}`), token);
    assert.equal(decodeToken(parseAuthorization(header)).tokenType, 2);
  });

  const [first] = parseWwwAuthenticate(headerVectors[0]?.['WWW-Authenticate'] ?? '');
  const c64 = Buffer.from(first?.challenge ?? []).toString('base64url');
  const k64 = Buffer.from(first?.tokenKey ?? []).toString('base64url');
  const badChallenges: readonly [string, string, string][] = [
    ['no challenge', `PrivateToken token-key="${k64}"`, 'challenge'],
    ['no token-key', `PrivateToken challenge="${c64}"`, 'token-key'],
    ['standard base64', `PrivateToken challenge="${c64}+", token-key="${k64}"`, 'challenge'],
    ['a TokenChallenge with trailing bytes', `PrivateToken challenge="${c64}AA", token-key="${k64}"`, 'TokenChallenge'],
    ['max-age not a number', `PrivateToken challenge="${c64}", token-key="${k64}", max-age="-1"`, 'max-age'],
    ['a repeated parameter', `PrivateToken challenge="${c64}", challenge="${c64}", token-key="${k64}"`, 'WWW-Authenticate'],
    ['an unterminated quote', `PrivateToken challenge="${c64}`, 'WWW-Authenticate'],
    ['no space after the scheme', `PrivateToken"x"`, 'WWW-Authenticate'],
    ['a parameter without a value', `PrivateToken challenge=, token-key="${k64}"`, 'WWW-Authenticate'],
    ['a control character in a quoted string', `PrivateToken challenge="a\u0001b"`, 'WWW-Authenticate'],
    ['a bad escape', `PrivateToken challenge="a\\`, 'WWW-Authenticate'],
    ['garbage after a value', `PrivateToken challenge="${c64}" x`, 'WWW-Authenticate'],
    ['a parameter without "="', `PrivateToken challenge="${c64}", token-key "${k64}"`, 'WWW-Authenticate'],
    // A bare name after a comma is another scheme's challenge (RFC 9110 section 11.6.1), so this one lacks its key.
    ['a dangling parameter name', `PrivateToken challenge="${c64}", token-key`, 'token-key'],
    ['a list starting with "="', '=', 'WWW-Authenticate'],
  ];
  for (const [what, header, field] of badChallenges) {
    it(`WWW-Authenticate with ${what} is MALFORMED_PRIVACY_PASS (${field}), in one line`, () => {
      assert.throws(() => parseWwwAuthenticate(header), (e) => e instanceof ParseError && e.code === 'MALFORMED_PRIVACY_PASS' && e.field === field && !e.message.includes('\n'));
    });
  }

  it('Authorization with no token, two credentials or another scheme is MALFORMED_PRIVACY_PASS', () => {
    for (const header of ['PrivateToken', 'PrivateToken token="AAAA", PrivateToken token="AAAA"', 'Bearer token="AAAA"', '', 'PrivateToken token="A"']) {
      assert.throws(() => parseAuthorization(header), (e) => e instanceof ParseError && e.code === 'MALFORMED_PRIVACY_PASS', header);
    }
  });

  it('builders refuse what they cannot write', () => {
    assert.throws(() => buildWwwAuthenticate([]), (e) => e instanceof ParseError);
    assert.throws(() => buildWwwAuthenticate([{ challenge: first?.challenge ?? new Uint8Array(), tokenKey: new Uint8Array(1), maxAge: 1.5 }]), (e) => e instanceof ParseError && e.field === 'max-age');
    assert.throws(() => buildWwwAuthenticate([{ challenge: new Uint8Array(3), tokenKey: new Uint8Array(1) }]), (e) => e instanceof ParseError);
  });

  it('arbitrary strings, and edits of real headers, parse or throw ParseError, nothing else (property)', () => {
    const real = headerVectors.map((v) => v['WWW-Authenticate']);
    const alphabet = fc.constantFrom(...Array.from('Pa=", \t\\;-_/+Aa0\u0001\u00ff\u2028\n'), 'PrivateToken', 'challenge=', 'token-key=', 'token=', 'max-age=');
    const strings = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: alphabet, maxLength: 30 }),
      fc.tuple(fc.constantFrom(...real), fc.nat(), fc.nat({ max: 40 }), fc.string({ unit: alphabet, maxLength: 4 })).map(([s, at, cut, insert]) => s.slice(0, at % s.length) + insert + s.slice((at % s.length) + cut)),
    );
    fc.assert(
      fc.property(strings, (s) => {
        onlyParseErrors(() => parseWwwAuthenticate(s));
        onlyParseErrors(() => parseAuthorization(s));
      }),
      { numRuns: 2000 },
    );
  });
});
