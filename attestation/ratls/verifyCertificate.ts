// Verifies an RA-TLS certificate (docs/ra-tls.md): parse the certificate, find and decode its id-pe-cmw
// extension, check the self-signature and validity window, compare the carried OHTTP key configs with
// the ones the client expects, verify the embedded evidence bundle against the caller's policy with the
// platform's verifier, and check that REPORT_DATA is the binding recomputed from this certificate's
// SubjectPublicKeyInfo and the carried key configs. Never throws for a bad certificate: the verdict
// carries the failure.
import { decodeEvidenceBundle, platformOf, verifyDecoded, type DecodedEvidenceOf, type PlatformEntry, type PlatformKey, type PlatformName, type PolicyOf, type VerifierOf } from '../evidence/platforms.js';
import { bytesEqual, bytesListsEqual, toHex, toArrayBufferView } from '../bytes.js';
import { CheckLog, type Verdict, type VerdictError } from '../checks.js';
import { CloisterError, VerificationError } from '../errors.js';
import { verifySignedBy } from '../signatures.js';
import { checkValidity } from '../validity.js';
import { parseCertificate, type Certificate } from '../x509.js';
import { raTlsReportData } from './certificateBinding.js';
import { decodeRaTlsExtension, ID_PE_CMW, type RaTlsAttestation } from '../protocols/ratlsExtension.js';

/** The policy per platform, by the platform's key (snp, tdx); a platform left undefined is verified with the empty policy (defaults only). */
export type RaTlsPolicy = { readonly [N in PlatformName as PlatformKey<N>]?: PolicyOf<N> };

/** A verifier per platform (snpVerifier, tdxVerifier); a platform left undefined gets its default verifier. */
export type PlatformVerifiers = { readonly [N in PlatformName as `${PlatformKey<N>}Verifier`]?: VerifierOf<N> };

export interface VerifyRaTlsOptions extends PlatformVerifiers {
  /** Evaluation time for the certificate and the evidence's chain. Default: now. */
  readonly at?: Date;
  /** The key configs the client fetched (e.g. from /ohttp-keys); when given, the certificate must carry exactly these. */
  readonly expectedKeyConfigs?: readonly Uint8Array[];
}

/**
 * `platform` is "unknown" when verification stopped before the evidence bundle was decoded. `anyMeasurement`
 * is set by the clients (attestation/client/measurementSource.ts) when their caller accepted any launch
 * measurement and the policy listed none for the platform: the measurement was not checked.
 */
export type RaTlsVerdict = Verdict<PlatformName | 'unknown'> & { readonly anyMeasurement?: true };

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', toArrayBufferView(bytes))));
}

/** Verifies decoded evidence with its platform's verifier, under the policy and verifier the caller gave for that platform. */
export function verifyEvidenceFor<N extends PlatformName>(decoded: DecodedEvidenceOf<N>, policy: RaTlsPolicy, options: PlatformVerifiers, at: Date): Promise<Verdict<N>> {
  const platform: PlatformEntry<N> = platformOf(decoded);
  // RaTlsPolicy and PlatformVerifiers are keyed by `platform.key`, which TypeScript cannot follow through the key remapping.
  const policyOf = (policy as Readonly<Partial<Record<string, PolicyOf<N>>>>)[platform.key];
  const verifier = (options as Readonly<Partial<Record<string, VerifierOf<N>>>>)[`${platform.key}Verifier`];
  return verifyDecoded(decoded, policyOf, { at, verifier });
}

