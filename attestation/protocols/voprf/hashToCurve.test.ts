// RFC 9380 Appendix J.3.1 (P384_XMD:SHA-384_SSWU_RO_), the first two messages; the RFC 9497 vectors exercise
// the rest of the suite through HashToGroup and HashToScalar.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseError } from '../../errors.js';
import { webCryptoHasher } from '../../hash.js';
import { expandMessageXmd, hashToCurve, hashToField } from './hashToCurve.js';
import { P, toAffine } from './p384.js';

const DST = new TextEncoder().encode('QUUX-V01-CS02-with-P384_XMD:SHA-384_SSWU_RO_');
const msg = (s: string): Uint8Array => new TextEncoder().encode(s);

const J31 = [
  {
    msg: '',
    x: 0xeb9fe1b4f4e14e7140803c1d99d0a93cd823d2b024040f9c067a8eca1f5a2eeac9ad604973527a356f3fa3aeff0e4d83n,
    y: 0x0c21708cff382b7f4643c07b105c2eaec2cead93a917d825601e63c8f21f6abd9abc22c93c2bed6f235954b25048bb1an,
    u: [
      0x25c8d7dc1acd4ee617766693f7f8829396065d1b447eedb155871feffd9c6653279ac7e5c46edb7010a0e4ff64c9f3b4n,
      0x59428be4ed69131df59a0c6a8e188d2d4ece3f1b2a3a02602962b47efa4d7905945b1e2cc80b36aa35c99451073521acn,
    ],
  },
  {
    msg: 'abc',
    x: 0xe02fc1a5f44a7519419dd314e29863f30df55a514da2d655775a81d413003c4d4e7fd59af0826dfaad4200ac6f60abe1n,
    y: 0x01f638d04d98677d65bef99aef1a12a70a4cbb9270ec55248c04530d8bc1f8f90f8a6a859a7c1f1ddccedf8f96d675f6n,
  },
];

describe('RFC 9380 P384_XMD:SHA-384_SSWU_RO_', () => {
  for (const v of J31) {
    it(`hash_to_curve("${v.msg}") is the point of Appendix J.3.1`, async () => {
      if (v.u !== undefined) assert.deepEqual(await hashToField(webCryptoHasher, msg(v.msg), DST, 2, P), v.u);
      assert.deepEqual(toAffine(await hashToCurve(webCryptoHasher, msg(v.msg), DST)), { x: v.x, y: v.y });
    });
  }

  it('expand_message_xmd refuses a DST over 255 bytes and outputs over 255 blocks', async () => {
    await assert.rejects(expandMessageXmd(webCryptoHasher, msg('x'), new Uint8Array(256), 48), ParseError);
    await assert.rejects(expandMessageXmd(webCryptoHasher, msg('x'), DST, 256 * 48), ParseError);
  });
});
