// One interface for every source of attestation evidence inside the VM: configfs-tsm, the
// /dev/sev-guest and /dev/tdx_guest ioctls, and the simulated TEE.
import { CloisterError } from '../../attestation/errors.js';
import type { PlatformName } from '../../attestation/evidence/platforms.js';
import { RuntimeError, TeeDeviceError } from '../base/runtimeErrors.js';

/** A platform of the verifier's platform table (attestation/evidence/platforms.ts). */
export type TeePlatform = PlatformName;

export const REPORT_DATA_SIZE = 64;

export interface RawEvidence {
  readonly platform: TeePlatform;
  /** The SEV-SNP ATTESTATION_REPORT (1184 bytes) or the TDX quote, exactly as the source returned it. */
  readonly evidence: Uint8Array;
  /** SEV-SNP: the certificate table (configfs-tsm auxblob / SNP_GET_EXT_REPORT certs), when the host supplies one. */
  readonly certTable?: Uint8Array;
  /** Which source produced it: "configfs-tsm/sev_guest", "sev-guest ioctl", "simulated", ... */
  readonly source: string;
  readonly simulated: boolean;
}

export interface EvidenceRequest {
  /** Exactly 64 bytes, bound into REPORT_DATA. */
  readonly reportData: Uint8Array;
  /** SEV-SNP VMPL / configfs-tsm privlevel (0..3). Default 0. */
  readonly privilegeLevel?: number;
}

export interface EvidenceProvider {
  readonly name: string;
  readonly platform: TeePlatform;
  readonly simulated: boolean;
  getEvidence(request: EvidenceRequest): Promise<RawEvidence>;
}

/** Thrown when no source of evidence exists; lists everything that was looked for. */
export class NoTeeError extends RuntimeError {
  readonly lookedFor: readonly string[];
  constructor(lookedFor: readonly string[]) {
    super('NO_TEE', `no TEE evidence source found (looked for: ${lookedFor.join('; ')}); start with --simulated to use the simulated TEE`, {
      field: 'tee',
    });
    this.lookedFor = lookedFor;
  }
}

export { TeeDeviceError };

export function assertReportData(reportData: Uint8Array): void {
  if (reportData.length !== REPORT_DATA_SIZE) {
    throw new CloisterError('MALFORMED_FIELD', `report data must be ${REPORT_DATA_SIZE} bytes, got ${reportData.length}`, {
      field: 'reportData',
      expected: String(REPORT_DATA_SIZE),
      actual: String(reportData.length),
    });
  }
}
