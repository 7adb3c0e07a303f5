// Test support: registers the conformance tests every HpkePrimitives must pass: the RFC 9180 vectors
// of the suites OHTTP uses here (base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM and
// ChaCha20-Poly1305) and RFC 9458 Appendix A byte for byte, both directions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fromHex, toArrayBufferView, toHex } from '../bytes.js';
import { decapsulateRequest, encapsulateRequest } from '../protocols/ohttp/encapsulation.js';
import { cipherSuite, type HpkePrimitives } from '../protocols/ohttp/hpke.js';
import { decodeKeyConfig } from '../protocols/ohttp/keyConfig.js';
import { PROTOCOL_VECTORS } from './vectors.js';

interface HpkeVector {
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  info: string;
  ikmR: string;
  ikmE: string;
  skRm: string;
  skEm: string;
  pkRm: string;
  pkEm: string;
  enc: string;
  encryptions: { aad: string; ct: string; nonce: string; pt: string }[];
  exports: { exporter_context: string; L: number; exported_value: string }[];
}

export const rfc9458 = JSON.parse(readFileSync(`${PROTOCOL_VECTORS}ohttp-rfc9458/rfc9458-appendix-a.json`, 'utf8')) as Record<string, string>;
const hpkeVectors = (JSON.parse(readFileSync(`${PROTOCOL_VECTORS}hpke-rfc9180/test-vectors-ohttp-suites.json`, 'utf8')) as HpkeVector[]).filter((v) => v.kem_id === 0x20 && v.mode === 0);

const hex = (s: string | undefined): Uint8Array => fromHex(s ?? '');

