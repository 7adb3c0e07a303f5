// The transparency log as a client's measurement source (issue 18, docs/transparency.md "Clients"): a launch
// measurement is accepted when the log holds a measurements statement that lists it, signed by a pinned publisher
// key, included in a checkpoint signed by the log and cosigned by enough witnesses, and consistent with the newest
// checkpoint the client has seen for that log. Browser-safe: the log is read through an injected fetch.
//
// The checks, in order: the bundle's DSSE signature with a pinned key, its `dsse` entry records this envelope, the
// inclusion proof leads to the root of the checkpoint it carries (verifySigstoreBundle); the checkpoint is signed by
// the log and by k of the n witnesses, and is consistent with the stored one (verifyLogEntry, below); the statement
// is a measurements statement about the image its measurements are of (measurementStatement.ts); and it lists the
// attested measurement for its platform (TDX: MRTD, and RTMR1 / RTMR2 where the entry gives them). judgeMeasurement applies this to a verdict in OhttpClient and the Node agent;
// loggedHardwarePolicy reads the hardware policy statement from the same log the same way, loggedWebPage the verify page's.
import { bytesEqual, concatBytes, fromHex, toHex } from '../bytes.js';
import type { VerdictError } from '../checks.js';
import { CloisterError, PolicyError, VerificationError, type AnyErrorCode } from '../errors.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../protocols/ratlsExtension.js';
import type { RaTlsPolicy, RaTlsVerdict } from '../ratls/verifyCertificate.js';
import { parseCertificate } from '../x509.js';
import { MEASUREMENT_SOURCE_CHECK, withMeasurementSource, type MeasurementSource } from './measurementSource.js';
import { webCryptoHasher, type Hasher } from '../hash.js';
import { DEFAULT_EXCHANGE_TIMEOUT_MS, exchange, globalFetch, ResponseTooLarge, type FetchLike } from './httpFetch.js';
import { parseHardwarePolicyStatement, type HardwarePolicy } from '../measure/hardwarePolicyStatement.js';
import { listedMeasurements, parseMeasurementsStatement, type MeasurementsPredicate } from '../measure/measurementStatement.js';
import { parseWebPageStatement, WEB_MANIFEST_SUBJECT, webPageBundlePath, type WebPagePredicate } from '../measure/webPageStatement.js';
import { tlogLogId } from '../sigstore/buildBundle.js';
import type { Statement } from '../sigstore/inToto.js';
import { parseSigstoreBundle, type SigstoreBundle } from '../sigstore/sigstoreBundle.js';
import type { SigstoreCrypto } from '../sigstore/sigstoreKeys.js';
import type { TrustedRoot } from '../sigstore/trustedRoot.js';
import { verifySigstoreBundle } from '../sigstore/verifyBundle.js';
import type { CheckpointTrust } from '../transparency/checkpoint.js';
import { advanceCheckpoint, type CheckpointStore, type ConsistencyProofSource } from '../transparency/checkpointStore.js';
import { verifyConsistency } from '../transparency/merkle.js';
import { noteVerifier, parseVkey, SIGNATURE_TYPE } from '../transparency/noteKeys.js';
import { TileReader } from '../transparency/tiles.js';
import { verifyLogEntry } from '../transparency/verifyEntry.js';

/** Reads a file below the log's URL (`checkpoint`, `tile/...`, `measurements/HEX.sigstore.json`): undefined when it is not there (404). */
export type LogFetcher = (path: string) => Promise<Uint8Array | undefined>;

export interface TransparencyTrust {
  /** The publishers' keys (SubjectPublicKeyInfo, EC P-256 or Ed25519): a statement signed by any of them is accepted. */
  readonly publisherKeys: readonly Uint8Array[];
  /** The log's note verifier key (`log.vkey`, C2SP signed-note): its name is the log's origin. */
  readonly logVkey: string;
  /** Witness note verifier keys, and how many of them must have cosigned the checkpoint (default: all of them). */
  readonly witnesses?: { readonly vkeys: readonly string[]; readonly threshold?: number };
  /** The newest checkpoint seen per log, persisted by the client (FileCheckpointStore in Node). Without it consistency is not checked. */
  readonly store?: CheckpointStore;
  readonly fetch: LogFetcher;
  readonly hasher?: Hasher;
  readonly crypto?: SigstoreCrypto;
}

