import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fromHex, toHex } from '../../bytes.js';
import { ParseError, VerificationError } from '../../errors.js';
import { PROTOCOL_VECTORS } from '../../testing/vectors.js';
import { bigIntToBytes, bytesToBigInt, modInverse, modPow } from './bigint.js';
import { blind, emsaPssEncode, finalize, prepare, RSABSSA_VARIANTS, verifyPss, type RsaBssaVariant } from './blindRsa.js';

interface Rfc9474Vector {
  readonly name: RsaBssaVariant;
  readonly n: string;
  readonly e: string;
  readonly d: string;
  readonly msg: string;
  readonly msg_prefix: string;
  readonly input_msg: string;
  readonly salt: string;
  readonly encoded_msg?: string;
  readonly inv: string;
  readonly blinded_msg: string;
  readonly blind_sig: string;
  readonly sig: string;
}

const vectors = JSON.parse(readFileSync(`${PROTOCOL_VECTORS}blindrsa-rfc9474/test_vectors_rfc9474.json`, 'utf8')) as Rfc9474Vector[];
const big = (hex: string): bigint => BigInt(hex.startsWith('0x') ? hex : `0x${hex}`);

describe('RFC 9474 blind RSA (client)', () => {
  it('has the four variants', () => {
    assert.deepEqual(vectors.map((v) => v.name).sort(), Object.keys(RSABSSA_VARIANTS).sort());
  });

  for (const v of vectors) {
    it(`${v.name}: prepare, blind and finalize give the vector's values`, async () => {
      const pk = { n: big(v.n), e: big(v.e) };
      const prefix = v.msg_prefix === '' ? undefined : fromHex(v.msg_prefix);
      const input = prepare(v.name, fromHex(v.msg), prefix);
      assert.equal(toHex(input), v.input_msg);
      const salt = fromHex(v.salt);
      if (v.encoded_msg !== undefined) assert.equal(toHex(await emsaPssEncode(input, 4096, salt)), v.encoded_msg);
      const r = modInverse(big(v.inv), pk.n);
      assert.ok(r !== undefined);
      const blinded = await blind(pk, v.name, input, { salt, r });
      assert.equal(toHex(blinded.blindedMsg), v.blinded_msg);
      assert.equal(blinded.inv, big(v.inv));
      // The RFC's keys are 4096-bit. The vector's signer, RSASP1 with d, stands in for the issuer here.
      assert.equal(toHex(bigIntToBytes(modPow(bytesToBigInt(blinded.blindedMsg), big(v.d), pk.n), 512)), v.blind_sig);
      const sig = await finalize(pk, v.name, input, fromHex(v.blind_sig), blinded.inv);
      assert.equal(toHex(sig), v.sig);
      assert.equal(await verifyPss(pk, RSABSSA_VARIANTS[v.name].saltLength, input, sig), true);
    });
  }

  it('randomizes salt, prefix and r by default, and the result still finalizes', async () => {
    const v = vectors.find((x) => x.name === 'RSABSSA-SHA384-PSS-Randomized');
    assert.ok(v);
    const pk = { n: big(v.n), e: big(v.e) };
    const input = prepare(v.name, fromHex(v.msg));
    assert.equal(input.length, 32 + fromHex(v.msg).length);
    const a = await blind(pk, v.name, input);
    const b = await blind(pk, v.name, input);
    assert.notEqual(toHex(a.blindedMsg), toHex(b.blindedMsg));
    const blindSig = bigIntToBytes(modPow(bytesToBigInt(a.blindedMsg), big(v.d), pk.n), 512);
    const sig = await finalize(pk, v.name, input, blindSig, a.inv);
    assert.equal(await verifyPss(pk, 48, input, sig), true);
  });

  it('refuses a blind signature that unblinds to an invalid signature, and inputs of the wrong size', async () => {
    const v = vectors[2];
    assert.ok(v);
    const pk = { n: big(v.n), e: big(v.e) };
    const bad = fromHex(v.blind_sig);
    bad[511] = (bad[511] as number) ^ 1;
    await assert.rejects(finalize(pk, v.name, fromHex(v.input_msg), bad, big(v.inv)), (e) => e instanceof VerificationError && e.code === 'PRIVACY_PASS_TOKEN_INVALID');
    await assert.rejects(finalize(pk, v.name, fromHex(v.input_msg), bad.subarray(1), big(v.inv)), (e) => e instanceof ParseError && e.code === 'MALFORMED_PRIVACY_PASS');
    await assert.rejects(finalize(pk, v.name, fromHex(v.input_msg), new Uint8Array(512).fill(0xff), big(v.inv)), (e) => e instanceof ParseError);
    await assert.rejects(blind(pk, v.name, fromHex(v.input_msg), { salt: new Uint8Array(47) }), (e) => e instanceof ParseError && e.field === 'salt');
    await assert.rejects(blind(pk, v.name, fromHex(v.input_msg), { r: pk.n }), (e) => e instanceof ParseError && e.field === 'r');
    await assert.rejects(blind({ n: 3n * 5n * 7n * (2n ** 1200n + 1n), e: 65537n }, v.name, fromHex(v.input_msg), { r: 3n }), (e) => e instanceof ParseError);
    await assert.rejects(blind({ n: 2n ** 512n + 1n, e: 3n }, v.name, fromHex(v.input_msg)), (e) => e instanceof ParseError && e.field === 'n');
    assert.throws(() => prepare('RSABSSA-SHA384-PSS-Randomized', new Uint8Array(1), new Uint8Array(31)), (e) => e instanceof ParseError && e.field === 'msg_prefix');
    assert.equal(await verifyPss(pk, 48, fromHex(v.input_msg), new Uint8Array(511)), false);
  });
});
