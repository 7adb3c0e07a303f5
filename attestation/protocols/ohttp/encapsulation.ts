// RFC 9458 section 4: encapsulation of requests (client) and responses (gateway), and the reverse.
//   request  = hdr || enc || Seal(pkR, info, "", message)
//     hdr    = key_id(8) kem_id(16) kdf_id(16) aead_id(16);  info = "message/bhttp request" || 0x00 || hdr
//   response = response_nonce[max(Nn, Nk)] || Seal(key, nonce, "", message)
//     secret = Export("message/bhttp response", max(Nn, Nk)); salt = enc || response_nonce
//     key = Expand(Extract(salt, secret), "key", Nk); nonce = Expand(Extract(salt, secret), "nonce", Nn)
import type { AeadEncryptionContext, CipherSuite } from '@hpke/core';
import { concatBytes, toArrayBufferView } from '../../bytes.js';
import { CloisterError, ParseError, VerificationError } from '../../errors.js';
import { cipherSuite, webCryptoHpke, type HpkePrimitives } from './hpke.js';
import { KEM_PUBLIC_KEY_SIZE, type KeyConfig, type SymmetricSuite } from './keyConfig.js';

/**
 * An AEAD context that seals plaintext parts in turn (src/base/crypto/nodeHpke.ts): prefix || ciphertext ||
 * tag, handed back as the chunks it produced, in order, so that a large ciphertext is never copied.
 */
export interface PartsSealer {
  sealParts(nonce: Uint8Array, parts: readonly Uint8Array[], prefix: Uint8Array): Uint8Array[];
}

const encoder = new TextEncoder();
const REQUEST_LABEL = encoder.encode('message/bhttp request');
const RESPONSE_LABEL = encoder.encode('message/bhttp response');
const KEY_LABEL = encoder.encode('key');
const NONCE_LABEL = encoder.encode('nonce');
export const HEADER_SIZE = 7;
/** Nt of every AEAD RFC 9180 defines for sealing (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305). */
const AEAD_TAG_SIZE = 16;

const hex16 = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;
const u16 = (n: number): number[] => [n >> 8, n & 0xff];

function header(keyId: number, kemId: number, suite: SymmetricSuite): Uint8Array {
  return new Uint8Array([keyId, ...u16(kemId), ...u16(suite.kdfId), ...u16(suite.aeadId)]);
}

const requestInfo = (hdr: Uint8Array): Uint8Array => concatBytes(REQUEST_LABEL, new Uint8Array([0]), hdr);

interface SuiteSizes {
  readonly nk: number;
  readonly nn: number;
}

function sizes(suite: CipherSuite): SuiteSizes {
  return { nk: suite.aead.keySize, nn: suite.aead.nonceSize };
}

async function responseKeys(primitives: HpkePrimitives, kdfId: number, secret: Uint8Array, enc: Uint8Array, responseNonce: Uint8Array, s: SuiteSizes): Promise<{ key: Uint8Array; nonce: Uint8Array }> {
  const hkdf = primitives.hkdf(kdfId);
  if (hkdf === undefined) throw new VerificationError('OHTTP_UNSUPPORTED_SUITE', `KDF ${hex16(kdfId)} is not supported by ${primitives.name}`, { field: 'kdf_id' });
  const [key, nonce] = await hkdf(concatBytes(enc, responseNonce), secret, [
    { info: KEY_LABEL, length: s.nk },
    { info: NONCE_LABEL, length: s.nn },
  ]);
  if (key === undefined || nonce === undefined) {
    key?.fill(0);
    nonce?.fill(0);
    throw new VerificationError('OHTTP_UNSUPPORTED_SUITE', `${primitives.name} KDF ${hex16(kdfId)} derived ${[key, nonce].filter((k) => k !== undefined).length} of the 2 response keys asked for`, { field: 'kdf_id' });
  }
  return { key, nonce };
}

/** The exported secret of one request's HPKE context and what derives the response keys from it. */
abstract class ResponseContext {
  protected readonly primitives: HpkePrimitives;
  protected readonly suite: CipherSuite;
  protected readonly kdfId: number;
  protected readonly enc: Uint8Array;
  protected secret: Uint8Array | undefined;

