// Note keys, C2SP signed-note v1.0.0 "Verifier keys" and "Signature types": the vkey text form
//
//   <key name>+<hex(uint32 key ID)>+<base64(signature type || public key)>
//
// and the signature types this verifier implements:
//   0x01  Ed25519 over the note text; key ID = SHA-256(name || 0x0A || 0x01 || 32-byte key)[:4]
//   0x02  ECDSA P-256 with SHA-256 over the note text, ASN.1 DER signature (transparency-dev/witness, Rekor v1 and
//         Rekor v2 logs with ECDSA keys); the key is a SubjectPublicKeyInfo and key ID = SHA-256(SPKI)[:4]
//   0x04  timestamped Ed25519 cosignature/v1 (C2SP tlog-cosignature, cosignature.ts); key ID as for 0x01 with 0x04
import { parseBase64, toBase64, toHex } from '../bytes.js';
import { TAG, children, decodeBitString, decodeOid, decodeOne, expectTag } from '../der.js';
import { webCryptoEcdsa, type EcdsaImporter } from '../ecdsa.js';
import { ED25519_PUBLIC_KEY_SIZE, webCryptoEd25519, type Ed25519Importer } from '../ed25519.js';
import { ParseError } from '../errors.js';
import { webCryptoHasher, type Hasher } from '../hash.js';
import { ecdsaDerToP1363 } from '../signatures.js';
import { OID } from '../x509.js';
import { cosignedMessage, decodeTimestampedSignature, encodeTimestampedSignature } from './cosignature.js';
import { isKeyName, keyIdHex, type NoteSigner, type NoteVerifier, type SignatureCheck } from './signedNote.js';

export const SIGNATURE_TYPE = { ed25519: 0x01, ecdsa: 0x02, cosignatureV1: 0x04 } as const;
export type SignatureType = (typeof SIGNATURE_TYPE)[keyof typeof SIGNATURE_TYPE];

const OID_ED25519 = '1.3.101.112';
const P256_SIZE = 32;

export interface Vkey {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  /** The public key material after the type byte: 32 bytes for Ed25519, a SubjectPublicKeyInfo for ECDSA. */
  readonly key: Uint8Array;
}

/** Backends: hashes for key IDs, Ed25519 and ECDSA verification; WebCrypto for each by default. */
export interface NoteCrypto {
  readonly hasher?: Hasher;
  readonly ed25519?: Ed25519Importer;
  readonly ecdsa?: EcdsaImporter;
}

/** A verifier together with the vkey text that names it. */
export interface KeyedVerifier extends NoteVerifier {
  readonly vkey: string;
}

/** A signer together with the vkey of its public key. */
export interface KeyedSigner extends NoteSigner {
  readonly vkey: string;
}

export type SignFunction = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;

function malformed(message: string): never {
  throw new ParseError('MALFORMED_NOTE', message, { field: 'vkey' });
}

export function parseVkey(text: string): Vkey {
  // The base64 key may hold '+' itself: the name ends at the first '+', the key ID at the second.
  const m = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(text);
  if (m === null) malformed(`vkey "${text}" is not <name>+<key ID>+<key>`);
  const [, name = '', id = '', key = ''] = m;
  if (!isKeyName(name)) malformed(`vkey name "${name}" is empty or holds a space`);
  if (!/^[0-9a-f]{8}$/.test(id)) malformed(`vkey key ID "${id}" is not 8 lowercase hex digits`);
  const bytes = parseBase64(key);
  if (bytes === undefined || bytes.length < 2) malformed(`vkey key "${key}" is not canonical base64 of a type byte and a key`);
  return { name, keyId: Number.parseInt(id, 16), type: bytes[0] as number, key: bytes.subarray(1) };
}

export function formatVkey(v: Vkey): string {
  const typed = new Uint8Array(1 + v.key.length);
  typed[0] = v.type;
  typed.set(v.key, 1);
  return `${v.name}+${keyIdHex(v.keyId)}+${toBase64(typed)}`;
}

