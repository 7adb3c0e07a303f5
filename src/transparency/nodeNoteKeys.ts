// Ed25519 note keys on node:crypto: the log's checkpoint signer (signed-note type 0x01) and the witness's cosigner
// (tlog-cosignature type 0x04), from private KeyObjects. Key IDs and the cosignature framing are the SDK's
// (attestation/transparency/noteKeys.ts); only the private-key operation is here.
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { cosignatureNoteSigner, ed25519NoteSigner, type KeyedSigner } from '../../attestation/transparency/noteKeys.js';
import { isKeyName } from '../../attestation/transparency/signedNote.js';
import { RuntimeError } from '../base/runtimeErrors.js';

const ED25519_SPKI_PREFIX_LENGTH = 12;

export function generateNoteKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

function checked(name: string, privateKey: KeyObject): { publicKey: Uint8Array; signRaw: (message: Uint8Array) => Uint8Array } {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new RuntimeError('NOTE_KEY_INVALID', `the key of ${name} is a ${privateKey.type} ${privateKey.asymmetricKeyType ?? 'symmetric'} key, not an Ed25519 private key`, { field: name });
  }
  if (!isKeyName(name)) throw new RuntimeError('NOTE_KEY_INVALID', `"${name}" is not a note key name (non-empty, no spaces, no '+')`, { field: name });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    publicKey: new Uint8Array(spki.subarray(ED25519_SPKI_PREFIX_LENGTH)),
    signRaw: (message) => new Uint8Array(sign(null, message, privateKey)),
  };
}

/** The log's signer: type 0x01 signatures over the checkpoint text, under `name` (the origin). */
export async function logNoteSigner(name: string, privateKey: KeyObject): Promise<KeyedSigner> {
  const { publicKey, signRaw } = checked(name, privateKey);
  return await ed25519NoteSigner(name, publicKey, signRaw);
}

/** The witness's cosigner: cosignature/v1 (type 0x04) stamped with `now()` in POSIX seconds. */
export async function witnessCosigner(name: string, privateKey: KeyObject, now: () => number = () => Math.floor(Date.now() / 1000)): Promise<KeyedSigner> {
  const { publicKey, signRaw } = checked(name, privateKey);
  return await cosignatureNoteSigner(name, publicKey, signRaw, now);
}
