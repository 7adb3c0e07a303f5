// Signature checks on WebCrypto, so the verifier runs unchanged in Node and in browsers.
// RSA keys are imported as JWK: browsers refuse SPKIs whose algorithm is id-RSASSA-PSS, as AMD's are.
import { toArrayBufferView, toBase64Url } from './bytes.js';
import { TAG, children, decodeBitString, decodeOid, decodeOne, decodeSmallInteger, expectTag, unsignedIntegerBytes } from './der.js';
import { ParseError } from './errors.js';
import { OID, type AlgorithmIdentifier, type Certificate, type Signed } from './x509.js';

type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';

export type SignatureScheme =
  | { readonly kind: 'rsa-pss'; readonly hash: HashName; readonly saltLength: number }
  | { readonly kind: 'rsa-pkcs1'; readonly hash: HashName }
  | { readonly kind: 'ecdsa'; readonly hash: HashName };

const HASH_BY_OID: Readonly<Record<string, HashName>> = { [OID.sha256]: 'SHA-256', [OID.sha384]: 'SHA-384', [OID.sha512]: 'SHA-512' };
const CURVE_BY_OID: Readonly<Record<string, { name: 'P-256' | 'P-384'; size: number }>> = {
  [OID.secp256r1]: { name: 'P-256', size: 32 },
  [OID.secp384r1]: { name: 'P-384', size: 48 },
};

function unsupported(what: string): never {
  throw new ParseError('UNSUPPORTED_ALGORITHM', `unsupported ${what}`, { field: 'signatureAlgorithm', actual: what });
}

function pssParams(alg: AlgorithmIdentifier): SignatureScheme {
  const fields = alg.params === undefined ? [] : children(expectTag(alg.params, TAG.SEQUENCE, 'RSASSA-PSS params'));
  let hash: HashName | undefined;
  let mgfHash: HashName | undefined;
  let saltLength = 20;
  for (const f of fields) {
    const inner = children(f)[0];
    if (f.tag === 0xa0) hash = HASH_BY_OID[decodeOid(expectTag(children(expectTag(inner, TAG.SEQUENCE, 'hashAlgorithm'))[0], TAG.OID, 'hash'))];
    if (f.tag === 0xa1) {
      const [mgfOid, mgfParams] = children(expectTag(inner, TAG.SEQUENCE, 'maskGenAlgorithm'));
      if (decodeOid(expectTag(mgfOid, TAG.OID, 'mgf')) !== OID.mgf1) unsupported('RSASSA-PSS mask generation function');
      mgfHash = HASH_BY_OID[decodeOid(expectTag(children(expectTag(mgfParams, TAG.SEQUENCE, 'mgf1 hash'))[0], TAG.OID, 'mgf1 hash'))];
    }
    if (f.tag === 0xa2) saltLength = decodeSmallInteger(expectTag(inner, TAG.INTEGER, 'saltLength'));
  }
  if (hash === undefined || mgfHash !== hash) unsupported('RSASSA-PSS hash (SHA-1 or mismatched MGF1 hash)');
  return { kind: 'rsa-pss', hash, saltLength };
}

export function signatureScheme(alg: AlgorithmIdentifier): SignatureScheme {
  switch (alg.oid) {
    case OID.rsassaPss:
      return pssParams(alg);
    case OID.sha256WithRsa:
      return { kind: 'rsa-pkcs1', hash: 'SHA-256' };
    case OID.sha384WithRsa:
      return { kind: 'rsa-pkcs1', hash: 'SHA-384' };
    case OID.ecdsaWithSha256:
      return { kind: 'ecdsa', hash: 'SHA-256' };
    case OID.ecdsaWithSha384:
      return { kind: 'ecdsa', hash: 'SHA-384' };
    default:
      return unsupported(`signature algorithm ${alg.oid}`);
  }
}

function rsaJwk(cert: Certificate): JsonWebKey {
  const spki = children(decodeOne(cert.spki, TAG.SEQUENCE));
  const rsaKey = children(decodeOne(decodeBitString(expectTag(spki[1], TAG.BIT_STRING, 'subjectPublicKey')), TAG.SEQUENCE));
  return {
    kty: 'RSA',
    n: toBase64Url(unsignedIntegerBytes(expectTag(rsaKey[0], TAG.INTEGER, 'modulus'))),
    e: toBase64Url(unsignedIntegerBytes(expectTag(rsaKey[1], TAG.INTEGER, 'publicExponent'))),
  };
}