export interface LoggedMeasurements extends MeasurementsPredicate, LogPosition {
  /** TDX: the RTMRs the matching entry predicts, which the attested ones matched besides MRTD. */
  readonly rtmrsChecked?: readonly ('RTMR1' | 'RTMR2')[];
}

const ED25519_SPKI_PREFIX = fromHex('302a300506032b6570032100');

/** A bundle's verdict error as the error it was. */
function rethrow(e: { code: string; message: string; name: string; field?: string; expected?: string; actual?: string }): never {
  const details = { ...(e.field === undefined ? {} : { field: e.field }), ...(e.expected === undefined ? {} : { expected: e.expected }), ...(e.actual === undefined ? {} : { actual: e.actual }) };
  const Kind = e.name === 'PolicyError' ? PolicyError : VerificationError;
  throw new Kind(e.code as AnyErrorCode, e.message, details);
}

async function required(fetch: LogFetcher, path: string): Promise<Uint8Array> {
  const bytes = await fetch(path);
  if (bytes === undefined) throw new VerificationError('TLOG_UNAVAILABLE', `the log has no ${path}`, { field: path });
  return bytes;
}

/** Where a statement is in the log. */
export interface LogPosition {
  readonly logIndex: number;
  readonly treeSize: number;
  /** The root hash of the checkpoint the entry's inclusion was proven against, hex. */
  readonly rootHash: string;
  readonly origin: string;
}

/**
 * Verifies a bundle of an in-toto statement against `trust` (publisher key, log, witnesses, consistency) and returns
 * the statement, not yet judged by its predicate; the first failure is thrown with its code.
 */
export async function verifyLoggedStatement(input: string | Uint8Array | SigstoreBundle, trust: TransparencyTrust): Promise<LogPosition & { readonly statement: Statement }> {
  const hasher = trust.hasher ?? webCryptoHasher;
  const crypto = trust.crypto ?? {};
  const bundle = typeof input === 'string' || input instanceof Uint8Array ? parseSigstoreBundle(input) : input;
  const vkey = parseVkey(trust.logVkey);
  if (vkey.type !== SIGNATURE_TYPE.ed25519) throw new PolicyError('MALFORMED_POLICY', `the log key ${vkey.name} is not an Ed25519 note key`, { field: 'logVkey' });
  const origin = vkey.name;
  const logSpki = concatBytes(ED25519_SPKI_PREFIX, vkey.key);
  const root: TrustedRoot = {
    tlogs: [{ baseUrl: origin, spki: logSpki, keyDetails: 'PKIX_ED25519', validFor: { start: new Date(0), end: undefined }, logId: await tlogLogId(origin, logSpki, hasher) }],
    ctlogs: [],
    certificateAuthorities: [],
    timestampAuthorities: [],
  };
  if (trust.publisherKeys.length === 0) throw new PolicyError('MALFORMED_POLICY', 'no publisher key to verify the statement with', { field: 'publisherKeys' });
  let verdict;
  for (const key of trust.publisherKeys) {
    verdict = await verifySigstoreBundle(bundle, { trustedRoot: root, key, hasher, crypto });
    if (verdict.accepted || verdict.error?.code !== 'DSSE_SIGNATURE_INVALID') break;
  }
  if (verdict === undefined || !verdict.accepted) rethrow(verdict?.error ?? { name: 'VerificationError', code: 'DSSE_SIGNATURE_INVALID', message: 'the bundle did not verify' });
  const statement = verdict.payload?.statement;
  if (statement === undefined) throw new PolicyError('MALFORMED_STATEMENT', `the bundle's payload is ${verdict.payload?.payloadType ?? 'missing'}, not an in-toto statement`, { field: 'dsseEnvelope.payloadType' });

  // The checkpoint again, now with the witnesses, and against the newest one seen.
  const entry = bundle.tlogEntries[0];
  const proof = entry?.inclusionProof;
  if (entry === undefined || proof?.checkpoint === undefined) throw new VerificationError('TLOG_INCLUSION_MISSING', 'the bundle carries no inclusion proof with a checkpoint', { field: 'verificationMaterial.tlogEntries' });
  const checkpointTrust: CheckpointTrust = {
    log: { origin, keys: [await noteVerifier(vkey, { hasher, ...crypto })] },
    ...(trust.witnesses === undefined || trust.witnesses.vkeys.length === 0
      ? {}
      : { witnesses: { witnesses: await Promise.all(trust.witnesses.vkeys.map((w) => noteVerifier(w, { hasher, ...crypto }))), threshold: trust.witnesses.threshold ?? trust.witnesses.vkeys.length } }),
  };
  const logged = await verifyLogEntry({ checkpoint: proof.checkpoint, entry: { bytes: entry.canonicalizedBody }, index: proof.logIndex, proof: proof.hashes }, { trust: checkpointTrust, hasher });
  const cp = logged.checkpoint.checkpoint;
  if (trust.store !== undefined) {
    const consistency: ConsistencyProofSource = (older, newer) => new TileReader((path) => required(trust.fetch, path), newer, hasher).consistencyProof(older);
    const seen = await trust.store.latest(origin);
    if (seen !== undefined && cp.size < seen.size) {
      // A bundle's checkpoint is older than the newest seen: it must be a prefix of it; the store keeps the newer.
      await verifyConsistency(hasher, { size: cp.size, rootHash: cp.rootHash }, seen, await consistency(cp.size, seen.size));
    } else {
      await advanceCheckpoint(trust.store, logged.checkpoint, consistency, hasher);
    }
  }
  return Object.freeze({ statement, logIndex: proof.logIndex, treeSize: cp.size, rootHash: toHex(cp.rootHash), origin });
}

