// Making the bundles Cloister publishes (issue 18): an in-toto statement signed as a DSSE envelope with the operator's
// managed key, recorded in Cloister's own C2SP tile log, with the inclusion proof and the signed checkpoint in a v0.3
// bundle (verificationMaterial.publicKey: the key is given to the verifier, not carried).
//
// The log entry is a Rekor v2 style `dsse` 0.0.2 body (rekor-tiles api/proto: DSSELogEntryV002): the payload's SHA-256
// and each signature with its verifier's key, so that a verifier holding only the bundle can check the entry records
// this envelope (rekorEntry.ts). The log ID follows Rekor v2: for an Ed25519 log key SHA-256(origin || 0x0A || 0x01 ||
// key), whose first 4 bytes are the checkpoint's note key ID; for an ECDSA key SHA-256(SubjectPublicKeyInfo).
import { concatBytes, toBase64 } from '../bytes.js';
import { webCryptoHasher, type Hasher } from '../hash.js';
import { SIGNATURE_TYPE } from '../transparency/noteKeys.js';
import { BUNDLE_MEDIA_TYPE_V03, type SigstoreBundle, type TlogEntry } from './sigstoreBundle.js';
import type { DsseEnvelope } from './dsse.js';
import { OID_ED25519, spkiParts, type SigstoreKeyScheme } from './sigstoreKeys.js';

/** The trusted root's `keyDetails` name of a key scheme. */
export const KEY_DETAILS: Readonly<Record<SigstoreKeyScheme, string>> = {
  'ecdsa-p256-sha256': 'PKIX_ECDSA_P256_SHA_256',
  'ecdsa-p384-sha384': 'PKIX_ECDSA_P384_SHA_384',
  ed25519: 'PKIX_ED25519',
};

export const DSSE_ENTRY_KIND = 'dsse';
export const DSSE_ENTRY_VERSION = '0.0.2';

/** The `dsse` 0.0.2 entry body (the bytes the log appends) recording `envelope` signed by the key `spki` of `scheme`. */
export async function dsseEntryBody(envelope: DsseEnvelope, spki: Uint8Array, scheme: SigstoreKeyScheme, hasher: Hasher = webCryptoHasher): Promise<Uint8Array> {
  const digest = await hasher.digest('SHA-256', [envelope.payload]);
  const body = {
    apiVersion: DSSE_ENTRY_VERSION,
    kind: DSSE_ENTRY_KIND,
    spec: {
      dsseV002: {
        payloadHash: { algorithm: 'SHA2_256', digest: toBase64(digest) },
        signatures: envelope.signatures.map((s) => ({ content: toBase64(s.sig), verifier: { publicKey: { rawBytes: toBase64(spki) }, keyDetails: KEY_DETAILS[scheme] } })),
      },
    },
  };
  return new TextEncoder().encode(JSON.stringify(body));
}

/** A log's ID in a trusted root, from its origin and key (Rekor v2's convention, above). */
export async function tlogLogId(origin: string, spki: Uint8Array, hasher: Hasher = webCryptoHasher): Promise<Uint8Array> {
  const { oid, key } = spkiParts(spki);
  return oid === OID_ED25519 ? hasher.digest('SHA-256', [concatBytes(new TextEncoder().encode(`${origin}\n`), Uint8Array.of(SIGNATURE_TYPE.ed25519), key)]) : hasher.digest('SHA-256', [spki]);
}

export interface LoggedEntry {
  /** The entry's index in the log. */
  readonly logIndex: number;
  readonly logId: Uint8Array;
  /** The appended body (dsseEntryBody). */
  readonly body: Uint8Array;
  /** The audit path to `checkpoint`'s tree (TileReader.inclusionProof). */
  readonly proof: readonly Uint8Array[];
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  /** The signed checkpoint note of that tree. */
  readonly checkpoint: string;
}

/** A v0.3 bundle of a managed-key DSSE envelope and its entry in a tile log. */
export function dsseBundle(envelope: DsseEnvelope, entry: LoggedEntry, keyHint = ''): SigstoreBundle {
  const tlogEntry: TlogEntry = {
    logIndex: entry.logIndex,
    logId: entry.logId,
    kind: DSSE_ENTRY_KIND,
    version: DSSE_ENTRY_VERSION,
    integratedTime: 0,
    signedEntryTimestamp: undefined,
    inclusionProof: { logIndex: entry.logIndex, treeSize: entry.treeSize, rootHash: entry.rootHash, hashes: entry.proof, checkpoint: entry.checkpoint },
    canonicalizedBody: entry.body,
  };
  const bundle: SigstoreBundle = {
    mediaType: BUNDLE_MEDIA_TYPE_V03,
    version: '0.3',
    keyMaterial: { kind: 'publicKey', hint: keyHint },
    tlogEntries: [tlogEntry],
    rfc3161Timestamps: [],
    content: { kind: 'dsseEnvelope', envelope },
  };
  return Object.freeze(bundle);
}