export function describeHpkeConformance(primitives: HpkePrimitives): void {
  describe(`HPKE conformance: ${primitives.name}`, () => {
    it('has the two X25519 suites of the shared RFC 9180 vectors', () => {
      assert.deepEqual(hpkeVectors.map((v) => v.aead_id).sort(), [1, 3]);
    });

    for (const v of hpkeVectors) {
      it(`matches RFC 9180 vectors: KEM 0x${v.kem_id.toString(16)}, KDF ${v.kdf_id}, AEAD ${v.aead_id} (keys, enc, ${v.encryptions.length} seals and opens, exports)`, async () => {
        const suite = cipherSuite(primitives, v.kem_id, v.kdf_id, v.aead_id);
        assert.ok(suite !== undefined);
        const e = await suite.kem.deriveKeyPair(toArrayBufferView(hex(v.ikmE)));
        const r = await suite.kem.deriveKeyPair(toArrayBufferView(hex(v.ikmR)));
        assert.equal(toHex(new Uint8Array(await suite.kem.serializePrivateKey(e.privateKey))), v.skEm);
        assert.equal(toHex(new Uint8Array(await suite.kem.serializePublicKey(e.publicKey))), v.pkEm);
        assert.equal(toHex(new Uint8Array(await suite.kem.serializePrivateKey(r.privateKey))), v.skRm);
        assert.equal(toHex(new Uint8Array(await suite.kem.serializePublicKey(r.publicKey))), v.pkRm);
        const recipientPublicKey = await suite.kem.deserializePublicKey(toArrayBufferView(hex(v.pkRm)));
        const sender = await suite.createSenderContext({ recipientPublicKey, info: toArrayBufferView(hex(v.info)), ekm: e });
        assert.equal(toHex(new Uint8Array(sender.enc)), v.enc);
        const recipientKey = await suite.kem.deserializePrivateKey(toArrayBufferView(hex(v.skRm)));
        const recipient = await suite.createRecipientContext({ recipientKey, enc: toArrayBufferView(hex(v.enc)), info: toArrayBufferView(hex(v.info)) });
        for (const x of v.encryptions) {
          assert.equal(toHex(new Uint8Array(await sender.seal(toArrayBufferView(hex(x.pt)), toArrayBufferView(hex(x.aad))))), x.ct);
          assert.equal(toHex(new Uint8Array(await recipient.open(toArrayBufferView(hex(x.ct)), toArrayBufferView(hex(x.aad))))), x.pt);
        }
        for (const x of v.exports) {
          assert.equal(toHex(new Uint8Array(await sender.export(toArrayBufferView(hex(x.exporter_context)), x.L))), x.exported_value);
          assert.equal(toHex(new Uint8Array(await recipient.export(toArrayBufferView(hex(x.exporter_context)), x.L))), x.exported_value);
        }
      });
    }

    const singleShot = primitives.openSingleShot?.bind(primitives);
    if (singleShot !== undefined) {
      for (const v of hpkeVectors) {
        it(`opens in a single shot as RFC 9180's vectors say: AEAD ${v.aead_id}, sequence 0 and every export; a changed byte is refused`, async () => {
          const suite = cipherSuite(primitives, v.kem_id, v.kdf_id, v.aead_id);
          assert.ok(suite !== undefined);
          const recipientKey = await suite.kem.deserializePrivateKey(toArrayBufferView(hex(v.skRm)));
          const first = v.encryptions[0];
          assert.ok(first !== undefined);
          const open = (ciphertext: Uint8Array, exporterContext: Uint8Array, exportLength: number) =>
            singleShot({ kemId: v.kem_id, kdfId: v.kdf_id, aeadId: v.aead_id, recipientKey, enc: hex(v.enc), info: hex(v.info), ciphertext, aad: hex(first.aad), exporterContext, exportLength });
          for (const x of v.exports) {
            const opened = await open(hex(first.ct), hex(x.exporter_context), x.L);
            assert.equal(toHex(opened.plaintext), first.pt);
            assert.equal(toHex(opened.exported), x.exported_value);
          }
          const tampered = hex(first.ct);
          tampered[3] = (tampered[3] as number) ^ 1;
          await assert.rejects(open(tampered, new Uint8Array(0), 16));
          await assert.rejects(open(hex(first.ct).subarray(0, 10), new Uint8Array(0), 16));
        });
      }
    }

    it('reproduces RFC 9458 Appendix A: the gateway decapsulates the request and encapsulates the response byte for byte', async () => {
      const config = decodeKeyConfig(hex(rfc9458.key_config));
      const suite = cipherSuite(primitives, config.kemId, 1, 1);
      assert.ok(suite !== undefined);
      const privateKey = await suite.kem.deserializePrivateKey(toArrayBufferView(hex(rfc9458.gateway_skR_x25519)));
      const request = await decapsulateRequest(hex(rfc9458.encapsulated_request), (id) => (id === config.keyId ? { config, privateKey } : undefined), primitives);
      assert.equal(toHex(request.message), rfc9458.bhttp_request);
      const expected = hex(rfc9458.encapsulated_response);
      const response = await request.responder.encapsulate(hex(rfc9458.bhttp_response), expected.subarray(0, 16));
      assert.equal(toHex(response), rfc9458.encapsulated_response);
    });

    it('reproduces RFC 9458 Appendix A: the client encapsulates the request with the given ephemeral key and opens the response', async () => {
      const config = decodeKeyConfig(hex(rfc9458.key_config));
      const suite = cipherSuite(primitives, config.kemId, 1, 1);
      assert.ok(suite !== undefined);
      const ephemeral = { privateKey: await suite.kem.deserializePrivateKey(toArrayBufferView(hex(rfc9458.client_skE))), publicKey: await suite.kem.deserializePublicKey(toArrayBufferView(hex(rfc9458.client_pkE_enc))) };
      const request = await encapsulateRequest(config, hex(rfc9458.bhttp_request), { primitives, ephemeral, suite: { kdfId: 1, aeadId: 1 } });
      assert.equal(toHex(request.bytes), rfc9458.encapsulated_request);
      assert.equal(toHex(await request.opener.open(hex(rfc9458.encapsulated_response))), rfc9458.bhttp_response);
    });
  });
}
