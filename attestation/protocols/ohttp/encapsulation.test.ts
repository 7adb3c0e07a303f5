// OHTTP encapsulation on @hpke/core with WebCrypto (the browser path), against RFC 9180 and RFC 9458 vectors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, toArrayBufferView } from '../../bytes.js';
import { CloisterError, VerificationError } from '../../errors.js';
import { describeHpkeConformance, rfc9458 } from '../../testing/hpkeConformance.js';
import { decapsulateRequest, encapsulateRequest, requestOverhead, type Responder } from './encapsulation.js';
import { cipherSuite, webCryptoHpke, type HpkePrimitives } from './hpke.js';
import { decodeKeyConfig, KEM_X25519_HKDF_SHA256 } from './keyConfig.js';

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

describe('encapsulation overhead (what padding subtracts so that the wire length is a size class)', () => {
  const hex = (s: string | undefined): Uint8Array => fromHex(s ?? '');

  it('RFC 9458 Appendix A: the request is its Binary HTTP message plus requestOverhead, the response plus Responder.overhead', async () => {
    assert.equal(requestOverhead(KEM_X25519_HKDF_SHA256), 55);
    assert.equal(hex(rfc9458.encapsulated_request).length - hex(rfc9458.bhttp_request).length, 55);
    const config = decodeKeyConfig(hex(rfc9458.key_config));
    const suite = cipherSuite(webCryptoHpke, config.kemId, 1, 1);
    assert.ok(suite !== undefined);
    const privateKey = await suite.kem.deserializePrivateKey(toArrayBufferView(hex(rfc9458.gateway_skR_x25519)));
    const { responder } = await decapsulateRequest(hex(rfc9458.encapsulated_request), () => ({ config, privateKey }), webCryptoHpke);
    assert.equal(responder.overhead, 32);
    assert.equal(hex(rfc9458.encapsulated_response).length - hex(rfc9458.bhttp_response).length, 32);
  });

  it('ChaCha20-Poly1305 (Nk 32) adds a 32-byte response nonce and a 16-byte tag to a response', async () => {
    const suite = cipherSuite(webCryptoHpke, KEM_X25519_HKDF_SHA256, 1, 3);
    assert.ok(suite !== undefined);
    const pair = await suite.kem.generateKeyPair();
    const config = { keyId: 1, kemId: KEM_X25519_HKDF_SHA256, publicKey: new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)), suites: [{ kdfId: 1, aeadId: 3 }] };
    const message = new Uint8Array(100);
    const request = await encapsulateRequest(config, message.slice());
    assert.equal(request.bytes.length, message.length + requestOverhead(config.kemId));
    const { responder } = await decapsulateRequest(request.bytes, () => ({ config, privateKey: pair.privateKey }), webCryptoHpke);
    assert.equal(responder.overhead, 48);
    assert.equal((await responder.encapsulate(message)).length, message.length + 48);
  });

  it('a KEM outside RFC 9180 has no known overhead (OHTTP_UNSUPPORTED_SUITE)', () => {
    assert.throws(() => requestOverhead(0x9999), (e: unknown) => e instanceof VerificationError && e.code === 'OHTTP_UNSUPPORTED_SUITE');
  });
});
