import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../../bytes.js';
import { ParseError, VerificationError } from '../../errors.js';
import { onlyParseErrors } from '../../testing/parseErrors.js';
import { PROTOCOL_VECTORS } from '../../testing/vectors.js';
import { bytesToBigInt, modInverse } from './bigint.js';
import { createTokenRequest, decodeTokenRequest, decodeTokenResponse, encodeTokenRequest, finalizeToken, readTokenRequest, verifyToken } from './publicToken.js';
import { decodeToken, encodeToken } from './token.js';
import { decodeTokenChallenge, encodeTokenChallenge } from './tokenChallenge.js';
import { decodeTokenKey, encodeTokenKey } from './tokenKey.js';

interface Type2Vector {
  readonly comment?: string;
  readonly pkS: string;
  readonly token_challenge: string;
  readonly nonce: string;
  readonly blind: string;
  readonly salt: string;
  readonly token_request: string;
  readonly token_response: string;
  readonly token: string;
}

const load = (file: string): Type2Vector[] => JSON.parse(readFileSync(`${PROTOCOL_VECTORS}privacypass-rfc9578/${file}`, 'utf8')) as Type2Vector[];
const sets: readonly [string, Type2Vector[]][] = [
  ['RFC 9578', load('rfc9578-type2-blindrsa.json')],
  ['Cloudflare Go', load('pub_verif_rfc9578.go.json')],
  ['Cloudflare Rust', load('pub_verif_rfc9578.rust.json')],
];
const rfc = sets[0]?.[1][0] as Type2Vector;