/** The key ID signed-note assigns: SHA-256(name || 0x0A || type || key)[:4], except type 0x02 (ECDSA), SHA-256(SPKI)[:4]. */
export async function noteKeyId(name: string, type: number, key: Uint8Array, hasher: Hasher = webCryptoHasher): Promise<number> {
  const parts = type === SIGNATURE_TYPE.ecdsa ? [key] : [new TextEncoder().encode(`${name}\n`), Uint8Array.of(type), key];
  const digest = await hasher.digest('SHA-256', parts);
  return Number.parseInt(toHex(digest.subarray(0, 4)), 16);
}

function unsupported(message: string, cause?: unknown): never {
  throw new ParseError('UNSUPPORTED_ALGORITHM', message, { field: 'vkey', ...(cause === undefined ? {} : { cause }) });
}

async function importEd25519(v: Vkey, crypto: NoteCrypto): Promise<(signature: Uint8Array, data: Uint8Array) => Promise<boolean>> {
  if (v.key.length !== ED25519_PUBLIC_KEY_SIZE) malformed(`Ed25519 key of ${v.name} is ${v.key.length} bytes, not ${ED25519_PUBLIC_KEY_SIZE}`);
  try {
    const key = await (crypto.ed25519 ?? webCryptoEd25519)(v.key);
    return async (signature, data) => key.verify(signature, data);
  } catch (cause) {
    return unsupported(`the Ed25519 key of ${v.name} cannot be imported`, cause);
  }
}

/** The curve of an EC SubjectPublicKeyInfo; only P-256 is accepted for note signatures. */
function checkP256Spki(spki: Uint8Array, name: string): void {
  const [algorithm] = children(decodeOne(spki, TAG.SEQUENCE));
  const [oid, curve] = children(expectTag(algorithm, TAG.SEQUENCE, 'SubjectPublicKeyInfo algorithm'));
  if (decodeOid(expectTag(oid, TAG.OID, 'algorithm')) !== OID.ecPublicKey || decodeOid(expectTag(curve, TAG.OID, 'namedCurve')) !== OID.secp256r1) {
    unsupported(`the ECDSA key of ${name} is not on P-256`);
  }
}

async function importEcdsa(v: Vkey, crypto: NoteCrypto): Promise<(signature: Uint8Array, data: Uint8Array) => Promise<boolean>> {
  checkP256Spki(v.key, v.name);
  let key;
  try {
    key = await (crypto.ecdsa ?? webCryptoEcdsa)(v.key, 'P-256', 'SHA-256');
  } catch (cause) {
    return unsupported(`the ECDSA key of ${v.name} cannot be imported`, cause);
  }
  return async (signature, data) => {
    let raw: Uint8Array;
    try {
      raw = ecdsaDerToP1363(signature, P256_SIZE);
    } catch {
      return false; // not an ECDSA-Sig-Value: a signature that does not verify
    }
    return key.verify(raw, data);
  };
}

/** A verifier of the vkey's signature type; its key ID must be the one signed-note derives from name and key. */
export async function noteVerifier(vkey: string | Vkey, crypto: NoteCrypto = {}): Promise<KeyedVerifier> {
  const v = typeof vkey === 'string' ? parseVkey(vkey) : vkey;
  const expected = await noteKeyId(v.name, v.type, v.key, crypto.hasher);
  if (expected !== v.keyId) malformed(`vkey of ${v.name} has key ID ${keyIdHex(v.keyId)}, but its name and key give ${keyIdHex(expected)}`);
  const base = { name: v.name, keyId: v.keyId, type: v.type, vkey: formatVkey(v) };
  switch (v.type) {
    case SIGNATURE_TYPE.ed25519:
    case SIGNATURE_TYPE.ecdsa: {
      const verify = v.type === SIGNATURE_TYPE.ed25519 ? await importEd25519(v, crypto) : await importEcdsa(v, crypto);
      return { ...base, verify: async (text, signature): Promise<SignatureCheck> => ({ valid: await verify(signature, text) }) };
    }
    case SIGNATURE_TYPE.cosignatureV1: {
      const verify = await importEd25519(v, crypto);
      return {
        ...base,
        async verify(text, signature): Promise<SignatureCheck> {
          const decoded = decodeTimestampedSignature(signature);
          if (decoded === undefined) return { valid: false };
          const valid = await verify(decoded.signature, cosignedMessage(decoded.timestamp, text));
          return valid ? { valid, timestamp: decoded.timestamp } : { valid };
        },
      };
    }
    default:
      return unsupported(`signature type 0x${v.type.toString(16).padStart(2, '0')} of ${v.name} is not one this verifier implements (0x01, 0x02, 0x04)`);
  }
}

