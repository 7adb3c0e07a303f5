// The Privacy Pass client against an issuer in the test (type 0x0001, VOPRF P-384, whose issuing side the SDK has):
// tokens that verify with the issuer key, the directory kept for its max-age and fetched again for a key it does not
// list, key consistency, batches and the store, the remembered challenge, and the issuer's failures as IssuerErrors.
// Type 0x0002 against the real `cloister issuer` and gateway: src/cli/privacyPassStack.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toArrayBufferView, toBase64Url } from '../../bytes.js';
import { buildWwwAuthenticate, parseAuthorization } from '../../protocols/privacypass/authScheme.js';
import { encodeTokenChallenge } from '../../protocols/privacypass/tokenChallenge.js';
import { tokenKeyId } from '../../protocols/privacypass/tokenKey.js';
import * as type1 from '../../protocols/privacypass/type1.js';
import type { FetchInit, FetchLike } from '../httpFetch.js';
import { fetchIssuerDirectory, IssuerClient, IssuerError, retryAfterSeconds } from './issuerClient.js';
import { PrivacyPassClient } from './privacyPassClient.js';
import { MemoryTokenStore } from './tokenStore.js';

const ISSUER = 'https://issuer.test';
const [keyA, keyB] = await Promise.all([type1.issuerKey(new Uint8Array(48).fill(0x11)), type1.issuerKey(new Uint8Array(48).fill(0x22))]);

interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: Uint8Array | string;
}

/** An issuer of type 0x0001 tokens: its directory lists `listed`; `answer` overrides the answer to a token request. */
function fakeIssuer(options: { listed?: type1.IssuerKey[]; cacheControl?: string; requestUri?: string | null; answer?: (n: number) => Answer | undefined } = {}) {
  const state = { listed: options.listed ?? [keyA], gets: 0, posts: 0, credentials: [] as (string | undefined)[], lastGet: undefined as FetchInit | undefined };
  const respond = (a: Answer): Response => new Response(typeof a.body === 'string' ? a.body : toArrayBufferView(a.body), { status: a.status, headers: a.headers ?? {} });
  const fetch: FetchLike = async (url, init) => {
    if (init.method === 'GET') {
      assert.equal(url, `${ISSUER}/.well-known/private-token-issuer-directory`);
      state.gets++;
      state.lastGet = init;
      const uri = options.requestUri === undefined ? '/token-request' : options.requestUri;
      const directory = { ...(uri === null ? {} : { 'issuer-request-uri': uri }), 'token-keys': state.listed.map((k) => ({ 'token-type': 1, 'token-key': toBase64Url(k.publicKeyBytes) })) };
      return respond({ status: 200, headers: { 'content-type': 'application/private-token-issuer-directory', ...(options.cacheControl === undefined ? {} : { 'cache-control': options.cacheControl }) }, body: JSON.stringify(directory) });
    }
    assert.equal(url, `${ISSUER}/token-request`);
    assert.equal(init.headers['content-type'], 'application/private-token-request');
    state.posts++;
    state.credentials.push(init.headers.authorization);
    const override = options.answer?.(state.posts);
    if (override !== undefined) return respond(override);
    const request = type1.parseTokenRequest(init.body ?? new Uint8Array());
    const key = [keyA, keyB].find((k) => k.tokenKeyId.at(-1) === request.truncatedTokenKeyId) ?? keyA;
    return respond({ status: 200, headers: { 'content-type': 'application/private-token-response' }, body: await type1.evaluateTokenRequest(key, init.body ?? new Uint8Array()) });
  };
  return { state, fetch };
}

