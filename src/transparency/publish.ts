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
//
// refreshBundles rewrites every bundle there with an inclusion proof at the log's newest checkpoint (cosigned by
// witnesses configured since), appending nothing.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { bytesEqual, toHex } from '../../attestation/bytes.js';
import { parseCheckpoint } from '../../attestation/transparency/checkpoint.js';
import { leafHash, verifyInclusion } from '../../attestation/transparency/merkle.js';
import { parseSignedNote, serializeSignedNote, type NoteSignature } from '../../attestation/transparency/signedNote.js';
import { HARDWARE_POLICY_PATH, imageManifestPath, LOG_VKEY_FILE, measurementBundlePath, type LogFetcher } from '../../attestation/client/loggedMeasurements.js';
import { assertHardwarePolicy, hardwarePolicyStatement, type HardwarePolicy } from '../../attestation/measure/hardwarePolicyStatement.js';
import { parseStatement, type Statement } from '../../attestation/sigstore/inToto.js';
import { parseSigstoreBundle, serializeSigstoreBundle, type SigstoreBundle, type TlogEntry } from '../../attestation/sigstore/sigstoreBundle.js';
import { CloisterError, PolicyError } from '../../attestation/errors.js';
import { listedMeasurements, measurementsStatement } from '../../attestation/measure/measurementStatement.js';
import type { MeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import { webPageBundlePath, webPageStatement } from '../../attestation/measure/webPageStatement.js';
import { dsseBundle, dsseEntryBody, tlogLogId } from '../../attestation/sigstore/buildBundle.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';
import { logNoteSigner } from './nodeNoteKeys.js';
import { signStatement, statementSigner } from './statementSigner.js';
import { CHECKPOINT_FILE, TileLog } from './tileLog.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { writeFileAtomically } from './durableFile.js';

export const DEFAULT_LOG_ORIGIN = 'cloister.local/log';
export const PUBLISHER_KEY_FILE = 'publisher.pub';
export const BUNDLES_DIR = 'bundles';
export { LOG_VKEY_FILE };


/** What opens the log and has its checkpoint cosigned: publishing and refreshing share it. */
export interface LogOptions {
  readonly dir: string;
  readonly origin?: string;
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

export interface PublishOptions extends LogOptions {
  /** The operator's statement signing key (EC P-256 or Ed25519). */
  readonly key: KeyObject;
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

/** The name a bundle has below `bundles/`: the SHA-256 of its text. */
const bundleFileName = (text: string): string => `${createHash('sha256').update(text).digest('hex')}.sigstore.json`;

/** Writes `text` atomically to each of `paths` (below `dir`); returns the first path, in full. */
async function writeBundle(dir: string, text: string, paths: readonly string[], fsync: boolean): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const full = paths.map((p) => join(dir, p));
  for (const path of full) {
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomically(path, bytes, fsync);
  }
  return full[0] ?? dir;
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
  const bundlePath = await writeBundle(options.dir, text, [join(BUNDLES_DIR, bundleFileName(text)), ...extra], fsync);
  const publisherKeyPath = join(options.dir, PUBLISHER_KEY_FILE);
  const logVkeyPath = join(options.dir, LOG_VKEY_FILE);
  await writeFile(publisherKeyPath, createPublicKey(options.key).export({ format: 'pem', type: 'spki' }));
  await writeFile(logVkeyPath, `${noteSigner.vkey}\n`);
  return { logIndex: firstIndex, treeSize: size, bundle: text, bundlePath, publisherKeyPath, logVkeyPath, logVkey: noteSigner.vkey };
}

/**
 * Signs, logs and bundles the measurements statement of `file` built from `commit`; the bundle is also where each of
 * its measurements is looked up. `imageManifest`, the image-manifest.json the file names (its inputs: packages, the
 * app, the model packs), is written beside it at images/HEX.json for clients to list; MALFORMED_POLICY, before
 * anything is signed, when its SHA-256 is not the one the file names.
 */
export async function publishMeasurements(file: MeasurementsFile, commit: string, options: PublishOptions, imageManifest?: Uint8Array): Promise<Published> {
  const named = file.image.manifest.toLowerCase();
  if (imageManifest !== undefined) {
    const digest = createHash('sha256').update(imageManifest).digest('hex');
    if (digest !== named) throw new PolicyError('MALFORMED_POLICY', `the image manifest given has SHA-256 ${digest}, but the measurements file is of the image manifest ${named}`, { field: 'image.manifest', expected: named, actual: digest });
  }
  const listed = listedMeasurements(file);
  const published = await publishStatement(measurementsStatement(file, commit), [...new Set([...listed['sev-snp'], ...listed.tdx])].map(measurementBundlePath), options);
  if (imageManifest !== undefined) {
    const path = join(options.dir, imageManifestPath(named));
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomically(path, imageManifest, options.fsync ?? true);
  }
  return published;
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

/** Signs, logs and bundles the statement of the verify page whose manifest is `manifestText` (web-manifest.json, as written), also at its lookup path. */
export async function publishWebPage(manifestText: string, commit: string, options: PublishOptions): Promise<Published & { readonly manifestSha256: string }> {
  const digest = createHash('sha256').update(manifestText).digest('hex');
  return { ...(await publishStatement(webPageStatement(manifestText, digest, commit), [webPageBundlePath(digest)], options)), manifestSha256: digest };
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

export interface Refreshed {
  /** The size of the checkpoint every bundle now carries. */
  readonly treeSize: number;
  /** How many bundle files were rewritten (bundles/, measurements/, web/, hardware-policy.sigstore.json). */
  readonly bundles: number;
  /** The checkpoint note the bundles carry, with the cosignatures `cosign` collected. */
  readonly checkpoint: string;
}

/** A note's signatures with only the last line of each key (name and key ID): a refresh's new cosignature replaces the old. */
function lastLinePerKey(note: string): string {
  const parsed = parseSignedNote(note);
  const last = new Map<string, NoteSignature>();
  for (const s of parsed.signatures) {
    const key = `${s.name}\n${s.keyId}`;
    last.delete(key);
    last.set(key, s);
  }
  return serializeSignedNote({ text: parsed.text, signatures: [...last.values()] });
}

/** The bundle files below `dir`, as paths below it: bundles/*, measurements/*, web/*, hardware-policy.sigstore.json. */
async function bundleFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const sub of [BUNDLES_DIR, 'measurements', 'web']) {
    let names: string[] = [];
    try {
      names = await readdir(join(dir, sub));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    found.push(...names.filter((n) => n.endsWith('.sigstore.json')).sort().map((n) => join(sub, n)));
  }
  return [...found, ...((await directoryLogFetcher(dir)(HARDWARE_POLICY_PATH)) === undefined ? [] : [HARDWARE_POLICY_PATH])];
}

/**
 * Rewrites every bundle in the log directory with an inclusion proof at the log's newest checkpoint, after `cosign`
 * (when given) added the witnesses' cosignatures to it; appends nothing and signs no statement. A bundle of another
 * log, or whose entry is not the log's entry at its index, is TLOG_STATE_INVALID, before anything is rewritten.
 */
export async function refreshBundles(options: LogOptions): Promise<Refreshed> {
  const origin = options.origin ?? DEFAULT_LOG_ORIGIN;
  const fsync = options.fsync ?? true;
  if ((await directoryLogFetcher(options.dir)(CHECKPOINT_FILE)) === undefined) throw new RuntimeError('TLOG_STATE_INVALID', `${options.dir} holds no log (no ${CHECKPOINT_FILE}): nothing to refresh`, { field: options.dir });
  const log = await TileLog.open({ dir: options.dir, origin, signer: await logNoteSigner(origin, options.logKey), fsync });
  const size = log.size;
  const { rootHash } = parseCheckpoint(parseSignedNote(log.checkpoint).text);
  const logId = await tlogLogId(origin, new Uint8Array(createPublicKey(options.logKey).export({ format: 'der', type: 'spki' })), nodeHasher);
  const rewrites: { readonly path: string; readonly bundle: SigstoreBundle; readonly entry: TlogEntry; readonly hashes: readonly Uint8Array[] }[] = [];
  for (const path of await bundleFiles(options.dir)) {
    const bundle = parseSigstoreBundle(await readFile(join(options.dir, path)));
    const entry = bundle.tlogEntries[0];
    const refuse = (why: string, cause?: unknown): RuntimeError => new RuntimeError('TLOG_STATE_INVALID', `the bundle ${path} in ${options.dir} ${why}: not refreshed`, { field: path, ...(cause === undefined ? {} : { cause }) });
    if (entry === undefined || bundle.tlogEntries.length !== 1 || !bytesEqual(entry.logId, logId)) throw refuse(`is not of the log ${origin}`);
    if (entry.logIndex >= size) throw refuse(`names log index ${entry.logIndex}, beyond the log's ${size} entries`);
    const proof = await log.inclusionProof(entry.logIndex, size);
    await verifyInclusion(nodeHasher, await leafHash(nodeHasher, entry.canonicalizedBody), proof, rootHash).catch((cause: unknown) => {
      throw refuse(`has an entry that is not the log's entry ${entry.logIndex}`, cause);
    });
    rewrites.push({ path, bundle, entry, hashes: proof.hashes });
  }
  let checkpoint = log.checkpoint;
  if (options.cosign !== undefined) {
    checkpoint = lastLinePerKey(await options.cosign(checkpoint, log));
    await log.addCosignatures(checkpoint);
  }
  for (const { path, bundle, entry, hashes } of rewrites) {
    const text = serializeSigstoreBundle({ ...bundle, tlogEntries: [{ ...entry, inclusionProof: { logIndex: entry.logIndex, treeSize: size, rootHash, hashes, checkpoint } }] });
    if (!path.startsWith(`${BUNDLES_DIR}/`)) await writeBundle(options.dir, text, [path], fsync);
    else if (join(BUNDLES_DIR, bundleFileName(text)) !== path) {
      // bundles/ names each bundle by its hash: the refreshed one is a new file, the old one goes once it is written.
      await writeBundle(options.dir, text, [join(BUNDLES_DIR, bundleFileName(text))], fsync);
      await rm(join(options.dir, path));
    }
  }
  return { treeSize: size, bundles: rewrites.length, checkpoint };
}