/**
 * A log verifier from a SubjectPublicKeyInfo, as Sigstore's trusted root distributes log keys: an Ed25519 key signs
 * as type 0x01 (Rekor v2), an EC P-256 key as type 0x02 (Rekor v1, Rekor v2 with an ECDSA key). `name` is the
 * checkpoint's key name (Rekor: the origin).
 */
export async function noteVerifierFromSpki(name: string, spki: Uint8Array, crypto: NoteCrypto = {}): Promise<KeyedVerifier> {
  let oid: string;
  let key: Uint8Array;
  try {
    const [algorithm, bits] = children(decodeOne(spki, TAG.SEQUENCE));
    oid = decodeOid(expectTag(children(expectTag(algorithm, TAG.SEQUENCE, 'algorithm'))[0], TAG.OID, 'algorithm'));
    key = decodeBitString(expectTag(bits, TAG.BIT_STRING, 'subjectPublicKey'));
  } catch (cause) {
    return unsupported(`the key of ${name} is not a SubjectPublicKeyInfo`, cause);
  }
  const type = oid === OID_ED25519 ? SIGNATURE_TYPE.ed25519 : oid === OID.ecPublicKey ? SIGNATURE_TYPE.ecdsa : unsupported(`the key of ${name} (algorithm ${oid}) is neither Ed25519 nor ECDSA`);
  const material = type === SIGNATURE_TYPE.ed25519 ? key : spki;
  const keyId = await noteKeyId(name, type, material, crypto.hasher);
  return noteVerifier({ name, keyId, type, key: material }, crypto);
}

async function keyedSigner(name: string, type: number, publicKey: Uint8Array, sign: SignFunction, hasher: Hasher | undefined): Promise<KeyedSigner> {
  if (!isKeyName(name)) malformed(`key name "${name}" is empty or holds a space or '+'`);
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE) malformed(`Ed25519 public key is ${publicKey.length} bytes, not ${ED25519_PUBLIC_KEY_SIZE}`);
  const keyId = await noteKeyId(name, type, publicKey, hasher);
  return { name, keyId, vkey: formatVkey({ name, keyId, type, key: publicKey }), sign: async (text) => sign(text) };
}

/** A type 0x01 signer from an Ed25519 public key and the function that signs with its private key. */
export function ed25519NoteSigner(name: string, publicKey: Uint8Array, sign: SignFunction, hasher?: Hasher): Promise<KeyedSigner> {
  return keyedSigner(name, SIGNATURE_TYPE.ed25519, publicKey, sign, hasher);
}

/** A type 0x04 cosigner: each signature is timestamped with `now()` (POSIX seconds). */
export async function cosignatureNoteSigner(name: string, publicKey: Uint8Array, sign: SignFunction, now: () => number, hasher?: Hasher): Promise<KeyedSigner> {
  const timestamped: SignFunction = async (text) => {
    const timestamp = now();
    return encodeTimestampedSignature({ timestamp, signature: await sign(cosignedMessage(timestamp, text)) });
  };
  return keyedSigner(name, SIGNATURE_TYPE.cosignatureV1, publicKey, timestamped, hasher);
}
