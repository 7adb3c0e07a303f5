// The verifier backends a Node process injects into the SDK (SigstoreCrypto, NoteCrypto): node:crypto's synchronous
// ECDSA and Ed25519, with each public key imported once. A server verifies bundles and checkpoints against the same
// few keys (the trusted root's logs, an operator's signing key), and createPublicKey costs as much as a verify.
// Keys are public, so the cache holds nothing secret; it is bounded, and forgets the oldest key first.
import { toHex } from '../../../attestation/bytes.js';
import type { EcdsaImporter, EcdsaPublicKey } from '../../../attestation/ecdsa.js';
import type { Ed25519Importer, Ed25519PublicKey } from '../../../attestation/ed25519.js';
import { nodeEcdsa } from './nodeEcdsa.js';
import { nodeEd25519 } from './nodeEd25519.js';
import { nodeHasher } from './nodeHasher.js';

const MAX_KEYS = 256;

function remembered<K>(cache: Map<string, Promise<K>>, id: string, importKey: () => Promise<K>): Promise<K> {
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const imported = importKey();
  // A key that fails to import is not kept: the next call fails the same way, afresh.
  imported.catch(() => cache.delete(id));
  if (cache.size >= MAX_KEYS) cache.delete(cache.keys().next().value ?? '');
  cache.set(id, imported);
  return imported;
}

const ecdsaKeys = new Map<string, Promise<EcdsaPublicKey>>();
const ed25519Keys = new Map<string, Promise<Ed25519PublicKey>>();

export const cachedNodeEcdsa: EcdsaImporter = (spki, curve, hash) => remembered(ecdsaKeys, `${curve} ${hash} ${toHex(spki)}`, () => nodeEcdsa(spki, curve, hash));
export const cachedNodeEd25519: Ed25519Importer = (publicKey) => remembered(ed25519Keys, toHex(publicKey), () => nodeEd25519(publicKey));

/** `{ hasher, crypto }` for verifySigstoreBundle, and `{ hasher, ecdsa, ed25519 }` for the note verifiers. */
export const nodeVerifyBackends = { hasher: nodeHasher, crypto: { ecdsa: cachedNodeEcdsa, ed25519: cachedNodeEd25519 } } as const;