/** Verifies a measurements bundle against `trust` and returns what it publishes; the first failure is thrown with its code. */
export async function verifyMeasurementsBundle(input: string | Uint8Array | SigstoreBundle, trust: TransparencyTrust): Promise<LoggedMeasurements> {
  const { statement, ...position } = await verifyLoggedStatement(input, trust);
  return Object.freeze({ ...parseMeasurementsStatement(statement), ...position });
}

/** Where the log keeps its note verifier key, for clients that take it from the log itself (unpinned). */
export const LOG_VKEY_FILE = 'log.vkey';

/** Where the log keeps the newest hardware policy bundle (src/transparency/publish.ts). */
export const HARDWARE_POLICY_PATH = 'hardware-policy.sigstore.json';

/**
 * The newest hardware policy published to the log, verified as any logged statement; undefined when none was
 * published. MALFORMED_STATEMENT, SUBJECT_MISMATCH for a bundle that is not one; HARDWARE_POLICY_VERSION when its
 * version is below `minVersion` (the newest the caller accepted before: a log host serving an older policy).
 */
export async function loggedHardwarePolicy(trust: TransparencyTrust, minVersion = 0): Promise<(LogPosition & { readonly policy: HardwarePolicy }) | undefined> {
  const bytes = await trust.fetch(HARDWARE_POLICY_PATH);
  if (bytes === undefined) return undefined;
  const { statement, ...position } = await verifyLoggedStatement(bytes, trust);
  const policy = await parseHardwarePolicyStatement(statement, trust.hasher ?? webCryptoHasher);
  if (policy.version < minVersion) throw new PolicyError('HARDWARE_POLICY_VERSION', `the log's hardware policy is version ${policy.version}, older than version ${minVersion} accepted before`, { field: 'version', expected: `>= ${minVersion}`, actual: String(policy.version) });
  return Object.freeze({ policy, ...position });
}

/**
 * The logged statement of the verify page whose web-manifest.json has SHA-256 `manifestSha256` (hex), verified as any
 * logged statement; WEB_PAGE_NOT_LOGGED when the log has none (docs/verify-page.md "Publishing").
 */
export async function loggedWebPage(manifestSha256: string, trust: TransparencyTrust): Promise<LogPosition & WebPagePredicate> {
  const digest = manifestSha256.toLowerCase();
  const bytes = await trust.fetch(webPageBundlePath(digest));
  if (bytes === undefined) throw new PolicyError('WEB_PAGE_NOT_LOGGED', `no verify page with web-manifest.json sha256:${digest} is in the transparency log ${parseVkey(trust.logVkey).name}`, { field: WEB_MANIFEST_SUBJECT, expected: 'a logged verify page', actual: digest });
  const { statement, ...position } = await verifyLoggedStatement(bytes, trust);
  return Object.freeze({ ...parseWebPageStatement(statement, digest), ...position });
}

/** Where the log keeps an image manifest a measurements statement names (by its SHA-256), when it was published with it. */
export const imageManifestPath = (sha256: string): string => `images/${sha256.toLowerCase()}.json`;

