// Privacy Pass redemption at the gateway, end to end with real tokens (our client, our issuer's blind signing)
// through real OHTTP encapsulation: 401 with a parseable challenge without a token, 200 with one (the target
// ran), and every refusal (replay, another key, a malformed header, another token type, an expired key, a
// challenge of another server) an encapsulated 401 of its problem type, with the target never started. Here, not in
// src/privacypass/, because it drives the OHTTP gateway (layer 1 folders never import each other).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildAuthorization, encodeToken, encodeTokenChallenge, parseWwwAuthenticate, tokenKeyId } from '../../attestation/protocols/index.js';
import { challengeFor, fixture, header, mintToken, newIssuerKey, type Fixture } from '../testing/privacyPassGateway.js';
import { toBase64Url } from '../../attestation/bytes.js';
import { MemorySpentTokens } from '../privacypass/redemption/spentTokens.js';

const problemCode = (body: unknown): unknown => (body as { code?: unknown }).code;

describe('Privacy Pass redemption at the OHTTP gateway', async () => {
  const key = await newIssuerKey();
  const other = await newIssuerKey();

  it('answers a request without a token 401, problem+json, with one parseable challenge per current key; the target does not run', async () => {
    const second = await newIssuerKey();
    const f = await fixture({ keys: [key, second] });
    const r = await f.send();
    assert.equal(r.status, 401);
    assert.equal(problemCode(r.body), 'PRIVACY_PASS_REQUIRED');
    const challenges = parseWwwAuthenticate(header(r.headers, 'www-authenticate') ?? '');
    assert.equal(challenges.length, 2);
    for (const c of challenges) {
      assert.deepEqual({ ...c.tokenChallenge, redemptionContext: [...c.tokenChallenge.redemptionContext] }, { tokenType: 2, issuerName: 'issuer.cloister.test', redemptionContext: [], originInfo: ['gateway.cloister.test'] });
    }
    assert.deepEqual(challenges.map((c) => toBase64Url(c.tokenKey)).sort(), [key, second].map((k) => toBase64Url(k.tokenKey)).sort());
    assert.equal(f.ran.count, 0);
  });

  it('serves a request with a valid token (the target runs), and refuses the same token again 401 PRIVACY_PASS_REPLAYED', async () => {
    const f = await fixture({ keys: [key] });
    const token = await mintToken(key, await challengeFor(f, key));
    const authorization: [string, string] = ['authorization', buildAuthorization(encodeToken(token))];
    const ok = await f.send([authorization]);
    assert.deepEqual([ok.status, ok.body, f.ran.count], [200, 'ran', 1]);
    const again = await f.send([authorization]);
    assert.equal(again.status, 401);
    assert.equal(problemCode(again.body), 'PRIVACY_PASS_REPLAYED');
    assert.ok(parseWwwAuthenticate(header(again.headers, 'www-authenticate') ?? '').length === 1, 'a replay gets a new challenge');
    assert.equal(f.ran.count, 1);
  });

  const refusals: readonly { name: string; code: string; authorization: (f: Fixture) => Promise<string[]>; now?: () => number; notBefore?: number }[] = [
    { name: 'a token of another issuer key', code: 'PRIVACY_PASS_UNKNOWN_KEY', authorization: async (f) => [buildAuthorization(encodeToken(await mintToken(other, await challengeFor(f, key))))] },
    { name: 'a malformed Authorization header', code: 'PRIVACY_PASS_MALFORMED', authorization: () => Promise.resolve(['PrivateToken token=!!!']) },
    { name: 'a Basic Authorization header', code: 'PRIVACY_PASS_MALFORMED', authorization: () => Promise.resolve(['Basic dXNlcjpwYXNz']) },
    { name: 'two Authorization headers', code: 'PRIVACY_PASS_MALFORMED', authorization: async (f) => [buildAuthorization(encodeToken(await mintToken(key, await challengeFor(f, key)))), 'PrivateToken token=AAAA'] },
    { name: 'a truncated token', code: 'PRIVACY_PASS_MALFORMED', authorization: async (f) => [buildAuthorization(encodeToken(await mintToken(key, await challengeFor(f, key))).subarray(0, 100))] },
    {
      name: 'a token of type 0x0001 (not redeemed here)',
      code: 'PRIVACY_PASS_UNSUPPORTED_TYPE',
      authorization: async (f) => {
        const t = await mintToken(key, await challengeFor(f, key));
        return [buildAuthorization(encodeToken({ ...t, tokenType: 1, authenticator: new Uint8Array(48) }))];
      },
    },
    { name: 'a token of unknown type 0x7777', code: 'PRIVACY_PASS_UNSUPPORTED_TYPE', authorization: () => Promise.resolve([buildAuthorization(Uint8Array.of(0x77, 0x77, ...new Uint8Array(64)))]) },
    {
      name: 'a token for another server\'s challenge',
      code: 'PRIVACY_PASS_INVALID',
      authorization: async () => [buildAuthorization(encodeToken(await mintToken(key, encodeTokenChallenge({ tokenType: 2, issuerName: 'issuer.cloister.test', redemptionContext: new Uint8Array(), originInfo: ['elsewhere.test'] }))))],
    },
    {
      name: 'a token whose authenticator was altered',
      code: 'PRIVACY_PASS_INVALID',
      authorization: async (f) => {
        const t = await mintToken(key, await challengeFor(f, key));
        const authenticator = t.authenticator.slice();
        authenticator[10] = (authenticator[10] as number) ^ 1;
        return [buildAuthorization(encodeToken({ ...t, authenticator }))];
      },
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name}: 401 ${r.code}, the target does not run, and the gateway keeps serving`, async () => {
      const f = await fixture({ keys: [key] });
      const refused = await f.send((await r.authorization(f)).map((v) => ['authorization', v]));
      assert.equal(refused.status, 401);
      assert.equal(problemCode(refused.body), r.code);
      assert.ok(header(refused.headers, 'www-authenticate') !== undefined);
      assert.equal(f.ran.count, 0);
      const ok = await f.send([['authorization', buildAuthorization(encodeToken(await mintToken(key, await challengeFor(f, key))))]]);
      assert.equal(ok.status, 200);
    });
  }

  it('refuses a token of a key past its lifetime or before its not-before (401 PRIVACY_PASS_UNKNOWN_KEY); the challenge offers only the current key', async () => {
    let now = 1_000_000_000_000;
    const later = await newIssuerKey();
    // `key` is current for [now, now + 1 h), `later` for [now + 30 min, now + 90 min).
    const f = await fixture({ keys: [key, later], now: () => now, notBefore: [now / 1000, now / 1000 + 1800] });
    const early = await mintToken(key, await challengeFor(f, key));
    const offered = (): number => parseWwwAuthenticate(header(refusedHeaders, 'www-authenticate') ?? '').length;
    let refusedHeaders = (await f.send()).headers;
    assert.equal(offered(), 1, 'only the current key is offered');
    const beforeNotBefore = await f.send([['authorization', buildAuthorization(encodeToken(await mintToken(later, await challengeFor(f, key))))]]);
    assert.deepEqual([beforeNotBefore.status, problemCode(beforeNotBefore.body)], [401, 'PRIVACY_PASS_UNKNOWN_KEY']);
    now += 3600 * 1000;
    const expired = await f.send([['authorization', buildAuthorization(encodeToken(early))]]);
    assert.deepEqual([expired.status, problemCode(expired.body)], [401, 'PRIVACY_PASS_UNKNOWN_KEY']);
    refusedHeaders = expired.headers;
    assert.equal(offered(), 1);
    assert.equal(f.ran.count, 0);
  });

  it('keeps a directory key that is not a section 6.5 key listed, and refuses its tokens 401 PRIVACY_PASS_INVALID', async () => {
    const rsaEncryption = key.tokenKey.slice();
    rsaEncryption[16] = 0x01; // id-RSASSA-PSS (...1.1.10) becomes rsaEncryption (...1.1.1)
    const f = await fixture({ keys: [key, { ...key, tokenKey: rsaEncryption }] });
    assert.equal(parseWwwAuthenticate(header((await f.send()).headers, 'www-authenticate') ?? '').length, 2);
    const token = await mintToken(key, await challengeFor(f, key));
    const forged = { ...token, tokenKeyId: new Uint8Array(createHash('sha256').update(rsaEncryption).digest()) };
    const r = await f.send([['authorization', buildAuthorization(encodeToken(forged))]]);
    assert.deepEqual([r.status, problemCode(r.body), f.ran.count], [401, 'PRIVACY_PASS_INVALID', 0]);
    assert.equal((await f.send([['authorization', buildAuthorization(encodeToken(token))]])).status, 200);
  });

  it('answers 503 PRIVACY_PASS_NO_KEYS when no issuer key is current (a 401 must carry a challenge, and there is none to offer)', async () => {
    let now = 1_000_000_000_000;
    const f = await fixture({ keys: [key], now: () => now, notBefore: now / 1000 });
    const token = await mintToken(key, await challengeFor(f, key));
    now += 3600 * 1000;
    for (const headers of [[], [['authorization', buildAuthorization(encodeToken(token))]]] as [string, string][][]) {
      const r = await f.send(headers);
      assert.deepEqual([r.status, problemCode(r.body), header(r.headers, 'www-authenticate')], [503, 'PRIVACY_PASS_NO_KEYS', undefined]);
    }
    assert.equal(f.ran.count, 0);
  });

  it('reports a directory key already past its lifetime when given it (an issuer still serving a fixed key older than --token-key-lifetime), once', async () => {
    const now = 1_000_000_000_000;
    const f = await fixture({ keys: [key], now: () => now, notBefore: now / 1000 - 7200 });
    assert.deepEqual(f.skipped.map((s) => [s.tokenType, s.tokenKeyId]), [[2, toBase64Url(await tokenKeyId(key.tokenKey))]]);
    assert.match(f.skipped[0]?.reason ?? '', /^its lifetime ended at 2001-09-09T00:46:40\.000Z \(not-before \+ --token-key-lifetime 3600 s\)/);
    await f.redeemer.setKeys([{ tokenType: 2, tokenKey: key.tokenKey, notBefore: now / 1000 - 7200 }]);
    assert.equal(f.skipped.length, 1, 'a refresh does not report it again');
    assert.equal((await f.send()).status, 503);
  });

  it('fails closed (503 SPENT_TOKENS_UNAVAILABLE, Retry-After) when the in-memory store is at its bound, and never evicts an unexpired token', async () => {
    const f = await fixture({ keys: [key], spent: new MemorySpentTokens({ maxEntries: 1 }) });
    const first = await mintToken(key, await challengeFor(f, key));
    assert.equal((await f.send([['authorization', buildAuthorization(encodeToken(first))]])).status, 200);
    const second = await f.send([['authorization', buildAuthorization(encodeToken(await mintToken(key, await challengeFor(f, key))))]]);
    assert.equal(second.status, 503);
    assert.equal(problemCode(second.body), 'SPENT_TOKENS_UNAVAILABLE');
    assert.equal(header(second.headers, 'retry-after'), '1');
    assert.equal(problemCode((await f.send([['authorization', buildAuthorization(encodeToken(first))]])).body), 'PRIVACY_PASS_REPLAYED');
    assert.equal(f.ran.count, 1);
  });
});
