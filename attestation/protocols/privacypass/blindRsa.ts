// RSA blind signatures, the client's half: RFC 9474 RSABSSA-SHA384-PSS and -PSSZERO, each Deterministic or
// Randomized (section 5). Prepare (4.1), Blind (4.2) and Finalize (4.4); the signer's BlindSign (4.3) needs the
// private key and lives with the issuer (src/privacypass/blindSign.ts). EMSA-PSS is RFC 8017 section 9.1.1 with
// SHA-384 and MGF1-SHA384; the finalized signature is checked with RSA-PSS behind RsaPssImporter: WebCrypto by
// default, so the client runs in browsers; a Node verifier plugs in node:crypto (src/base/crypto/nodeRsaPss.ts).
import { concatBytes, toArrayBufferView, toBase64Url } from '../../bytes.js';
import { ParseError, VerificationError } from '../../errors.js';
import { webCryptoHasher } from '../../hash.js';
import { bigIntToBytes, bitLength, bytesToBigInt, modInverse, modPow, randomBelow } from './bigint.js';

export interface RsaPublicKey {
  readonly n: bigint;
  readonly e: bigint;
}

/** The four RFC 9474 section 5 variants: salt length 48 (PSS) or 0 (PSSZERO), with or without a random prefix. */
export const RSABSSA_VARIANTS = {
  'RSABSSA-SHA384-PSS-Randomized': { saltLength: 48, randomized: true },
  'RSABSSA-SHA384-PSSZERO-Randomized': { saltLength: 0, randomized: true },
  'RSABSSA-SHA384-PSS-Deterministic': { saltLength: 48, randomized: false },
  'RSABSSA-SHA384-PSSZERO-Deterministic': { saltLength: 0, randomized: false },
} as const;
export type RsaBssaVariant = keyof typeof RSABSSA_VARIANTS;

const HASH_LENGTH = 48;
const MSG_PREFIX_LENGTH = 32;

type Random = (bytes: Uint8Array<ArrayBuffer>) => void;
const webCryptoRandom: Random = (b) => globalThis.crypto.getRandomValues(b);

const sha384 = (data: Uint8Array): Promise<Uint8Array> => webCryptoHasher.digest('SHA-384', [data]);

function malformed(message: string, field: string): never {
  throw new ParseError('MALFORMED_PRIVACY_PASS', message, { field });
}

/** The modulus length in bytes (RFC 9474 modulus_len). */
export function modulusLength(pk: RsaPublicKey): number {
  return Math.ceil(bitLength(pk.n) / 8);
}

/** Prepare (section 4.1): the message itself, or 32 random bytes (or the given `prefix`) followed by it. */
export function prepare(variant: RsaBssaVariant, msg: Uint8Array, prefix?: Uint8Array): Uint8Array {
  if (!RSABSSA_VARIANTS[variant].randomized) return msg.slice();
  const msgPrefix = prefix ?? new Uint8Array(MSG_PREFIX_LENGTH);
  if (prefix === undefined) webCryptoRandom(msgPrefix as Uint8Array<ArrayBuffer>);
  if (msgPrefix.length !== MSG_PREFIX_LENGTH) malformed(`msg_prefix must be ${MSG_PREFIX_LENGTH} bytes, got ${msgPrefix.length}`, 'msg_prefix');
  return concatBytes(msgPrefix, msg);
}

async function mgf1(seed: Uint8Array, length: number): Promise<Uint8Array> {
  const blocks: Uint8Array[] = [];
  for (let counter = 0; blocks.length * HASH_LENGTH < length; counter++) {
    blocks.push(await sha384(concatBytes(seed, bigIntToBytes(BigInt(counter), 4))));
  }
  return concatBytes(...blocks).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) with SHA-384 and MGF1-SHA384, for a modulus of `modBits` bits. */