  constructor(primitives: HpkePrimitives, suite: CipherSuite, kdfId: number, enc: Uint8Array, secret: Uint8Array) {
    this.primitives = primitives;
    this.suite = suite;
    this.kdfId = kdfId;
    this.enc = enc;
    this.secret = secret;
  }

  protected get nonceSize(): number {
    const s = sizes(this.suite);
    return Math.max(s.nn, s.nk);
  }

  protected keys(secret: Uint8Array, responseNonce: Uint8Array): Promise<{ key: Uint8Array; nonce: Uint8Array }> {
    return responseKeys(this.primitives, this.kdfId, secret, this.enc, responseNonce, sizes(this.suite));
  }
}

/** What the client keeps to open the response to one request. */
export class ResponseOpener extends ResponseContext {
  /** Decrypts an encapsulated response (message/ohttp-res) to the Binary HTTP message it carries. */
  async open(response: Uint8Array): Promise<Uint8Array> {
    const nonceSize = this.nonceSize;
    if (response.length < nonceSize + this.suite.aead.tagSize) {
      throw new ParseError('MALFORMED_OHTTP', `encapsulated response of ${response.length} bytes is shorter than its nonce and tag (${nonceSize + this.suite.aead.tagSize})`, { field: 'response' });
    }
    if (this.secret === undefined) throw new CloisterError('INVALID_STATE', 'this response opener was discarded: its request secret is wiped');
    const { key, nonce } = await this.keys(this.secret, response.subarray(0, nonceSize));
    try {
      return new Uint8Array(await this.suite.aead.createEncryptionContext(toArrayBufferView(key)).open(toArrayBufferView(nonce), toArrayBufferView(response.subarray(nonceSize)), new Uint8Array(0)));
    } catch (cause) {
      throw new VerificationError('OHTTP_DECRYPT_FAILED', 'the encapsulated response does not decrypt with this request\'s keys', { field: 'response', cause });
    } finally {
      key.fill(0);
      nonce.fill(0);
    }
  }
}

export interface EncapsulatedRequest {
  /** message/ohttp-req bytes. */
  readonly bytes: Uint8Array;
  readonly suite: SymmetricSuite;
  readonly opener: ResponseOpener;
}

export interface EncapsulateOptions {
  readonly primitives?: HpkePrimitives;
  /** Default: the first suite of the config that the primitives support. */
  readonly suite?: SymmetricSuite;
  /** The ephemeral key pair (tests against RFC 9458 Appendix A); default: a fresh one. */
  readonly ephemeral?: CryptoKeyPair;
}

function supportedSuite(config: KeyConfig, primitives: HpkePrimitives, wanted: SymmetricSuite | undefined): { suite: SymmetricSuite; cipher: CipherSuite } {
  const candidates = wanted === undefined ? config.suites : config.suites.filter((s) => s.kdfId === wanted.kdfId && s.aeadId === wanted.aeadId);
  for (const suite of candidates) {
    const cipher = cipherSuite(primitives, config.kemId, suite.kdfId, suite.aeadId);
    if (cipher !== undefined) return { suite, cipher };
  }
  throw new VerificationError('OHTTP_UNSUPPORTED_SUITE', `key config ${config.keyId} (KEM ${hex16(config.kemId)}) offers no suite that ${primitives.name} supports${wanted === undefined ? '' : ` matching KDF ${hex16(wanted.kdfId)} / AEAD ${hex16(wanted.aeadId)}`}`, {
    field: 'symmetric_algorithms',
  });
}

