// node:crypto behind attestation's EcdsaImporter: a synchronous verify on the calling thread.
import { createPublicKey, verify } from 'node:crypto';
import type { EcdsaImporter } from '../../../attestation/ecdsa.js';
import { ParseError } from '../../../attestation/errors.js';

const HASH = { 'SHA-256': 'sha256', 'SHA-384': 'sha384' } as const;

export const nodeEcdsa: EcdsaImporter = (spki, curve, hash) => {
  const key = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
  const details = key.asymmetricKeyDetails;
  const expected = curve === 'P-256' ? 'prime256v1' : 'secp384r1';
  if (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== expected) {
    return Promise.reject(new ParseError('UNSUPPORTED_ALGORITHM', `public key is not an EC key on ${curve} (type ${key.asymmetricKeyType ?? 'unknown'}, curve ${details?.namedCurve ?? 'none'})`, { expected: curve, actual: details?.namedCurve ?? key.asymmetricKeyType ?? 'unknown' }));
  }
  return Promise.resolve({ verify: (signature, data) => verify(HASH[hash], data, { key, dsaEncoding: 'ieee-p1363' }, signature) });
};
