// The Privacy Pass benchmark's baselines are faithful ones: the raw private-key operation is the signature our issuer
// answers with, the raw verify accepts exactly the authenticators that redemption accepts, and the token pool is
// distinct tokens that a fresh Redeemer redeems once each.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { it } from 'node:test';
import { createTokenRequest, encodeTokenChallenge, encodeTokenRequest } from '../attestation/protocols/index.js';
import { issuerKey, issueTokenResponse } from '../src/privacypass/index.js';
import { freshRedeemer, rawPssVerify, rawRsaSign, tokenPool } from './privacyPassType2.js';

const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const key = await issuerKey(privateKey);

it('raw RSASP1 gives the blind signature issueTokenResponse answers', async () => {
  const { request } = await createTokenRequest(encodeTokenChallenge({ tokenType: 2, issuerName: 'issuer.test', redemptionContext: new Uint8Array(), originInfo: [] }), key.tokenKey);
  assert.deepEqual(new Uint8Array(rawRsaSign(privateKey)(request.blindedMsg)), await issueTokenResponse(key, encodeTokenRequest(request)));
});

it('the pool holds distinct tokens, each redeemed once by a fresh Redeemer, and the raw verify accepts each and no altered one', async () => {
  const pool = await tokenPool(key, 3);
  assert.equal(new Set(pool.map((t) => t.authorization)).size, 3);
  const redeemer = await freshRedeemer(key);
  const verify = rawPssVerify(privateKey);
  for (const t of pool) {
    assert.deepEqual(await redeemer.redeem([t.authorization]), { ok: true });
    assert.equal((await redeemer.redeem([t.authorization])).ok, false, 'a replay');
    assert.equal(verify(t.input, t.authenticator), true);
    const altered = t.authenticator.slice();
    altered[9] = (altered[9] as number) ^ 1;
    assert.equal(verify(t.input, altered), false);
  }
});
