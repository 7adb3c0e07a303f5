// `cloister publish` as a library (docs/transparency.md "Publishing"): the measurements statement of an image build
// (attestation/measure/measurementStatement.ts), signed as a DSSE envelope with the operator's key, appended to
// Cloister's tile log as a `dsse` 0.0.2 entry, and returned as a v0.3 Sigstore bundle carrying the inclusion proof
// and the signed checkpoint. Files it writes in the log directory, all static:
//
//   <dir>/checkpoint, tile/...                    the tile log (tileLog.ts)
//   <dir>/bundles/<sha256 of bundle>.sigstore.json  every bundle published
//   <dir>/measurements/<hex>.sigstore.json         per launch measurement, the newest bundle that lists it: where
//                                                  a client looks a measurement up (loggedMeasurements)
//   <dir>/publisher.pub, <dir>/log.vkey            what clients pin: the publisher's public key (PEM), the log's
//                                                  note verifier key
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { toHex } from '../../attestation/bytes.js';
import { parseCheckpoint } from '../../attestation/transparency/checkpoint.js';
import { parseSignedNote } from '../../attestation/transparency/signedNote.js';
import { HARDWARE_POLICY_PATH, measurementBundlePath, type LogFetcher } from '../../attestation/client/loggedMeasurements.js';
import { assertHardwarePolicy, hardwarePolicyStatement, type HardwarePolicy } from '../../attestation/measure/hardwarePolicyStatement.js';
import { parseStatement, type Statement } from '../../attestation/sigstore/inToto.js';
import { parseSigstoreBundle, serializeSigstoreBundle } from '../../attestation/sigstore/sigstoreBundle.js';
import { CloisterError, PolicyError } from '../../attestation/errors.js';
import { listedMeasurements, measurementsStatement } from '../../attestation/measure/measurementStatement.js';
import type { MeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import { dsseBundle, dsseEntryBody, tlogLogId } from '../../attestation/sigstore/buildBundle.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';
import { logNoteSigner } from './nodeNoteKeys.js';
import { signStatement, statementSigner } from './statementSigner.js';
import { TileLog } from './tileLog.js';
import { writeFileAtomically } from './durableFile.js';

export const DEFAULT_LOG_ORIGIN = 'cloister.local/log';
export const PUBLISHER_KEY_FILE = 'publisher.pub';
export const LOG_VKEY_FILE = 'log.vkey';
export const BUNDLES_DIR = 'bundles';


export interface PublishOptions {
  readonly dir: string;
  readonly origin?: string;
  /** The operator's statement signing key (EC P-256 or Ed25519). */
  readonly key: KeyObject;
  /** The log's note signing key (Ed25519). */
  readonly logKey: KeyObject;
  /**
   * Witness cosignatures: given the log-signed checkpoint note the bundle will carry, returns that note with the
   * witnesses' cosignature lines added (C2SP tlog-witness add-checkpoint, done by the caller). Left out, the bundle's
   * checkpoint carries the log's signature alone, and clients that require witnesses refuse it.
   */
  readonly cosign?: (checkpoint: string, log: TileLog) => Promise<string>;
  readonly fsync?: boolean;
}

export interface Published {
  readonly logIndex: number;
  readonly treeSize: number;
  readonly bundle: string;
  /** The bundle's path in the log directory. */
  readonly bundlePath: string;
  readonly publisherKeyPath: string;
  readonly logVkeyPath: string;
  readonly logVkey: string;
}

/** Signs `statement`, appends its entry to the log and writes its bundle below `bundles/`; `extra` are more paths (below the log) that get the bundle. */
export async function publishStatement(statement: Omit<Statement, 'type'>, extra: readonly string[], options: PublishOptions): Promise<Published> {
  const origin = options.origin ?? DEFAULT_LOG_ORIGIN;
  const fsync = options.fsync ?? true;
  const signer = statementSigner(options.key);
  const noteSigner = await logNoteSigner(origin, options.logKey);
  await mkdir(options.dir, { recursive: true });
  const log = await TileLog.open({ dir: options.dir, origin, signer: noteSigner, fsync });
  const envelope = await signStatement(statement, [signer]);
  const body = await dsseEntryBody(envelope, signer.spki, signer.scheme, nodeHasher);
  const { firstIndex, size, checkpoint } = await log.append([body]);
  const proof = await log.inclusionProof(firstIndex, size);
  const note = options.cosign === undefined ? checkpoint : await options.cosign(checkpoint, log);
  const logSpki = new Uint8Array(createPublicKey(options.logKey).export({ format: 'der', type: 'spki' }));
  const bundle = dsseBundle(envelope, {
    logIndex: firstIndex,
    logId: await tlogLogId(origin, logSpki, nodeHasher),
    body,
    proof: proof.hashes,
    treeSize: size,
    rootHash: parseCheckpoint(parseSignedNote(checkpoint).text).rootHash,
    checkpoint: note,
  });
  const text = serializeSigstoreBundle(bundle);
  const bytes = new TextEncoder().encode(text);
  const name = `${createHash('sha256').update(bytes).digest('hex')}.sigstore.json`;
  const bundlePath = join(options.dir, BUNDLES_DIR, name);
  for (const path of [bundlePath, ...extra.map((e) => join(options.dir, e))]) {
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomically(path, bytes, fsync);
  }
  const publisherKeyPath = join(options.dir, PUBLISHER_KEY_FILE);
  const logVkeyPath = join(options.dir, LOG_VKEY_FILE);
  await writeFile(publisherKeyPath, createPublicKey(options.key).export({ format: 'pem', type: 'spki' }));
  await writeFile(logVkeyPath, `${noteSigner.vkey}\n`);
  return { logIndex: firstIndex, treeSize: size, bundle: text, bundlePath, publisherKeyPath, logVkeyPath, logVkey: noteSigner.vkey };
}

/** Signs, logs and bundles the measurements statement of `file` built from `commit`; the bundle is also where each of its measurements is looked up. */
export async function publishMeasurements(file: MeasurementsFile, commit: string, options: PublishOptions): Promise<Published> {
  const listed = listedMeasurements(file);
  return publishStatement(measurementsStatement(file, commit), [...new Set([...listed['sev-snp'], ...listed.tdx])].map(measurementBundlePath), options);
}

/**
 * Signs, logs and bundles the hardware policy statement, also as `hardware-policy.sigstore.json`; HARDWARE_POLICY_VERSION
 * when its version is not above the one published there before.
 */
export async function publishHardwarePolicy(policy: HardwarePolicy, options: PublishOptions): Promise<Published> {
  assertHardwarePolicy(policy);
  let previous: string | undefined;
  try {
    previous = await readFile(join(options.dir, HARDWARE_POLICY_PATH), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (previous !== undefined) {
    const content = parseSigstoreBundle(previous).content;
    const before = content.kind === 'dsseEnvelope' ? assertHardwarePolicy(parseStatement(content.envelope.payload).predicate).version : 0;
    if (policy.version <= before) throw new PolicyError('HARDWARE_POLICY_VERSION', `the hardware policy's version ${policy.version} is not above version ${before}, published before in ${options.dir}`, { field: 'version', expected: `> ${before}`, actual: String(policy.version) });
  }
  return publishStatement(await hardwarePolicyStatement(policy, nodeHasher), [HARDWARE_POLICY_PATH], options);
}

/** The hex of a SPKI's SHA-256, to name a publisher key in messages. */
export const keyFingerprint = (key: KeyObject): string => toHex(createHash('sha256').update(createPublicKey(key).export({ format: 'der', type: 'spki' })).digest());

/** A log read from a local directory (what `cloister publish --log DIR` writes), for a log not served yet. */
export function directoryLogFetcher(dir: string): LogFetcher {
  return async (path) => {
    try {
      return new Uint8Array(await readFile(join(dir, path)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CloisterError('TLOG_UNAVAILABLE', `cannot read ${path} in the log directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { field: path, cause: e });
    }
  };
}

