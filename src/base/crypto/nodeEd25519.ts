// node:crypto behind attestation's Ed25519Importer: a synchronous verify on the calling thread, as nodeEcdsa.ts does
// for ECDSA, so a server verifying many notes and bundles skips WebCrypto's thread-pool round trip per signature.
import { createPublicKey, verify } from 'node:crypto';
import { concatBytes, fromHex } from '../../../attestation/bytes.js';
import { ED25519_PUBLIC_KEY_SIZE, ED25519_SIGNATURE_SIZE, type Ed25519Importer } from '../../../attestation/ed25519.js';
import { ParseError } from '../../../attestation/errors.js';

/** SubjectPublicKeyInfo of an Ed25519 key up to the 32 key bytes (RFC 8410). */
const SPKI_PREFIX = fromHex('302a300506032b6570032100');

export const nodeEd25519: Ed25519Importer = (publicKey) => {
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE) return Promise.reject(new ParseError('UNSUPPORTED_ALGORITHM', `an Ed25519 public key is ${ED25519_PUBLIC_KEY_SIZE} bytes, got ${publicKey.length}`, { field: 'publicKey' }));
  const key = createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' });
  return Promise.resolve({
    verify: (signature, data) => {
      if (signature.length !== ED25519_SIGNATURE_SIZE) return false;
      try {
        return verify(null, data, key, signature);
      } catch {
        return false;
      }
    },
  });
};
