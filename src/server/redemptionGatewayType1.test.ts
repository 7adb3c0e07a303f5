// Privacy Pass redemption of token type 0x0001 (VOPRF P-384, privately verifiable) at the OHTTP gateway, with real
// tokens (our client, our issuer's evaluation) through real OHTTP encapsulation: the gateway holds the issuer's
// private key, offers type 1 challenges beside type 2 ones, serves a token once, and refuses tokens of another key,
// of a key whose private key it lacks, altered ones, and every type 1 token when it holds no private key at all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64Url } from '../../attestation/bytes.js';
import { buildAuthorization, encodeToken, encodeTokenChallenge, parseWwwAuthenticate, type Token } from '../../attestation/protocols/index.js';
import { challengeFor, fixture, header, mintToken, mintVoprfToken, newIssuerKey, newVoprfKey, type Fixture } from '../testing/privacyPassGateway.js';

const problemCode = (body: unknown): unknown => (body as { code?: unknown }).code;
const redeem = (f: Fixture, token: Token): ReturnType<Fixture['send']> => f.send([['authorization', buildAuthorization(encodeToken(token))]]);

describe('Privacy Pass redemption of token type 0x0001 at the OHTTP gateway', async () => {
  const [voprf, other, rsa] = await Promise.all([newVoprfKey(), newVoprfKey(), newIssuerKey()]);

  it('offers a type 1 challenge for its VOPRF key beside the type 2 one, bound to the same issuer and origin', async () => {
    const f = await fixture({ keys: [rsa], voprfKeys: [voprf] });
    const r = await f.send();
    assert.deepEqual([r.status, problemCode(r.body)], [401, 'PRIVACY_PASS_REQUIRED']);
    const challenges = parseWwwAuthenticate(header(r.headers, 'www-authenticate') ?? '');
    assert.deepEqual(challenges.map((c) => [c.tokenChallenge.tokenType, toBase64Url(c.tokenKey)]).sort(), [[1, toBase64Url(voprf.publicKeyBytes)], [2, toBase64Url(rsa.tokenKey)]].sort());
    for (const c of challenges) assert.deepEqual([c.tokenChallenge.issuerName, c.tokenChallenge.originInfo], ['issuer.cloister.test', ['gateway.cloister.test']]);
    assert.deepEqual(f.skipped, []);
  });

  it('serves a request with a valid type 1 token (the target runs), then refuses it again 401 PRIVACY_PASS_REPLAYED', async () => {
    const f = await fixture({ keys: [rsa], voprfKeys: [voprf] });
    const token = await mintVoprfToken(voprf, await challengeFor(f, voprf));
    const ok = await redeem(f, token);
    assert.deepEqual([ok.status, ok.body, f.ran.count], [200, 'ran', 1]);
    const again = await redeem(f, token);
    assert.deepEqual([again.status, problemCode(again.body)], [401, 'PRIVACY_PASS_REPLAYED']);
    // A type 2 token still redeems beside it.
    assert.equal((await redeem(f, await mintToken(rsa, await challengeFor(f, rsa)))).status, 200);
    assert.equal(f.ran.count, 2);
  });

  const refusals: readonly { name: string; code: string; token: (f: Fixture) => Promise<Token> }[] = [
    { name: 'a token of a VOPRF key the directory does not list', code: 'PRIVACY_PASS_UNKNOWN_KEY', token: async (f) => mintVoprfToken(other, await challengeFor(f, voprf)) },
    {
      name: 'a token whose authenticator was altered',
      code: 'PRIVACY_PASS_INVALID',
      token: async (f) => {
        const t = await mintVoprfToken(voprf, await challengeFor(f, voprf));
        const authenticator = t.authenticator.slice();
        authenticator[0] = (authenticator[0] as number) ^ 1;
        return { ...t, authenticator };
      },
    },
    {
      name: 'a token whose nonce was changed (the authenticator is the PRF of the whole input)',
      code: 'PRIVACY_PASS_INVALID',
      token: async (f) => {
        const t = await mintVoprfToken(voprf, await challengeFor(f, voprf));
        return { ...t, nonce: t.nonce.map((b) => b ^ 0xff) };
      },
    },
    {
      name: 'a token for another server\'s challenge',
      code: 'PRIVACY_PASS_INVALID',
      token: () => mintVoprfToken(voprf, encodeTokenChallenge({ tokenType: 1, issuerName: 'issuer.cloister.test', redemptionContext: new Uint8Array(), originInfo: ['elsewhere.test'] })),
    },
    {
      name: 'a type 1 token made with the type 2 key\'s ID',
      code: 'PRIVACY_PASS_UNKNOWN_KEY',
      token: async (f) => {
        const t = await mintVoprfToken(voprf, await challengeFor(f, voprf));
        return { ...t, tokenKeyId: rsa.tokenKeyId };
      },
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name}: 401 ${r.code}, the target does not run, and the gateway keeps serving`, async () => {
      const f = await fixture({ keys: [rsa], voprfKeys: [voprf] });
      const refused = await redeem(f, await r.token(f));
      assert.deepEqual([refused.status, problemCode(refused.body)], [401, r.code]);
      assert.ok(header(refused.headers, 'www-authenticate') !== undefined);
      assert.equal(f.ran.count, 0);
      assert.equal((await redeem(f, await mintVoprfToken(voprf, await challengeFor(f, voprf)))).status, 200);
    });
  }

  it('skips a listed VOPRF key whose private key it does not hold: reported once, not offered, its tokens 401 PRIVACY_PASS_UNKNOWN_KEY', async () => {
    const f = await fixture({ keys: [rsa], voprfKeys: [voprf, other], privateKeys: [voprf] });
    assert.deepEqual(f.skipped.map((s) => [s.tokenType, s.tokenKeyId]), [[1, toBase64Url(other.tokenKeyId)]]);
    assert.match(f.skipped[0]?.reason ?? '', /holds no private key/);
    await f.redeemer.setKeys([{ tokenType: 1, tokenKey: other.publicKeyBytes }]);
    assert.equal(f.skipped.length, 1, 'a refresh does not report it again');
    const f2 = await fixture({ keys: [rsa], voprfKeys: [voprf, other], privateKeys: [voprf] });
    const offered = parseWwwAuthenticate(header((await f2.send()).headers, 'www-authenticate') ?? '').map((c) => toBase64Url(c.tokenKey));
    assert.ok(!offered.includes(toBase64Url(other.publicKeyBytes)));
    const token = await mintVoprfToken(other, await challengeFor(f2, voprf));
    const refused = await redeem(f2, token);
    assert.deepEqual([refused.status, problemCode(refused.body)], [401, 'PRIVACY_PASS_UNKNOWN_KEY']);
    assert.equal(f2.ran.count, 0);
  });

  it('without any private key, skips every VOPRF key of the directory and refuses type 1 tokens 401 PRIVACY_PASS_UNSUPPORTED_TYPE', async () => {
    const f = await fixture({ keys: [rsa], voprfKeys: [voprf], privateKeys: [] });
    assert.deepEqual(f.skipped.map((s) => s.tokenType), [1]);
    assert.match(f.skipped[0]?.reason ?? '', /token type 0x0001 is not redeemed here/);
    const offered = parseWwwAuthenticate(header((await f.send()).headers, 'www-authenticate') ?? '');
    assert.deepEqual(offered.map((c) => c.tokenChallenge.tokenType), [2]);
    const challenge = encodeTokenChallenge({ tokenType: 1, issuerName: 'issuer.cloister.test', redemptionContext: new Uint8Array(), originInfo: ['gateway.cloister.test'] });
    const refused = await redeem(f, await mintVoprfToken(voprf, challenge));
    assert.deepEqual([refused.status, problemCode(refused.body)], [401, 'PRIVACY_PASS_UNSUPPORTED_TYPE']);
    assert.match(JSON.stringify(refused.body), /redeemed: 0x0002/);
    assert.equal(f.ran.count, 0);
  });
});