/** An input of an image (image-manifest.json, `inputs`): a model pack among them has kind "model". */
export interface ImageInput {
  readonly name: string;
  readonly kind: string;
  readonly version: string;
  readonly sha256: string;
}

/**
 * The inputs of the image whose manifest has SHA-256 `sha256` (hex: the subject of a verified measurements statement,
 * so the bytes are trusted once their digest matches), read from the log; undefined when the log does not hold it.
 * ARTIFACT_DIGEST_MISMATCH when the file is not that manifest, MALFORMED_STATEMENT when it has no inputs to read.
 */
export async function loggedImageInputs(sha256: string, fetch: LogFetcher, hasher: Hasher = webCryptoHasher): Promise<readonly ImageInput[] | undefined> {
  const hex = sha256.toLowerCase();
  const bytes = await fetch(imageManifestPath(hex));
  if (bytes === undefined) return undefined;
  const actual = toHex(await hasher.digest('SHA-256', [bytes]));
  if (actual !== hex) throw new VerificationError('ARTIFACT_DIGEST_MISMATCH', `the log's ${imageManifestPath(hex)} has SHA-256 ${actual}, not the image manifest the statement names`, { field: imageManifestPath(hex), expected: hex, actual });
  let inputs: unknown;
  try {
    inputs = (JSON.parse(new TextDecoder().decode(bytes)) as { inputs?: unknown }).inputs;
  } catch (cause) {
    throw new PolicyError('MALFORMED_STATEMENT', `the image manifest ${hex} is not JSON`, { field: imageManifestPath(hex), cause });
  }
  const read = Array.isArray(inputs) ? inputs.filter((i): i is ImageInput => typeof i === 'object' && i !== null && ['name', 'kind', 'version', 'sha256'].every((k) => typeof (i as Record<string, unknown>)[k] === 'string')) : [];
  if (!Array.isArray(inputs) || read.length !== inputs.length) throw new PolicyError('MALFORMED_STATEMENT', `the image manifest ${hex} has no readable inputs (name, kind, version, sha256 each)`, { field: `${imageManifestPath(hex)}: $.inputs` });
  return read.map((i) => Object.freeze({ name: i.name, kind: i.kind, version: i.version, sha256: i.sha256 }));
}

/** Where the log keeps the newest bundle that lists a measurement (src/transparency/publish.ts). */
export const measurementBundlePath = (measurement: string): string => `measurements/${measurement.toLowerCase()}.sigstore.json`;

/** The RTMRs a TDX entry of a measurements file may predict, by index in the quote's RTMR0..RTMR3. */
const LOGGED_RTMRS = [
  [1, 'rtmr1', 'RTMR1'],
  [2, 'rtmr2', 'RTMR2'],
] as const;

const sameHex = (a: string, b: string): boolean => bytesEqual(fromHex(a), fromHex(b));

/**
 * How `logged` lists the attested measurement: the matching entry's RTMRs checked (none for SEV-SNP), or why none
 * matches. A TDX entry matches when its MRTD and each of RTMR1 and RTMR2 it gives equal the attested ones.
 */
function listing(logged: LoggedMeasurements, platform: 'sev-snp' | 'tdx', hex: string, rtmrs: readonly string[] | undefined): { readonly checked: readonly ('RTMR1' | 'RTMR2')[] } | { readonly missing: string } {
  if (platform === 'sev-snp') return listedMeasurements(logged.measurements)['sev-snp'].some((m) => sameHex(m, hex)) ? { checked: [] } : { missing: `the statement at log index ${logged.logIndex} does not list it` };
  const entries = (logged.measurements.tdx ?? []).filter((e) => sameHex(e.mrTd, hex));
  if (entries.length === 0) return { missing: `the statement at log index ${logged.logIndex} does not list it` };
  const quoted = (i: number): string | undefined => rtmrs?.[i]?.toLowerCase();
  let differs = '';
  for (const e of entries) {
    const given = LOGGED_RTMRS.flatMap(([i, key, name]) => (e[key] === undefined ? [] : [{ name, logged: e[key].toLowerCase(), quote: quoted(i) }]));
    const wrong = given.find((r) => r.quote === undefined || !sameHex(r.quote, r.logged));
    if (wrong === undefined) return { checked: given.map((r) => r.name) };
    differs ||= `the statement at log index ${logged.logIndex} lists this MRTD with ${wrong.name} ${wrong.logged}, but the quote's ${wrong.name} is ${wrong.quote ?? 'absent'}`;
  }
  return { missing: differs };
}

