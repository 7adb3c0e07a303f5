// Privacy Pass redemption wired into the server: the issuer directory fetched at boot (an injected fetch), the
// encapsulated 401 and its challenge, a real token served by POST /v1/echo, a replay refused; a directory that
// cannot be fetched stops the boot with ISSUER_DIRECTORY_UNAVAILABLE. Type 0x0001 with the issuer's private key:
// a token served, keys without theirs skipped with a log line, keys that cannot work together refused at boot, and
// the private key never logged.
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
import { mintToken, mintVoprfToken, newIssuerKey, newVoprfKey } from '../testing/privacyPassGateway.js';
import { createServer, type CloisterServer } from './createServer.js';
import { issuerDirectoryUrl } from '../../attestation/protocols/privacypass/issuerDirectory.js';
import { openPrivacyPass } from './privacyPass.js';
import type { IssuerKey } from '../privacypass/blindSign.js';
import { createLogger } from '../base/log.js';
import type { VoprfIssuerKey } from '../privacypass/voprfKey.js';

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

  describe('token type 0x0001 with the issuer\'s private key', () => {
    const entry = (tokenType: number, tokenKey: Uint8Array): object => ({ 'token-type': tokenType, 'token-key': toBase64Url(tokenKey), 'not-before': Math.floor(Date.now() / 1000) - 60 });
    const logged = (): { stream: Writable; text: () => string } => {
      let text = '';
      return {
        stream: new Writable({
          write(chunk: Buffer, _encoding, done) {
            text += chunk.toString();
            done();
          },
        }),
        text: () => text,
      };
    };
    const boot = (keys: object[], privateKeys: readonly VoprfIssuerKey[], logDestination: Writable = quiet): Promise<CloisterServer> =>
      createServer({
        tee: { kind: 'simulated', platform: 'sev-snp' },
        tls: false,
        models: null,
        logDestination,
        privacyPass: { issuerName: 'issuer.test', directory: { kind: 'issuer', url: 'https://issuer.test', fetch: () => Promise.resolve(Response.json({ 'token-keys': keys })) }, privateKeys },
      });

    it('serves a type 1 token once, logs the skipped key of another private key by its public ID, and never the private key', async () => {
      const [key, unheld, rsa] = [await newVoprfKey(), await newVoprfKey(), await newIssuerKey()];
      const log = logged();
      const server = await boot([entry(2, rsa.tokenKey), entry(1, key.publicKeyBytes), entry(1, unheld.publicKeyBytes)], [key], log.stream);
      try {
        const refused = await echo(server, []);
        const challenge = parseWwwAuthenticate(refused.headers.find(([n]) => n === 'www-authenticate')?.[1] ?? '').find((c) => c.tokenChallenge.tokenType === 1);
        assert.ok(challenge);
        const authorization: [string, string] = ['authorization', buildAuthorization(encodeToken(await mintVoprfToken(key, challenge.challenge)))];
        assert.deepEqual(await echo(server, [authorization]).then((r) => [r.status, r.content]), [200, 'hello']);
        assert.equal((JSON.parse((await echo(server, [authorization])).content) as { code: string }).code, 'PRIVACY_PASS_REPLAYED');
      } finally {
        await server.close();
      }
      const lines = log.text().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      const skipped = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Privacy Pass issuer key skipped'));
      assert.deepEqual(skipped.map((l) => [l.tokenType, l.tokenKeyId]), [[1, toBase64Url(unheld.tokenKeyId)]]);
      assert.ok(lines.some((l) => Array.isArray(l.tokenKeyIds) && l.tokenKeyIds.includes(toBase64Url(key.tokenKeyId))));
      const secret = key.secretKey.toString(16).padStart(96, '0');
      for (const form of [secret, key.secretKey.toString(), toBase64Url(Buffer.from(secret, 'hex')), Buffer.from(secret, 'hex').toString('base64')]) assert.ok(!log.text().includes(form), form);
    });

    it('refuses to boot (USAGE) with private keys none of which is a type 1 key of the directory', async () => {
      const [key, other, rsa] = [await newVoprfKey(), await newVoprfKey(), await newIssuerKey()];
      for (const keys of [[entry(1, other.publicKeyBytes)], [entry(2, rsa.tokenKey)]]) {
        await assert.rejects(boot(keys, [key]), (e: Error & { code: string }) => e.code === 'USAGE' && e.message.includes(toBase64Url(key.tokenKeyId)) && /is a token type 0x0001 key of the issuer directory/.test(e.message));
      }
    });

    it('refuses to boot (USAGE) with a directory of type 1 keys only and no private key', async () => {
      const key = await newVoprfKey();
      await assert.rejects(boot([entry(1, key.publicKeyBytes)], []), (e: Error & { code: string }) => e.code === 'USAGE' && /--privacy-pass-private-key/.test(e.message));
    });
  });
});
