// The value a Confidential Containers pod VM reports in SEV-SNP HOST_DATA or TDX MRCONFIGID when it is started with an
// init-data (the pod annotation io.katacontainers.config.hypervisor.cc_init_data, base64 of the gzipped TOML), so that
// a client can pin it with the policy's `hostData` or `mrConfigId` (docs/deploy.md "Measured pods").
//
// Init-data specification 0.1.0 (confidential-containers/trustee kbs/docs/initdata.md): the digest is the hash named
// by the TOML's own top-level `algorithm` over the TOML's bytes exactly as given (another encoding of the same data
// is another digest), cut at the end or padded with zero bytes to the field: HOST_DATA 32 bytes, MRCONFIGID 48.
// Kata's Go runtime does exactly this after base64 and gunzip (src/runtime/pkg/oci/utils.go
// addHypervisorInitdataOverrides; src/runtime/pkg/govmm/qemu/qemu.go adjustProperLength, then QEMU's
// sev-snp-guest host-data= and tdx-guest mrconfigid=).
import { ParseError } from '../errors.js';
import { toHex } from '../bytes.js';
import { webCryptoHasher, type Hasher, type HashName } from '../hash.js';

export const INIT_DATA_VERSION = '0.1.0';
export const INIT_DATA_ALGORITHMS = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' } as const satisfies Record<string, HashName>;
export type InitDataAlgorithm = keyof typeof INIT_DATA_ALGORITHMS;

export const HOST_DATA_SIZE = 32;
export const MR_CONFIG_ID_SIZE = 48;

export interface InitDataBinding {
  readonly algorithm: InitDataAlgorithm;
  /** The digest at its own length. */
  readonly digest: Uint8Array;
  /** The SEV-SNP HOST_DATA it launches with, as the policy's `hostData` (hex). */
  readonly hostData: string;
  /** The TDX MRCONFIGID it launches with, as the policy's `mrConfigId` (hex). */
  readonly mrConfigId: string;
}

// A top-level `key = "value"` or `key = 'value'` line of the TOML, before its first table header: enough for the two
// metadata keys, which the specification puts there and which are plain strings.
const TOP_LEVEL_STRING = /^\s*"?([A-Za-z0-9_-]+)"?\s*=\s*(?:"([^"\\]*)"|'([^']*)')\s*(?:#.*)?$/;

/** The init-data's `version` and `algorithm`, checked: version 0.1.0 and one of sha256, sha384, sha512. */
export function initDataMetadata(toml: string): { readonly version: string; readonly algorithm: InitDataAlgorithm } {
  const found = new Map<string, string>();
  for (const line of toml.split('\n')) {
    if (/^\s*\[/.test(line)) break;
    const m = TOP_LEVEL_STRING.exec(line);
    if (m !== null) found.set(m[1] as string, m[2] ?? m[3] ?? '');
  }
  const version = found.get('version');
  const algorithm = found.get('algorithm');
  if (version === undefined || algorithm === undefined) {
    throw new ParseError('MALFORMED_FIELD', `init-data has no top-level ${version === undefined ? 'version' : 'algorithm'} string`, { field: version === undefined ? 'version' : 'algorithm' });
  }
  if (version !== INIT_DATA_VERSION) throw new ParseError('UNSUPPORTED_VERSION', `init-data version ${JSON.stringify(version)} is not ${INIT_DATA_VERSION}`, { field: 'version', expected: INIT_DATA_VERSION, actual: version });
  if (!Object.hasOwn(INIT_DATA_ALGORITHMS, algorithm)) {
    throw new ParseError('UNSUPPORTED_ALGORITHM', `init-data algorithm ${JSON.stringify(algorithm)} is none of ${Object.keys(INIT_DATA_ALGORITHMS).join(', ')}`, { field: 'algorithm', expected: Object.keys(INIT_DATA_ALGORITHMS).join(' | '), actual: algorithm });
  }
  return { version, algorithm: algorithm as InitDataAlgorithm };
}

/** `digest` cut at the end or padded with zero bytes to `size`, as the specification binds it to a field of that size. */
export function fitToField(digest: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(digest.subarray(0, size));
  return out;
}

/** HOST_DATA and MRCONFIGID for an init-data TOML, given as the exact bytes the annotation carries (after gunzip). */
export async function initDataBinding(toml: Uint8Array, hasher: Hasher = webCryptoHasher): Promise<InitDataBinding> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(toml);
  } catch (cause) {
    throw new ParseError('MALFORMED_FIELD', 'init-data is not UTF-8 text', { field: 'init-data', cause });
  }
  const { algorithm } = initDataMetadata(text);
  const digest = await hasher.digest(INIT_DATA_ALGORITHMS[algorithm], [toml]);
  return { algorithm, digest, hostData: toHex(fitToField(digest, HOST_DATA_SIZE)), mrConfigId: toHex(fitToField(digest, MR_CONFIG_ID_SIZE)) };
}
