// HPKE primitives on node:crypto (OpenSSL) for the gateway, plugged into @hpke/core's CipherSuite in
// place of its WebCrypto ones: DHKEM(X25519, HKDF-SHA256) (RFC 9180 section 4.1), HKDF-SHA256 with
// HPKE's labeled extract/expand (section 4), AES-128-GCM and ChaCha20-Poly1305. Same bytes, less
// latency: every call is synchronous OpenSSL work behind the interface's promises.
import { createCipheriv, createDecipheriv, type CipherChaCha20Poly1305, type CipherGCM, type DecipherChaCha20Poly1305, type DecipherGCM, createPrivateKey, createPublicKey, createSecretKey, diffieHellman, generateKeyPairSync, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { AeadId, DecapError, DeserializeError, EncapError, KdfId, KemId, OpenError, type AeadEncryptionContext, type AeadInterface, type KdfInterface, type KemInterface, type RecipientContextParams, type SenderContextParams } from '@hpke/core';
import type { HkdfOutput, HpkePrimitives, SingleShotOpen } from '../../../attestation/protocols/ohttp/hpke.js';
import { hmacSha256 } from './hmac.js';
import { CloisterError } from '../../../attestation/errors.js';
import { AEAD_AES_128_GCM, AEAD_CHACHA20_POLY1305, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256 } from '../../../attestation/protocols/ohttp/keyConfig.js';

type Bytes = ArrayBufferLike | ArrayBufferView;

const view = (b: Bytes): Buffer => (ArrayBuffer.isView(b) ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : Buffer.from(b as ArrayBuffer));
const arrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const HPKE_V1 = Buffer.from('HPKE-v1');
const ZERO_SALT = new Uint8Array(32);

/** HKDF-SHA256 with HPKE's labeled forms, on node:crypto HMAC. */
export class NodeHkdfSha256 implements KdfInterface {
  readonly id = KdfId.HkdfSha256;
  readonly hashSize = 32;
  #suiteId: Buffer = Buffer.alloc(0);

  init(suiteId: Uint8Array): void {
    this.#suiteId = Buffer.from(suiteId);
  }

  buildLabeledIkm(label: Uint8Array, ikm: Uint8Array): Uint8Array {
    return Buffer.concat([HPKE_V1, this.#suiteId, label, ikm]);
  }

  buildLabeledInfo(label: Uint8Array, info: Uint8Array, len: number): Uint8Array {
    return Buffer.concat([Buffer.from([len >> 8, len & 0xff]), HPKE_V1, this.#suiteId, label, info]);
  }

  extractSync(salt: Bytes, ikm: Bytes): Buffer {
    const s = view(salt);
    return hmacSha256(s.length === 0 ? ZERO_SALT : s, view(ikm));
  }

  expandSync(prk: Bytes, info: Bytes, len: number): Buffer {
    if (len > 255 * 32) throw new RangeError('HKDF-Expand length too large');
    const out = Buffer.alloc(len);
    const infoBuf = view(info);
    let prev: Buffer = Buffer.alloc(0);
    const key = view(prk);
    for (let i = 1, at = 0; at < len; i++) {
      const next = hmacSha256(key, prev, infoBuf, Uint8Array.of(i));
      prev.fill(0);
      prev = next;
      at += prev.copy(out, at);
    }
    prev.fill(0);
    return out;
  }

  extract(salt: Bytes, ikm: Bytes): Promise<ArrayBuffer> {
    return Promise.resolve(arrayBuffer(this.extractSync(salt, ikm)));
  }

  expand(prk: Bytes, info: Bytes, len: number): Promise<ArrayBuffer> {
    return Promise.resolve(arrayBuffer(this.expandSync(prk, info, len)));
  }

  extractAndExpand(salt: Bytes, ikm: Bytes, info: Bytes, len: number): Promise<ArrayBuffer> {
    const [okm] = this.extractAndExpandAllSync(salt, ikm, [{ info: view(info), length: len }]) as [Buffer];
    const out = arrayBuffer(okm);
    okm.fill(0);
    return Promise.resolve(out);
  }

  /** One Extract, then one Expand per output; the pseudorandom key is zeroed. */
  extractAndExpandAllSync(salt: Bytes, ikm: Bytes, outputs: readonly HkdfOutput[]): Buffer[] {
    const prk = this.extractSync(salt, ikm);
    try {
      return outputs.map(({ info, length }) => this.expandSync(prk, info, length));
    } finally {
      prk.fill(0);
    }
  }

  labeledExtractSync(salt: Bytes, label: Uint8Array, ikm: Uint8Array): Buffer {
    // The labeled input holds the IKM (a DH output, a shared secret): zeroed once hashed.
    const labeled = this.buildLabeledIkm(label, ikm);
    try {
      return this.extractSync(salt, labeled);
    } finally {
      labeled.fill(0);
    }
  }

  labeledExpandSync(prk: Bytes, label: Uint8Array, info: Uint8Array, len: number): Buffer {
    return this.expandSync(prk, this.buildLabeledInfo(label, info, len), len);
  }

  labeledExtract(salt: Bytes, label: Uint8Array, ikm: Uint8Array): Promise<ArrayBuffer> {
    return Promise.resolve(arrayBuffer(this.labeledExtractSync(salt, label, ikm)));
  }

  labeledExpand(prk: Bytes, label: Uint8Array, info: Uint8Array, len: number): Promise<ArrayBuffer> {
    return Promise.resolve(arrayBuffer(this.labeledExpandSync(prk, label, info, len)));
  }
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const ALGORITHM = { name: 'X25519' } as const;
const label = (s: string): Buffer => Buffer.from(s);
const EAE_PRK = label('eae_prk');
const SHARED_SECRET = label('shared_secret');
const DKP_PRK = label('dkp_prk');
const SK = label('sk');

/** A node KeyObject behind the CryptoKey the interface speaks (KeyObject.from accepts either). */
const keyObject = (key: CryptoKey | KeyObject): KeyObject => (key instanceof KeyObject ? key : KeyObject.from(key));
const asCryptoKey = (key: KeyObject, usages: KeyUsage[]): CryptoKey => key.toCryptoKey(ALGORITHM, true, usages) as unknown as CryptoKey;

export const rawPublicKey = (key: KeyObject): Buffer => (key.export({ type: 'spki', format: 'der' })).subarray(X25519_SPKI_PREFIX.length);
/** A raw X25519 public key: WebCrypto's raw import is 5x cheaper than OpenSSL's SPKI decoder (createPublicKey). */
export const importX25519PublicKey = async (raw: Uint8Array): Promise<KeyObject> => KeyObject.from(await webcrypto.subtle.importKey('raw', raw, ALGORITHM, true, []));
export const x25519PrivateKey = (raw: Uint8Array): KeyObject => createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });

/** DHKEM(X25519, HKDF-SHA256) on node:crypto. Keys are node CryptoKeys (KeyObject.toCryptoKey). */
export class NodeX25519Kem implements KemInterface {
  readonly id = KemId.DhkemX25519HkdfSha256;
  readonly secretSize = 32;
  readonly encSize = 32;
  readonly publicKeySize = 32;
  readonly privateKeySize = 32;
  readonly #kdf = new NodeHkdfSha256();
  readonly #publicOf = new WeakMap<object, Buffer>();

  constructor() {
    this.#kdf.init(new Uint8Array([0x4b, 0x45, 0x4d, 0x00, 0x20]));
  }

  serializePublicKey(key: CryptoKey): Promise<ArrayBuffer> {
    return Promise.resolve(arrayBuffer(rawPublicKey(keyObject(key))));
  }

  deserializePublicKey(key: Bytes): Promise<CryptoKey> {
    const raw = view(key);
    if (raw.length !== 32) return Promise.reject(new DeserializeError(`X25519 public key must be 32 bytes, got ${raw.length}`));
    return importX25519PublicKey(raw).then((k) => asCryptoKey(k, []));
  }

  serializePrivateKey(key: CryptoKey): Promise<ArrayBuffer> {
    const der = keyObject(key).export({ type: 'pkcs8', format: 'der' });
    return Promise.resolve(arrayBuffer(der.subarray(X25519_PKCS8_PREFIX.length)));
  }

  deserializePrivateKey(key: Bytes): Promise<CryptoKey> {
    const raw = view(key);
    if (raw.length !== 32) return Promise.reject(new DeserializeError(`X25519 private key must be 32 bytes, got ${raw.length}`));
    return Promise.resolve(asCryptoKey(x25519PrivateKey(raw), ['deriveBits']));
  }

  importKey(format: 'raw' | 'jwk', key: ArrayBuffer | JsonWebKey, isPublic = true): Promise<CryptoKey> {
    if (format !== 'raw' || !(key instanceof ArrayBuffer)) return Promise.reject(new DeserializeError('only raw X25519 keys are supported'));
    return isPublic ? this.deserializePublicKey(key) : this.deserializePrivateKey(key);
  }

  generateKeyPair(): Promise<CryptoKeyPair> {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    return Promise.resolve({ publicKey: asCryptoKey(publicKey, []), privateKey: asCryptoKey(privateKey, ['deriveBits']) });
  }

  /** RFC 9180 section 7.1.3: sk = LabeledExpand(LabeledExtract("", "dkp_prk", ikm), "sk", "", 32). */
  deriveKeyPair(ikm: Bytes): Promise<CryptoKeyPair> {
    const sk = this.#kdf.labeledExpandSync(this.#kdf.labeledExtractSync(Buffer.alloc(0), DKP_PRK, view(ikm)), SK, new Uint8Array(0), 32);
    const privateKey = x25519PrivateKey(sk);
    sk.fill(0);
    return Promise.resolve({ publicKey: asCryptoKey(createPublicKey(privateKey), []), privateKey: asCryptoKey(privateKey, ['deriveBits']) });
  }

  #sharedSecretBytes(dh: Buffer, kemContext: Buffer): Buffer {
    const prk = this.#kdf.labeledExtractSync(Buffer.alloc(0), EAE_PRK, dh);
    const secret = this.#kdf.labeledExpandSync(prk, SHARED_SECRET, kemContext, 32);
    dh.fill(0);
    prk.fill(0);
    return secret;
  }

  #sharedSecret(dh: Buffer, kemContext: Buffer): ArrayBuffer {
    const secret = this.#sharedSecretBytes(dh, kemContext);
    const out = arrayBuffer(secret);
    secret.fill(0);
    return out;
  }

  encap(params: SenderContextParams): Promise<{ sharedSecret: ArrayBuffer; enc: ArrayBuffer }> {
    try {
      let ephemeral: { publicKey: KeyObject; privateKey: KeyObject };
      if (params.ekm === undefined) ephemeral = generateKeyPairSync('x25519');
      else if ('privateKey' in params.ekm) ephemeral = { publicKey: keyObject(params.ekm.publicKey), privateKey: keyObject(params.ekm.privateKey) };
      else throw new EncapError('ephemeral key material must be a key pair');
      const pkR = keyObject(params.recipientPublicKey);
      const enc = rawPublicKey(ephemeral.publicKey);
      const dh = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: pkR });
      return Promise.resolve({ sharedSecret: this.#sharedSecret(dh, Buffer.concat([enc, rawPublicKey(pkR)])), enc: arrayBuffer(enc) });
    } catch (e) {
      return Promise.reject(e instanceof EncapError ? e : new EncapError(e));
    }
  }

  /** Decap (RFC 9180 section 4.1) to a shared secret in a buffer the caller wipes; rejects with DecapError. */
  async decapBytes(recipientKey: CryptoKey | CryptoKeyPair, encapsulated: Bytes): Promise<Buffer> {
    try {
      const skR = keyObject('privateKey' in recipientKey ? recipientKey.privateKey : recipientKey);
      const cacheKey = 'privateKey' in recipientKey ? recipientKey.privateKey : recipientKey;
      let pkRm = this.#publicOf.get(cacheKey);
      if (pkRm === undefined) this.#publicOf.set(cacheKey, (pkRm = rawPublicKey(createPublicKey(skR))));
      const enc = view(encapsulated);
      if (enc.length !== 32) throw new DecapError(`enc must be 32 bytes, got ${enc.length}`);
      const dh = diffieHellman({ privateKey: skR, publicKey: await importX25519PublicKey(enc) });
      return this.#sharedSecretBytes(dh, Buffer.concat([enc, pkRm]));
    } catch (e) {
      throw e instanceof DecapError ? e : new DecapError(e);
    }
  }

  async decap(params: RecipientContextParams): Promise<ArrayBuffer> {
    const secret = await this.decapBytes(params.recipientKey, params.enc);
    const out = arrayBuffer(secret);
    secret.fill(0);
    return out;
  }
}

/** Ciphertext chunks from this size on are handed back as they are rather than gathered. */
const LARGE_CHUNK = 16 * 1024;
const TAG = { authTagLength: 16 } as const;

class NodeAeadContext implements AeadEncryptionContext {
  readonly #cipher: 'aes-128-gcm' | 'chacha20-poly1305';
  readonly #key: KeyObject;

  constructor(cipher: 'aes-128-gcm' | 'chacha20-poly1305', key: Bytes) {
    this.#cipher = cipher;
    // A secret KeyObject: createCipheriv takes it 3x faster than bytes (which it first tries as a
    // KeyObject and a CryptoKey, by exceptions). Node clears its native copy when it is collected,
    // as it does the cipher's key schedule; the caller still wipes its bytes.
    this.#key = createSecretKey(view(key));
  }

  // The two overloads per algorithm are node's typing of AEAD ciphers; the calls are otherwise the same.
  #cipherFor(nonce: Bytes): CipherGCM | CipherChaCha20Poly1305 {
    return this.#cipher === 'aes-128-gcm' ? createCipheriv(this.#cipher, this.#key, view(nonce), TAG) : createCipheriv(this.#cipher, this.#key, view(nonce), TAG);
  }

  #decipherFor(nonce: Bytes): DecipherGCM | DecipherChaCha20Poly1305 {
    return this.#cipher === 'aes-128-gcm' ? createDecipheriv(this.#cipher, this.#key, view(nonce), TAG) : createDecipheriv(this.#cipher, this.#key, view(nonce), TAG);
  }

  /**
   * prefix || Seal(parts joined, empty AAD), as chunks: small parts' ciphertext is gathered with the
   * prefix, a large part's is OpenSSL's output buffer as it is. The parts are never joined in plaintext.
   */
  sealParts(nonce: Uint8Array, parts: readonly Uint8Array[], prefix: Uint8Array): Uint8Array[] {
    const c = this.#cipherFor(nonce);
    const chunks: Uint8Array[] = [];
    let small: Buffer[] = [Buffer.from(prefix)];
    const flush = (): void => {
      if (small.length > 0) chunks.push(Buffer.concat(small));
      small = [];
    };
    for (const p of parts) {
      const sealed = c.update(view(p));
      if (sealed.length < LARGE_CHUNK) small.push(sealed);
      else {
        flush();
        chunks.push(sealed);
      }
    }
    small.push(c.final(), c.getAuthTag());
    flush();
    return chunks;
  }

  sealSync(iv: Bytes, data: Bytes, aad: Bytes): Buffer {
    const c = this.#cipherFor(iv);
    const plaintext = view(data);
    c.setAAD(view(aad), { plaintextLength: plaintext.length });
    return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  }

  openSync(iv: Bytes, data: Bytes, aad: Bytes): Buffer {
    const d = view(data);
    if (d.length < 16) throw new OpenError('ciphertext shorter than its tag');
    const c = this.#decipherFor(iv);
    c.setAAD(view(aad), { plaintextLength: d.length - 16 });
    c.setAuthTag(d.subarray(d.length - 16));
    // Plaintext: one exactly-sized buffer the caller owns; OpenSSL's output chunks are wiped here.
    let head: Buffer | undefined;
    let tail: Buffer | undefined;
    try {
      head = c.update(d.subarray(0, d.length - 16));
      tail = c.final();
      if (tail.length === 0 && head.byteOffset === 0 && head.byteLength === head.buffer.byteLength) {
        // Already one exactly-sized buffer of its own (not a slice of Node's pool): hand it over.
        const own = head;
        head = undefined;
        return own;
      }
      const out = Buffer.from(new ArrayBuffer(head.length + tail.length));
      head.copy(out, 0);
      tail.copy(out, head.length);
      return out;
    } catch (e) {
      throw new OpenError(e);
    } finally {
      head?.fill(0);
      tail?.fill(0);
    }
  }

  seal(iv: Bytes, data: Bytes, aad: Bytes): Promise<ArrayBuffer> {
    try {
      const sealed = this.sealSync(iv, data, aad);
      return Promise.resolve(sealed.byteOffset === 0 && sealed.byteLength === sealed.buffer.byteLength ? (sealed.buffer as ArrayBuffer) : arrayBuffer(sealed));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new CloisterError('CRYPTO_FAILED', `aead seal threw a non-Error: ${String(e)}`, { cause: e }));
    }
  }

  open(iv: Bytes, data: Bytes, aad: Bytes): Promise<ArrayBuffer> {
    try {
      return Promise.resolve(this.openSync(iv, data, aad).buffer as ArrayBuffer);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new CloisterError('CRYPTO_FAILED', `aead open threw a non-Error: ${String(e)}`, { cause: e }));
    }
  }
}

