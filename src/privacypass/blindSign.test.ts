import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fromHex, toBase64Url, toHex } from '../../attestation/bytes.js';
import { bigIntToBytes, bitLength, modInverse } from '../../attestation/protocols/privacypass/bigint.js';
import { ParseError, VerificationError } from '../../attestation/errors.js';
import {
  buildAuthorization,
  buildWwwAuthenticate,
  createTokenRequest,
  decodeToken,
  encodeToken,
  encodeTokenChallenge,
  encodeTokenRequest,
  finalizeToken,
  parseAuthorization,
  parseWwwAuthenticate,
  verifyToken,
} from '../../attestation/protocols/index.js';
import { PROTOCOL_VECTORS } from '../../attestation/testing/vectors.js';
import { blindSign, issuerKey, issueTokenResponse, rsaSigningKey } from './blindSign.js';

const json = (path: string): unknown => JSON.parse(readFileSync(PROTOCOL_VECTORS + path, 'utf8'));
interface Type2Vector {
  readonly skS: string;
  readonly pkS: string;
  readonly token_request: string;
  readonly token_response: string;
}
const type2 = ['rfc9578-type2-blindrsa.json', 'pub_verif_rfc9578.go.json', 'pub_verif_rfc9578.rust.json'].flatMap((f) => (json(`privacypass-rfc9578/${f}`) as Type2Vector[]).map((v, i) => [`${f} #${i + 1}`, v] as const));
interface Rfc9474Vector {
  readonly name: string;
  readonly p: string;
  readonly q: string;
  readonly n: string;
  readonly e: string;
  readonly d: string;
  readonly blinded_msg: string;
  readonly blind_sig: string;
}
const rfc9474 = json('blindrsa-rfc9474/test_vectors_rfc9474.json') as Rfc9474Vector[];

/** The vector's key as a JWK private key: node:crypto wants the CRT parameters too. */
function jwkOf(v: Rfc9474Vector): JsonWebKey {
  const [n, e, d, p, q] = [v.n, v.e, v.d, v.p, v.q].map((h) => BigInt(h));
  const int = (x: bigint): string => toBase64Url(bigIntToBytes(x, Math.ceil(bitLength(x) / 8)));
  if (n === undefined || e === undefined || d === undefined || p === undefined || q === undefined) throw new Error('vector without a key');
  return { kty: 'RSA', n: int(n), e: int(e), d: int(d), p: int(p), q: int(q), dp: int(d % (p - 1n)), dq: int(d % (q - 1n)), qi: int(modInverse(q, p) ?? 0n) };
}

describe('Privacy Pass issuer: blind signing on node:crypto', () => {
  for (const [name, v] of type2) {
    it(`${name}: the vector's skS answers its token_request with its token_response`, async () => {
      const key = await issuerKey(new TextDecoder().decode(fromHex(v.skS)));
      assert.equal(toHex(key.tokenKey), v.pkS);
      assert.equal(toHex(await issueTokenResponse(key, fromHex(v.token_request))), v.token_response);
    });
  }

  for (const v of rfc9474) {
    it(`RFC 9474 ${v.name}: blind_sig from the vector's sk (4096-bit)`, () => {
      const key = rsaSigningKey(createPrivateKey({ key: jwkOf(v), format: 'jwk' }));
      assert.equal(toHex(blindSign(key, fromHex(v.blinded_msg))), v.blind_sig);
    });
  }

  it('issues a token end to end: challenge header, our client, our issuer, finalize, Authorization header, verify', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = await issuerKey(privateKey);
    const challenge = encodeTokenChallenge({ tokenType: 2, issuerName: 'issuer.cloister.example', redemptionContext: crypto.getRandomValues(new Uint8Array(32)), originInfo: ['origin.cloister.example'] });
    const [offered] = parseWwwAuthenticate(`Basic realm="x", ${buildWwwAuthenticate([{ challenge, tokenKey: key.tokenKey, maxAge: 60 }])}`);
    assert.ok(offered);
    const { request, state } = await createTokenRequest(offered.challenge, offered.tokenKey);
    const response = await issueTokenResponse(key, encodeTokenRequest(request));
    const token = await finalizeToken(state, response);
    assert.deepEqual(token.tokenKeyId, key.tokenKeyId);
    const redeemed = decodeToken(parseAuthorization(buildAuthorization(encodeToken(token))));
    await verifyToken(redeemed, key.tokenKey, challenge);
    // Another key whose truncated key ID (one byte: 1 in 256 keys share it) differs too.
    let other = await issuerKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    while (other.tokenKeyId.at(-1) === key.tokenKeyId.at(-1)) other = await issuerKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    await assert.rejects(verifyToken(redeemed, other.tokenKey), (e) => e instanceof VerificationError && e.code === 'PRIVACY_PASS_TOKEN_INVALID');
    await assert.rejects(issueTokenResponse(other, encodeTokenRequest(request)), (e) => e instanceof ParseError && e.field === 'truncated_token_key_id');
  });

  it('refuses blinded messages of the wrong size or not below n, keys that are not 2048-bit RSA, and a signature that does not verify', async () => {
    const v = type2[0]?.[1];
    assert.ok(v);
    const key = await issuerKey(new TextDecoder().decode(fromHex(v.skS)));
    const malformed = (e: unknown): boolean => e instanceof ParseError && e.code === 'MALFORMED_PRIVACY_PASS';
    assert.throws(() => blindSign(key, new Uint8Array(255)), malformed);
    assert.throws(() => blindSign(key, new Uint8Array(256).fill(0xff)), malformed);
    assert.throws(() => rsaSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), malformed);
    await assert.rejects(issuerKey(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey), malformed);
    const der = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'der', type: 'pkcs8' });
    assert.equal((await issuerKey(new Uint8Array(der))).tokenKey.length, 342);
    // A wrong public exponent stands in for a faulty private-key operation: RSAVP1 no longer gives m back.
    assert.throws(() => blindSign({ privateKey: key.privateKey, publicKey: { n: key.publicKey.n, e: 3n } }, fromHex(v.token_request).subarray(3)), (e) => e instanceof VerificationError && e.code === 'PRIVACY_PASS_TOKEN_INVALID');
  });
});
