// What a verdict on a server (verifyServer.ts) or on evidence says, as the facts a reader looks for: the hardware,
// the launch measurement and how it was judged, the log entry that lists it, the OHTTP keys the evidence binds, and
// every check that failed with its error code. Read from the verdict's claims and checks only: nothing here decides.
import type { VerdictError } from '../checks.js';
import type { PlatformName } from '../evidence/platforms.js';
import type { MeasurementsFile } from '../measure/measurementsFile.js';
import { decodeKeyConfig } from '../protocols/ohttp/keyConfig.js';
import type { RaTlsVerdict } from '../ratls/verifyCertificate.js';
import { fromHex } from '../bytes.js';
import { HARDWARE_POLICY_CHECK } from './hardwarePolicy.js';
import type { LoggedMeasurements } from './loggedMeasurements.js';

/** How the launch measurement was judged: listed in the log, in the caller's own list, or not at all (debugging). */
export type MeasurementJudgment = 'logged' | 'listed' | 'any' | 'not judged';

export interface HardwareFacts {
  readonly vendor: 'AMD' | 'Intel';
  readonly technology: 'SEV-SNP' | 'TDX';
  /** SEV-SNP: Milan, Genoa, Turin; TDX: the quote's body type and version ("TDX 1.5, quote v4"). */
  readonly product: string;
  /** The TCB in one line: SEV-SNP the reported TCB's components, TDX the evaluated status and its summary. */
  readonly tcb: string;
  /** TDX: Intel's TCB status (UpToDate, OutOfDate, ...); SEV-SNP: "reported" (AMD publishes no status; minimums are policy). */
  readonly tcbStatus: string;
  /** The certificate chain's root the evidence verified against. */
  readonly root?: string;
}

export interface KeyFacts {
  readonly keyId: number;
  readonly kem: string;
  readonly suites: readonly string[];
}

export interface FailedCheck {
  readonly check: string;
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  readonly expected?: string;
  readonly actual?: string;
}

export interface ServerReport {
  readonly accepted: boolean;
  /** The evidence says it comes from the simulated TEE. */
  readonly simulated: boolean;
  readonly platform: PlatformName | 'unknown';
  readonly hardware?: HardwareFacts;
  /** The launch measurement (SEV-SNP MEASUREMENT, TDX MRTD), hex. */
  readonly measurement?: { readonly name: 'MEASUREMENT' | 'MRTD'; readonly value: string; readonly judged: MeasurementJudgment };
  /** The log statement that lists the measurement, when a log was asked and lists it. */
  readonly logged?: { readonly origin: string; readonly logIndex: number; readonly treeSize: number; readonly rootHash: string; readonly sourceCommit: string; readonly imageManifest: string; readonly imageVariant: string; readonly notes: readonly string[] };
  /** The logged hardware policy's judgment, as its check says it. */
  readonly hardwarePolicy?: { readonly status: string; readonly detail: string };
  /** The OHTTP key configurations the evidence binds (through the certificate's REPORT_DATA binding). */
  readonly keys: readonly KeyFacts[];
  readonly certificate?: { readonly notAfter: string; readonly spkiSha256: string };
  readonly checksPassed: number;
  /** Every failed check; the first carries the verdict's error code. */
  readonly failures: readonly FailedCheck[];
}

const KEMS: Readonly<Record<number, string>> = { 0x0010: 'P-256', 0x0011: 'P-384', 0x0012: 'P-521', 0x0020: 'X25519', 0x0021: 'X448' };
const KDFS: Readonly<Record<number, string>> = { 1: 'HKDF-SHA256', 2: 'HKDF-SHA384', 3: 'HKDF-SHA512' };
const AEADS: Readonly<Record<number, string>> = { 1: 'AES-128-GCM', 2: 'AES-256-GCM', 3: 'ChaCha20-Poly1305' };
const named = (table: Readonly<Record<number, string>>, id: number): string => table[id] ?? `0x${id.toString(16).padStart(4, '0')}`;

interface Claims {
  readonly certificate?: { readonly notAfter?: string; readonly spkiSha256?: string };
  readonly keyConfigs?: readonly string[];
  readonly evidence?: {
    readonly product?: string | null;
    readonly version?: number;
    readonly bodyType?: string;
    readonly measurement?: string;
    readonly mrTd?: string;
    readonly reportedTcb?: Readonly<Record<string, unknown>>;
    readonly chain?: { readonly root?: string };
    readonly tcbStatus?: string;
    readonly tcb?: { readonly status?: string; readonly summary?: string; readonly tcbEvaluationDataNumber?: number } | null;
  };
}