describe('RFC 9578 token type 0x0002 (blind RSA)', () => {
  for (const [source, vectors] of sets) {
    vectors.forEach((v, i) => {
      it(`${source} vector ${i + 1}: request, response and token are the vector's, and the token verifies`, async () => {
        const pkS = fromHex(v.pkS);
        const challenge = fromHex(v.token_challenge);
        assert.equal(toHex(encodeTokenChallenge(decodeTokenChallenge(challenge))), v.token_challenge);
        assert.equal(toHex(encodeTokenKey(decodeTokenKey(pkS))), v.pkS);
        // "blind" is r, the factor the client multiplies in (RFC 9578 Appendix A.2).
        const r = bytesToBigInt(fromHex(v.blind));
        const { request, state } = await createTokenRequest(challenge, pkS, { nonce: fromHex(v.nonce), salt: fromHex(v.salt), r });
        assert.equal(state.inv, modInverse(r, decodeTokenKey(pkS).n));
        assert.equal(toHex(encodeTokenRequest(request)), v.token_request);
        assert.deepEqual(decodeTokenRequest(fromHex(v.token_request)), request);
        assert.deepEqual(await readTokenRequest(fromHex(v.token_request), pkS), request);
        const token = await finalizeToken(state, fromHex(v.token_response));
        assert.equal(toHex(encodeToken(token)), v.token);
        assert.deepEqual(decodeToken(fromHex(v.token)), token);
        await verifyToken(decodeToken(fromHex(v.token)), pkS, challenge);
      });
    });
  }

  it('refuses a token of another key, another challenge, another type or with a changed authenticator', async () => {
    const pkS = fromHex(rfc.pkS);
    const token = decodeToken(fromHex(rfc.token));
    const otherKey = fromHex(sets[2]?.[1][0]?.pkS ?? '');
    const code = (field: string) => (e: unknown) => e instanceof VerificationError && e.code === 'PRIVACY_PASS_TOKEN_INVALID' && e.field === field;
    await assert.rejects(verifyToken(token, otherKey), code('token_key_id'));
    await assert.rejects(verifyToken(token, pkS, fromHex(sets[0]?.[1][1]?.token_challenge ?? '')), code('challenge_digest'));
    await assert.rejects(verifyToken({ ...token, tokenType: 0x0001 }, pkS), code('token_type'));
    const authenticator = token.authenticator.slice();
    authenticator[7] = (authenticator[7] as number) ^ 0x40;
    await assert.rejects(verifyToken({ ...token, authenticator }, pkS), code('authenticator'));
    const nonce = token.nonce.slice();
    nonce[0] = (nonce[0] as number) ^ 1;
    await assert.rejects(verifyToken({ ...token, nonce }, pkS), code('authenticator'));
  });

  it('refuses a response that does not finalize, a request for another key, and challenges of another type', async () => {
    const pkS = fromHex(rfc.pkS);
    const { state } = await createTokenRequest(fromHex(rfc.token_challenge), pkS);
    await assert.rejects(finalizeToken(state, fromHex(rfc.token_response)), (e) => e instanceof VerificationError && e.code === 'PRIVACY_PASS_TOKEN_INVALID');
    await assert.rejects(finalizeToken(state, new Uint8Array(255)), (e) => e instanceof ParseError && e.code === 'MALFORMED_PRIVACY_PASS');
    await assert.rejects(readTokenRequest(fromHex(rfc.token_request), fromHex(sets[2]?.[1][0]?.pkS ?? '')), (e) => e instanceof ParseError && e.field === 'truncated_token_key_id');
    const type1 = encodeTokenChallenge({ ...decodeTokenChallenge(fromHex(rfc.token_challenge)), tokenType: 1 });
    await assert.rejects(createTokenRequest(type1, pkS), (e) => e instanceof ParseError && e.field === 'token_type');
  });

  it('refuses token keys that are not the section 6.5 encoding of a 2048-bit key', () => {
    const pkS = fromHex(rfc.pkS);
    const rsaEncryption = pkS.slice();
    rsaEncryption[16] = 0x01; // id-RSASSA-PSS (...1.1.10) becomes rsaEncryption (...1.1.1)
    for (const bad of [rsaEncryption, pkS.subarray(0, 100), new Uint8Array([0x30, 0x00]), new Uint8Array()]) {
      assert.throws(() => decodeTokenKey(bad), (e) => e instanceof ParseError && e.code === 'MALFORMED_PRIVACY_PASS');
    }
    const pk = decodeTokenKey(pkS);
    assert.throws(() => encodeTokenKey({ n: pk.n >> 8n, e: pk.e }), (e) => e instanceof ParseError && e.field === 'token_key');
    assert.throws(() => encodeTokenKey({ n: pk.n, e: 4n }), (e) => e instanceof ParseError && e.field === 'token_key');
  });

  it('refuses requests, responses and tokens of the wrong size or type', () => {
    const request = fromHex(rfc.token_request);
    const token = fromHex(rfc.token);
    for (const [bad, field] of [
      [request.subarray(0, 258), 'blinded_msg'],
      [new Uint8Array([...request, 0]), 'TokenRequest'],
      [new Uint8Array([0, 1, ...request.subarray(2)]), 'token_type'],
    ] as const) {
      assert.throws(() => decodeTokenRequest(bad), (e) => e instanceof ParseError && e.code === 'MALFORMED_PRIVACY_PASS' && e.field === field);
    }
    assert.throws(() => decodeTokenResponse(new Uint8Array(257)), (e) => e instanceof ParseError && e.field === 'TokenResponse');
    assert.throws(() => decodeToken(new Uint8Array([0xff, 0xff, ...token.subarray(2)])), (e) => e instanceof ParseError && e.field === 'token_type');
    assert.throws(() => decodeToken(token.subarray(0, 300)), (e) => e instanceof ParseError && e.field === 'authenticator');
    const parsed = decodeToken(token);
    assert.throws(() => encodeToken({ ...parsed, authenticator: new Uint8Array(48) }), (e) => e instanceof ParseError && e.field === 'authenticator');
    assert.throws(() => encodeToken({ ...parsed, nonce: new Uint8Array(31) }), (e) => e instanceof ParseError && e.field === 'nonce');
    assert.throws(() => encodeToken({ ...parsed, tokenType: 7 as 2 }), (e) => e instanceof ParseError && e.field === 'token_type');
    assert.throws(() => encodeTokenRequest({ ...decodeTokenRequest(request), truncatedTokenKeyId: 256 }), (e) => e instanceof ParseError);
    assert.throws(() => encodeTokenRequest({ ...decodeTokenRequest(request), blindedMsg: new Uint8Array(1) }), (e) => e instanceof ParseError);
  });

  it('decoders take arbitrary bytes and mutations of real ones to a value or a ParseError, nothing else', () => {
    const seeds = [fromHex(rfc.token), fromHex(rfc.token_request), fromHex(rfc.pkS), fromHex(rfc.token_challenge)];
    const decoders = [decodeToken, decodeTokenRequest, decodeTokenResponse, decodeTokenKey, decodeTokenChallenge];
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat({ max: 255 }), fc.nat({ max: 16 })).map(([s, at, v, cut]) => {
        const b = s.slice(0, s.length - cut);
        if (b.length > 0) b[at % b.length] = v;
        return b;
      })), (bytes) => {
        for (const decode of decoders) onlyParseErrors(() => decode(bytes));
      }),
      { numRuns: 500 },
    );
  });
});