/**
 * The logged statement that lists `measurement` (hex: SEV-SNP MEASUREMENT or TDX MRTD) for `platform`, verified;
 * MEASUREMENT_NOT_LOGGED when the log has none. TDX: `rtmrs` are the quote's RTMR0..RTMR3 (hex), and an entry that
 * predicts RTMR1 or RTMR2 lists the measurement only when they match too. A `shipped` bundle (the server's, from its
 * certificate) is verified exactly as a fetched one and a failure is thrown with its code; when it verifies but does
 * not list the measurement, it is set aside and the log is asked.
 */
export async function loggedMeasurement(platform: 'sev-snp' | 'tdx', measurement: string, trust: TransparencyTrust, shipped?: Uint8Array, rtmrs?: readonly string[]): Promise<LoggedMeasurements> {
  const hex = measurement.toLowerCase();
  const notLogged = (why: string): PolicyError =>
    new PolicyError('MEASUREMENT_NOT_LOGGED', `the ${platform} launch measurement ${hex} is not in the transparency log ${parseVkey(trust.logVkey).name}: ${why}`, { field: 'measurement', expected: 'a logged measurement', actual: hex });
  if (!/^[0-9a-f]{96}$/.test(hex)) throw notLogged('it is not 48 bytes of hex');
  if (rtmrs !== undefined && !rtmrs.every((r) => /^[0-9a-fA-F]{96}$/.test(r))) throw notLogged('the quote\'s RTMRs are not 48 bytes of hex each');
  if (shipped !== undefined) {
    const logged = await verifyMeasurementsBundle(shipped, trust);
    const found = listing(logged, platform, hex, rtmrs);
    if ('checked' in found) return withRtmrs(logged, found.checked);
  }
  const bytes = await trust.fetch(measurementBundlePath(hex));
  if (bytes === undefined) throw notLogged('no statement lists it');
  const logged = await verifyMeasurementsBundle(bytes, trust);
  const found = listing(logged, platform, hex, rtmrs);
  if ('missing' in found) throw notLogged(found.missing);
  return withRtmrs(logged, found.checked);
}

const withRtmrs = (logged: LoggedMeasurements, checked: readonly ('RTMR1' | 'RTMR2')[]): LoggedMeasurements => (checked.length === 0 ? logged : Object.freeze({ ...logged, rtmrsChecked: Object.freeze([...checked]) }));

/** The largest file read from a log: a bundle is a few KiB, a hash tile 8 KiB. */
export const MAX_LOG_FILE_BYTES = 1024 * 1024;

export interface HttpLogFetcherOptions {
  readonly fetch?: FetchLike;
  /** Per file, for the request and its whole answer, in ms (default DEFAULT_EXCHANGE_TIMEOUT_MS, 10 s). */
  readonly timeoutMs?: number;
}

/**
 * A LogFetcher over HTTP(S) below `baseUrl`: 404 is undefined; any other status, a network failure, no whole answer
 * within `timeoutMs` or a file over MAX_LOG_FILE_BYTES is TLOG_UNAVAILABLE, naming the URL.
 */
export function httpLogFetcher(baseUrl: string, options: HttpLogFetcherOptions = {}): LogFetcher {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXCHANGE_TIMEOUT_MS;
  return async (path) => {
    const url = new URL(path, base).href;
    let status: number;
    let body: Uint8Array | undefined;
    try {
      // Read chunk by chunk and abandoned past the limit: a body without content-length is never taken whole.
      ({ status, body } = await exchange(options.fetch ?? globalFetch, url, { method: 'GET', headers: {}, redirect: 'error' }, timeoutMs, MAX_LOG_FILE_BYTES));
    } catch (cause) {
      if (!(cause instanceof ResponseTooLarge)) {
        const e = cause as Error;
        throw new VerificationError('TLOG_UNAVAILABLE', `cannot fetch ${url} from the log: ${e.name === 'TimeoutError' ? `no whole answer within ${timeoutMs} ms` : e.message}`, { field: path, cause });
      }
      status = cause.status;
    }
    if (status === 404) return undefined;
    if (status !== 200) throw new VerificationError('TLOG_UNAVAILABLE', `the log answered ${status} for ${url}`, { field: path, actual: String(status) });
    if (body === undefined) throw new VerificationError('TLOG_UNAVAILABLE', `the log's ${url} is larger than ${MAX_LOG_FILE_BYTES} bytes`, { field: path });
    return body;
  };
}

