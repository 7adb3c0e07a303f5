// Cloudflare's client (@cloudflare/privacypass-ts, a dev dependency) against our issuer over HTTP, for token types
// 0x0002 and 0x0001: it reads our directory as its IssuerConfig, sends its TokenRequest with its own
// sendTokenRequest (plus our bearer credential), and the token it finalizes verifies with its Origin and with ours.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { privateVerif, publicVerif, sendTokenRequest, type IssuerConfig } from '@cloudflare/privacypass-ts';
import { parseBase64Url } from '../../../attestation/bytes.js';
import { decodeToken, verifyToken } from '../../../attestation/protocols/index.js';
import { verifyVoprfToken, voprfIssuerKey } from '../voprfKey.js';
import { AccountsAuthorizer, parseAccounts } from './authorizer.js';
import { DIRECTORY_PATH } from './directory.js';
import { createIssuerLogger } from './issuerLog.js';
import { KeyRing } from './keyRing.js';
import { startIssuer } from './server.js';
import { ISSUER_TOKEN_TYPES } from './tokenTypes.js';

const { BlindRSAMode, Client, Origin, TokenResponse, convertRSASSAPSSToEnc } = publicVerif;

/**
 * Runs an issuer with one new key of `tokenType` (its PEM given to `use`), and gives `use` the directory's entry
 * for it, a function that sends a TokenRequest the way Cloudflare's client does (as carol, who may have tokens),
 * and the same without a credential.
 */
async function withIssuer(tokenType: 1 | 2, use: (c: { pem: string; tokenKey: Uint8Array; send: (request: Uint8Array) => Promise<Uint8Array>; sendAnonymously: (request: Uint8Array) => Promise<Uint8Array> }) => Promise<void>): Promise<void> {
  const type = ISSUER_TOKEN_TYPES[tokenType];
  assert.ok(type);
  const pem = type.generate();
  const key = await type.load(createPrivateKey(pem));
  const accounts = parseAccounts(JSON.stringify({ accounts: [{ id: 'carol', 'token-sha256': createHash('sha256').update('carol-secret').digest('hex') }] }));
  const quiet = new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });
  const issuer = await startIssuer({ keys: KeyRing.fixed([{ key, notBefore: 1_700_000_000 }]), authorizer: new AccountsAuthorizer(accounts, { tokens: 10, periodSeconds: 60 }), logger: createIssuerLogger({ destination: quiet }), port: 0 });
  try {
    const directoryUrl = issuer.url + DIRECTORY_PATH;
    const config = (await (await fetch(directoryUrl)).json()) as IssuerConfig;
    const entry = config['token-keys'].find((k) => k['token-type'] === tokenType);
    assert.ok(entry);
    const tokenKey = parseBase64Url(entry['token-key']);
    assert.ok(tokenKey);
    const requestUrl = new URL(config['issuer-request-uri'], directoryUrl);
    await use({ pem, tokenKey, send: (request) => sendTokenRequest(request, requestUrl, new Headers({ authorization: 'Bearer carol-secret' })), sendAnonymously: (request) => sendTokenRequest(request, requestUrl) });
  } finally {
    await issuer.close();
  }
}

describe('interop: @cloudflare/privacypass-ts client against cloister issuer over HTTP', () => {
  it('type 0x0002: reads the directory, obtains a token with sendTokenRequest, and the token verifies on both sides', async () => {
    await withIssuer(2, async ({ tokenKey, send, sendAnonymously }) => {
      const origin = new Origin(BlindRSAMode.PSS, ['origin.example']);
      const challenge = origin.createTokenChallenge('issuer.example', crypto.getRandomValues(new Uint8Array(32)));
      const client = new Client(BlindRSAMode.PSS);
      const request = await client.createTokenRequest(challenge, tokenKey);
      const token = await client.finalize(TokenResponse.deserialize(await send(request.serialize())));
      await verifyToken(decodeToken(token.serialize()), tokenKey, challenge.serialize());
      const publicKey = await crypto.subtle.importKey('spki', convertRSASSAPSSToEnc(tokenKey) as Uint8Array<ArrayBuffer>, { name: 'RSA-PSS', hash: 'SHA-384' }, true, ['verify']);
      assert.equal(await origin.verify(token, publicKey), true);
      await assert.rejects(sendAnonymously(request.serialize()), /code:401/);
    });
  });

  it('type 0x0001: reads the directory\'s compressed point, obtains a token (its DLEQ proof checks), and the token verifies on both sides', async () => {
    await withIssuer(1, async ({ pem, tokenKey, send }) => {
      const origin = new privateVerif.Origin(['origin.example']);
      const challenge = origin.createTokenChallenge('issuer.example', crypto.getRandomValues(new Uint8Array(32)));
      const client = new privateVerif.Client();
      const request = await client.createTokenRequest(challenge, tokenKey);
      const token = await client.finalize(privateVerif.TokenResponse.deserialize(await send(request.serialize())));
      await verifyVoprfToken(await voprfIssuerKey(createPrivateKey(pem)), decodeToken(token.serialize()));
      const d = parseBase64Url(createPrivateKey(pem).export({ format: 'jwk' }).d ?? '');
      assert.ok(d);
      assert.equal(await origin.verify(token, d), true);
    });
  });
});
