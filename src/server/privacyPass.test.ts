// Privacy Pass redemption wired into the server: the issuer directory fetched at boot (an injected fetch), the
// encapsulated 401 and its challenge, a real token served by POST /v1/echo, a replay refused; a directory that
// cannot be fetched stops the boot with ISSUER_DIRECTORY_UNAVAILABLE.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { toBase64Url } from '../../attestation/bytes.js';
import { decodeResponse, encodeRequest } from '../../attestation/protocols/bhttp.js';
import { encapsulateRequest } from '../../attestation/protocols/ohttp/encapsulation.js';
import { OHTTP_GATEWAY_PATH, OHTTP_REQUEST_MEDIA_TYPE } from '../../attestation/protocols/ohttp/paths.js';
import { buildAuthorization, encodeToken, parseWwwAuthenticate } from '../../attestation/protocols/index.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { mintToken, newIssuerKey } from '../testing/privacyPassGateway.js';
import { createServer, type CloisterServer } from './createServer.js';
import { issuerDirectoryUrl } from '../../attestation/protocols/privacypass/issuerDirectory.js';
import { openPrivacyPass } from './privacyPass.js';
import type { IssuerKey } from '../privacypass/blindSign.js';
import { createLogger } from '../base/log.js';

process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-privacy-pass-'));

const quiet = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});

async function echo(server: CloisterServer, headers: [string, string][]): Promise<{ status: number; headers: [string, string][]; content: string }> {
  const key = server.keyStore.keys[0];
  assert.ok(key !== undefined);
  const message = encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/echo', headers, content: new TextEncoder().encode('hello'), trailers: [] });
  const request = await encapsulateRequest(key.config, message, { primitives: nodeHpke });
  const r = await server.app.inject({ method: 'POST', url: OHTTP_GATEWAY_PATH, headers: { 'content-type': OHTTP_REQUEST_MEDIA_TYPE }, payload: Buffer.from(request.bytes) });
  assert.equal(r.statusCode, 200, 'the relay sees a 200 whatever the inner answer');
  assert.equal(r.headers['www-authenticate'], undefined, 'nothing of the token exchange is outside the encapsulation');
  const inner = decodeResponse(await request.opener.open(new Uint8Array(r.rawPayload)));
  return { status: inner.status, headers: inner.headers.map(([n, v]) => [n, v]), content: new TextDecoder().decode(inner.content) };
}

describe('the server with Privacy Pass', () => {
  it('fetches the issuer directory at boot, challenges inside the encapsulation, serves a valid token once', async () => {
    const key = await newIssuerKey();
    const asked: string[] = [];
    const fetcher = (url: string): Promise<Response> => {
      asked.push(url);
      return Promise.resolve(Response.json({ 'issuer-request-uri': '/token-request', 'token-keys': [{ 'token-type': 2, 'token-key': toBase64Url(key.tokenKey), 'not-before': Math.floor(Date.now() / 1000) - 60 }] }, { headers: { 'cache-control': 'max-age=600' } }));
    };
    const server = await createServer({
      tee: { kind: 'simulated', platform: 'sev-snp' },
      tls: false,
      models: null,
      logDestination: quiet,
      privacyPass: { issuerName: 'issuer.test', originInfo: ['cloister.test'], directory: { kind: 'issuer', url: 'https://issuer.test', fetch: fetcher } },
    });
    try {
      assert.deepEqual(asked, ['https://issuer.test/.well-known/private-token-issuer-directory']);
      const refused = await echo(server, []);
      assert.equal(refused.status, 401);
      assert.equal((JSON.parse(refused.content) as { code: string }).code, 'PRIVACY_PASS_REQUIRED');
      const [challenge] = parseWwwAuthenticate(refused.headers.find(([n]) => n === 'www-authenticate')?.[1] ?? '');
      assert.ok(challenge);
      assert.deepEqual(challenge.tokenChallenge.originInfo, ['cloister.test']);
      const authorization: [string, string] = ['authorization', buildAuthorization(encodeToken(await mintToken(key, challenge.challenge)))];
      assert.deepEqual(await echo(server, [authorization]).then((r) => [r.status, r.content]), [200, 'hello']);
      const replay = await echo(server, [authorization]);
      assert.deepEqual([replay.status, (JSON.parse(replay.content) as { code: string }).code], [401, 'PRIVACY_PASS_REPLAYED']);
    } finally {
      await server.close();
    }
  });

  it('does not start when the issuer directory cannot be fetched', async () => {
    const failing = (): Promise<Response> => Promise.resolve(new Response('no', { status: 503 }));
    await assert.rejects(
      createServer({ tee: { kind: 'simulated', platform: 'sev-snp' }, tls: false, models: null, logDestination: quiet, privacyPass: { issuerName: 'i', directory: { kind: 'issuer', url: 'https://issuer.test/dir', fetch: failing } } }),
      { code: 'ISSUER_DIRECTORY_UNAVAILABLE' },
    );
  });

  it('fetches the directory again at its max-age; a failed refresh keeps the keys held and retries after 60 s', async () => {
    const [first, second] = [await newIssuerKey(), await newIssuerKey()];
    const entry = (k: IssuerKey): object => ({ 'token-type': 2, 'token-key': toBase64Url(k.tokenKey), 'not-before': Math.floor(Date.now() / 1000) - 60 });
    const answers: (() => Response)[] = [() => Response.json({ 'token-keys': [entry(first)] }, { headers: { 'cache-control': 'public, max-age=120' } }), () => new Response('down', { status: 500 }), () => Response.json({ 'token-keys': [entry(second)] })];
    const timers: { fn: () => void; ms: number }[] = [];
    const gate = await openPrivacyPass(
      {
        issuerName: 'issuer.test',
        directory: { kind: 'issuer', url: 'https://issuer.test', fetch: () => Promise.resolve((answers.shift() ?? (() => new Response('gone', { status: 404 })))()) },
        setTimer: (fn, ms) => {
          timers.push({ fn, ms });
          return { clear: () => undefined };
        },
      },
      createLogger({ simulated: true, platform: 'sev-snp', level: 'silent' }),
    );
    const fire = async (): Promise<number> => {
      const t = timers.shift();
      assert.ok(t);
      t.fn();
      await new Promise((r) => setTimeout(r, 50));
      return t.ms;
    };
    try {
      assert.deepEqual(gate.redeemer.keyIds, [toBase64Url(first.tokenKeyId)]);
      assert.equal(await fire(), 120_000);
      assert.deepEqual(gate.redeemer.keyIds, [toBase64Url(first.tokenKeyId)], 'a failed refresh keeps the keys');
      assert.equal(await fire(), 60_000);
      assert.deepEqual(gate.redeemer.keyIds, [toBase64Url(second.tokenKeyId)]);
      assert.equal(timers[0]?.ms, 3_600_000, 'no Cache-Control: the default max-age');
    } finally {
      await gate.close();
    }
  });

  it('adds the well-known path to an issuer origin, and keeps a full URL', () => {
    assert.equal(issuerDirectoryUrl('https://issuer.test'), 'https://issuer.test/.well-known/private-token-issuer-directory');
    assert.equal(issuerDirectoryUrl('https://issuer.test/custom/dir'), 'https://issuer.test/custom/dir');
  });
});
