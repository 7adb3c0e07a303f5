// The HPKE building blocks OHTTP needs, behind one interface so that a browser uses @hpke/core on
// WebCrypto (webCryptoHpke, here) and the gateway plugs node:crypto primitives into the same
// @hpke/core CipherSuite (src/base/crypto/nodeHpke.ts).
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, type AeadInterface, type KdfInterface, type KemInterface } from '@hpke/core';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { toArrayBufferView } from '../../bytes.js';
import { AEAD_AES_128_GCM, AEAD_CHACHA20_POLY1305, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256 } from './keyConfig.js';

export interface HpkePrimitives {
  readonly name: string;
  /** A new instance per call (a CipherSuite initialises its KDF with its suite ID); undefined when unsupported. */
  kem(kemId: number): KemInterface | undefined;
  kdf(kdfId: number): KdfInterface | undefined;
  aead(aeadId: number): AeadInterface | undefined;
  /**
   * HKDF (RFC 5869) with a salt of any length, for the OHTTP response keys: one Extract, then one Expand
   * per output asked for, in order.
   */
  hkdf(kdfId: number): ((salt: Uint8Array, ikm: Uint8Array, outputs: readonly HkdfOutput[]) => Promise<Uint8Array[]>) | undefined;
  random(length: number): Uint8Array;
  /**
   * Optional fast path for the gateway: RFC 9180 base-mode SetupBaseR, Open of the one message (sequence
   * 0) and one Export, in one call; a decryption failure rejects. Without it, @hpke/core's CipherSuite
   * does the same in steps.
   */
  openSingleShot?(request: SingleShotOpen): Promise<{ plaintext: Uint8Array; exported: Uint8Array }>;
}

export interface HkdfOutput {
  readonly info: Uint8Array;
  readonly length: number;
}

export interface SingleShotOpen {
  readonly kemId: number;
  readonly kdfId: number;
  readonly aeadId: number;
  readonly recipientKey: CryptoKey;
  readonly enc: Uint8Array;
  readonly info: Uint8Array;
  readonly ciphertext: Uint8Array;
  /** Default empty (OHTTP). */
  readonly aad?: Uint8Array;
  readonly exporterContext: Uint8Array;
  readonly exportLength: number;
}

const suites = new WeakMap<HpkePrimitives, Map<string, CipherSuite>>();

/** The CipherSuite for (kem, kdf, aead) on `primitives`, or undefined when one of them is unsupported. Cached. */
export function cipherSuite(primitives: HpkePrimitives, kemId: number, kdfId: number, aeadId: number): CipherSuite | undefined {
  let cache = suites.get(primitives);
  if (cache === undefined) suites.set(primitives, (cache = new Map<string, CipherSuite>()));
  const key = `${kemId}/${kdfId}/${aeadId}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const kem = primitives.kem(kemId);
  const kdf = primitives.kdf(kdfId);
  const aead = primitives.aead(aeadId);
  if (kem === undefined || kdf === undefined || aead === undefined) return undefined;
  const suite = new CipherSuite({ kem, kdf, aead });
  cache.set(key, suite);
  return suite;
}

async function webCryptoHkdfSha256(salt: Uint8Array, ikm: Uint8Array, outputs: readonly HkdfOutput[]): Promise<Uint8Array[]> {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey('raw', toArrayBufferView(ikm), 'HKDF', false, ['deriveBits']);
  // WebCrypto's HKDF has no separate Extract: each output derives from the input key material.
  return Promise.all(outputs.map(async ({ info, length }) => new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: toArrayBufferView(salt), info: toArrayBufferView(info) }, key, length * 8))));
}

/** @hpke/core on WebCrypto (X25519 needs a browser with WebCrypto X25519: Chromium 133, Firefox 130, Safari 17); also Node. */
export const webCryptoHpke: HpkePrimitives = {
  name: '@hpke/core (WebCrypto)',
  kem: (id) => (id === KEM_X25519_HKDF_SHA256 ? new DhkemX25519HkdfSha256() : undefined),
  kdf: (id) => (id === KDF_HKDF_SHA256 ? new HkdfSha256() : undefined),
  aead: (id) => (id === AEAD_AES_128_GCM ? new Aes128Gcm() : id === AEAD_CHACHA20_POLY1305 ? new Chacha20Poly1305() : undefined),
  hkdf: (id) => (id === KDF_HKDF_SHA256 ? webCryptoHkdfSha256 : undefined),
  random: (length) => globalThis.crypto.getRandomValues(new Uint8Array(length)),
};

