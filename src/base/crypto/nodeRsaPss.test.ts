import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fromHex } from '../../../attestation/bytes.js';
import { bigIntToBytes, bytesToBigInt } from '../../../attestation/protocols/privacypass/bigint.js';
import { pssVerifier, RSABSSA_VARIANTS, webCryptoRsaPss, type RsaBssaVariant } from '../../../attestation/protocols/privacypass/blindRsa.js';
import { PROTOCOL_VECTORS } from '../../../attestation/testing/vectors.js';
import { nodeRsaPss } from './nodeRsaPss.js';

interface Rfc9474Vector {
  readonly name: RsaBssaVariant;
  readonly n: string;
  readonly e: string;
  readonly input_msg: string;
  readonly sig: string;
}
const vectors = JSON.parse(readFileSync(`${PROTOCOL_VECTORS}blindrsa-rfc9474/test_vectors_rfc9474.json`, 'utf8')) as Rfc9474Vector[];
const big = (hex: string): bigint => BigInt(hex.startsWith('0x') ? hex : `0x${hex}`);

describe('node:crypto RSA-PSS backend', () => {
  for (const v of vectors) {
    it(`${v.name}: the same verdicts as WebCrypto on the vector's signature, altered ones and another salt length`, async () => {
      const pk = { n: big(v.n), e: big(v.e) };
      const sig = fromHex(v.sig);
      const msg = fromHex(v.input_msg);
      const flipped = sig.slice();
      flipped[100] = (flipped[100] as number) ^ 1;
      const otherMsg = msg.slice();
      otherMsg[0] = (otherMsg[0] as number) ^ 1;
      const cases: readonly [Uint8Array, Uint8Array][] = [
        [msg, sig],
        [msg, flipped],
        [otherMsg, sig],
        [msg, sig.subarray(1)],
        [msg, new Uint8Array(sig.length).fill(0xff)], // not below the modulus
        [msg, bigIntToBytes(bytesToBigInt(sig) + pk.n, sig.length + 1)],
      ];
      const salt = RSABSSA_VARIANTS[v.name].saltLength;
      for (const saltLength of [salt, salt === 0 ? 48 : 0]) {
        const viaNode = await pssVerifier(pk, saltLength, nodeRsaPss);
        const viaWeb = await pssVerifier(pk, saltLength, webCryptoRsaPss);
        const verdicts = await Promise.all(cases.map(async ([m, s]) => [await viaNode.verify(m, s), await viaWeb.verify(m, s)]));
        assert.deepEqual(verdicts.map(([n]) => n), verdicts.map(([, w]) => w), `salt length ${saltLength}`);
        assert.deepEqual(verdicts.map(([n]) => n), cases.map((_, i) => i === 0 && saltLength === salt));
      }
    });
  }
});
