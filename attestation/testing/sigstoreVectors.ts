// Test support: the Sigstore conformance cases with Rekor checkpoints (testdata/protocols/sigstore-conformance,
// sigstore-trusted-root): each case's checkpoint, inclusion proof and entry, and the log keys of its trusted root.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
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

/** A conformance case of bundle-verify/ as sigstore-conformance's test_verify reads it (bundle-verify/README.md). */
export interface SigstoreBundleCase {
  readonly name: string;
  /** From the directory name alone: a name ending in `_fail` must fail. */
  readonly mustFail: boolean;
  readonly readme: string;
  readonly bundle: Uint8Array;
  /** The case's `artifact`, else the shared `a.txt`. */
  readonly artifact: Uint8Array;
  /** The case's `trusted_root.json`, else the public-good root. */
  readonly trustedRoot: Uint8Array;
  /** `key.pub`, when the case is verified with a managed key. */
  readonly keyPem: string | undefined;
  readonly identity: string;
  readonly issuer: string;
}

const DEFAULT_IDENTITY = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

const optional = (path: string): Uint8Array | undefined => (existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined);

/** Every case directory of bundle-verify/, sorted. */
export function sigstoreBundleCases(): SigstoreBundleCase[] {
  return readdirSync(DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const at = `${DIR}${name}/`;
      const text = (file: string, fallback: string): string => (existsSync(at + file) ? readFileSync(at + file, 'utf8').trim() : fallback);
      return {
        name,
        mustFail: name.endsWith('_fail'),
        readme: text('README', ''),
        bundle: new Uint8Array(readFileSync(`${at}bundle.sigstore.json`)),
        artifact: optional(`${at}artifact`) ?? new Uint8Array(readFileSync(`${DIR}a.txt`)),
        trustedRoot: optional(`${at}trusted_root.json`) ?? new Uint8Array(readFileSync(`${PROTOCOL_VECTORS}sigstore-trusted-root/public-good-trusted_root.json`)),
        keyPem: existsSync(`${at}key.pub`) ? readFileSync(`${at}key.pub`, 'utf8') : undefined,
        identity: text('identity', DEFAULT_IDENTITY),
        issuer: text('issuer', DEFAULT_ISSUER),
      };
    });
}
