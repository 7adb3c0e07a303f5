// The Cloister evidence bundle, `cloister-evidence/v1` (docs/evidence-bundle.md): one JSON document that
// carries a platform's evidence (a SEV-SNP report or a TDX quote) with what is needed to verify it
// offline. This module only decodes; the platforms' verifiers (snp/evidence.ts, tdx/evidence.ts) judge.
import { decodePem, fromBase64 } from '../bytes.js';
import { ParseError } from '../errors.js';
import { looksLikeCrl } from '../x509.js';
import type { SnpEvidence } from '../snp/evidence.js';
import type { TdxEvidence } from '../tdx/evidence.js';
import { readTdxCollateral, type TdxCollateral } from '../tdx/collateral.js';

export const BUNDLE_FORMAT = 'cloister-evidence/v1';
export const BUNDLE_PLATFORMS = ['sev-snp', 'tdx'] as const;
export type BundlePlatform = (typeof BUNDLE_PLATFORMS)[number];

/** A decoded bundle, tagged with its platform. */
export type DecodedEvidenceBundle =
  | { readonly platform: 'sev-snp'; readonly evidence: SnpEvidence }
  | { readonly platform: 'tdx'; readonly evidence: TdxEvidence };

/** Splits certificate files (PEM with any number of blocks, or one DER) into DER certificates and CRLs. */
export function splitCertificateFile(bytes: Uint8Array, what: string): { certificates: Uint8Array[]; crls: Uint8Array[] } {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const ders = text.includes('-----BEGIN ')
    ? decodePem(text).filter((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CRL').map((b) => b.der)
    : [bytes];
  if (ders.length === 0) throw new ParseError('MALFORMED_DER', `${what} holds no PEM CERTIFICATE or X509 CRL block`, { field: what });
  const out = { certificates: [] as Uint8Array[], crls: [] as Uint8Array[] };
  for (const der of ders) (looksLikeCrl(der) ? out.crls : out.certificates).push(der);
  return out;
}

/** True when `bytes` is to be read as a JSON bundle: its first byte after spaces, tabs, CR and LF is `{`. */
export function isJsonBundle(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i] === 0x7b;
}

/** Decodes a `cloister-evidence/v1` bundle of either platform; every bad member is reported at once. */
export function decodeEvidenceBundle(bytes: Uint8Array): DecodedEvidenceBundle {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new ParseError('MALFORMED_EVIDENCE', `evidence bundle is not valid JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
  const o = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (o.format !== BUNDLE_FORMAT) problems.push(`$.format: must be "${BUNDLE_FORMAT}"`);
  const platform = (BUNDLE_PLATFORMS as readonly unknown[]).includes(o.platform) ? (o.platform as BundlePlatform) : undefined;
  if (platform === undefined) problems.push(`$.platform: must be ${BUNDLE_PLATFORMS.map((p) => `"${p}"`).join(' or ')}`);
  if (typeof o.evidence !== 'string') problems.push('$.evidence: must be a base64 string');
  for (const k of ['certificates', 'crls'] as const) {
    if (k in o && !(Array.isArray(o[k]) && o[k].every((c) => typeof c === 'string'))) problems.push(`$.${k}: must be an array of base64 or PEM strings`);
  }
  if ('simulated' in o && typeof o.simulated !== 'boolean') problems.push('$.simulated: must be true or false');
  // `collateral` is a TDX member; in a SEV-SNP bundle it is an unknown member and ignored like the others.
  let collateral: TdxCollateral | undefined;
  if (platform === 'tdx' && 'collateral' in o) {
    const read = readTdxCollateral(o.collateral, '$.collateral');
    problems.push(...read.problems);
    collateral = read.collateral;
  }
  if (problems.length > 0) throw new ParseError('MALFORMED_EVIDENCE', `invalid evidence bundle: ${problems.join('; ')}`, { field: problems.map((p) => p.split(':')[0]).join(',') });
  const certificates: Uint8Array[] = [];
  const crls: Uint8Array[] = [];
  for (const k of ['certificates', 'crls'] as const) {
    ((o[k] ?? []) as string[]).forEach((s, i) => {
      const field = `$.${k}[${i}]`;
      const split = splitCertificateFile(s.includes('-----BEGIN ') ? new TextEncoder().encode(s) : fromBase64(s, field), field);
      if ((k === 'crls' && split.certificates.length > 0) || (k === 'certificates' && split.crls.length > 0)) {
        throw new ParseError('MALFORMED_EVIDENCE', k === 'crls' ? `${field} is not a CRL` : `${field} holds a CRL, which belongs in $.crls`, { field });
      }
      certificates.push(...split.certificates);
      crls.push(...split.crls);
    });
  }
  // Members this version does not know are ignored, so that later bundle versions stay readable.
  const evidence = fromBase64(o.evidence as string, '$.evidence');
  const simulated = o.simulated === true;
  if (platform === 'tdx') return { platform, evidence: { quote: evidence, certificates, crls, simulated, ...(collateral === undefined ? {} : { collateral }) } };
  return { platform: 'sev-snp', evidence: { report: evidence, certificates, crls, simulated } };
}

/** The error for a bundle of the other platform handed to a platform's decoder. */
export function wrongPlatform(actual: BundlePlatform, expected: BundlePlatform, decoder: string): ParseError {
  const names: Record<BundlePlatform, string> = { 'sev-snp': 'SEV-SNP', tdx: 'TDX' };
  return new ParseError('MALFORMED_EVIDENCE', `evidence bundle holds ${names[actual]} evidence ($.platform "${actual}"), not ${names[expected]}: decode it with ${decoder} or decodeEvidenceBundle`, {
    field: '$.platform',
    expected,
    actual,
  });
}
