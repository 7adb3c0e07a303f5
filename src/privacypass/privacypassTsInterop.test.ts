// Interoperability with Cloudflare's TypeScript implementation (@cloudflare/privacypass-ts, a dev dependency), for
// token types 0x0002 (Blind RSA) and 0x0001 (VOPRF P-384): tokens either side issues verify on the other, and the
// headers either side writes parse on the other.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { AuthorizationHeader, privateVerif, publicVerif, Token as CfToken, TOKEN_TYPES, TokenChallenge as CfTokenChallenge, WWWAuthenticateHeader } from '@cloudflare/privacypass-ts';
import { parseBase64Url } from '../../attestation/bytes.js';
import {
  buildAuthorization,
  buildWwwAuthenticate,
  createTokenRequest,
  decodeToken,
  decodeTokenChallenge,
  encodeToken,
  encodeTokenChallenge,
  encodeTokenRequest,
  finalizeToken,
  parseAuthorization,
  parseWwwAuthenticate,
  privacyPassType1 as type1,
  verifyToken,
} from '../../attestation/protocols/index.js';
import { issuerKey, issueTokenResponse } from './blindSign.js';
import { generateVoprfKey, issueVoprfTokenResponse, verifyVoprfToken, voprfIssuerKey } from './voprfKey.js';

const { BlindRSAMode, Client, Issuer, Origin, TokenRequest, TokenResponse, convertRSASSAPSSToEnc, getPublicKeyBytes } = publicVerif;
const BLIND_RSA = TOKEN_TYPES.BLIND_RSA;

async function cloudflareIssuer(): Promise<{ issuer: InstanceType<typeof Issuer>; publicKey: CryptoKey; tokenKey: Uint8Array }> {
  const keys = await Issuer.generateKey(BlindRSAMode.PSS, { modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) });
  return { issuer: new Issuer(BlindRSAMode.PSS, 'issuer.example', keys.privateKey, keys.publicKey), publicKey: keys.publicKey, tokenKey: await getPublicKeyBytes(keys.publicKey) };
}

const origin = new Origin(BlindRSAMode.PSS, ['origin.example']);
const challengeOf = (): CfTokenChallenge => origin.createTokenChallenge('issuer.example', crypto.getRandomValues(new Uint8Array(32)));

describe('interop with @cloudflare/privacypass-ts (token type 0x0002)', () => {
  it('a token Cloudflare\'s client and issuer make verifies with verifyToken', async () => {
    const { issuer, tokenKey } = await cloudflareIssuer();
    const challenge = challengeOf();
    const client = new Client(BlindRSAMode.PSS);
    const response = await issuer.issue(await client.createTokenRequest(challenge, tokenKey));
    const token = await client.finalize(response);
    await verifyToken(decodeToken(token.serialize()), tokenKey, challenge.serialize());
  });

  it('our client gets a token from Cloudflare\'s issuer, and Cloudflare\'s origin and issuer verify it', async () => {
    const { issuer, publicKey, tokenKey } = await cloudflareIssuer();
    const challenge = challengeOf().serialize();
    const { request, state } = await createTokenRequest(challenge, tokenKey);
    const response = await issuer.issue(TokenRequest.deserialize(BLIND_RSA, encodeTokenRequest(request)));
    const token = await finalizeToken(state, response.serialize());
    const theirs = CfToken.deserialize(BLIND_RSA, encodeToken(token));
    assert.equal(await origin.verify(theirs, publicKey), true);
    assert.equal(await issuer.verify(theirs), true);
  });

  it('Cloudflare\'s client gets a token from our issuer, and both sides verify it', async () => {
    const key = await issuerKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    const challenge = challengeOf();
    const client = new Client(BlindRSAMode.PSS);
    const request = await client.createTokenRequest(challenge, key.tokenKey);
    const response = await issueTokenResponse(key, request.serialize());
    const token = await client.finalize(TokenResponse.deserialize(response));
    await verifyToken(decodeToken(token.serialize()), key.tokenKey, challenge.serialize());
    const publicKey = await crypto.subtle.importKey('spki', convertRSASSAPSSToEnc(key.tokenKey) as Uint8Array<ArrayBuffer>, { name: 'RSA-PSS', hash: 'SHA-384' }, true, ['verify']);
    assert.equal(await origin.verify(token, publicKey), true);
  });

  it('WWW-Authenticate and Authorization values written by either side parse on the other', async () => {
    const { issuer, tokenKey } = await cloudflareIssuer();
    const challenge = challengeOf();
    for (const quoted of [true, false]) {
      const [ours] = parseWwwAuthenticate(new WWWAuthenticateHeader(challenge, tokenKey, 30).toString(quoted));
      assert.ok(ours);
      assert.deepEqual(ours.challenge, challenge.serialize());
      assert.deepEqual(ours.tokenKey, tokenKey);
      assert.equal(ours.maxAge, 30);
    }
    const [theirs] = WWWAuthenticateHeader.parse(buildWwwAuthenticate([{ challenge: challenge.serialize(), tokenKey, maxAge: 30 }]));
    assert.ok(theirs);
    assert.deepEqual(theirs.challenge.serialize(), challenge.serialize());
    assert.deepEqual(decodeTokenChallenge(theirs.challenge.serialize()).originInfo, ['origin.example']);
    assert.deepEqual(theirs.tokenKey, tokenKey);
    assert.equal(theirs.maxAge, 30);

    const client = new Client(BlindRSAMode.PSS);
    const token = await client.finalize(await issuer.issue(await client.createTokenRequest(challenge, tokenKey)));
    assert.deepEqual(parseAuthorization(new AuthorizationHeader(token).toString(true)), token.serialize());
    assert.deepEqual(parseAuthorization(new AuthorizationHeader(token).toString(false)), token.serialize());
    const [parsed] = AuthorizationHeader.parse(BLIND_RSA, buildAuthorization(token.serialize()));
    assert.deepEqual(parsed?.token.serialize(), token.serialize());
    assert.deepEqual(encodeTokenChallenge(decodeTokenChallenge(challenge.serialize())), challenge.serialize());
  });
});

