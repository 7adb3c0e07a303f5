// The raw limit for the gateway benchmark: one RFC 9458 exchange (decapsulate a request, encapsulate
// the response) written straight on node:crypto for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
// AES-128-GCM (RFC 9180 sections 4, 5.1, 5.2, 5.3, 7.1; RFC 9458 section 4), with no library between
// (HMAC through src/crypto/hmac.ts, the gateway's own, so that both sides hash at the same speed), and
// with the same cheapest ways into node:crypto the gateway takes: the client's key imported raw through
// WebCrypto, AEAD keys as secret KeyObjects. Every value is computed per call, as the gateway does; only
// label strings are constants.
import { createCipheriv, createDecipheriv, createSecretKey, diffieHellman, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { hmacSha256 } from '../src/crypto/hmac.js';

const V1 = Buffer.from('HPKE-v1');
const KEM_SUITE = Buffer.from([0x4b, 0x45, 0x4d, 0x00, 0x20]);
const HPKE_SUITE = Buffer.from([0x48, 0x50, 0x4b, 0x45, 0x00, 0x20, 0x00, 0x01, 0x00, 0x01]);
const L = (s: string): Buffer => Buffer.from(s);
const LABELS = { eae: L('eae_prk'), shared: L('shared_secret'), pskId: L('psk_id_hash'), info: L('info_hash'), secret: L('secret'), key: L('key'), nonce: L('base_nonce'), exp: L('exp'), sec: L('sec'), responseKey: L('key'), responseNonce: L('nonce') };
const REQUEST_LABEL = L('message/bhttp request\0');
const RESPONSE_LABEL = L('message/bhttp response');

const extract = (salt: Buffer, ikm: Buffer): Buffer => hmacSha256(salt.length === 0 ? Buffer.alloc(32) : salt, ikm);

function expand(prk: Buffer, info: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  let t: Buffer = Buffer.alloc(0);
  for (let i = 1, at = 0; at < length; i++) {
    t = hmacSha256(prk, t, info, Uint8Array.of(i));
    at += t.copy(out, at);
  }
  return out;
}

const labeledExtract = (suite: Buffer, salt: Buffer, label: Buffer, ikm: Buffer): Buffer => extract(salt, Buffer.concat([V1, suite, label, ikm]));
const labeledExpand = (suite: Buffer, prk: Buffer, label: Buffer, info: Buffer, length: number): Buffer => expand(prk, Buffer.concat([Buffer.from([length >> 8, length & 0xff]), V1, suite, label, info]), length);

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
  const pkE = KeyObject.from(await webcrypto.subtle.importKey('raw', enc, { name: 'X25519' }, true, []));
  const dh = diffieHellman({ privateKey: skR, publicKey: pkE });
  const shared = labeledExpand(KEM_SUITE, labeledExtract(KEM_SUITE, Buffer.alloc(0), LABELS.eae, dh), LABELS.shared, Buffer.concat([enc, pkRm]), 32);
  const info = Buffer.concat([REQUEST_LABEL, hdr]);
  const context = Buffer.concat([Buffer.from([0]), labeledExtract(HPKE_SUITE, Buffer.alloc(0), LABELS.pskId, Buffer.alloc(0)), labeledExtract(HPKE_SUITE, Buffer.alloc(0), LABELS.info, info)]);
  const secret = labeledExtract(HPKE_SUITE, shared, LABELS.secret, Buffer.alloc(0));
  const key = labeledExpand(HPKE_SUITE, secret, LABELS.key, context, 16);
  const nonce = labeledExpand(HPKE_SUITE, secret, LABELS.nonce, context, 12);
  const exporter = labeledExpand(HPKE_SUITE, secret, LABELS.exp, context, 32);
  const d = createDecipheriv('aes-128-gcm', createSecretKey(key), nonce, { authTagLength: 16 });
  d.setAuthTag(ct.subarray(ct.length - 16));
  const message = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  const responseSecret = labeledExpand(HPKE_SUITE, exporter, LABELS.sec, RESPONSE_LABEL, 16);
  return {
    message,
    respond: (response, responseNonce) => {
      const rn = responseNonce === undefined ? randomBytes(16) : Buffer.from(responseNonce);
      const salt = Buffer.concat([enc, rn]);
      const prk = extract(salt, responseSecret);
      const k = expand(prk, LABELS.responseKey, 16);
      const n = expand(prk, LABELS.responseNonce, 12);
      const c = createCipheriv('aes-128-gcm', createSecretKey(k), n, { authTagLength: 16 });
      return Buffer.concat([rn, c.update(response), c.final(), c.getAuthTag()]);
    },
  };
}
