// SEV-SNP verification cost on real data (vector row S2: virtee-sev's Milan report, VCEK and
// ASK+ARK chain), against the floor set by one bare P-384 ECDSA-SHA384 verify of the same bytes:
//   raw     node:crypto verify with a pre-imported VCEK KeyObject and a pre-converted signature
//   cold    verifySnpEvidence with a new SnpVerifier per call: parse, 3 RSA-PSS chain signatures,
//           validity, TCB, CHIP_ID, report signature, policy
//   cached  verifySnpEvidence with one shared SnpVerifier whose chain cache is warm, with the
//           node:crypto ECDSA backend (as the CLI and server run it) and with WebCrypto (the browser path)
import { X509Certificate, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ecdsaP1363ToDer, SIGNED_SIZE, SnpVerifier, splitCertificateFile, verifySnpEvidence, type SnpEvidence, type SnpVerdict } from '../attestation/index.js';
import { ATTESTATION_VECTORS } from '../attestation/testing/vectors.js';
import { nodeEcdsa } from '../src/base/index.js';
import { measureInterleaved, type SuiteReport } from './measure.js';
import { verifierReport } from './verifierReport.js';

// Inside every S2 certificate's validity, so results do not depend on the clock.
const AT = new Date('2025-06-01T00:00:00Z');

// Cases interleaved call by call for ~8 s after warm-up.
const OPTIONS = { budgetMs: 8000, minIterations: 200, warmup: 50 } as const;

const TARGET_CACHED_RATIO = 0.8;
const TARGET_COLD_MS = 5;

// SEV-SNP ABI Table 23: SIGNATURE.R at 0x2A0 and SIGNATURE.S at 0x2E8, 72 bytes each, little-endian;
// a P-384 scalar uses the low 48.
const SIG_R = 0x2a0;
const SIG_S = 0x2e8;
const P384_BYTES = 48;

async function vector(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(ATTESTATION_VECTORS + path));
}

/** The report signature as big-endian r||s (IEEE P1363), written here rather than taken from attestation/. */
function p1363Signature(report: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 * P384_BYTES);
  for (let i = 0; i < P384_BYTES; i++) {
    out[P384_BYTES - 1 - i] = report[SIG_R + i] ?? 0;
    out[2 * P384_BYTES - 1 - i] = report[SIG_S + i] ?? 0;
  }
  return out;
}

function rawVerifier(report: Uint8Array, vcekDer: Uint8Array): () => boolean {
  const key: KeyObject = new X509Certificate(vcekDer).publicKey;
  const signed = report.subarray(0, SIGNED_SIZE);
  // DER with the bare KeyObject: node:crypto's fastest verify (a { key, dsaEncoding } object makes it prepare the key
  // again on every call), so the floor is not raised by a slower call than the verifier itself makes.
  const signature = ecdsaP1363ToDer(p1363Signature(report));
  return () => verify('sha384', signed, key, signature);
}

function assertAccepted(verdict: SnpVerdict, what: string): void {
  if (!verdict.accepted) throw new Error(`${what}: S2 evidence rejected: ${JSON.stringify(verdict.error)}`);
}

export async function snpVerifySuite(): Promise<SuiteReport> {
  const report = await vector('virtee-sev/certs_data/report_milan.bin');
  const vcek = splitCertificateFile(await vector('virtee-sev/certs_data/vcek_milan.der'), 'vcek_milan.der').certificates;
  const chain = splitCertificateFile(await vector('virtee-sev/certs_data/cert_chain_milan'), 'cert_chain_milan').certificates;
  const vcekDer = vcek[0];
  if (vcekDer === undefined || chain.length !== 2) throw new Error(`expected 1 VCEK and ASK+ARK, found ${vcek.length} and ${chain.length}`);
  const evidence: SnpEvidence = { report, certificates: [...vcek, ...chain], crls: [], simulated: false };

  const raw = rawVerifier(report, vcekDer);
  const shared = new SnpVerifier({ ecdsa: nodeEcdsa });
  const sharedWeb = new SnpVerifier();
  const cases = [
    {
      name: 'raw limit',
      fn: (): void => {
        if (!raw()) throw new Error('raw limit: P-384 verify returned false');
      },
    },
    {
      name: 'cold',
      fn: async (): Promise<void> => {
        assertAccepted(await verifySnpEvidence(evidence, {}, { verifier: new SnpVerifier({ ecdsa: nodeEcdsa }), at: AT }), 'cold');
      },
    },
    {
      name: 'cached',
      fn: async (): Promise<void> => {
        assertAccepted(await verifySnpEvidence(evidence, {}, { verifier: shared, at: AT }), 'cached');
      },
    },
    {
      name: 'cached, WebCrypto',
      fn: async (): Promise<void> => {
        assertAccepted(await verifySnpEvidence(evidence, {}, { verifier: sharedWeb, at: AT }), 'cached, WebCrypto');
      },
    },
  ];
  const rows = await measureInterleaved(cases, OPTIONS);
  return verifierReport(
    `SEV-SNP verify (S2: virtee-sev Milan report + VCEK + ASK/ARK, at ${AT.toISOString()}; cases interleaved call by call)`,
    rows,
    { cachedRatio: TARGET_CACHED_RATIO, coldMs: TARGET_COLD_MS },
  );
}