const challengeBytes = (redemptionContext = new Uint8Array(), tokenType = 1): Uint8Array => encodeTokenChallenge({ tokenType, issuerName: 'issuer.test', redemptionContext, originInfo: ['gateway.test'] });
const wwwAuthenticate = (key: type1.IssuerKey, challenge = challengeBytes(), maxAge?: number): string => buildWwwAuthenticate([{ challenge, tokenKey: key.publicKeyBytes, ...(maxAge === undefined ? {} : { maxAge }) }]);
const tokenOf = (authorization: string | undefined): Uint8Array => parseAuthorization(authorization ?? assert.fail('no Authorization'));

describe('PrivacyPassClient', () => {
  it('answers a challenge with a token the issuer key verifies, sending the bearer credential', async () => {
    const issuer = fakeIssuer();
    const client = new PrivacyPassClient({ issuer: ISSUER, credential: 'secret', fetch: issuer.fetch });
    const token = await type1.verifyToken(keyA, tokenOf(await client.authorizationFor(wwwAuthenticate(keyA), 'gw')));
    assert.deepEqual(token.tokenKeyId, keyA.tokenKeyId);
    assert.deepEqual(issuer.state.credentials, ['Bearer secret']);
  });

  it('takes the credential from a function at each request, and sends none without one', async () => {
    let n = 0;
    const issuer = fakeIssuer();
    await new PrivacyPassClient({ issuer: ISSUER, credential: () => Promise.resolve(`renewed-${++n}`), fetch: issuer.fetch }).authorizationFor(wwwAuthenticate(keyA), 'gw');
    await new PrivacyPassClient({ issuer: ISSUER, fetch: issuer.fetch }).authorizationFor(wwwAuthenticate(keyA), 'gw');
    assert.deepEqual(issuer.state.credentials, ['Bearer renewed-1', undefined]);
  });

  it('gives undefined for a WWW-Authenticate without a PrivateToken challenge, and before any challenge', async () => {
    const client = new PrivacyPassClient({ issuer: ISSUER, fetch: fakeIssuer().fetch });
    assert.equal(await client.authorizationFor('Basic realm="x"', 'gw'), undefined);
    assert.equal(await client.authorization('gw'), undefined);
  });

  it('refuses a challenge for a key the directory does not list, after fetching the directory again: PRIVACY_PASS_KEY_INCONSISTENT naming it', async () => {
    const issuer = fakeIssuer({ listed: [keyA], cacheControl: 'max-age=600' });
    const client = new PrivacyPassClient({ issuer: ISSUER, fetch: issuer.fetch });
    const id = toBase64Url(await tokenKeyId(keyB.publicKeyBytes));
    await assert.rejects(client.authorizationFor(wwwAuthenticate(keyB), 'gw'), (e: Error & { code?: string; actual?: string }) => e.code === 'PRIVACY_PASS_KEY_INCONSISTENT' && e.message.includes(id) && e.actual === id);
    assert.deepEqual([issuer.state.gets, issuer.state.posts], [2, 0]);
    assert.equal(issuer.state.lastGet?.headers['cache-control'], 'no-cache', 'the second fetch goes past caches');
  });

  it('accepts a key the issuer added since its directory was fetched (fetched again once)', async () => {
    const issuer = fakeIssuer({ listed: [keyA], cacheControl: 'max-age=600' });
    const client = new PrivacyPassClient({ issuer: ISSUER, fetch: issuer.fetch });
    await client.authorizationFor(wwwAuthenticate(keyA), 'gw');
    issuer.state.listed = [keyA, keyB];
    await type1.verifyToken(keyB, tokenOf(await client.authorizationFor(wwwAuthenticate(keyB), 'gw')));
    assert.equal(issuer.state.gets, 2);
  });

  it('refuses challenges of token types it does not obtain: PRIVACY_PASS_NO_USABLE_CHALLENGE', async () => {
    const client = new PrivacyPassClient({ issuer: ISSUER, fetch: fakeIssuer().fetch });
    const other = buildWwwAuthenticate([{ challenge: challengeBytes(undefined, 0x7777), tokenKey: new Uint8Array([1]) }]);
    await assert.rejects(client.authorizationFor(other, 'gw'), { code: 'PRIVACY_PASS_NO_USABLE_CHALLENGE', message: /token type 0x7777; this client obtains 0x0002, 0x0001/ });
    const only2 = new PrivacyPassClient({ issuer: ISSUER, fetch: fakeIssuer().fetch, tokenTypes: [2] });
    await assert.rejects(only2.authorizationFor(wwwAuthenticate(keyA), 'gw'), { code: 'PRIVACY_PASS_NO_USABLE_CHALLENGE' });
  });

  it('obtains a batch for a challenge without redemption context, keeps the rest and spends each once; one token for a context-bound challenge', async () => {
    const issuer = fakeIssuer();
    const store = new MemoryTokenStore();
    const client = new PrivacyPassClient({ issuer: ISSUER, fetch: issuer.fetch, batch: 3, store });
    const sent = [await client.authorizationFor(wwwAuthenticate(keyA), 'gw'), await client.authorization('gw'), await client.authorization('gw')];
    assert.equal(issuer.state.posts, 3);
    assert.equal(new Set(sent).size, 3);
    await client.authorization('gw');
    assert.equal(issuer.state.posts, 6, 'the store was empty: a new batch');
    const bound = challengeBytes(new Uint8Array(32).fill(7));
    await client.authorizationFor(wwwAuthenticate(keyA, bound), 'session');
    assert.equal(issuer.state.posts, 7);
  });

  it('keeps the tokens a batch got when some of its requests fail, and throws the failure when all do', async () => {
    const issuer = fakeIssuer({ answer: (n) => (n === 2 || n >= 4 ? { status: 429, headers: { 'retry-after': '7', 'content-type': 'application/problem+json' }, body: '{"code":"RATE_LIMITED"}' } : undefined) });
    const client = new PrivacyPassClient({ issuer: ISSUER, fetch: issuer.fetch, batch: 3 });
    assert.ok(await client.authorizationFor(wwwAuthenticate(keyA), 'gw'));
    assert.ok(await client.authorization('gw'), 'the second token of the batch');
    await assert.rejects(client.authorization('gw'), (e: unknown) => e instanceof IssuerError && e.code === 'PRIVACY_PASS_ISSUER_RATE_LIMITED' && e.status === 429 && e.problem === 'RATE_LIMITED' && e.retryAfterSeconds === 7);
  });

  it('forgets a challenge after its max-age, and when the issuer no longer knows its key', async () => {
    let now = 1_000_000;
    const issuer = fakeIssuer({ answer: (n) => (n === 3 ? { status: 400, headers: { 'content-type': 'application/problem+json' }, body: '{"code":"TOKEN_KEY_UNKNOWN"}' } : undefined) });
    const client = new PrivacyPassClient({ issuer: ISSUER, fetch: issuer.fetch, now: () => now });
    await client.authorizationFor(wwwAuthenticate(keyA, undefined, 60), 'gw');
    now += 60_000;
    assert.equal(await client.authorization('gw'), undefined, 'past the max-age');
    await client.authorizationFor(wwwAuthenticate(keyA), 'gw');
    assert.equal(issuer.state.posts, 2);
    assert.equal(await client.authorization('gw'), undefined, 'TOKEN_KEY_UNKNOWN: the next 401 brings the current key');
    assert.equal(await client.authorization('gw'), undefined);
  });

  it('keeps challenges apart by scope', async () => {
    const client = new PrivacyPassClient({ issuer: ISSUER, fetch: fakeIssuer().fetch });
    await client.authorizationFor(wwwAuthenticate(keyA), 'one');
    assert.equal(await client.authorization('two'), undefined);
  });

  it('refuses a batch outside 1..100 and a token type it cannot obtain', () => {
    for (const batch of [0, 101, 1.5]) assert.throws(() => new PrivacyPassClient({ issuer: ISSUER, batch }), { code: 'MALFORMED_POLICY' });
    assert.throws(() => new PrivacyPassClient({ issuer: ISSUER, tokenTypes: [3] }), { code: 'MALFORMED_POLICY', message: /0x0003/ });
  });
});