function keyFacts(hex: string): KeyFacts {
  try {
    const c = decodeKeyConfig(fromHex(hex));
    return { keyId: c.keyId, kem: named(KEMS, c.kemId), suites: c.suites.map((s) => `${named(KDFS, s.kdfId)} + ${named(AEADS, s.aeadId)}`) };
  } catch {
    return { keyId: fromHex(hex.slice(0, 2))[0] ?? 0, kem: 'unreadable', suites: [] };
  }
}

function hardwareFacts(platform: PlatformName, e: NonNullable<Claims['evidence']>): HardwareFacts {
  const root = e.chain?.root === undefined ? {} : { root: e.chain.root };
  if (platform === 'tdx') {
    const tcb = e.tcb === undefined || e.tcb === null ? 'not evaluated' : `${e.tcb.summary ?? e.tcb.status ?? '?'} (TCB evaluation data number ${e.tcb.tcbEvaluationDataNumber ?? '?'})`;
    return { vendor: 'Intel', technology: 'TDX', product: `${e.bodyType ?? 'TDX'}, quote v${e.version ?? '?'}`, tcb, tcbStatus: e.tcbStatus ?? 'not evaluated', ...root };
  }
  const parts = Object.entries(e.reportedTcb ?? {}).filter(([k]) => k !== 'raw').map(([k, v]) => `${k} ${String(v)}`);
  return { vendor: 'AMD', technology: 'SEV-SNP', product: e.product ?? 'unknown', tcb: parts.length > 0 ? parts.join(', ') : (typeof e.reportedTcb?.raw === 'string' ? e.reportedTcb.raw : '?'), tcbStatus: 'reported', ...root };
}

function judgment(verdict: RaTlsVerdict & { readonly logged?: LoggedMeasurements }): MeasurementJudgment {
  if (verdict.logged !== undefined) return 'logged';
  if (verdict.anyMeasurement === true) return 'any';
  return verdict.accepted ? 'listed' : 'not judged';
}

/** The facts of a verdict of verifyServerCertificate or judgeEvidence (verifyServer.ts). */
export function serverReport(verdict: RaTlsVerdict & { readonly logged?: LoggedMeasurements }): ServerReport {
  const claims = (verdict.claims ?? {}) as Claims;
  const e = claims.evidence;
  const value = verdict.platform === 'tdx' ? e?.mrTd : e?.measurement;
  const logged = verdict.logged;
  const policyCheck = verdict.checks.find((c) => c.id === HARDWARE_POLICY_CHECK);
  const error: VerdictError | undefined = verdict.error;
  const failures = verdict.checks
    .filter((c) => c.status === 'fail')
    .map((c, i): FailedCheck => (i === 0 && error !== undefined ? { check: c.id, code: error.code, message: error.message, ...optional(error) } : { check: c.id, code: 'FAILED', message: c.detail ?? '' }));
  const unrecorded = error !== undefined && failures.length === 0 ? [{ check: verdict.checks.at(-1)?.id ?? 'verification', code: error.code, message: error.message, ...optional(error) }] : [];
  return {
    accepted: verdict.accepted,
    simulated: verdict.simulated,
    platform: verdict.platform,
    ...(verdict.platform === 'unknown' || e === undefined ? {} : { hardware: hardwareFacts(verdict.platform, e) }),
    ...(value === undefined ? {} : { measurement: { name: verdict.platform === 'tdx' ? 'MRTD' : 'MEASUREMENT', value, judged: judgment(verdict) } }),
    ...(logged === undefined ? {} : { logged: loggedFacts(logged) }),
    ...(policyCheck === undefined ? {} : { hardwarePolicy: { status: policyCheck.status, detail: policyCheck.detail ?? '' } }),
    keys: (claims.keyConfigs ?? []).map(keyFacts),
    ...(claims.certificate?.notAfter === undefined || claims.certificate.spkiSha256 === undefined ? {} : { certificate: { notAfter: claims.certificate.notAfter, spkiSha256: claims.certificate.spkiSha256 } }),
    checksPassed: verdict.checks.filter((c) => c.status === 'pass').length,
    failures: [...failures, ...unrecorded],
  };
}

function optional(e: VerdictError): Pick<FailedCheck, 'field' | 'expected' | 'actual'> {
  return { ...(e.field === undefined ? {} : { field: e.field }), ...(e.expected === undefined ? {} : { expected: e.expected }), ...(e.actual === undefined ? {} : { actual: e.actual }) };
}

function loggedFacts(l: LoggedMeasurements): NonNullable<ServerReport['logged']> {
  const file: MeasurementsFile = l.measurements;
  return { origin: l.origin, logIndex: l.logIndex, treeSize: l.treeSize, rootHash: l.rootHash, sourceCommit: l.source.commit, imageManifest: file.image.manifest, imageVariant: file.image.variant, notes: file.notes ?? [] };
}
