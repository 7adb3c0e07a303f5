// The Cloister evidence bundle, `cloister-evidence/v1` (docs/evidence-bundle.md): one JSON document that
// carries a platform's evidence (a SEV-SNP report or a TDX quote) with what is needed to verify it
// offline. This module reads the members every bundle has; the platform named by `platform` reads its own
// (platforms.ts passes them in), and the platforms' verifiers judge.
import { decodePem, fromBase64 } from '../bytes.js';
import { ParseError } from '../errors.js';
import { looksLikeCrl } from '../x509.js';
import type { BundleMembers, PlatformMembers } from './platformEntry.js';

export const BUNDLE_FORMAT = 'cloister-evidence/v1';

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

/** A platform as the bundle reader sees it: its `platform` name and the reader of its own members. */
export interface BundlePlatformReader<E> {
  readonly name: string;
  fromBundle(bundle: Readonly<Record<string, unknown>>): PlatformMembers<E>;
}

/**
 * Reads a `cloister-evidence/v1` bundle for one of `platforms`; every bad member, the platform's own
 * included, is reported at once.
 */
export function readEvidenceBundle<P extends BundlePlatformReader<unknown>>(bytes: Uint8Array, platforms: readonly P[]): { readonly platform: P; readonly evidence: unknown } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new ParseError('MALFORMED_EVIDENCE', `evidence bundle is not valid JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
  const o = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (o.format !== BUNDLE_FORMAT) problems.push(`$.format: must be "${BUNDLE_FORMAT}"`);
  const platform = platforms.find((p) => p.name === o.platform);
  if (platform === undefined) problems.push(`$.platform: must be ${platforms.map((p) => `"${p.name}"`).join(' or ')}`);
  if (typeof o.evidence !== 'string') problems.push('$.evidence: must be a base64 string');
  for (const k of ['certificates', 'crls'] as const) {
    if (k in o && !(Array.isArray(o[k]) && o[k].every((c) => typeof c === 'string'))) problems.push(`$.${k}: must be an array of base64 or PEM strings`);
  }
  if ('simulated' in o && typeof o.simulated !== 'boolean') problems.push('$.simulated: must be true or false');
  // A platform's own members (TDX `collateral`) are unknown members, and ignored, in other platforms' bundles.
  const own = platform?.fromBundle(o);
  problems.push(...(own?.problems ?? []));
  if (platform === undefined || own === undefined || problems.length > 0) throw new ParseError('MALFORMED_EVIDENCE', `invalid evidence bundle: ${problems.join('; ')}`, { field: problems.map((p) => p.split(':')[0]).join(',') });
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
  const members: BundleMembers = { evidence, certificates, crls, simulated: o.simulated === true };
  return { platform, evidence: own.evidence(members) };
}

interface WrongPlatformName {
  readonly name: string;
  readonly label: string;
  readonly decoderName: string;
}

/** The error for a bundle of the other platform handed to a platform's decoder. */
export function wrongPlatform(actual: WrongPlatformName, expected: WrongPlatformName): ParseError {
  return new ParseError('MALFORMED_EVIDENCE', `evidence bundle holds ${actual.label} evidence ($.platform "${actual.name}"), not ${expected.label}: decode it with ${actual.decoderName} or decodeEvidenceBundle`, {
    field: '$.platform',
    expected: expected.name,
    actual: actual.name,
  });
}