export function ecCurve(cert: Certificate): { name: 'P-256' | 'P-384'; size: number } {
  if (cert.spkiAlgorithm.oid !== OID.ecPublicKey || cert.spkiAlgorithm.params?.tag !== TAG.OID) unsupported('public key (not an EC key)');
  return CURVE_BY_OID[decodeOid(cert.spkiAlgorithm.params)] ?? unsupported('elliptic curve');
}

/** Imports `cert`'s public key for verifying signatures of the given scheme. */
export async function importPublicKey(cert: Certificate, scheme: SignatureScheme): Promise<CryptoKey> {
  const subtle = globalThis.crypto.subtle;
  if (scheme.kind === 'ecdsa') {
    return subtle.importKey('spki', toArrayBufferView(cert.spki), { name: 'ECDSA', namedCurve: ecCurve(cert).name }, false, ['verify']);
  }
  if (cert.spkiAlgorithm.oid !== OID.rsaEncryption && cert.spkiAlgorithm.oid !== OID.rsassaPss) unsupported('public key (not an RSA key)');
  const name = scheme.kind === 'rsa-pss' ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5';
  return subtle.importKey('jwk', rsaJwk(cert), { name, hash: scheme.hash }, false, ['verify']);
}

/** DER ECDSA-Sig-Value to the fixed-width r||s form WebCrypto verifies. */
export function ecdsaDerToP1363(der: Uint8Array, size: number): Uint8Array {
  const [r, s] = children(decodeOne(der, TAG.SEQUENCE)).map((t) => unsignedIntegerBytes(t));
  if (r === undefined || s === undefined || r.length > size || s.length > size) {
    throw new ParseError('MALFORMED_FIELD', 'ECDSA signature integers do not fit the curve', { field: 'signatureValue' });
  }
  const out = new Uint8Array(2 * size);
  out.set(r, size - r.length);
  out.set(s, 2 * size - s.length);
  return out;
}

/** Writes the DER INTEGER of an unsigned big-endian value at `at` (leading zeroes dropped, a 0x00 where the top bit is set); returns its end. */
function writeUnsignedInteger(out: Uint8Array, at: number, value: Uint8Array): number {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const pad = (value[start] as number) >= 0x80 ? 1 : 0;
  const length = pad + value.length - start;
  out[at] = TAG.INTEGER;
  out[at + 1] = length;
  out.set(value.subarray(start), at + 2 + pad);
  return at + 2 + length;
}

/** Fixed-width r||s (IEEE P1363) to the DER ECDSA-Sig-Value, the inverse of ecdsaDerToP1363; every length of P-256 and P-384 fits one byte. */
export function ecdsaP1363ToDer(p1363: Uint8Array): Uint8Array {
  const half = p1363.length / 2;
  const out = new Uint8Array(2 + 2 * (2 + half + 1));
  out[0] = TAG.SEQUENCE;
  const end = writeUnsignedInteger(out, writeUnsignedInteger(out, 2, p1363.subarray(0, half)), p1363.subarray(half));
  out[1] = end - 2;
  return out.subarray(0, end);
}

/** Verifies that `issuer`'s key signed `signed` (a certificate or CRL). */
export async function verifySignedBy(signed: Signed, issuer: Certificate): Promise<boolean> {
  const scheme = signatureScheme(signed.signatureAlgorithm);
  let key: CryptoKey;
  try {
    key = await importPublicKey(issuer, scheme);
  } catch (cause) {
    if (cause instanceof ParseError) throw cause;
    throw new ParseError('MALFORMED_DER', `public key of "${issuer.subjectCommonName ?? '?'}" cannot be imported for ${scheme.kind} ${scheme.hash}`, { field: 'subjectPublicKeyInfo', cause });
  }
  let signature = signed.signature;
  let algorithm: RsaPssParams | EcdsaParams | string;
  if (scheme.kind === 'rsa-pss') algorithm = { name: 'RSA-PSS', saltLength: scheme.saltLength };
  else if (scheme.kind === 'rsa-pkcs1') algorithm = 'RSASSA-PKCS1-v1_5';
  else {
    algorithm = { name: 'ECDSA', hash: scheme.hash };
    try {
      signature = ecdsaDerToP1363(signature, ecCurve(issuer).size);
    } catch {
      return false;
    }
  }
  try {
    return await globalThis.crypto.subtle.verify(algorithm, key, toArrayBufferView(signature), toArrayBufferView(signed.tbs));
  } catch {
    return false; // a signature of the wrong size for the key is just a signature that does not verify
  }
}
