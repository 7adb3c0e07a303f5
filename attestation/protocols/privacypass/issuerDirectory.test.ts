import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { onlyParseErrors } from '../../testing/parseErrors.js';
import { cacheMaxAge, encodeIssuerDirectory, issuerDirectoryUrl, parseIssuerDirectory } from './issuerDirectory.js';

describe('issuer directory (RFC 9578 section 4)', () => {
  it('parses a directory, keeps keys of unknown types for the reader to skip, and round-trips', () => {
    const json = { 'issuer-request-uri': 'https://issuer.example/token-request', 'token-keys': [{ 'token-type': 2, 'token-key': 'AQID', 'not-before': 1_700_000_000 }, { 'token-type': 0x7777, 'token-key': 'BA' }], extension: true };
    const d = parseIssuerDirectory(json);
    assert.equal(d.requestUri, 'https://issuer.example/token-request');
    assert.deepEqual(d.tokenKeys, [{ tokenType: 2, tokenKey: Uint8Array.of(1, 2, 3), notBefore: 1_700_000_000 }, { tokenType: 0x7777, tokenKey: Uint8Array.of(4) }]);
    assert.ok(Object.isFrozen(d) && Object.isFrozen(d.tokenKeys));
    assert.deepEqual(encodeIssuerDirectory(d), { 'issuer-request-uri': json['issuer-request-uri'], 'token-keys': json['token-keys'] });
    assert.deepEqual(parseIssuerDirectory(encodeIssuerDirectory(d)), d);
  });

  it('takes a directory without issuer-request-uri (a server\'s --privacy-pass-keys file) and a relative one', () => {
    assert.equal(parseIssuerDirectory({ 'token-keys': [] }).requestUri, undefined);
    assert.equal(parseIssuerDirectory({ 'issuer-request-uri': '/token-request', 'token-keys': [] }).requestUri, '/token-request');
  });

  it('lists every bad field in one MALFORMED_PRIVACY_PASS', () => {
    assert.throws(() => parseIssuerDirectory({ 'issuer-request-uri': 'javascript:alert(1)', 'token-keys': [{ 'token-type': 'x', 'token-key': '' }, { 'token-type': 2, 'token-key': 'AA', 'not-before': -1 }, 3] }), {
      code: 'MALFORMED_PRIVACY_PASS',
      message: /token-keys\[0\]\.token-type, token-keys\[0\]\.token-key, token-keys\[1\]\.not-before, token-keys\[2\]\.token-type, token-keys\[2\]\.token-key, issuer-request-uri$/,
    });
    for (const bad of [[], null, 'x', { 'token-keys': {} }, { 'token-keys': [], 'issuer-request-uri': 7 }, { 'token-keys': [], 'issuer-request-uri': '' }]) assert.throws(() => parseIssuerDirectory(bad), { code: 'MALFORMED_PRIVACY_PASS' }, JSON.stringify(bad));
  });

  it('parses any JSON or throws ParseError (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        onlyParseErrors(() => parseIssuerDirectory(json));
      }),
    );
    const entry = fc.record({ 'token-type': fc.jsonValue(), 'token-key': fc.oneof(fc.string(), fc.jsonValue()), 'not-before': fc.jsonValue() }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.record({ 'token-keys': fc.array(entry), 'issuer-request-uri': fc.oneof(fc.string(), fc.webUrl()) }, { requiredKeys: [] }), (json) => {
        onlyParseErrors(() => parseIssuerDirectory(json));
      }),
    );
  });

  it('adds the well-known path to an origin and keeps a full URL', () => {
    assert.equal(issuerDirectoryUrl('https://issuer.test'), 'https://issuer.test/.well-known/private-token-issuer-directory');
    assert.equal(issuerDirectoryUrl('https://issuer.test/'), 'https://issuer.test/.well-known/private-token-issuer-directory');
    assert.equal(issuerDirectoryUrl('http://127.0.0.1:8082/custom/dir'), 'http://127.0.0.1:8082/custom/dir');
  });

  it('reads max-age from Cache-Control; no-store and no-cache give 0, nothing gives undefined', () => {
    const cases: [string | null, number | undefined][] = [
      ['public, max-age=900', 900],
      ['MAX-AGE="60"', 60],
      ['max-age=0', 0],
      ['no-store', 0],
      ['no-cache, max-age=600', 0],
      ['private', undefined],
      ['s-maxage=5', undefined],
      ['max-age=x', undefined],
      [null, undefined],
    ];
    for (const [value, seconds] of cases) assert.equal(cacheMaxAge(value), seconds, String(value));
  });
});
