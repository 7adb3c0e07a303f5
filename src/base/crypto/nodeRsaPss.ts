// node:crypto behind the Privacy Pass client's RsaPssImporter (attestation/protocols/privacypass/blindRsa.ts): a
// synchronous RSA-PSS verify on the calling thread, where WebCrypto costs a thread-pool round trip per token.
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { rsaJwk, type RsaPssImporter, type RsaPublicKey } from '../../../attestation/protocols/privacypass/blindRsa.js';

/** The public key (n, e) as a node:crypto KeyObject. */
export function rsaPublicKeyObject(pk: RsaPublicKey): KeyObject {
  const { n = '', e = '' } = rsaJwk(pk);
  return createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' });
}

export const nodeRsaPss: RsaPssImporter = (pk, saltLength) => {
  // The salt length is the one expected, not a maximum: OpenSSL refuses a signature with any other.
  const options = { key: rsaPublicKeyObject(pk), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength };
  return Promise.resolve({ verify: (msg, signature) => verify('sha384', msg, options, signature) });
};
