// What a client told to trust the simulated TEE accepts (docs/policy.md "Clients fail closed on the measurement"):
// its default launch measurements, SHA-384 of a fixed text per platform (a real launch with one of these digests
// would be a SHA-384 preimage of the text), and its development roots. The CLI reads those roots from the state
// directory (src/tee/sim/devRoots.ts); a browser has none, so the verify page takes them from the simulated evidence
// itself (embeddedRoots), and only when its visitor allowed simulation: evidence signed under a root it carries
// proves nothing, which is why such a verdict says SIMULATED wherever it is shown.
import { bytesEqual, toHex } from '../bytes.js';
import { decodeEvidenceBundle, type DecodedEvidence, type PlatformName } from '../evidence/platforms.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../protocols/ratlsExtension.js';
import { parseQuote } from '../tdx/quote.js';
import type { RaTlsPolicy } from '../ratls/verifyCertificate.js';
import { parseCertificate } from '../x509.js';

const TEXTS: { readonly [N in PlatformName]: string } = {
  'sev-snp': 'cloister simulated launch',
  tdx: 'cloister simulated TD',
};

/** `platform`'s default simulated launch measurement (SEV-SNP MEASUREMENT, TDX MRTD), 48 bytes. */
export async function simulatedMeasurement(platform: PlatformName): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-384', new TextEncoder().encode(TEXTS[platform])));
}

/** Every platform's default simulated launch measurement, in hex. */
export async function simulatedMeasurementsHex(): Promise<{ readonly [N in PlatformName]: string }> {
  return { 'sev-snp': toHex(await simulatedMeasurement('sev-snp')), tdx: toHex(await simulatedMeasurement('tdx')) };
}

/**
 * The self-issued certificates (DER) decoded evidence carries: SEV-SNP the bundle's certificates, TDX the quote's
 * PCK chain. Those that do not parse are left out; the verifier reports them.
 */
export function embeddedRoots(decoded: DecodedEvidence): Uint8Array[] {
  let certificates: readonly Uint8Array[];
  try {
    certificates = decoded.platform === 'tdx' ? parseQuote(decoded.evidence.quote).pckCertificates : decoded.evidence.certificates;
  } catch {
    return [];
  }
  return certificates.filter((der) => {
    try {
      const c = parseCertificate(der);
      return bytesEqual(c.issuer, c.subject);
    } catch {
      return false;
    }
  });
}

/** A client policy that accepts exactly the simulated TEE's default launch measurements, on either platform. */
export async function simulatedMeasurementPolicy(): Promise<RaTlsPolicy> {
  const hex = await simulatedMeasurementsHex();
  return { snp: { measurements: [hex['sev-snp']] }, tdx: { mrtds: [hex.tdx] } };
}

/**
 * The roots the evidence in an RA-TLS certificate carries, when that evidence says it is simulated; none otherwise,
 * and none for a certificate that does not decode (its verification says why).
 */
export function simulatedRootsOfCertificate(der: Uint8Array): Uint8Array[] {
  try {
    const cmw = parseCertificate(der).extensions.get(ID_PE_CMW);
    if (cmw === undefined) return [];
    const decoded = decodeEvidenceBundle(decodeRaTlsExtension(cmw.value).bundle);
    return decoded.evidence.simulated ? embeddedRoots(decoded) : [];
  } catch {
    return [];
  }
}
