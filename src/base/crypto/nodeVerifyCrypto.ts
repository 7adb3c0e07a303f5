// The verifier backends a Node process injects into the SDK (SigstoreCrypto, NoteCrypto): node:crypto's synchronous
// ECDSA and Ed25519, with each public key imported once. A server verifies bundles and checkpoints against the same
// few keys (the trusted root's logs, an operator's signing key), and createPublicKey costs as much as a verify.
// Keys are public, so the cache (attestation/keyCache.ts) holds nothing secret.
import { toHex } from '../../../attestation/bytes.js';
import type { EcdsaImporter, EcdsaPublicKey } from '../../../attestation/ecdsa.js';
import type { Ed25519Importer, Ed25519PublicKey } from '../../../attestation/ed25519.js';
import { KeyCache } from '../../../attestation/keyCache.js';
import { nodeEcdsa } from './nodeEcdsa.js';
import { nodeEd25519 } from './nodeEd25519.js';
import { nodeHasher } from './nodeHasher.js';

const ecdsaKeys = new KeyCache<EcdsaPublicKey>();
const ed25519Keys = new KeyCache<Ed25519PublicKey>();

export const cachedNodeEcdsa: EcdsaImporter = (spki, curve, hash) => ecdsaKeys.get(`${curve} ${hash} ${toHex(spki)}`, () => nodeEcdsa(spki, curve, hash));
export const cachedNodeEd25519: Ed25519Importer = (publicKey) => ed25519Keys.get(toHex(publicKey), () => nodeEd25519(publicKey));

/** `{ hasher, crypto }` for verifySigstoreBundle, and `{ hasher, ecdsa, ed25519 }` for the note verifiers. */
export const nodeVerifyBackends = { hasher: nodeHasher, crypto: { ecdsa: cachedNodeEcdsa, ed25519: cachedNodeEd25519 } } as const;
