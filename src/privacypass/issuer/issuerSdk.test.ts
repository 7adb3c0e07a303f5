// The SDK's issuer client (attestation/client/privacyPass) against the real issuer over HTTP: its directory and
// max-age, a type 0x0002 token for a challenge that verifies, and the issuer's 401 and 429 as typed IssuerErrors.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { IssuerClient, IssuerError } from '../../../attestation/client/privacyPass/issuerClient.js';
import { PrivacyPassClient } from '../../../attestation/client/privacyPass/privacyPassClient.js';
import { buildWwwAuthenticate, decodeToken, encodeTokenChallenge, parseAuthorization, verifyToken } from '../../../attestation/protocols/index.js';
import { AccountsAuthorizer, parseAccounts } from './authorizer.js';
import { createIssuerLogger } from './issuerLog.js';
import { KeyRing } from './keyRing.js';
import { startIssuer, type RunningIssuer } from './server.js';
import { ISSUER_TOKEN_TYPES, type IssuerTokenType } from './tokenTypes.js';

const quiet = new Writable({
  write(_chunk, _enc, done) {
    done();
  },
});
const ACCOUNTS = parseAccounts(JSON.stringify({ accounts: [{ id: 'alice', 'token-sha256': createHash('sha256').update('alice-secret').digest('hex') }] }));
const challenge = encodeTokenChallenge({ tokenType: 2, issuerName: 'issuer.test', redemptionContext: new Uint8Array(), originInfo: [] });

describe('the SDK against the issuer', () => {
  let issuer: RunningIssuer;
  let tokenKey: Uint8Array;
  let ms = 0;
  before(async () => {
    const type2 = ISSUER_TOKEN_TYPES[2] as IssuerTokenType;
    const key = await type2.load(createPrivateKey(type2.generate()));
    tokenKey = key.tokenKey;
    // Two tokens a minute, on a clock the test moves.
    const authorizer = new AccountsAuthorizer(ACCOUNTS, { tokens: 2, periodSeconds: 60 }, () => ms);
    issuer = await startIssuer({ keys: KeyRing.fixed([{ key, notBefore: 1_700_000_000 }]), authorizer, logger: createIssuerLogger({ destination: quiet }), port: 0 });
  });
  after(() => issuer.close());

  it('reads the directory, its request URI and its max-age', async () => {
    const fetched = await new IssuerClient({ issuer: issuer.url }).directory();
    assert.equal(fetched.url, `${issuer.url}/.well-known/private-token-issuer-directory`);
    assert.equal(fetched.maxAgeSeconds, 3600);
    assert.equal(fetched.directory.requestUri, '/token-request');
    assert.deepEqual(fetched.directory.tokenKeys.map((k) => [k.tokenType, k.notBefore, Buffer.from(k.tokenKey).equals(tokenKey)]), [[2, 1_700_000_000, true]]);
  });

  it('obtains a token for a challenge that verifies with the issuer key and answers that challenge', async () => {
    const client = new PrivacyPassClient({ issuer: issuer.url, credential: 'alice-secret' });
    const authorization = await client.authorizationFor(buildWwwAuthenticate([{ challenge, tokenKey }]), 'gateway');
    await verifyToken(decodeToken(parseAuthorization(authorization ?? '')), tokenKey, challenge);
  });

  it('maps a refused credential to PRIVACY_PASS_ISSUER_UNAUTHORIZED (401 ISSUANCE_UNAUTHORIZED), without a credential too', async () => {
    for (const credential of ['wrong-secret', undefined]) {
      const client = new PrivacyPassClient({ issuer: issuer.url, ...(credential === undefined ? {} : { credential }) });
      await assert.rejects(client.authorizationFor(buildWwwAuthenticate([{ challenge, tokenKey }]), 'gateway'), (e: unknown) => {
        assert.ok(e instanceof IssuerError);
        assert.deepEqual([e.code, e.status, e.problem], ['PRIVACY_PASS_ISSUER_UNAUTHORIZED', 401, 'ISSUANCE_UNAUTHORIZED']);
        assert.ok(!e.message.includes('wrong-secret'));
        return true;
      });
    }
  });

  it('maps the rate limit to PRIVACY_PASS_ISSUER_RATE_LIMITED with the Retry-After seconds', async () => {
    ms = 60_000;
    const client = new PrivacyPassClient({ issuer: issuer.url, credential: 'alice-secret', batch: 3 });
    // A batch of three against a bucket of two: two tokens, and the third request refused.
    assert.ok(await client.authorizationFor(buildWwwAuthenticate([{ challenge, tokenKey }]), 'gateway'));
    assert.ok(await client.authorization('gateway'));
    await assert.rejects(client.authorization('gateway'), (e: unknown) => {
      assert.ok(e instanceof IssuerError);
      assert.deepEqual([e.code, e.status, e.problem, e.retryAfterSeconds], ['PRIVACY_PASS_ISSUER_RATE_LIMITED', 429, 'RATE_LIMITED', 30]);
      assert.match(e.message, /retry in 30 s/);
      return true;
    });
  });
});