describe('IssuerClient', () => {
  it('keeps the directory for its max-age, on the injected clock; no max-age, no-store: fetched each time', async () => {
    let now = 5_000_000;
    const cached = fakeIssuer({ cacheControl: 'public, max-age=300' });
    const client = new IssuerClient({ issuer: ISSUER, fetch: cached.fetch, now: () => now });
    await Promise.all([client.directory(), client.directory()]);
    now += 299_999;
    await client.directory();
    assert.equal(cached.state.gets, 1);
    now += 1;
    await client.directory();
    assert.equal(cached.state.gets, 2);
    await client.directory(true);
    assert.equal(cached.state.gets, 3);
    for (const cacheControl of [undefined, 'no-store, max-age=300']) {
      const uncached = fakeIssuer(cacheControl === undefined ? {} : { cacheControl });
      const c = new IssuerClient({ issuer: ISSUER, fetch: uncached.fetch, now: () => now });
      await c.directory();
      await c.directory();
      assert.equal(uncached.state.gets, 2, String(cacheControl));
    }
  });

  it('resolves issuer-request-uri against the directory URL, and refuses a directory without one', async () => {
    const seen: string[] = [];
    const absolute = fakeIssuer({ requestUri: `${ISSUER}/token-request` });
    await new IssuerClient({ issuer: `${ISSUER}/.well-known/private-token-issuer-directory`, fetch: (url, init) => (seen.push(url), absolute.fetch(url, init)) }).requestToken(new Uint8Array(52)).catch(() => undefined);
    assert.ok(seen.includes(`${ISSUER}/token-request`));
    const none = new IssuerClient({ issuer: ISSUER, fetch: fakeIssuer({ requestUri: null }).fetch });
    await assert.rejects(none.requestToken(new Uint8Array(1)), { code: 'PRIVACY_PASS_ISSUER_FAILED', message: /has no issuer-request-uri/ });
  });

  it('maps the issuer answers to IssuerErrors with the status and problem code, never the credential', async () => {
    const problem = (status: number, code: string, headers: Record<string, string> = {}): Answer => ({ status, headers: { 'content-type': 'application/problem+json', ...headers }, body: JSON.stringify({ code }) });
    const cases: [Answer, string, number, string | undefined, number | undefined][] = [
      [problem(401, 'ISSUANCE_UNAUTHORIZED', { 'www-authenticate': 'Bearer' }), 'PRIVACY_PASS_ISSUER_UNAUTHORIZED', 401, 'ISSUANCE_UNAUTHORIZED', undefined],
      [problem(429, 'RATE_LIMITED', { 'retry-after': '30' }), 'PRIVACY_PASS_ISSUER_RATE_LIMITED', 429, 'RATE_LIMITED', 30],
      [problem(400, 'TOKEN_KEY_UNKNOWN'), 'PRIVACY_PASS_ISSUER_FAILED', 400, 'TOKEN_KEY_UNKNOWN', undefined],
      [{ status: 502, body: 'bad gateway' }, 'PRIVACY_PASS_ISSUER_FAILED', 502, undefined, undefined],
      [{ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>' }, 'PRIVACY_PASS_ISSUER_FAILED', 200, undefined, undefined],
    ];
    for (const [answer, code, status, problemCode, wait] of cases) {
      const client = new IssuerClient({ issuer: ISSUER, credential: 'top-secret', fetch: fakeIssuer({ answer: () => answer }).fetch });
      await assert.rejects(client.requestToken(new Uint8Array(52)), (e: unknown) => {
        assert.ok(e instanceof IssuerError);
        assert.deepEqual([e.code, e.status, e.problem, e.retryAfterSeconds], [code, status, problemCode, wait]);
        assert.equal(e.actual, `${status}${problemCode === undefined ? '' : ` ${problemCode}`}`);
        assert.ok(!e.message.includes('top-secret'));
        return true;
      });
    }
  });

  it('says when the issuer gives no answer, or a directory that is not JSON (PRIVACY_PASS_ISSUER_FAILED), or not a directory (MALFORMED_PRIVACY_PASS)', async () => {
    const down: FetchLike = () => Promise.reject(new TypeError('fetch failed'));
    await assert.rejects(fetchIssuerDirectory(`${ISSUER}/d`, { fetch: down }), (e: unknown) => e instanceof IssuerError && e.status === undefined && /got no answer: fetch failed/.test(e.message) && e.cause instanceof TypeError);
    const slow: FetchLike = (_url, init) => new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => { reject(init.signal?.reason as Error); }));
    await assert.rejects(fetchIssuerDirectory(`${ISSUER}/d`, { fetch: slow, timeoutMs: 20 }), { code: 'PRIVACY_PASS_ISSUER_FAILED', message: /none within 20 ms/ });
    const body = (text: string, status = 200): FetchLike => () => Promise.resolve(new Response(text, { status }));
    await assert.rejects(fetchIssuerDirectory(`${ISSUER}/d`, { fetch: body('<html>') }), { code: 'PRIVACY_PASS_ISSUER_FAILED', message: /not JSON/ });
    await assert.rejects(fetchIssuerDirectory(`${ISSUER}/d`, { fetch: body('{"token-keys": 3}') }), { code: 'MALFORMED_PRIVACY_PASS', message: /token-keys/ });
    await assert.rejects(fetchIssuerDirectory(`${ISSUER}/d`, { fetch: body('gone', 404) }), { code: 'PRIVACY_PASS_ISSUER_FAILED', message: /answered 404/ });
  });

  it('abandons an endless or oversized directory or token response at its limit instead of reading it into memory', async () => {
    let sent = 0;
    const endless = (): Response =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            sent += 1 << 16;
            c.enqueue(new Uint8Array(1 << 16).fill(0x20));
          },
        }),
        { status: 200, headers: { 'content-type': 'application/private-token-issuer-directory' } },
      );
    await assert.rejects(fetchIssuerDirectory(`${ISSUER}/d`, { fetch: () => Promise.resolve(endless()) }), (e: unknown) => e instanceof IssuerError && e.code === 'PRIVACY_PASS_ISSUER_FAILED' && e.status === 200 && /answered 200 with more than 1048576 bytes$/.test(e.message));
    assert.ok(sent < 2 * 1024 * 1024, `read ${sent} bytes of an endless directory`);
    const declared: FetchLike = () => Promise.resolve(new Response('{}', { status: 200, headers: { 'content-length': String(1 << 30) } }));
    await assert.rejects(fetchIssuerDirectory(`${ISSUER}/d`, { fetch: declared }), { code: 'PRIVACY_PASS_ISSUER_FAILED', message: /with more than 1048576 bytes$/ });
    const big = new IssuerClient({ issuer: ISSUER, credential: 'top-secret', fetch: fakeIssuer({ answer: () => ({ status: 200, headers: { 'content-type': 'application/private-token-response' }, body: new Uint8Array(65537) }) }).fetch });
    await assert.rejects(big.requestToken(new Uint8Array(52)), (e: unknown) => e instanceof IssuerError && e.status === 200 && /token-request answered 200 with more than 65536 bytes$/.test(e.message) && !e.message.includes('top-secret'));
  });

  it('reads Retry-After as seconds or an HTTP-date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryAfterSeconds('120', now), 120);
    assert.equal(retryAfterSeconds('Thu, 01 Jan 2026 00:01:30 GMT', now), 90);
    assert.equal(retryAfterSeconds('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    assert.equal(retryAfterSeconds('soon', now), undefined);
    assert.equal(retryAfterSeconds(null, now), undefined);
  });
});
