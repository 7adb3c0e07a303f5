// ECDSA verification of attestation signatures (SEV-SNP reports; TDX quotes later) behind a small
// interface: WebCrypto by default, so the verifier runs in browsers; a Node process can plug in
// node:crypto (src/base/crypto/nodeEcdsa.ts), whose synchronous verify skips WebCrypto's thread hop.
import { toArrayBufferView } from './bytes.js';

export type EcdsaCurve = 'P-256' | 'P-384';
export type EcdsaHash = 'SHA-256' | 'SHA-384';

export interface EcdsaPublicKey {
  /** `signature` is the fixed-width big-endian r||s (IEEE P1363). */
  verify(signature: Uint8Array, data: Uint8Array): boolean | Promise<boolean>;
}

/** Imports a SubjectPublicKeyInfo for verifying signatures with `hash` on `curve`. */
export type EcdsaImporter = (spki: Uint8Array, curve: EcdsaCurve, hash: EcdsaHash) => Promise<EcdsaPublicKey>;

export const webCryptoEcdsa: EcdsaImporter = async (spki, curve, hash) => {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey('spki', toArrayBufferView(spki), { name: 'ECDSA', namedCurve: curve }, false, ['verify']);
  return {
    verify: (signature, data) => subtle.verify({ name: 'ECDSA', hash }, key, toArrayBufferView(signature), toArrayBufferView(data)),
  };
};
