// Test support: the Sigstore conformance cases with Rekor checkpoints (testdata/protocols/sigstore-conformance,
// sigstore-trusted-root): each case's checkpoint, inclusion proof and entry, and the log keys of its trusted root.
import { existsSync, readFileSync } from 'node:fs';
import { fromBase64 } from '../bytes.js';
import { PROTOCOL_VECTORS } from './vectors.js';

export interface SigstoreLogKey {
  readonly baseUrl: string;
  readonly spki: Uint8Array;
  readonly keyDetails: string;
  readonly logId: Uint8Array;
}

export interface SigstoreTlogCase {
  readonly readme: string;
  readonly checkpoint: string;
  readonly logIndex: number;
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  readonly hashes: Uint8Array[];
  /** The entry the log holds: the canonicalized body. */
  readonly body: Uint8Array;
  readonly logId: Uint8Array;
  readonly logs: SigstoreLogKey[];
}

interface TrustedRoot {
  readonly tlogs: readonly { baseUrl: string; publicKey: { rawBytes: string; keyDetails: string }; logId: { keyId: string } }[];
}

interface Bundle {
  readonly verificationMaterial: {
    readonly tlogEntries: readonly {
      readonly logId: { keyId: string };
      readonly canonicalizedBody: string;
      readonly inclusionProof: { logIndex: string; treeSize: string; rootHash: string; hashes: string[]; checkpoint: { envelope: string } };
    }[];
  };
}

const DIR = `${PROTOCOL_VECTORS}sigstore-conformance/bundle-verify/`;

function trustedRoot(name: string): TrustedRoot {
  const own = `${DIR}${name}/trusted_root.json`;
  const path = existsSync(own) ? own : `${PROTOCOL_VECTORS}sigstore-trusted-root/public-good-trusted_root.json`;
  return JSON.parse(readFileSync(path, 'utf8')) as TrustedRoot;
}

export function sigstoreTlogCase(name: string): SigstoreTlogCase {
  const bundle = JSON.parse(readFileSync(`${DIR}${name}/bundle.sigstore.json`, 'utf8')) as Bundle;
  const entry = bundle.verificationMaterial.tlogEntries[0];
  if (entry === undefined) throw new Error(`${name} has no tlog entry`);
  const p = entry.inclusionProof;
  return {
    readme: readFileSync(`${DIR}${name}/README`, 'utf8'),
    checkpoint: p.checkpoint.envelope,
    logIndex: Number(p.logIndex),
    treeSize: Number(p.treeSize),
    rootHash: fromBase64(p.rootHash),
    hashes: p.hashes.map((h) => fromBase64(h)),
    body: fromBase64(entry.canonicalizedBody),
    logId: fromBase64(entry.logId.keyId),
    logs: trustedRoot(name).tlogs.map((t) => ({ baseUrl: t.baseUrl, spki: fromBase64(t.publicKey.rawBytes), keyDetails: t.publicKey.keyDetails, logId: fromBase64(t.logId.keyId) })),
  };
}
