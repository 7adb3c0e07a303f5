// OHTTP encapsulation on @hpke/core with WebCrypto (the browser path), against RFC 9180 and RFC 9458 vectors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, toArrayBufferView } from '../../bytes.js';
import { CloisterError, VerificationError } from '../../errors.js';
import { describeHpkeConformance, rfc9458 } from '../../testing/hpkeConformance.js';
import { decapsulateRequest, type Responder } from './encapsulation.js';
import { cipherSuite, webCryptoHpke, type HpkePrimitives } from './hpke.js';
import { decodeKeyConfig } from './keyConfig.js';

describeHpkeConformance(webCryptoHpke);

describe('encapsulation misuse and a misbehaving HPKE backend', () => {
  const hex = (s: string | undefined): Uint8Array => fromHex(s ?? '');
  const gateway = async (primitives: HpkePrimitives): Promise<Responder> => {
    const config = decodeKeyConfig(hex(rfc9458.key_config));
    const suite = cipherSuite(primitives, config.kemId, 1, 1);
    assert.ok(suite !== undefined);
    const privateKey = await suite.kem.deserializePrivateKey(toArrayBufferView(hex(rfc9458.gateway_skR_x25519)));
    return (await decapsulateRequest(hex(rfc9458.encapsulated_request), () => ({ config, privateKey }), primitives)).responder;
  };

  it('a Responder answers once; a second answer is INVALID_STATE', async () => {
    const responder = await gateway(webCryptoHpke);
    await responder.encapsulate(hex(rfc9458.bhttp_response));
    await assert.rejects(responder.encapsulate(hex(rfc9458.bhttp_response)), (e: unknown) => e instanceof CloisterError && e.code === 'INVALID_STATE' && /already answered/.test(e.message));
  });

  it('a KDF that derives fewer response keys than asked for is OHTTP_UNSUPPORTED_SUITE', async () => {
    const short: HpkePrimitives = {
      ...webCryptoHpke,
      name: 'short-kdf',
      hkdf: (id) => {
        const hkdf = webCryptoHpke.hkdf(id);
        return hkdf === undefined ? undefined : async (salt, ikm, outputs) => (await hkdf(salt, ikm, outputs)).slice(0, 1);
      },
    };
    const responder = await gateway(short);
    await assert.rejects(responder.encapsulate(hex(rfc9458.bhttp_response)), (e: unknown) => e instanceof VerificationError && e.code === 'OHTTP_UNSUPPORTED_SUITE' && e.message === 'short-kdf KDF 0x0001 derived 1 of the 2 response keys asked for');
  });
});
