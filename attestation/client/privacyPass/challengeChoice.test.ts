import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64Url } from '../../bytes.js';
import { parseWwwAuthenticate, buildWwwAuthenticate } from '../../protocols/privacypass/authScheme.js';
import type { DirectoryKey } from '../../protocols/privacypass/issuerDirectory.js';
import { encodeTokenChallenge } from '../../protocols/privacypass/tokenChallenge.js';
import { tokenKeyId } from '../../protocols/privacypass/tokenKey.js';
import { chooseChallenge } from './challengeChoice.js';
import { CLIENT_TOKEN_TYPES } from './clientTokenTypes.js';

const NOW = 1_800_000_000;
const key = (n: number): Uint8Array => new Uint8Array(8).fill(n);
const challenge = (tokenType: number): Uint8Array => encodeTokenChallenge({ tokenType, issuerName: 'issuer.test', redemptionContext: new Uint8Array(), originInfo: [] });
const offers = (...list: [tokenType: number, key: number][]): ReturnType<typeof parseWwwAuthenticate> => parseWwwAuthenticate(buildWwwAuthenticate(list.map(([t, k]) => ({ challenge: challenge(t), tokenKey: key(k) }))));
const listed = (...list: [tokenType: number, key: number, notBefore?: number][]): { tokenKeys: DirectoryKey[] } => ({ tokenKeys: list.map(([tokenType, k, notBefore]) => ({ tokenType, tokenKey: key(k), ...(notBefore === undefined ? {} : { notBefore }) })) });
const choose = (o: ReturnType<typeof offers>, d: { tokenKeys: DirectoryKey[] }): ReturnType<typeof chooseChallenge> => chooseChallenge(o, d, CLIENT_TOKEN_TYPES, NOW, 'https://issuer.test/dir');

describe('chooseChallenge', () => {
  it('answers only with a key the issuer lists, of the challenge\'s token type', async () => {
    const chosen = await choose(offers([2, 1], [2, 2]), listed([2, 2], [1, 1]));
    assert.deepEqual([chosen.type.tokenType, chosen.key.tokenKey], [2, key(2)]);
  });

  it('prefers a key in force, then the newest, then the server\'s order; type 0x0002 as the server orders it beside 0x0001', async () => {
    assert.deepEqual((await choose(offers([2, 1], [2, 2]), listed([2, 1, NOW - 100], [2, 2, NOW + 100]))).key.tokenKey, key(1));
    assert.deepEqual((await choose(offers([2, 1], [2, 2]), listed([2, 1, NOW - 100], [2, 2, NOW - 10]))).key.tokenKey, key(2));
    assert.deepEqual((await choose(offers([2, 1], [2, 2]), listed([2, 1], [2, 2]))).key.tokenKey, key(1));
    assert.deepEqual((await choose(offers([1, 3], [2, 4]), listed([1, 3], [2, 4]))).type.tokenType, 1);
  });

  it('refuses keys the directory does not list with PRIVACY_PASS_KEY_INCONSISTENT, naming their key IDs', async () => {
    const ids = await Promise.all([key(5), key(6)].map(async (k) => toBase64Url(await tokenKeyId(k))));
    await assert.rejects(choose(offers([2, 5], [2, 6]), listed([2, 1])), (e: Error & { code?: string; actual?: string; name: string }) => e.name === 'VerificationError' && e.code === 'PRIVACY_PASS_KEY_INCONSISTENT' && e.actual === ids.join(', ') && e.message.includes('https://issuer.test/dir'));
    // The same bytes listed under another token type are not the key the challenge names.
    await assert.rejects(choose(offers([2, 1]), listed([1, 1])), { code: 'PRIVACY_PASS_KEY_INCONSISTENT' });
  });

  it('refuses when no challenge is of a type it obtains: PRIVACY_PASS_NO_USABLE_CHALLENGE', async () => {
    await assert.rejects(choose(offers([3, 1], [0x7777, 1]), listed([3, 1])), { code: 'PRIVACY_PASS_NO_USABLE_CHALLENGE', message: /token type 0x0003, 0x7777;/ });
    await assert.rejects(choose([], listed([2, 1])), { code: 'PRIVACY_PASS_NO_USABLE_CHALLENGE' });
  });
});
