// Evidence bundles: the report plus everything needed to verify it offline (VCEK/VLEK, ASK/ASVK,
// ARK, CRLs) and how long that stays fresh, as one content-addressed JSON document that a CDN can
// cache (docs/evidence-bundle.md). Clients never need to call AMD KDS.
import { createHash } from 'node:crypto';
import { toBase64 } from '../../attestation/bytes.js';
import { CERT_GUID, parseCertTable } from '../../attestation/snp/certTable.js';
import { BUNDLE_FORMAT } from '../../attestation/snp/evidence.js';
import { parseCertificate, parseCrl } from '../../attestation/x509.js';
import type { RawEvidence } from './provider.js';

export interface SnpBundleInputs {
  /** Extra DER certificates (a cached VCEK when the host supplies no certificate table, the ASK/ARK). */
  readonly certificates?: readonly Uint8Array[];
  /** DER CRLs, e.g. AMD's from a cache refreshed before nextUpdate. */
  readonly crls?: readonly Uint8Array[];
}

export interface EvidenceBundle {
  /** "sha256:<hex>" of `bytes`: the bundle's name, ETag and cache key. */
  readonly id: string;
  /** The JSON document exactly as served. */
  readonly bytes: Uint8Array;
  /** The earliest time any part expires: certificate notAfter or CRL nextUpdate. */
  readonly freshUntil: Date;
}

const CERTIFICATE_GUIDS = new Set<string>([CERT_GUID.vcek, CERT_GUID.vlek, CERT_GUID.ask, CERT_GUID.ark]);

export function assembleSnpBundle(raw: RawEvidence, inputs: SnpBundleInputs = {}): EvidenceBundle {
  if (raw.platform !== 'sev-snp') throw new Error(`assembleSnpBundle takes SEV-SNP evidence, got ${raw.platform}`);
  const table = raw.certTable === undefined || raw.certTable.length === 0 ? [] : parseCertTable(raw.certTable);
  const certificates = [...table.filter((e) => CERTIFICATE_GUIDS.has(e.guid)).map((e) => e.data), ...(inputs.certificates ?? [])];
  const crls = [...table.filter((e) => e.guid === CERT_GUID.crl).map((e) => e.data), ...(inputs.crls ?? [])];
  const expiries = [
    ...certificates.map((c) => parseCertificate(c).notAfter),
    ...crls.map((c) => parseCrl(c).nextUpdate).filter((d): d is Date => d !== undefined),
  ];
  const freshUntil = new Date(Math.min(...expiries.map((d) => d.getTime()), 8.64e15));
  const document = {
    format: BUNDLE_FORMAT,
    platform: raw.platform,
    simulated: raw.simulated,
    source: raw.source,
    evidence: toBase64(raw.evidence),
    certificates: certificates.map(toBase64),
    crls: crls.map(toBase64),
    freshUntil: freshUntil.toISOString(),
  };
  const bytes = new TextEncoder().encode(`${JSON.stringify(document, null, 2)}\n`);
  return { id: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes, freshUntil };
}
