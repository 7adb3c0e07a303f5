// node:crypto behind attestation's EcdsaImporter: a synchronous verify on the calling thread. The r||s signature is
// turned back into DER and verified with the bare KeyObject: a `{ key, dsaEncoding: 'ieee-p1363' }` options object
// makes node:crypto prepare the key again on every call, which cost a third of a P-256 verification.
import { createPublicKey, verify } from 'node:crypto';
import type { EcdsaImporter } from '../../../attestation/ecdsa.js';
import { ParseError } from '../../../attestation/errors.js';
import { ecdsaP1363ToDer } from '../../../attestation/signatures.js';

const HASH = { 'SHA-256': 'sha256', 'SHA-384': 'sha384' } as const;

export const nodeEcdsa: EcdsaImporter = (spki, curve, hash) => {
  const key = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
  const details = key.asymmetricKeyDetails;
  const expected = curve === 'P-256' ? 'prime256v1' : 'secp384r1';
  if (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== expected) {
    return Promise.reject(new ParseError('UNSUPPORTED_ALGORITHM', `public key is not an EC key on ${curve} (type ${key.asymmetricKeyType ?? 'unknown'}, curve ${details?.namedCurve ?? 'none'})`, { expected: curve, actual: details?.namedCurve ?? key.asymmetricKeyType ?? 'unknown' }));
  }
  const size = curve === 'P-256' ? 64 : 96;
  return Promise.resolve({ verify: (signature, data) => signature.length === size && verify(HASH[hash], data, key, ecdsaP1363ToDer(signature)) });
};