export async function emsaPssEncode(msg: Uint8Array, modBits: number, salt: Uint8Array): Promise<Uint8Array> {
  const emBits = modBits - 1;
  const emLength = Math.ceil(emBits / 8);
  if (emLength < HASH_LENGTH + salt.length + 2) malformed(`a ${modBits}-bit modulus is too short for EMSA-PSS with a ${salt.length}-byte salt`, 'n');
  const mHash = await sha384(msg);
  const h = await sha384(concatBytes(new Uint8Array(8), mHash, salt));
  const db = concatBytes(new Uint8Array(emLength - salt.length - HASH_LENGTH - 2), new Uint8Array([0x01]), salt);
  const mask = await mgf1(h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & (0xff >> (8 * emLength - emBits));
  return concatBytes(db, h, new Uint8Array([0xbc]));
}

export interface BlindOptions {
  /** The EMSA-PSS salt; random by default. Tests inject the RFC vectors' salt. */
  readonly salt?: Uint8Array;
  /** The blinding factor r in [1, n); random by default. Tests inject the RFC vectors' r. */
  readonly r?: bigint;
  /** The random generator for salt and r (WebCrypto's by default). */
  readonly random?: Random;
}

export interface Blinded {
  readonly blindedMsg: Uint8Array;
  /** r^-1 mod n, which Finalize needs. */
  readonly inv: bigint;
}

/** Blind (section 4.2): `preparedMsg` is Prepare's output. */
export async function blind(pk: RsaPublicKey, variant: RsaBssaVariant, preparedMsg: Uint8Array, options: BlindOptions = {}): Promise<Blinded> {
  const { saltLength } = RSABSSA_VARIANTS[variant];
  const random = options.random ?? webCryptoRandom;
  const salt = options.salt ?? new Uint8Array(saltLength);
  if (options.salt === undefined) random(salt as Uint8Array<ArrayBuffer>);
  if (salt.length !== saltLength) malformed(`${variant} takes a ${saltLength}-byte salt, got ${salt.length}`, 'salt');
  const encoded = await emsaPssEncode(preparedMsg, bitLength(pk.n), salt);
  const m = bytesToBigInt(encoded);
  if (modInverse(m, pk.n) === undefined) malformed('the encoded message shares a factor with the modulus: the public key is not an RSA modulus', 'n');
  const r = options.r ?? randomBelow(pk.n, random);
  const inv = r > 0n && r < pk.n ? modInverse(r, pk.n) : undefined;
  if (inv === undefined) malformed('the blinding factor is not invertible modulo n', 'r');
  const blindedMsg = bigIntToBytes((m * modPow(r, pk.e, pk.n)) % pk.n, modulusLength(pk));
  return { blindedMsg, inv };
}

export interface RsaPssPublicKey {
  /** RSASSA-PSS-VERIFY (RFC 8017 section 8.1.2) with SHA-384, MGF1-SHA384 and the salt length it was imported for. */
  verify(msg: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>;
}

/** Imports an RSA public key for verifying RSASSA-PSS signatures with SHA-384 and `saltLength`. */
export type RsaPssImporter = (pk: RsaPublicKey, saltLength: number) => Promise<RsaPssPublicKey>;

export const webCryptoRsaPss: RsaPssImporter = async (pk, saltLength) => {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey('jwk', rsaJwk(pk), { name: 'RSA-PSS', hash: 'SHA-384' }, false, ['verify']);
  return { verify: (msg, signature) => subtle.verify({ name: 'RSA-PSS', saltLength }, key, toArrayBufferView(signature), toArrayBufferView(msg)) };
};

/** `pk` imported once through `importer`, refusing signatures that are not modulus_len bytes before any backend sees them. */
export async function pssVerifier(pk: RsaPublicKey, saltLength: number, importer: RsaPssImporter = webCryptoRsaPss): Promise<RsaPssPublicKey> {
  const k = modulusLength(pk);
  const key = await importer(pk, saltLength);
  return { verify: (msg, signature) => signature.length === k && key.verify(msg, signature) };
}

/** RSASSA-PSS-VERIFY with SHA-384, through WebCrypto. */
export async function verifyPss(pk: RsaPublicKey, saltLength: number, msg: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (signature.length !== modulusLength(pk)) return false;
  return (await pssVerifier(pk, saltLength)).verify(msg, signature);
}

/** Finalize (section 4.4): unblinds the signer's `blindSig` and returns the signature on `preparedMsg` once it verifies. */
export async function finalize(pk: RsaPublicKey, variant: RsaBssaVariant, preparedMsg: Uint8Array, blindSig: Uint8Array, inv: bigint): Promise<Uint8Array> {
  const k = modulusLength(pk);
  if (blindSig.length !== k) malformed(`blind signature is ${blindSig.length} bytes, the modulus ${k}`, 'blind_sig');
  const z = bytesToBigInt(blindSig);
  if (z >= pk.n) malformed('blind signature is not below the modulus', 'blind_sig');
  const sig = bigIntToBytes((z * inv) % pk.n, k);
  if (!(await verifyPss(pk, RSABSSA_VARIANTS[variant].saltLength, preparedMsg, sig))) {
    throw new VerificationError('PRIVACY_PASS_TOKEN_INVALID', `the unblinded signature does not verify (${variant}): the signer used another key or message`, { field: 'blind_sig' });
  }
  return sig;
}

/** The public key as a JWK, the form every WebCrypto imports (SPKI with the RSASSA-PSS OID is not). */
export function rsaJwk(pk: RsaPublicKey): JsonWebKey {
  const intBytes = (v: bigint): Uint8Array => bigIntToBytes(v, Math.ceil(bitLength(v) / 8));
  return { kty: 'RSA', n: toBase64Url(intBytes(pk.n)), e: toBase64Url(intBytes(pk.e)), ext: true };
}
