// TDX evidence as it arrives raw, a quote (bundles are read in ../evidence/platforms.ts), and the parse -> verify -> validate pipeline that turns it into a verdict.
//
// What an accepted verdict means: the quote parses, its PCK chain ends in a trusted root and is valid at the
// evaluation time, the PCK key signed the QE report, the QE report binds the attestation key, the attestation
// key signed the quote; the collateral (TCB info, QE identity, root CA and PCK CRLs) is signed, current and
// chains to the same root, neither the PCK CA nor the PCK certificate is revoked, and the TCB status it gives
// the platform, TDX module and QE is an accepted one; and the policy holds. With `chainOnly` the collateral is
// not evaluated and the verdict says so (its `collateral` and `tcb` checks are skipped).
import { bytesEqual, toHex } from '../bytes.js';
import type { Hasher } from '../hash.js';
import { parseCcelEventLog, replayRtmrs } from '../measure/tdx/ccel.js';
import { CheckLog, type Verdict, type VerdictError } from '../checks.js';
import { CloisterError, PolicyError } from '../errors.js';
import { parseCertificate, parseCrl } from '../x509.js';
import type { TdxCollateral } from './collateral.js';
import { parsePckExtensions } from './pckExtensions.js';
import { assertTdxPolicy } from './policy.js';
import { ATTESTATION_KEY_TYPE_ECDSA_P256, parseQuote, QUOTE_VERSIONS, TD_BODY_TYPE, TEE_TYPE_TDX, type TdxQuote } from './quote.js';
import { evaluateTcb, type TcbEvaluation } from './tcbEvaluation.js';
import { describeTcb, validateTdxQuote, type TdxPolicy } from './validate.js';
import { TdxVerifier, type TdxVerification } from './verify.js';

export interface TdxEvidence {
  /** The quote exactly as the TD produced it (zero padding allowed). */
  readonly quote: Uint8Array;
  /** DER certificates from a bundle. The PCK chain is inside the quote; these are decoded and carried, not used. */
  readonly certificates: readonly Uint8Array[];
  /** DER CRLs from a bundle; parsed only: the CRLs checked are the collateral's. */
  readonly crls: readonly Uint8Array[];
  /** Intel PCS collateral, from a bundle or supplied by the caller; required unless the caller asks for the chain only. */
  readonly collateral?: TdxCollateral;
  /** Set by bundles produced by the simulated TEE; informational only, trust comes from roots. */
  readonly simulated: boolean;
  /** The TD's CCEL event log (ACPI CCEL table data): replayed, it must give the quote's RTMRs. */
  readonly eventLog?: Uint8Array;
}

/**
 * True when `bytes` starts like a TDX quote header: Version 4 or 5, Attestation Key Type 2 (ECDSA P-256),
 * TEE Type 0x81. A SEV-SNP report starts with a 32-bit VERSION (2, 3 or 5) whose upper half is zero, so the
 * two are never confused.
 */
export function looksLikeTdxQuote(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const u16 = (i: number): number => (bytes[i] as number) | ((bytes[i + 1] as number) << 8);
  return (QUOTE_VERSIONS as readonly number[]).includes(u16(0)) && u16(2) === ATTESTATION_KEY_TYPE_ECDSA_P256 && u16(4) === TEE_TYPE_TDX && u16(6) === 0;
}

/** A raw quote as evidence; verifyTdxEvidence parses it. decodeTdxEvidence (../evidence/platforms.ts) also takes bundles. */
export function decodeRawTdxEvidence(bytes: Uint8Array): TdxEvidence {
  return { quote: bytes, certificates: [], crls: [], simulated: false };
}

export type TdxVerdict = Verdict<'tdx'>;

export interface VerifyTdxOptions {
  readonly at?: Date;
  readonly verifier?: TdxVerifier;
  /** Check signatures and the PCK chain alone; the TCB is not evaluated and no collateral is needed. */
  readonly chainOnly?: boolean;
  /** Hashes the event log replay (default WebCrypto). */
  readonly hasher?: Hasher;
}

const u64 = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

/** The TCB evaluation, JSON-ready: the overall status, each part's status, date and advisories. */
function tcbClaim(tcb: TcbEvaluation): Record<string, unknown> {
  return {
    status: tcb.status,
    tcbDate: tcb.platform.tcbDate ?? null,
    advisoryIds: tcb.advisoryIds,
    platform: tcb.platform,
    module: tcb.module,
    qe: tcb.qe,
    tcbEvaluationDataNumber: tcb.tcbEvaluationDataNumber,
    summary: describeTcb(tcb),
  };
}

