// Cloudflare's client (@cloudflare/privacypass-ts, a dev dependency) against our issuer over HTTP: it reads our
// directory as its IssuerConfig, sends its TokenRequest with its own sendTokenRequest (plus our bearer credential),
// and the token it finalizes verifies with its Origin and with our verifyToken.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { publicVerif, sendTokenRequest, type IssuerConfig } from '@cloudflare/privacypass-ts';
import { parseBase64Url } from '../../../attestation/bytes.js';
import { decodeToken, verifyToken } from '../../../attestation/protocols/index.js';
import { AccountsAuthorizer, parseAccounts } from './authorizer.js';
import { DIRECTORY_PATH } from './directory.js';
import { createIssuerLogger } from './issuerLog.js';
import { KeyRing } from './keyRing.js';
import { startIssuer } from './server.js';
import { ISSUER_TOKEN_TYPES } from './tokenTypes.js';

const { BlindRSAMode, Client, Origin, TokenResponse, convertRSASSAPSSToEnc } = publicVerif;

describe('interop: @cloudflare/privacypass-ts client against cloister issuer over HTTP', () => {
  it('reads the directory, obtains a token with sendTokenRequest, and the token verifies on both sides', async () => {
    const type = ISSUER_TOKEN_TYPES[2];
    assert.ok(type);
    const key = await type.load(createPrivateKey(type.generate()));
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
      const entry = config['token-keys'].find((k) => k['token-type'] === 2);
      assert.ok(entry);
      const tokenKey = parseBase64Url(entry['token-key']);
      assert.ok(tokenKey);
      const origin = new Origin(BlindRSAMode.PSS, ['origin.example']);
      const challenge = origin.createTokenChallenge('issuer.example', crypto.getRandomValues(new Uint8Array(32)));
      const client = new Client(BlindRSAMode.PSS);
      const request = await client.createTokenRequest(challenge, tokenKey);
      const requestUrl = new URL(config['issuer-request-uri'], directoryUrl);
      const response = await sendTokenRequest(request.serialize(), requestUrl, new Headers({ authorization: 'Bearer carol-secret' }));
      const token = await client.finalize(TokenResponse.deserialize(response));
      await verifyToken(decodeToken(token.serialize()), tokenKey, challenge.serialize());
      const publicKey = await crypto.subtle.importKey('spki', convertRSASSAPSSToEnc(tokenKey) as Uint8Array<ArrayBuffer>, { name: 'RSA-PSS', hash: 'SHA-384' }, true, ['verify']);
      assert.equal(await origin.verify(token, publicKey), true);
      await assert.rejects(sendTokenRequest(request.serialize(), requestUrl), /code:401/);
    } finally {
      await issuer.close();
    }
  });
});