/** Encapsulates a Binary HTTP request to `config` (RFC 9458 section 4.3). */
export async function encapsulateRequest(config: KeyConfig, message: Uint8Array, options: EncapsulateOptions = {}): Promise<EncapsulatedRequest> {
  const primitives = options.primitives ?? webCryptoHpke;
  const { suite, cipher } = supportedSuite(config, primitives, options.suite);
  const hdr = header(config.keyId, config.kemId, suite);
  const recipientPublicKey = await cipher.kem.deserializePublicKey(toArrayBufferView(config.publicKey));
  const sender = await cipher.createSenderContext({ recipientPublicKey, info: toArrayBufferView(requestInfo(hdr)), ...(options.ephemeral === undefined ? {} : { ekm: options.ephemeral }) });
  // An ArrayBuffer goes to @hpke/core uncopied (a view would be copied there, out of reach of a wipe).
  const owned = toArrayBufferView(message);
  let ct: Uint8Array;
  try {
    ct = new Uint8Array(await sender.seal(owned.buffer));
  } finally {
    owned.fill(0);
  }
  const enc = new Uint8Array(sender.enc);
  const s = sizes(cipher);
  const secret = new Uint8Array(await sender.export(toArrayBufferView(RESPONSE_LABEL), Math.max(s.nn, s.nk)));
  return { bytes: concatBytes(hdr, enc, ct), suite, opener: new ResponseOpener(primitives, cipher, suite.kdfId, enc, secret) };
}

/**
 * The bytes an encapsulated request adds to its Binary HTTP message: hdr, enc (Nenc, which is Npk for the
 * DHKEMs) and the AEAD tag; 55 for DHKEM(X25519, HKDF-SHA256). Padding subtracts it so that the request on
 * the wire is exactly a size class (padding.ts).
 */
export function requestOverhead(kemId: number): number {
  const nenc = KEM_PUBLIC_KEY_SIZE[kemId];
  if (nenc === undefined) throw new VerificationError('OHTTP_UNSUPPORTED_SUITE', `KEM ${hex16(kemId)} is not one of RFC 9180's DHKEMs`, { field: 'kem_id', actual: hex16(kemId) });
  return HEADER_SIZE + nenc + AEAD_TAG_SIZE;
}

/** A private key the gateway holds, with the config it serves for it. */
export interface GatewayKey {
  readonly config: KeyConfig;
  readonly privateKey: CryptoKey;
}

/** What the gateway keeps to encapsulate the response to one request; usable once. */
export class Responder extends ResponseContext {
  /** The bytes encapsulation adds to the Binary HTTP response: the response nonce and the AEAD tag. */
  get overhead(): number {
    return this.nonceSize + this.suite.aead.tagSize;
  }

  /**
   * message/ohttp-res bytes for a Binary HTTP response (RFC 9458 section 4.4), given whole or as parts
   * to be encrypted in turn (encodeResponseParts), so no joined plaintext copy exists when the AEAD can
   * seal parts; `responseNonce` only for test vectors.
   */
  async encapsulate(message: Uint8Array | readonly Uint8Array[], responseNonce?: Uint8Array): Promise<Uint8Array> {
    const chunks = await this.encapsulateChunks(message, responseNonce);
    return chunks.length === 1 ? (chunks[0] as Uint8Array) : concatBytes(...chunks);
  }

  /** As encapsulate, but the message/ohttp-res bytes come as chunks to be sent in order (no joined copy). */
  async encapsulateChunks(message: Uint8Array | readonly Uint8Array[], responseNonce?: Uint8Array): Promise<Uint8Array[]> {
    const secret = this.secret;
    if (secret === undefined) throw new CloisterError('INVALID_STATE', 'this responder already answered its request: its secret is wiped');
    this.secret = undefined;
    const nonceSize = this.nonceSize;
    const nonceBytes = responseNonce ?? this.primitives.random(nonceSize);
    if (nonceBytes.length !== nonceSize) throw new RangeError(`response nonce must be ${nonceSize} bytes, got ${nonceBytes.length}`);
    const { key, nonce } = await this.keys(secret, nonceBytes);
    secret.fill(0);
    const parts = message instanceof Uint8Array ? [message] : message;
    try {
      const context = this.suite.aead.createEncryptionContext(key) as AeadEncryptionContext & Partial<PartsSealer>;
      if (context.sealParts !== undefined) return context.sealParts(nonce, parts, nonceBytes);
      // The plaintext goes to the AEAD as it is (a copy would outlive the caller's wipe), joined only when given in parts.
      const whole = parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(...parts);
      try {
        return [concatBytes(nonceBytes, new Uint8Array(await context.seal(toArrayBufferView(nonce), whole, new Uint8Array(0))))];
      } finally {
        if (whole !== parts[0]) whole.fill(0);
      }
    } finally {
      key.fill(0);
      nonce.fill(0);
    }
  }