/** Every parsed field, JSON-ready (hex strings for bytes, TDATTRIBUTES decoded), and the TCB when evaluated. */
export function tdxClaims(q: TdxQuote, verification?: TdxVerification, tcb?: TcbEvaluation): Record<string, unknown> {
  const b = q.body;
  const { raw: attrRaw, ...attributes } = b.tdAttributes;
  return {
    version: q.header.version,
    bodyType: b.bodyType === TD_BODY_TYPE.tdx15 ? 'TDX 1.5' : 'TDX 1.0',
    qeVendorId: toHex(q.header.qeVendorId),
    userData: toHex(q.header.userData),
    teeTcbSvn: toHex(b.teeTcbSvn),
    mrSeam: toHex(b.mrSeam),
    mrSignerSeam: toHex(b.mrSignerSeam),
    seamAttributes: u64(b.seamAttributes),
    tdAttributes: { raw: u64(attrRaw), ...attributes },
    xfam: u64(b.xfam),
    mrTd: toHex(b.mrTd),
    mrConfigId: toHex(b.mrConfigId),
    mrOwner: toHex(b.mrOwner),
    mrOwnerConfig: toHex(b.mrOwnerConfig),
    rtmrs: b.rtmrs.map(toHex),
    reportData: toHex(b.reportData),
    teeTcbSvn2: b.teeTcbSvn2 === undefined ? null : toHex(b.teeTcbSvn2),
    mrServiceTd: b.mrServiceTd === undefined ? null : toHex(b.mrServiceTd),
    qeReport: {
      mrEnclave: toHex(q.qeReport.mrEnclave),
      mrSigner: toHex(q.qeReport.mrSigner),
      isvProdId: q.qeReport.isvProdId,
      isvSvn: q.qeReport.isvSvn,
    },
    ...(verification === undefined ? {} : { chain: verification.chain }),
    tcbStatus: tcb === undefined ? 'not evaluated' : tcb.status,
    tcb: tcb === undefined ? null : tcbClaim(tcb),
  };
}

export const CHAIN_ONLY = 'chain only: the collateral and the TCB were not evaluated, so the platform\'s TCB status is unknown';

let defaultVerifier: TdxVerifier | undefined;

/** parse -> verify -> validate. Never throws for bad evidence: the verdict carries the failure. */
export async function verifyTdxEvidence(evidence: TdxEvidence, policy: TdxPolicy = {}, options: VerifyTdxOptions = {}): Promise<TdxVerdict> {
  const log = new CheckLog();
  let quote: TdxQuote | undefined;
  let verification: TdxVerification | undefined;
  let tcb: TcbEvaluation | undefined;
  const claims = (): Record<string, unknown> => (quote === undefined ? {} : { claims: tdxClaims(quote, verification, tcb) });
  try {
    log.runSync('policy.shape', () => assertTdxPolicy(policy));
    quote = log.runSync('parse', () => parseQuote(evidence.quote), (q) => `version ${q.header.version}, ${q.body.bodyType === TD_BODY_TYPE.tdx15 ? 'TDX 1.5' : 'TDX 1.0'} body`);
    log.runSync(
      'endorsements',
      () => {
        for (const c of evidence.certificates) parseCertificate(c);
        for (const c of evidence.crls) parseCrl(c);
      },
      () => `${evidence.certificates.length} certificate(s), ${evidence.crls.length} CRL(s) supplied besides the quote's PCK chain`,
    );
    const verifier = options.verifier ?? (defaultVerifier ??= new TdxVerifier());
    const at = options.at ?? new Date();
    const verified = await verifier.verify(quote, { at }, log);
    verification = verified;
    if (options.chainOnly === true) {
      log.skip('collateral', CHAIN_ONLY);
      log.skip('tcb', CHAIN_ONLY);
    } else {
      const collateral = await verifier.verifyCollateral(evidence.collateral, verified, at, log);
      const q = quote;
      tcb = log.runSync('tcb', () => evaluateTcb(q, parsePckExtensions(verified.pck), collateral.tcbInfo, collateral.qeIdentity), describeTcb);
    }
    const rtmrs = quote.body.rtmrs;
    if (evidence.eventLog === undefined) log.skip('event-log', 'no event log supplied');
    else {
      const eventLog = evidence.eventLog;
      await log.run('event-log', async () => {
        const events = parseCcelEventLog(eventLog);
        const replayed = await replayRtmrs(events, options.hasher);
        const i = replayed.findIndex((r, n) => !bytesEqual(r, rtmrs[n] ?? new Uint8Array()));
        if (i >= 0) {
          throw new PolicyError('POLICY_MEASUREMENT', `rtmr${i} ${toHex(rtmrs[i] ?? new Uint8Array())} is not the replay of the event log (${toHex(replayed[i] ?? new Uint8Array())}): the log does not describe this TD`, {
            field: `RTMR${i}`,
            expected: toHex(replayed[i] ?? new Uint8Array()),
            actual: toHex(rtmrs[i] ?? new Uint8Array()),
          });
        }
        return events.length;
      }, (n) => `${n} events replay to RTMR0..RTMR3`);
    }
    validateTdxQuote(quote, policy, log, tcb);
    return { accepted: true, platform: 'tdx', simulated: evidence.simulated, checks: log.checks, ...claims() };
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    return { accepted: false, platform: 'tdx', simulated: evidence.simulated, error: e.toJSON() as unknown as VerdictError, checks: log.checks, ...claims() };
  }
}
