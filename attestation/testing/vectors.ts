// Test support: the one locator of the test vectors in testdata/ (see testdata/README.md), and the
// real-hardware SEV-SNP rows of testdata/attestation/README.md.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { splitCertificateFile } from '../snp/evidence.js';
import type { SnpEvidence } from '../snp/evidence.js';

/** dist/attestation/testing/ -> repository root -> testdata/, inside the checkout so a clone alone runs the tests. */
export const TESTDATA = fileURLToPath(new URL('../../../testdata/', import.meta.url));
/** Real SEV-SNP reports and TDX quotes with their certificates and collateral (testdata/attestation/SOURCES.md). */
export const ATTESTATION_VECTORS = `${TESTDATA}attestation/`;
/** Official protocol test vectors: RFC 9180, 9292, 9458 (testdata/protocols/SOURCES.md). */
export const PROTOCOL_VECTORS = `${TESTDATA}protocols/`;
/** Transparency log vectors from peer implementations: RFC 9162 proofs (testdata/transparency/SOURCES.md). */
export const TRANSPARENCY_VECTORS = `${TESTDATA}transparency/`;

export function vector(path: string): Uint8Array {
  return new Uint8Array(readFileSync(ATTESTATION_VECTORS + path));
}

export function certs(...paths: string[]): Uint8Array[] {
  return paths.flatMap((p) => splitCertificateFile(vector(p), p).certificates);
}

/** Azure's HCL report carries the SNP report at bytes 32..1216. */
export function hclReport(path: string): Uint8Array {
  return vector(path).slice(32, 32 + 1184);
}

export interface SnpVectorRow {
  readonly id: string;
  readonly evidence: SnpEvidence;
  readonly extended?: string;
}

const ev = (report: Uint8Array, certificates: Uint8Array[]): SnpEvidence => ({ report, certificates, crls: [], simulated: false });

export function snpVectorRows(): SnpVectorRow[] {
  return [
    { id: 'S1', evidence: ev(vector('go-sev-guest/attestation.bin'), certs('go-sev-guest/vcek_milan.der', 'go-sev-guest/trust/ask_ark_milan.pem')), extended: 'gsg_milan.ext.bin' },
    { id: 'S2', evidence: ev(vector('virtee-sev/certs_data/report_milan.bin'), certs('virtee-sev/certs_data/vcek_milan.der', 'virtee-sev/certs_data/cert_chain_milan')), extended: 'virtee_milan.ext.bin' },
    { id: 'S3', evidence: ev(vector('trustee/snp/test-report.bin'), certs('trustee/snp/test-vcek.der', 'go-sev-guest/ask_ark_milan_vcek.pem')), extended: 'trustee_milan.ext.bin' },
    { id: 'S4', evidence: ev(vector('trustee/snp/test-vlek-report.bin'), certs('trustee/snp/test-vlek.der', 'go-sev-guest/ask_ark_milan_vlek.pem')), extended: 'trustee_vlek2.ext.bin' },
    { id: 'S5', evidence: ev(hclReport('trustee/az-snp-vtpm/hcl-report-genoa.bin'), certs('trustee/az-snp-vtpm/vcek-genoa.pem', 'go-sev-guest/trust/ask_ark_genoa.pem')), extended: 'az_genoa.ext.bin' },
    { id: 'S6', evidence: ev(hclReport('trustee/az-snp-vtpm/hcl-report.bin'), certs('trustee/az-snp-vtpm/vcek.pem')), extended: 'az_milan.ext.bin' },
  ];
}