  /** Forgets the secret without answering (the request failed before a response existed). */
  discard(): void {
    this.secret?.fill(0);
    this.secret = undefined;
  }
}

export interface DecapsulatedRequest {
  readonly keyId: number;
  readonly suite: SymmetricSuite;
  /** The Binary HTTP request: a buffer the caller owns and wipes. */
  readonly message: Uint8Array;
  readonly responder: Responder;
}

/**
 * Decapsulates a message/ohttp-req with the key its header names (RFC 9458 section 4.3). Throws
 * MALFORMED_OHTTP, OHTTP_UNKNOWN_KEY, OHTTP_UNSUPPORTED_SUITE or OHTTP_DECRYPT_FAILED.
 */
export async function decapsulateRequest(request: Uint8Array, keys: (keyId: number) => GatewayKey | undefined, primitives: HpkePrimitives = webCryptoHpke): Promise<DecapsulatedRequest> {
  if (request.length < HEADER_SIZE) throw new ParseError('MALFORMED_OHTTP', `encapsulated request of ${request.length} bytes is shorter than its ${HEADER_SIZE}-byte header`, { field: 'hdr', offset: 0 });
  const keyId = request[0] as number;
  const kemId = ((request[1] as number) << 8) | (request[2] as number);
  const suite = { kdfId: ((request[3] as number) << 8) | (request[4] as number), aeadId: ((request[5] as number) << 8) | (request[6] as number) };
  const key = keys(keyId);
  if (key === undefined) throw new VerificationError('OHTTP_UNKNOWN_KEY', `no key with ID ${keyId}`, { field: 'key_id', actual: String(keyId) });
  const offered = key.config.kemId === kemId && key.config.suites.some((s) => s.kdfId === suite.kdfId && s.aeadId === suite.aeadId);
  const cipher = offered ? cipherSuite(primitives, kemId, suite.kdfId, suite.aeadId) : undefined;
  if (cipher === undefined) {
    throw new VerificationError('OHTTP_UNSUPPORTED_SUITE', `key ${keyId} does not offer KEM ${hex16(kemId)}, KDF ${hex16(suite.kdfId)}, AEAD ${hex16(suite.aeadId)}`, {
      field: 'hdr',
      actual: `${hex16(kemId)}/${hex16(suite.kdfId)}/${hex16(suite.aeadId)}`,
    });
  }
  const nenc = cipher.kem.encSize;
  if (request.length < HEADER_SIZE + nenc + cipher.aead.tagSize) {
    throw new ParseError('MALFORMED_OHTTP', `encapsulated request of ${request.length} bytes is shorter than its header, enc (${nenc}) and tag`, { field: 'enc', offset: HEADER_SIZE });
  }
  const hdr = request.subarray(0, HEADER_SIZE);
  const enc = request.slice(HEADER_SIZE, HEADER_SIZE + nenc);
  let message: Uint8Array;
  let secret: Uint8Array;
  const s = sizes(cipher);
  try {
    if (primitives.openSingleShot !== undefined) {
      const opened = await primitives.openSingleShot({ kemId, ...suite, recipientKey: key.privateKey, enc, info: requestInfo(hdr), ciphertext: request.subarray(HEADER_SIZE + nenc), exporterContext: RESPONSE_LABEL, exportLength: Math.max(s.nn, s.nk) });
      message = opened.plaintext;
      secret = opened.exported;
    } else {
      const recipient = await cipher.createRecipientContext({ recipientKey: key.privateKey, enc: toArrayBufferView(enc), info: toArrayBufferView(requestInfo(hdr)) });
      // An ArrayBuffer, which @hpke/core takes as it is (a view it would copy again).
      message = new Uint8Array(await recipient.open(toArrayBufferView(request.subarray(HEADER_SIZE + nenc)).buffer));
      secret = new Uint8Array(await recipient.export(toArrayBufferView(RESPONSE_LABEL), Math.max(s.nn, s.nk)));
    }
  } catch (cause) {
    throw new VerificationError('OHTTP_DECRYPT_FAILED', `the request does not decrypt with key ${keyId}`, { field: 'ct', cause });
  }
  return { keyId, suite, message, responder: new Responder(primitives, cipher, suite.kdfId, enc, secret) };
}
