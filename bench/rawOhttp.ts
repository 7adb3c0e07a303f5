// The raw limit for the gateway benchmark: one RFC 9458 exchange (decapsulate a request, encapsulate
// the response) written straight on node:crypto for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
// AES-128-GCM (RFC 9180 sections 4, 5.1, 5.2, 5.3, 7.1; RFC 9458 section 4), with no HPKE library
// between, and with the gateway's own building blocks where both sides must run at the same speed: its
// HKDF on its HMAC (NodeHkdfSha256), its raw import of the client's key (importX25519PublicKey), AEAD
// keys as secret KeyObjects, and its cached key_schedule_context per header (keyScheduleContext). Every
// other value is computed per call.
import { createCipheriv, createDecipheriv, createSecretKey, diffieHellman, type KeyObject, randomBytes } from 'node:crypto';
import { importX25519PublicKey, keyScheduleContext, NodeHkdfSha256 } from '../src/base/index.js';

const L = (s: string): Buffer => Buffer.from(s);
const LABELS = { eae: L('eae_prk'), shared: L('shared_secret'), secret: L('secret'), key: L('key'), nonce: L('base_nonce'), exp: L('exp'), sec: L('sec'), responseKey: L('key'), responseNonce: L('nonce') };
const REQUEST_LABEL = L('message/bhttp request\0');
const RESPONSE_LABEL = L('message/bhttp response');
const EMPTY = Buffer.alloc(0);

const suite = (id: number[]): NodeHkdfSha256 => {
  const kdf = new NodeHkdfSha256();
  kdf.init(Uint8Array.from(id));
  return kdf;
};
const kem = suite([0x4b, 0x45, 0x4d, 0x00, 0x20]);
const hpke = suite([0x48, 0x50, 0x4b, 0x45, 0x00, 0x20, 0x00, 0x01, 0x00, 0x01]);

export interface RawExchange {
  readonly message: Buffer;
  respond(response: Uint8Array, responseNonce?: Uint8Array): Buffer;
}

/** Decapsulates an AES-128-GCM request for key (skR, pkRm); rejects on any failure. */
export async function rawDecapsulate(request: Uint8Array, skR: KeyObject, pkRm: Buffer): Promise<RawExchange> {
  const req = Buffer.from(request.buffer, request.byteOffset, request.byteLength);
  const hdr = req.subarray(0, 7);
  if (req.length < 7 + 32 + 16 || hdr.readUInt16BE(1) !== 0x20 || hdr.readUInt16BE(3) !== 1 || hdr.readUInt16BE(5) !== 1) throw new Error('unsupported or malformed request');
  const enc = req.subarray(7, 39);
  const ct = req.subarray(39);
  const dh = diffieHellman({ privateKey: skR, publicKey: await importX25519PublicKey(enc) });
  const shared = kem.labeledExpandSync(kem.labeledExtractSync(EMPTY, LABELS.eae, dh), LABELS.shared, Buffer.concat([enc, pkRm]), 32);
  const context = keyScheduleContext(0x20, 1, 1, Buffer.concat([REQUEST_LABEL, hdr]));
  const secret = hpke.labeledExtractSync(shared, LABELS.secret, EMPTY);
  const key = hpke.labeledExpandSync(secret, LABELS.key, context, 16);
  const nonce = hpke.labeledExpandSync(secret, LABELS.nonce, context, 12);
  const exporter = hpke.labeledExpandSync(secret, LABELS.exp, context, 32);
  const d = createDecipheriv('aes-128-gcm', createSecretKey(key), nonce, { authTagLength: 16 });
  d.setAuthTag(ct.subarray(ct.length - 16));
  const message = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  const responseSecret = hpke.labeledExpandSync(exporter, LABELS.sec, RESPONSE_LABEL, 16);
  return {
    message,
    respond: (response, responseNonce) => {
      const rn = responseNonce === undefined ? randomBytes(16) : Buffer.from(responseNonce);
      const salt = Buffer.concat([enc, rn]);
      const [k, n] = hpke.extractAndExpandAllSync(salt, responseSecret, [
        { info: LABELS.responseKey, length: 16 },
        { info: LABELS.responseNonce, length: 12 },
      ]) as [Buffer, Buffer];
      const c = createCipheriv('aes-128-gcm', createSecretKey(k), n, { authTagLength: 16 });
      return Buffer.concat([rn, c.update(response), c.final(), c.getAuthTag()]);
    },
  };
}
