// The launch measurements the simulated TEE reports unless configured otherwise: SHA-384 of a fixed text
// per platform. What `--trust-simulated` accepts when no measurement is given: a real launch whose digest
// equals one of these would be a SHA-384 preimage of the text.
import { toHex } from '../../../attestation/bytes.js';
import type { PlatformName } from '../../../attestation/evidence/platforms.js';
import type { RaTlsPolicy } from '../../../attestation/ratls/verifyCertificate.js';

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

/** A client policy that accepts exactly the simulated TEE's default launch measurements, on either platform. */
export async function simulatedMeasurementPolicy(): Promise<RaTlsPolicy> {
  const hex = await simulatedMeasurementsHex();
  return { snp: { measurements: [hex['sev-snp']] }, tdx: { mrtds: [hex.tdx] } };
}
