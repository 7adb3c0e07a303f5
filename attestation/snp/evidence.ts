// SEV-SNP evidence as it arrives raw: a report or an extended report (report + certificate table; bundles
// are read in ../evidence/platforms.ts); and the whole parse -> verify -> validate pipeline that turns it
// into a verdict.
import { toHex } from '../bytes.js';
import { CheckLog, type Verdict, type VerdictError } from '../checks.js';
import { CloisterError, ParseError } from '../errors.js';
import { CERT_GUID, parseCertTable } from './certTable.js';
import { productFromCpuId, type Product } from './product.js';
import { parseReport, REPORT_SIZE, type SnpReport } from './report.js';
import { decodeTcb, type TcbParts } from './tcb.js';
import { assertSnpPolicy } from './policy.js';
import { validateSnpReport, type SnpPolicy } from './validate.js';
import { SnpVerifier, type SnpVerification } from './verify.js';

// The bundle format is shared with TDX and decoded in ../bundle.ts; re-exported here for existing callers.
export { BUNDLE_FORMAT, splitCertificateFile } from '../evidence/bundle.js';
export type { VerdictError } from '../checks.js';

export interface SnpEvidence {
  readonly report: Uint8Array;
  readonly certificates: readonly Uint8Array[];
  readonly crls: readonly Uint8Array[];
  /** Set by bundles produced by the simulated TEE; informational only, trust comes from roots. */
  readonly simulated: boolean;
}

const CERTIFICATE_GUIDS = new Set<string>([CERT_GUID.vcek, CERT_GUID.vlek, CERT_GUID.ask, CERT_GUID.ark]);

/** Splits a raw report or an extended report; decodeSnpEvidence (../evidence/platforms.ts) also takes bundles. */
export function decodeRawSnpEvidence(bytes: Uint8Array): SnpEvidence {
  if (bytes.length < REPORT_SIZE) {
    throw new ParseError('TRUNCATED', `evidence is ${bytes.length} bytes: a SEV-SNP report is ${REPORT_SIZE} bytes (an extended report more)`, {
      field: 'report',
      expected: `>= ${REPORT_SIZE}`,
      actual: String(bytes.length),
    });
  }
  if (bytes.length === REPORT_SIZE) return { report: bytes, certificates: [], crls: [], simulated: false };
  const table = parseCertTable(bytes.subarray(REPORT_SIZE));
  return {
    report: bytes.subarray(0, REPORT_SIZE),
    certificates: table.filter((e) => CERTIFICATE_GUIDS.has(e.guid)).map((e) => e.data),
    crls: table.filter((e) => e.guid === CERT_GUID.crl).map((e) => e.data),
    simulated: false,
  };
}

export type SnpVerdict = Verdict<'sev-snp'>;

export interface VerifySnpOptions {
  readonly at?: Date;
  readonly verifier?: SnpVerifier;
}

const bigHex = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

function tcbClaim(raw: bigint, product: Product | undefined): { raw: string } & Partial<TcbParts> {
  return product === undefined ? { raw: bigHex(raw) } : { raw: bigHex(raw), ...decodeTcb(raw, product) };
}

/** Every parsed field, JSON-ready (hex strings for bytes, decoded bitfields and TCBs). */
export function snpClaims(r: SnpReport, product: Product | undefined, verification?: SnpVerification): Record<string, unknown> {
  const { raw: policyRaw, reservedBits: policyReserved, ...policy } = r.policy;
  const { raw: pinfoRaw, reservedBits: pinfoReserved, ...platformInfo } = r.platformInfo;
  return {
    version: r.version,
    product: product ?? null,
    signingKey: r.keyInfo.signingKey,
    guestSvn: r.guestSvn,
    policy: { raw: bigHex(policyRaw), ...policy, reservedBits: bigHex(policyReserved) },
    familyId: toHex(r.familyId),
    imageId: toHex(r.imageId),
    vmpl: r.vmpl,
    signatureAlgo: r.signatureAlgo,
    currentTcb: tcbClaim(r.currentTcb, product),
    platformInfo: { raw: bigHex(pinfoRaw), ...platformInfo, reservedBits: bigHex(pinfoReserved) },
    keyInfo: { raw: r.keyInfo.raw, authorKeyEn: r.keyInfo.authorKeyEn, maskChipKey: r.keyInfo.maskChipKey, signingKey: r.keyInfo.signingKey },
    reportData: toHex(r.reportData),
    measurement: toHex(r.measurement),
    hostData: toHex(r.hostData),
    idKeyDigest: toHex(r.idKeyDigest),
    authorKeyDigest: toHex(r.authorKeyDigest),
    reportId: toHex(r.reportId),
    reportIdMa: toHex(r.reportIdMa),
    reportedTcb: tcbClaim(r.reportedTcb, product),
    cpuid: r.cpuid ?? null,
    chipId: toHex(r.chipId),
    committedTcb: tcbClaim(r.committedTcb, product),
    currentVersion: r.currentVersion,
    committedVersion: r.committedVersion,
    launchTcb: tcbClaim(r.launchTcb, product),
    launchMitVector: r.launchMitVector === undefined ? null : bigHex(r.launchMitVector),
    currentMitVector: r.currentMitVector === undefined ? null : bigHex(r.currentMitVector),
    ...(verification === undefined
      ? {}
      : {
          chain: verification.chain,
          vek: {
            kind: verification.vek.kind,
            productName: verification.vek.productName,
            tcb: verification.vek.tcb,
            hwId: verification.vek.hwId === undefined ? null : toHex(verification.vek.hwId),
            cspId: verification.vek.cspId ?? null,
          },
          crlChecked: verification.crlChecked,
        }),
  };
}

let defaultVerifier: SnpVerifier | undefined;

/** parse -> verify -> validate. Never throws for bad evidence: the verdict carries the failure. */
export async function verifySnpEvidence(evidence: SnpEvidence, policy: SnpPolicy = {}, options: VerifySnpOptions = {}): Promise<SnpVerdict> {
  const log = new CheckLog();
  let report: SnpReport | undefined;
  let product: Product | undefined;
  let verification: SnpVerification | undefined;
  try {
    await log.run('policy.shape', () => assertSnpPolicy(policy));
    report = await log.run('parse', () => parseReport(evidence.report), (r) => `version ${r.version}`);
    product = report.cpuid === undefined ? undefined : productFromCpuId(report.cpuid);
    const verifier = options.verifier ?? (defaultVerifier ??= new SnpVerifier());
    verification = await verifier.verify(report, evidence, { ...(options.at === undefined ? {} : { at: options.at }), requireCrl: policy.requireCrl ?? false }, log);
    product = verification.product;
    validateSnpReport(report, { product: verification.product, cspId: verification.vek.cspId }, policy, log);
    return { accepted: true, platform: 'sev-snp', simulated: evidence.simulated, checks: log.checks, claims: snpClaims(report, product, verification) };
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    return {
      accepted: false,
      platform: 'sev-snp',
      simulated: evidence.simulated,
      error: e.toJSON() as unknown as VerdictError,
      checks: log.checks,
      ...(report === undefined ? {} : { claims: snpClaims(report, product, verification) }),
    };
  }
}