describe('interop with @cloudflare/privacypass-ts (token type 0x0001, VOPRF P-384)', () => {
  const VOPRF = TOKEN_TYPES.VOPRF;
  const voprfOrigin = new privateVerif.Origin(['origin.example']);
  const voprfChallenge = (): CfTokenChallenge => voprfOrigin.createTokenChallenge('issuer.example', crypto.getRandomValues(new Uint8Array(32)));
  const tampered = (token: Uint8Array): Uint8Array => {
    const out = token.slice();
    out[out.length - 1] = (out[out.length - 1] as number) ^ 1;
    return out;
  };

  it('a token Cloudflare\'s client and issuer make verifies with our key from their private key; our public key is theirs', async () => {
    const keys = await privateVerif.keyGen();
    const ours = await type1.issuerKey(keys.privateKey);
    assert.deepEqual(ours.publicKeyBytes, keys.publicKey);
    const issuer = new privateVerif.Issuer('issuer.example', keys.privateKey, keys.publicKey);
    const client = new privateVerif.Client();
    const token = await client.finalize(await issuer.issue(await client.createTokenRequest(voprfChallenge(), keys.publicKey)));
    await verifyVoprfToken(ours, decodeToken(token.serialize()));
    await assert.rejects(verifyVoprfToken(ours, decodeToken(tampered(token.serialize()))), /authenticator/);
  });

  it('our client gets a token from Cloudflare\'s issuer, and Cloudflare\'s origin and issuer verify it', async () => {
    const keys = await privateVerif.keyGen();
    const issuer = new privateVerif.Issuer('issuer.example', keys.privateKey, keys.publicKey);
    const { request, pending } = await type1.createTokenRequest(await type1.issuerPublicKey(keys.publicKey), voprfChallenge().serialize());
    const response = await issuer.issue(privateVerif.TokenRequest.deserialize(request));
    const token = await type1.finalizeToken(pending, response.serialize());
    const theirs = CfToken.deserialize(VOPRF, token);
    assert.equal(await voprfOrigin.verify(theirs, keys.privateKey), true);
    assert.equal(await issuer.verify(theirs), true);
    assert.equal(await voprfOrigin.verify(CfToken.deserialize(VOPRF, tampered(token)), keys.privateKey), false);
  });

  it('Cloudflare\'s client gets a token from our issuer key (a node:crypto P-384 key), and both sides verify it', async () => {
    const pem = generateVoprfKey();
    const key = await voprfIssuerKey(createPrivateKey(pem));
    const d = parseBase64Url(createPrivateKey(pem).export({ format: 'jwk' }).d ?? '');
    assert.ok(d);
    const client = new privateVerif.Client();
    const request = await client.createTokenRequest(voprfChallenge(), key.publicKeyBytes);
    const token = await client.finalize(privateVerif.TokenResponse.deserialize(await issueVoprfTokenResponse(key, request.serialize())));
    await verifyVoprfToken(key, decodeToken(token.serialize()));
    assert.equal(await voprfOrigin.verify(token, d), true);
    const [parsed] = AuthorizationHeader.parse(VOPRF, buildAuthorization(token.serialize()));
    assert.deepEqual(parsed?.token.serialize(), token.serialize());
    assert.deepEqual(parseAuthorization(new AuthorizationHeader(token).toString()), token.serialize());
  });
});