/** The RTMR0..RTMR3 (hex) an accepted TDX verdict's quote carries; undefined for other platforms. */
function attestedRtmrs(verdict: RaTlsVerdict): readonly string[] | undefined {
  const rtmrs = (verdict.claims as { evidence?: { rtmrs?: unknown } } | undefined)?.evidence?.rtmrs;
  return verdict.platform === 'tdx' && Array.isArray(rtmrs) && rtmrs.every((r) => typeof r === 'string') ? rtmrs : undefined;
}

/** The verdict's check that records the log's judgment of the measurement. */
export const TRANSPARENCY_LOG_CHECK = 'client.transparency-log';

/** The launch measurement an accepted verdict's evidence carries (SEV-SNP MEASUREMENT, TDX MRTD), in hex. */
export function attestedMeasurement(verdict: RaTlsVerdict): string | undefined {
  const evidence = (verdict.claims as { evidence?: { measurement?: unknown; mrTd?: unknown } } | undefined)?.evidence;
  const m = verdict.platform === 'sev-snp' ? evidence?.measurement : verdict.platform === 'tdx' ? evidence?.mrTd : undefined;
  return typeof m === 'string' ? m : undefined;
}

/**
 * `verdict` judged by the log: a verdict accepted without a measurement list (the caller verified the evidence with
 * anyMeasurement, leaving the measurement to the log) stays accepted only when the log holds its measurement, and
 * then no longer says anyMeasurement; otherwise it is refused with the log's error. Rejected verdicts pass as they are.
 */
export async function withLoggedMeasurement(verdict: RaTlsVerdict, trust: TransparencyTrust, shipped?: Uint8Array): Promise<RaTlsVerdict & { readonly logged?: LoggedMeasurements }> {
  if (!verdict.accepted || verdict.platform === 'unknown') return verdict;
  const checks = verdict.checks.filter((c) => c.id !== MEASUREMENT_SOURCE_CHECK);
  const rest: RaTlsVerdict = { ...verdict };
  delete (rest as { anyMeasurement?: true }).anyMeasurement;
  try {
    const measurement = attestedMeasurement(verdict);
    if (measurement === undefined) throw new PolicyError('MEASUREMENT_NOT_LOGGED', `the ${verdict.platform} evidence names no launch measurement to look up in the log`, { field: 'measurement' });
    const logged = await loggedMeasurement(verdict.platform, measurement, trust, shipped, attestedRtmrs(verdict));
    const rtmrs = logged.rtmrsChecked === undefined ? '' : `, ${logged.rtmrsChecked.join(' and ')}`;
    return { ...rest, logged, checks: [...checks, { id: TRANSPARENCY_LOG_CHECK, status: 'pass', detail: `measurement ${measurement.toLowerCase()}${rtmrs} listed at log index ${logged.logIndex} of ${logged.origin} (tree size ${logged.treeSize}), source commit ${logged.source.commit}` }] };
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    return { ...rest, accepted: false, error: e.toJSON() as unknown as VerdictError, checks: [...checks, { id: TRANSPARENCY_LOG_CHECK, status: 'fail', detail: e.message }] };
  }
}

/**
 * The client's rule on a verified certificate's launch measurement (measurementSource.ts), with the log: without
 * `transparency` it is withMeasurementSource; with it, the measurement must also be in the log (withLoggedMeasurement),
 * read from the bundle the certificate ships (`shipped`, its CMW `transparency` record) before the log is asked.
 */
export async function judgeMeasurement(verified: RaTlsVerdict, policy: RaTlsPolicy, source: MeasurementSource, shipped?: Uint8Array): Promise<RaTlsVerdict> {
  const verdict = withMeasurementSource(verified, policy, source.anyMeasurement === true || source.transparency !== undefined);
  return source.transparency === undefined ? verdict : withLoggedMeasurement(verdict, source.transparency, shipped);
}

/** The transparency bundle an RA-TLS certificate ships in its CMW (`transparency` record), or undefined when it ships none. */
export function shippedTransparencyBundle(certificateDer: Uint8Array): Uint8Array | undefined {
  const cmw = parseCertificate(certificateDer).extensions.get(ID_PE_CMW);
  return cmw === undefined ? undefined : decodeRaTlsExtension(cmw.value).transparencyBundle;
}
