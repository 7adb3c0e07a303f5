// Fresh evidence for an RA-TLS server (docs/ra-tls.md "Freshness"): the client sends a nonce over a
// connection whose certificate it accepted, the server answers with evidence acquired now whose
//   REPORT_DATA = freshReportData(nonce, keysDigest(certificate SPKI, carried key configs)),
// and this module checks that bundle: the platform verifier and the caller's policy, the binding of the
// nonce and of exactly this certificate's keys, and that it comes from the same platform, launch
// measurement and (SEV-SNP) chip as the evidence in the certificate. Never throws for bad evidence.
import { freshReportData, keysDigest } from '../evidence/reportData.js';
import { decodeEvidenceBundle, platformOf, type DecodedEvidenceOf, type PlatformName } from '../evidence/platforms.js';
import { bytesEqual, toHex } from '../bytes.js';
import { CheckLog, type VerdictError } from '../checks.js';
import { CloisterError, VerificationError } from '../errors.js';
import { parseCertificate } from '../x509.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../protocols/ratlsExtension.js';
import { verifyEvidenceFor, type RaTlsPolicy, type RaTlsVerdict, type VerifyRaTlsOptions } from './verifyCertificate.js';

export type VerifyFreshOptions = Omit<VerifyRaTlsOptions, 'expectedKeyConfigs'>;

interface Field {
  readonly field: string;
  readonly value: Uint8Array;
}

interface Identity {
  readonly platform: PlatformName;
  readonly reportData: Uint8Array;
  readonly measurement: Field;
  readonly chip?: Field;
}

function identityOf<N extends PlatformName>(bundle: DecodedEvidenceOf<N>): Identity {
  const p = platformOf(bundle);
  const measurement = { field: p.measurement.field, value: p.measurement.of(bundle.evidence) };
  return { platform: p.name, reportData: p.reportData(bundle.evidence), measurement, ...(p.chip === undefined ? {} : { chip: { field: p.chip.field, value: p.chip.of(bundle.evidence) } }) };
}

function sameOrigin(fresh: Identity, boot: Identity): void {
  const differ = (field: string, expected: string, actual: string): never => {
    throw new VerificationError('EVIDENCE_MISMATCH', `fresh evidence ${field} ${actual} differs from the certificate's evidence (${expected})`, { field, expected, actual });
  };
  if (fresh.platform !== boot.platform) differ('platform', boot.platform, fresh.platform);
  for (const [f, b] of [[fresh.measurement, boot.measurement], [fresh.chip, boot.chip]] as const) {
    if (f !== undefined && b !== undefined && !bytesEqual(f.value, b.value)) differ(f.field, toHex(b.value), toHex(f.value));
  }
}

/**
 * Verifies `bundleBytes`, the answer of POST /v1/attestation/fresh for `nonce`, against the RA-TLS
 * certificate `certificateDer` the answer came over (already accepted by verifyAttestedCertificate).
 */
export async function verifyFreshEvidence(
  certificateDer: Uint8Array,
  nonce: Uint8Array,
  bundleBytes: Uint8Array,
  policy: RaTlsPolicy = {},
  options: VerifyFreshOptions = {},
): Promise<RaTlsVerdict> {
  const log = new CheckLog();
  let platform: PlatformName | 'unknown' = 'unknown';
  let simulated = false;
  let claims: Record<string, unknown> = { nonce: toHex(nonce) };
  try {
    const { spki, keyConfigs, boot } = await log.run('fresh.certificate', () => {
      const cert = parseCertificate(certificateDer);
      const ext = cert.extensions.get(ID_PE_CMW);
      if (ext === undefined) throw new VerificationError('NO_ATTESTATION', `certificate has no id-pe-cmw (${ID_PE_CMW}) extension`, { field: ID_PE_CMW });
      const attestation = decodeRaTlsExtension(ext.value);
      return { spki: cert.spki, keyConfigs: attestation.keyConfigs, boot: identityOf(decodeEvidenceBundle(attestation.bundle)) };
    });
    const bundle = await log.run('fresh.evidence', () => decodeEvidenceBundle(bundleBytes), (b) => b.platform);
    platform = bundle.platform;
    simulated = bundle.evidence.simulated;
    const at = options.at ?? new Date();
    const inner = await verifyEvidenceFor(bundle, policy, options, at);
    log.checks.push(...inner.checks.map((c) => ({ ...c, id: `fresh.${c.id}` })));
    if (inner.claims !== undefined) claims = { ...claims, evidence: inner.claims };
    if (!inner.accepted) return { accepted: false, platform, simulated, ...(inner.error === undefined ? {} : { error: inner.error }), checks: log.checks, claims };
    const fresh = identityOf(bundle);
    await log.run('fresh.binding', async () => {
      const expected = await freshReportData(nonce, await keysDigest(spki, keyConfigs));
      if (!bytesEqual(fresh.reportData, expected)) {
        throw new VerificationError('FRESHNESS_MISMATCH', `fresh REPORT_DATA ${toHex(fresh.reportData)} does not bind nonce ${toHex(nonce)} and this certificate's keys (expected ${toHex(expected)})`, {
          field: 'REPORT_DATA',
          expected: toHex(expected),
          actual: toHex(fresh.reportData),
        });
      }
    }, () => 'REPORT_DATA binds the nonce and the certificate key and key configs');
    await log.run('fresh.origin', () => {
      sameOrigin(fresh, boot);
    }, () => `same platform, ${[fresh.measurement, fresh.chip].flatMap((f) => (f === undefined ? [] : [f.field])).join(' and ')} as the certificate's evidence`);
    claims = { ...claims, reportData: toHex(fresh.reportData) };
    return { accepted: true, platform, simulated, checks: log.checks, claims };
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    return { accepted: false, platform, simulated, error: e.toJSON() as unknown as VerdictError, checks: log.checks, claims };
  }
}
