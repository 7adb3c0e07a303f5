import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fromHex, toHex } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import { PROTOCOL_VECTORS } from '../../testing/vectors.js';
import { authenticatorInput, challengeDigest } from './token.js';
import { decodeTokenChallenge, encodeTokenChallenge } from './tokenChallenge.js';

interface ChallengeVector {
  readonly comment: string;
  readonly token_type: string;
  readonly issuer_name?: string;
  readonly redemption_context?: string;
  readonly origin_info?: string;
  readonly nonce?: string;
  readonly token_key_id?: string;
  readonly token_authenticator_input: string;
}

const load = (file: string): ChallengeVector[] => JSON.parse(readFileSync(`${PROTOCOL_VECTORS}privacypass-auth-rfc9577/${file}`, 'utf8')) as ChallengeVector[];
const latin1 = (hex: string): string => String.fromCharCode(...fromHex(hex));

describe('RFC 9577 TokenChallenge and token_authenticator_input', () => {
  for (const [source, vectors] of [['RFC 9577', load('rfc9577-challenge-redemption.json')], ['Cloudflare', load('auth_scheme_token_v14.json')]] as const) {
    vectors.forEach((v, i) => {
      // RFC 9577 vector 6 greases token type 0x0000: an authenticator input alone, with no challenge to build.
      if (v.issuer_name === undefined) return;
      it(`${source} vector ${i + 1}: the challenge built from its fields gives the vector's authenticator input`, async () => {
        const origins = latin1(v.origin_info ?? '');
        const challenge = encodeTokenChallenge({ tokenType: parseInt(v.token_type, 16), issuerName: latin1(v.issuer_name ?? ''), redemptionContext: fromHex(v.redemption_context ?? ''), originInfo: origins === '' ? [] : origins.split(',') });
        const decoded = decodeTokenChallenge(challenge);
        assert.equal(decoded.issuerName, latin1(v.issuer_name ?? ''));
        assert.equal(toHex(encodeTokenChallenge(decoded)), toHex(challenge));
        const input = authenticatorInput({ tokenType: 2, nonce: fromHex(v.nonce ?? ''), challengeDigest: await challengeDigest(challenge), tokenKeyId: fromHex(v.token_key_id ?? '') });
        assert.equal(toHex(input), v.token_authenticator_input);
      });
    });
  }

  it('refuses challenges with bad lengths, non-ASCII names, empty origins or trailing bytes', () => {
    const good = { tokenType: 2, issuerName: 'issuer.example', redemptionContext: new Uint8Array(32), originInfo: ['a.example', 'b.example'] };
    const bytes = encodeTokenChallenge(good);
    const at = (field: string) => (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_PRIVACY_PASS' && e.field === field;
    assert.throws(() => encodeTokenChallenge({ ...good, redemptionContext: new Uint8Array(16) }), at('redemption_context'));
    assert.throws(() => encodeTokenChallenge({ ...good, issuerName: '' }), at('issuer_name'));
    assert.throws(() => encodeTokenChallenge({ ...good, issuerName: 'é' }), at('issuer_name'));
    assert.throws(() => encodeTokenChallenge({ ...good, originInfo: ['a,b'] }), at('origin_info'));
    assert.throws(() => encodeTokenChallenge({ ...good, tokenType: 0x10000 }), at('token_type'));
    assert.throws(() => decodeTokenChallenge(new Uint8Array([...bytes, 0])), at('TokenChallenge'));
    assert.throws(() => decodeTokenChallenge(bytes.subarray(0, bytes.length - 1)), at('origin_info'));
    const context16 = new Uint8Array([0, 2, 0, 1, 0x61, 16, ...new Uint8Array(16), 0, 0]);
    assert.throws(() => decodeTokenChallenge(context16), at('redemption_context'));
    assert.throws(() => decodeTokenChallenge(new Uint8Array([0, 2, 0, 1, 0x80, 0, 0, 0])), at('issuer_name'));
    assert.throws(() => decodeTokenChallenge(new Uint8Array([0, 2, 0, 1, 0x61, 0, 0, 2, 0x61, 0x2c])), at('origin_info'));
    assert.throws(() => decodeTokenChallenge(new Uint8Array([0, 2, 0, 0, 0, 0, 0])), at('issuer_name'));
    assert.deepEqual(decodeTokenChallenge(bytes), { ...good, originInfo: ['a.example', 'b.example'] });
  });
});
