// The public keys Sigstore signatures are checked with: a SubjectPublicKeyInfo (a managed key's PEM, a Fulcio leaf
// certificate's key, a log's or a TSA's key in the trusted root) imported as a verifier of its one scheme:
//
//   EC P-256  ECDSA with SHA-256   (Sigstore's default; Rekor v1, CT logs, Fulcio leaves)
//   EC P-384  ECDSA with SHA-384
//   Ed25519   pure Ed25519         (Rekor v2 logs; managed keys)
//
// ECDSA signatures are ASN.1 DER (ECDSA-Sig-Value) as Sigstore writes them; the fixed-width r||s form (IEEE P1363)
// that WebCrypto produces is accepted as well. RSA keys are refused with UNSUPPORTED_ALGORITHM.
import { decodePem } from '../bytes.js';
import { TAG, children, decodeBitString, decodeOid, decodeOne, expectTag } from '../der.js';
import { webCryptoEcdsa, type EcdsaImporter } from '../ecdsa.js';
import { ED25519_PUBLIC_KEY_SIZE, webCryptoEd25519, type Ed25519Importer } from '../ed25519.js';
import { ParseError } from '../errors.js';
import { ecdsaDerToP1363 } from '../signatures.js';
import { OID } from '../x509.js';

export const OID_ED25519 = '1.3.101.112';

export type SigstoreKeyScheme = 'ecdsa-p256-sha256' | 'ecdsa-p384-sha384' | 'ed25519';

/** A public key that verifies signatures of its scheme over a message (never a prehashed digest). */
export interface SignatureVerifier {
  readonly scheme: SigstoreKeyScheme;
  /** The key's SubjectPublicKeyInfo, as the tlog entry and the bundle carry it. */
  readonly spki: Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array): Promise<boolean>;
}

/** Verification backends; WebCrypto by default. */
export interface SigstoreCrypto {
  readonly ecdsa?: EcdsaImporter;
  readonly ed25519?: Ed25519Importer;
}

const CURVES: Readonly<Record<string, { scheme: SigstoreKeyScheme; curve: 'P-256' | 'P-384'; hash: 'SHA-256' | 'SHA-384'; size: number }>> = {
  [OID.secp256r1]: { scheme: 'ecdsa-p256-sha256', curve: 'P-256', hash: 'SHA-256', size: 32 },
  [OID.secp384r1]: { scheme: 'ecdsa-p384-sha384', curve: 'P-384', hash: 'SHA-384', size: 48 },
};

function unsupported(message: string, cause?: unknown): never {
  throw new ParseError('UNSUPPORTED_ALGORITHM', message, { field: 'publicKey', ...(cause === undefined ? {} : { cause }) });
}

/** The algorithm OID, its parameter OID (EC curve) if any, and the key bits of a SubjectPublicKeyInfo. */
export function spkiParts(spki: Uint8Array): { oid: string; curve: string | undefined; key: Uint8Array } {
  try {
    const [algorithm, bits] = children(decodeOne(spki, TAG.SEQUENCE));
    const [oid, params] = children(expectTag(algorithm, TAG.SEQUENCE, 'algorithm'));
    return {
      oid: decodeOid(expectTag(oid, TAG.OID, 'algorithm')),
      curve: params?.tag === TAG.OID ? decodeOid(params) : undefined,
      key: decodeBitString(expectTag(bits, TAG.BIT_STRING, 'subjectPublicKey')),
    };
  } catch (cause) {
    throw new ParseError('MALFORMED_DER', 'public key is not a DER SubjectPublicKeyInfo', { field: 'publicKey', cause });
  }
}

/** Imports a SubjectPublicKeyInfo as the verifier of its scheme. */
export async function importSigstoreKey(spki: Uint8Array, crypto: SigstoreCrypto = {}): Promise<SignatureVerifier> {
  const { oid, curve, key } = spkiParts(spki);
  if (oid === OID_ED25519) {
    if (key.length !== ED25519_PUBLIC_KEY_SIZE) throw new ParseError('MALFORMED_DER', `Ed25519 key is ${key.length} bytes, not ${ED25519_PUBLIC_KEY_SIZE}`, { field: 'publicKey' });
    let imported;
    try {
      imported = await (crypto.ed25519 ?? webCryptoEd25519)(key);
    } catch (cause) {
      return unsupported('the Ed25519 key cannot be imported', cause);
    }
    return { scheme: 'ed25519', spki, verify: async (signature, message) => imported.verify(signature, message) };
  }
  if (oid !== OID.ecPublicKey) return unsupported(`public key algorithm ${oid} is not EC or Ed25519`);
  const c = CURVES[curve ?? ''] ?? unsupported(`EC curve ${curve ?? '(none)'} is not P-256 or P-384`);
  let imported;
  try {
    imported = await (crypto.ecdsa ?? webCryptoEcdsa)(spki, c.curve, c.hash);
  } catch (cause) {
    return unsupported(`the ${c.curve} key cannot be imported (not a point on the curve?)`, cause);
  }
  return {
    scheme: c.scheme,
    spki,
    async verify(signature, message) {
      let raw: Uint8Array;
      try {
        raw = ecdsaDerToP1363(signature, c.size);
      } catch {
        if (signature.length !== 2 * c.size) return false; // neither DER nor r||s: a signature that does not verify
        raw = signature;
      }
      try {
        return await imported.verify(raw, message);
      } catch {
        return false;
      }
    },
  };
}

/** The SubjectPublicKeyInfo of a PEM `PUBLIC KEY` block (a managed key's key.pub). */
export function publicKeyFromPem(pem: string): Uint8Array {
  const block = decodePem(pem).find((b) => b.label === 'PUBLIC KEY');
  if (block === undefined) throw new ParseError('MALFORMED_DER', 'no PEM PUBLIC KEY block', { field: 'publicKey' });
  spkiParts(block.der);
  return block.der;
}
