// Evidence bundles: the report or quote plus everything needed to verify it offline (SEV-SNP: VCEK/VLEK,
// ASK/ASVK, ARK, CRLs; TDX: the PCK chain is in the quote, plus CRLs and Intel PCS collateral) and how
// long that stays fresh, as one content-addressed JSON document that a CDN can cache
// (docs/evidence-bundle.md). Clients never need to call AMD KDS or Intel PCS.
import { createHash } from 'node:crypto';
import { BUNDLE_FORMAT } from '../../attestation/evidence/bundle.js';
import { toBase64 } from '../../attestation/bytes.js';
import { ParseError } from '../../attestation/errors.js';
import { CERT_GUID, parseCertTable } from '../../attestation/snp/certTable.js';
import { collateralDates, tdxCollateralJson, type TdxCollateral } from '../../attestation/tdx/collateral.js';
import { parseQuote } from '../../attestation/tdx/quote.js';
import { parseCertificate, parseCrl } from '../../attestation/x509.js';
import type { RawEvidence, TeePlatform } from './provider.js';

export interface SnpBundleInputs {
  /** Extra DER certificates (a cached VCEK when the host supplies no certificate table, the ASK/ARK). */
  readonly certificates?: readonly Uint8Array[];
  /** DER CRLs, e.g. AMD's from a cache refreshed before nextUpdate. */
  readonly crls?: readonly Uint8Array[];
}

export interface TdxBundleInputs {
  /** DER CRLs (Intel's PCK and root CA CRLs); carried for clients, not checked by the verifier yet. */
  readonly crls?: readonly Uint8Array[];
  /** Intel PCS collateral for the quote's platform (TCB info, QE identity); carried, not verified yet. */
  readonly collateral?: TdxCollateral;
}

export interface EvidenceBundle {
  /** "sha256:<hex>" of `bytes`: the bundle's name, ETag and cache key. */
  readonly id: string;
  /** The JSON document exactly as served. */
  readonly bytes: Uint8Array;
  /** The earliest time any part expires: certificate notAfter, CRL or collateral nextUpdate. */
  readonly freshUntil: Date;
}

const CERTIFICATE_GUIDS = new Set<string>([CERT_GUID.vcek, CERT_GUID.vlek, CERT_GUID.ask, CERT_GUID.ark]);

export function assembleSnpBundle(raw: RawEvidence, inputs: SnpBundleInputs = {}): EvidenceBundle {
  if (raw.platform !== 'sev-snp') throw new ParseError('MALFORMED_EVIDENCE', `assembleSnpBundle takes SEV-SNP evidence, got ${raw.platform}`, { field: '$.platform' });
  const table = raw.certTable === undefined || raw.certTable.length === 0 ? [] : parseCertTable(raw.certTable);
  const certificates = [...table.filter((e) => CERTIFICATE_GUIDS.has(e.guid)).map((e) => e.data), ...(inputs.certificates ?? [])];
  const crls = [...table.filter((e) => e.guid === CERT_GUID.crl).map((e) => e.data), ...(inputs.crls ?? [])];
  const expiries = [
    ...certificates.map((c) => parseCertificate(c).notAfter),
    ...crls.map((c) => parseCrl(c).nextUpdate).filter((d): d is Date => d !== undefined),
  ];
  const freshUntil = earliest(expiries);
  return seal({
    format: BUNDLE_FORMAT,
    platform: raw.platform,
    simulated: raw.simulated,
    source: raw.source,
    evidence: toBase64(raw.evidence),
    certificates: certificates.map(toBase64),
    crls: crls.map(toBase64),
    freshUntil: freshUntil.toISOString(),
  }, freshUntil);
}

/** The latest representable Date when nothing expires. */
const earliest = (dates: readonly Date[]): Date => new Date(Math.min(...dates.map((d) => d.getTime()), 8.64e15));

function seal(document: Record<string, unknown>, freshUntil: Date): EvidenceBundle {
  const bytes = new TextEncoder().encode(`${JSON.stringify(document, null, 2)}\n`);
  return { id: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes, freshUntil };
}

/**
 * A TDX bundle: the quote as the TD produced it, no certificates (the PCK chain is inside the quote),
 * the CRLs and collateral given. freshUntil is the earliest PCK-chain notAfter, CRL nextUpdate or
 * collateral (TCB info, QE identity) nextUpdate. Throws the quote's ParseError if it does not parse.
 */
export function assembleTdxBundle(raw: RawEvidence, inputs: TdxBundleInputs = {}): EvidenceBundle {
  if (raw.platform !== 'tdx') throw new ParseError('MALFORMED_EVIDENCE', `assembleTdxBundle takes TDX evidence, got ${raw.platform}`, { field: '$.platform' });
  const quote = parseQuote(raw.evidence);
  const crls = [...(inputs.crls ?? [])];
  const collateral = inputs.collateral;
  const next = collateral === undefined ? undefined : collateralDates(collateral)?.nextUpdate;
  if (collateral !== undefined && next === undefined) throw new ParseError('MALFORMED_EVIDENCE', 'assembleTdxBundle: collateral tcbInfo / qeIdentity lack a readable nextUpdate', { field: 'collateral' });
  const expiries = [
    ...quote.pckCertificates.map((c) => parseCertificate(c).notAfter),
    ...crls.map((c) => parseCrl(c).nextUpdate).filter((d): d is Date => d !== undefined),
    ...(next === undefined ? [] : [next]),
  ];
  const freshUntil = earliest(expiries);
  return seal({
    format: BUNDLE_FORMAT,
    platform: 'tdx',
    simulated: raw.simulated,
    source: raw.source,
    evidence: toBase64(raw.evidence),
    certificates: [],
    crls: crls.map(toBase64),
    ...(collateral === undefined ? {} : { collateral: tdxCollateralJson(collateral) }),
    freshUntil: freshUntil.toISOString(),
  }, freshUntil);
}

/** Every platform's inputs; each assembler takes the ones it uses. */
export type BundleInputs = SnpBundleInputs & TdxBundleInputs;

/** Each platform's assembler, given the inputs it uses. */
const ASSEMBLERS: { readonly [N in TeePlatform]: (raw: RawEvidence, inputs: BundleInputs) => EvidenceBundle } = {
  'sev-snp': (raw, inputs) => assembleSnpBundle(raw, { ...(inputs.certificates === undefined ? {} : { certificates: inputs.certificates }), ...(inputs.crls === undefined ? {} : { crls: inputs.crls }) }),
  tdx: (raw, inputs) => assembleTdxBundle(raw, { ...(inputs.crls === undefined ? {} : { crls: inputs.crls }), ...(inputs.collateral === undefined ? {} : { collateral: inputs.collateral }) }),
};

/** Assembles the bundle for `raw`'s platform; inputs the platform does not use (certificates for TDX) are ignored. */
export function assembleBundle(raw: RawEvidence, inputs: BundleInputs = {}): EvidenceBundle {
  return ASSEMBLERS[raw.platform](raw, inputs);
}
