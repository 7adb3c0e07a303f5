// SEV-SNP's entry in the platform table (../evidence/platforms.ts).
import type { Platform } from '../evidence/platformEntry.js';
import { decodeRawSnpEvidence, snpClaims, verifySnpEvidence, type SnpEvidence } from './evidence.js';
import { parseSnpPolicyJson } from './policy.js';
import { productFromCpuId } from './product.js';
import { parseReport, SUPPORTED_VERSIONS } from './report.js';
import type { SnpPolicy } from './validate.js';
import { SnpVerifier } from './verify.js';

export const SNP_PLATFORM: Platform<'sev-snp', SnpEvidence, SnpPolicy, SnpVerifier, 'snp'> = {
  name: 'sev-snp',
  label: 'SEV-SNP',
  key: 'snp',
  decoderName: 'decodeSnpEvidence',
  // VERSION is a little-endian u32; a TDX quote's first four bytes (u16 version, u16 key type 2) never match.
  detect: (bytes) => bytes.length >= 4 && (SUPPORTED_VERSIONS as readonly number[]).includes(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true)),
  decode: decodeRawSnpEvidence,
  fromBundle: () => ({ problems: [], evidence: ({ evidence, certificates, crls, simulated }) => ({ report: evidence, certificates, crls, simulated }) }),
  verify: (evidence, policy, { at, verifier }) => verifySnpEvidence(evidence, policy, { ...(at === undefined ? {} : { at }), ...(verifier === undefined ? {} : { verifier }) }),
  claims: (evidence) => {
    const report = parseReport(evidence.report);
    return snpClaims(report, report.cpuid === undefined ? undefined : productFromCpuId(report.cpuid));
  },
  reportData: (evidence) => parseReport(evidence.report).reportData,
  measurement: { field: 'MEASUREMENT', of: (evidence) => parseReport(evidence.report).measurement },
  chip: { field: 'CHIP_ID', of: (evidence) => parseReport(evidence.report).chipId },
  parsePolicyJson: parseSnpPolicyJson,
  policyOptions: {
    allowDebug: 'allowDebug',
    measurements: 'measurements',
    reportData: 'reportData',
    allowProvisionalFirmware: 'allowProvisionalFirmware',
    minTcb: 'minTcb',
    minLaunchTcb: 'minLaunchTcb',
    minVersion: 'minVersion',
    requireSmtDisabled: 'requireSmtDisabled',
    requireTsme: 'requireTsme',
    requireCiphertextHiding: 'requireCiphertextHiding',
  },
  takesCollateral: false,
  usesSuppliedEndorsements: true,
  createVerifier: (options) => new SnpVerifier(options),
};
