// Test support: Ed25519 note signers and cosigners on WebCrypto, from a fixed seed (reproducible notes, the Go
// sumdb vectors) or a fresh key.
import { concatBytes, fromHex } from '../bytes.js';
import { cosignatureNoteSigner, ed25519NoteSigner, type KeyedSigner, type SignFunction } from '../transparency/noteKeys.js';

/** RFC 8410 PKCS#8 wrapping of a 32-byte Ed25519 seed. */
const PKCS8_ED25519_PREFIX = fromHex('302e020100300506032b657004220420');

export interface Ed25519TestKey {
  readonly publicKey: Uint8Array;
  readonly sign: SignFunction;
}

export async function ed25519TestKey(seed: Uint8Array = globalThis.crypto.getRandomValues(new Uint8Array(32))): Promise<Ed25519TestKey> {
  const subtle = globalThis.crypto.subtle;
  const privateKey = await subtle.importKey('pkcs8', concatBytes(PKCS8_ED25519_PREFIX, seed), { name: 'Ed25519' }, true, ['sign']);
  const jwk = await subtle.exportKey('jwk', privateKey);
  const publicKey = Uint8Array.from(atob((jwk.x ?? '').replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  return { publicKey, sign: async (message) => new Uint8Array(await subtle.sign({ name: 'Ed25519' }, privateKey, concatBytes(message))) };
}

/** A type 0x01 note signer (a log's key). */
export async function testNoteSigner(name: string, seed?: Uint8Array): Promise<KeyedSigner> {
  const key = await ed25519TestKey(seed);
  return ed25519NoteSigner(name, key.publicKey, key.sign);
}

/** A type 0x04 cosigner (a witness's key) whose timestamps come from `now`. */
export async function testCosigner(name: string, now: () => number = () => 1_700_000_000, seed?: Uint8Array): Promise<KeyedSigner> {
  const key = await ed25519TestKey(seed);
  return cosignatureNoteSigner(name, key.publicKey, key.sign, now);
}