export async function verifyAttestedCertificate(der: Uint8Array, policy: RaTlsPolicy = {}, options: VerifyRaTlsOptions = {}): Promise<RaTlsVerdict> {
  const log = new CheckLog();
  const at = options.at ?? new Date();
  let platform: PlatformName | 'unknown' = 'unknown';
  let simulated = false;
  let claims: Record<string, unknown> | undefined;
  try {
    const cert: Certificate = await log.run('certificate.parse', () => parseCertificate(der), (c) => `subject CN ${c.subjectCommonName ?? '(none)'}`);
    const attestation: RaTlsAttestation = await log.run('certificate.attestation', () => {
      const ext = cert.extensions.get(ID_PE_CMW);
      if (ext === undefined) throw new VerificationError('NO_ATTESTATION', `certificate has no id-pe-cmw (${ID_PE_CMW}) extension`, { field: ID_PE_CMW });
      return decodeRaTlsExtension(ext.value);
    }, (a) => `${a.bundle.length}-byte evidence bundle, ${a.keyConfigs.length} OHTTP key config(s)`);
    const bundle = await log.run('certificate.evidence', () => decodeEvidenceBundle(attestation.bundle), (b) => b.platform);
    platform = bundle.platform;
    simulated = bundle.evidence.simulated;
    claims = {
      certificate: { subjectCommonName: cert.subjectCommonName ?? null, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), spkiSha256: await sha256Hex(cert.spki) },
      keyConfigs: attestation.keyConfigs.map(toHex),
    };
    await log.run('certificate.signature', async () => {
      if (!bytesEqual(cert.issuer, cert.subject)) throw new VerificationError('CHAIN_SIGNATURE_INVALID', 'RA-TLS certificate is not self-issued (issuer differs from subject)', { field: 'issuer' });
      if (!(await verifySignedBy(cert, cert))) throw new VerificationError('CHAIN_SIGNATURE_INVALID', 'RA-TLS certificate is not signed by its own subjectPublicKeyInfo', { field: 'signatureValue' });
      if (cert.unhandledCritical.length > 0) {
        throw new VerificationError('CERT_CONSTRAINTS', `RA-TLS certificate has critical extensions this verifier does not process: ${cert.unhandledCritical.join(', ')}`, { field: 'extensions' });
      }
    });
    await log.run('certificate.validity', () => {
      checkValidity([cert], at);
    }, () => `${cert.notBefore.toISOString()} .. ${cert.notAfter.toISOString()}`);
    const expected = options.expectedKeyConfigs;
    if (expected === undefined) log.skip('ratls.keyConfigs', 'no expected key configs given');
    else {
      await log.run('ratls.keyConfigs', () => {
        if (!bytesListsEqual(attestation.keyConfigs, expected)) {
          throw new VerificationError('KEY_CONFIG_MISMATCH', `certificate carries OHTTP key configs [${attestation.keyConfigs.map(toHex).join(', ')}], expected [${expected.map(toHex).join(', ')}]`, {
            field: 'cmw.ohttp-keys',
            expected: expected.map(toHex).join(','),
            actual: attestation.keyConfigs.map(toHex).join(','),
          });
        }
      });
    }
    const inner = await verifyEvidenceFor(bundle, policy, options, at);
    log.checks.push(...inner.checks.map((c) => ({ ...c, id: `evidence.${c.id}` })));
    claims = { ...claims, ...(inner.claims === undefined ? {} : { evidence: inner.claims }) };
    if (!inner.accepted) return { accepted: false, platform, simulated, ...(inner.error === undefined ? {} : { error: inner.error }), checks: log.checks, claims };
    await log.run('ratls.binding', async () => {
      const reportData = platformOf(bundle).reportData(bundle.evidence);
      const binding = await raTlsReportData(cert.spki, attestation.keyConfigs);
      if (!bytesEqual(reportData, binding)) {
        throw new VerificationError('KEY_BINDING_MISMATCH', `REPORT_DATA ${toHex(reportData)} is not the binding ${toHex(binding)} of this certificate's public key and key configs`, {
          field: 'REPORT_DATA',
          expected: toHex(binding),
          actual: toHex(reportData),
        });
      }
    });
    return { accepted: true, platform, simulated, checks: log.checks, claims };
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    return { accepted: false, platform, simulated, error: e.toJSON() as unknown as VerdictError, checks: log.checks, ...(claims === undefined ? {} : { claims }) };
  }
}