export class NodeAead implements AeadInterface {
  readonly id: AeadId;
  readonly keySize: number;
  readonly nonceSize = 12;
  readonly tagSize = 16;
  readonly #cipher: 'aes-128-gcm' | 'chacha20-poly1305';

  constructor(aeadId: typeof AEAD_AES_128_GCM | typeof AEAD_CHACHA20_POLY1305) {
    this.id = aeadId === AEAD_AES_128_GCM ? AeadId.Aes128Gcm : AeadId.Chacha20Poly1305;
    this.#cipher = aeadId === AEAD_AES_128_GCM ? 'aes-128-gcm' : 'chacha20-poly1305';
    this.keySize = aeadId === AEAD_AES_128_GCM ? 16 : 32;
  }

  createEncryptionContext(key: Bytes): NodeAeadContext {
    return new NodeAeadContext(this.#cipher, key);
  }
}

const PSK_ID_HASH = label('psk_id_hash');
const INFO_HASH = label('info_hash');
const SECRET = label('secret');
const KEY = label('key');
const BASE_NONCE = label('base_nonce');
const EXP = label('exp');
const SEC = label('sec');
const EMPTY = new Uint8Array(0);
const MAX_INFO_HASHES = 64;

/** The key schedule's fixed parts for one suite: its labeled KDF, its AEAD, psk_id_hash, and key_schedule_context per info seen. */
interface Schedule {
  readonly kdf: NodeHkdfSha256;
  readonly aead: NodeAead;
  readonly pskIdHash: Buffer;
  readonly contexts: Map<string, Buffer>;
}

const schedules = new Map<string, Schedule>();
const singleShotKem = new NodeX25519Kem();

function schedule(kemId: number, kdfId: number, aeadId: number): Schedule {
  const id = `${kemId}/${kdfId}/${aeadId}`;
  let s = schedules.get(id);
  if (s === undefined) {
    const kdf = new NodeHkdfSha256();
    kdf.init(new Uint8Array([0x48, 0x50, 0x4b, 0x45, kemId >> 8, kemId & 0xff, kdfId >> 8, kdfId & 0xff, aeadId >> 8, aeadId & 0xff]));
    schedules.set(id, (s = { kdf, aead: new NodeAead(aeadId as typeof AEAD_AES_128_GCM | typeof AEAD_CHACHA20_POLY1305), pskIdHash: kdf.labeledExtractSync(EMPTY, PSK_ID_HASH, EMPTY), contexts: new Map() }));
  }
  return s;
}

/**
 * Base mode's key_schedule_context = 0x00 || psk_id_hash || LabeledExtract("", "info_hash", info) (RFC 9180
 * section 5.1): public, and the same for every request to one key and suite, so computed once per info.
 */
export function keyScheduleContext(kemId: number, kdfId: number, aeadId: number, info: Uint8Array): Buffer {
  return contextOf(schedule(kemId, kdfId, aeadId), info);
}

function contextOf(s: Schedule, info: Uint8Array): Buffer {
  const id = Buffer.from(info.buffer, info.byteOffset, info.byteLength).toString('latin1');
  let context = s.contexts.get(id);
  if (context === undefined) {
    context = Buffer.concat([Uint8Array.of(0), s.pskIdHash, s.kdf.labeledExtractSync(EMPTY, INFO_HASH, info)]);
    if (s.contexts.size < MAX_INFO_HASHES) s.contexts.set(id, context);
  }
  return context;
}

/**
 * RFC 9180 base mode, all at once on node:crypto: SetupBaseR (section 5.1), Open of sequence 0 and one
 * Export (section 5.3), for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and either AEAD. The ciphertext is
 * read where it lies; every intermediate secret we hold is zeroed (the AEAD key's native copy inside its
 * KeyObject is freed, by Node, when that object is collected).
 */
async function openSingleShot(r: SingleShotOpen): Promise<{ plaintext: Uint8Array; exported: Uint8Array }> {
  if (r.kemId !== KEM_X25519_HKDF_SHA256 || r.kdfId !== KDF_HKDF_SHA256 || (r.aeadId !== AEAD_AES_128_GCM && r.aeadId !== AEAD_CHACHA20_POLY1305)) {
    throw new OpenError(`suite ${r.kemId}/${r.kdfId}/${r.aeadId} is not supported`);
  }
  const s = schedule(r.kemId, r.kdfId, r.aeadId);
  const aead = s.aead;
  const shared = await singleShotKem.decapBytes(r.recipientKey, r.enc);
  const context = contextOf(s, r.info);
  const secret = s.kdf.labeledExtractSync(shared, SECRET, EMPTY);
  shared.fill(0);
  const key = s.kdf.labeledExpandSync(secret, KEY, context, aead.keySize);
  const nonce = s.kdf.labeledExpandSync(secret, BASE_NONCE, context, aead.nonceSize);
  const exporter = s.kdf.labeledExpandSync(secret, EXP, context, s.kdf.hashSize);
  secret.fill(0);
  try {
    // Export first: nothing may throw once the plaintext exists.
    const exported = s.kdf.labeledExpandSync(exporter, SEC, r.exporterContext, r.exportLength);
    try {
      return { plaintext: aead.createEncryptionContext(key).openSync(nonce, r.ciphertext, r.aad ?? EMPTY), exported };
    } catch (e) {
      exported.fill(0);
      throw e;
    }
  } finally {
    key.fill(0);
    nonce.fill(0);
    exporter.fill(0);
  }
}

const plainHkdf = new NodeHkdfSha256();

export const nodeHpke: HpkePrimitives = {
  name: '@hpke/core with node:crypto primitives',
  kem: (id) => (id === KEM_X25519_HKDF_SHA256 ? new NodeX25519Kem() : undefined),
  kdf: (id) => (id === KDF_HKDF_SHA256 ? new NodeHkdfSha256() : undefined),
  aead: (id) => (id === AEAD_AES_128_GCM || id === AEAD_CHACHA20_POLY1305 ? new NodeAead(id) : undefined),
  hkdf: (id) => (id === KDF_HKDF_SHA256 ? (salt, ikm, outputs) => Promise.resolve(plainHkdf.extractAndExpandAllSync(salt, ikm, outputs)) : undefined),
  random: (length) => new Uint8Array(randomBytes(length)),
  openSingleShot,
};
