// Ed25519 verification (RFC 8032) of signed notes and cosignatures behind a small interface, as ecdsa.ts does for
// ECDSA: WebCrypto by default, which has Ed25519 in Node and in current browsers; a caller may plug in another.
import { toArrayBufferView } from './bytes.js';

export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

export interface Ed25519PublicKey {
  verify(signature: Uint8Array, data: Uint8Array): boolean | Promise<boolean>;
}

/** Imports a raw 32-byte public key (RFC 8032 encoding); rejects what the backend cannot import. */
export type Ed25519Importer = (publicKey: Uint8Array) => Promise<Ed25519PublicKey>;

export const webCryptoEd25519: Ed25519Importer = async (publicKey) => {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey('raw', toArrayBufferView(publicKey), { name: 'Ed25519' }, false, ['verify']);
  return {
    async verify(signature, data) {
      if (signature.length !== ED25519_SIGNATURE_SIZE) return false;
      try {
        return await subtle.verify({ name: 'Ed25519' }, key, toArrayBufferView(signature), toArrayBufferView(data));
      } catch {
        return false; // a signature the backend cannot even decode is one that does not verify
      }
    },
  };
};
