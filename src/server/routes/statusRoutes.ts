// GET /status: what runs here, for people and monitoring. A simulated TEE says SIMULATED in words.
import type { FastifyInstance } from 'fastify';
import { OHTTP_GATEWAY_PATH } from '../../../attestation/protocols/ohttp/paths.js';
import { hygieneStatus } from '../../base/memory/hygiene.js';
import type { EvidenceService } from '../evidenceService.js';
import type { TlsCertificateInfo } from '../tlsIdentity.js';
import { EVIDENCE_PATH } from './evidenceRoutes.js';

export interface StatusRouteOptions {
  readonly evidence: EvidenceService;
  /** The current TLS certificate; undefined over plain HTTP. */
  readonly tls?: { readonly info: TlsCertificateInfo };
  /** The OHTTP key configurations served, when the gateway runs. */
  readonly keyConfigs?: () => readonly Uint8Array[];
  /** The TDX collateral kept current from a source, when there is one. */
  readonly collateral?: () => CollateralStatus;
}

export interface CollateralStatus {
  /** The CollateralSource's name: says SIMULATED for the simulated TEE's. */
  readonly source: string;
  readonly nextUpdate: Date;
  readonly refreshAt: Date;
}

/** Where the status is served. */
export const STATUS_PATH = '/status';

/** A fastify plugin. */
export function statusRoutes(app: FastifyInstance, options: StatusRouteOptions): Promise<void> {
  const { evidence } = options;
  const tlsStatus = (): { notBefore: string; notAfter: string; spkiSha256: string } | string => {
    if (options.tls === undefined) return 'none: plain HTTP, the server is not authenticated';
    const { notBefore, notAfter, spkiSha256 } = options.tls.info;
    return { notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), spkiSha256 };
  };
  const { keyConfigs, collateral } = options;
  const collateralStatus = (c: CollateralStatus): { source: string; nextUpdate: string; refreshAt: string } => ({ source: c.source, nextUpdate: c.nextUpdate.toISOString(), refreshAt: c.refreshAt.toISOString() });
  app.get(STATUS_PATH, () => ({
    service: 'cloister',
    tee: evidence.simulated ? 'SIMULATED (development root, not a real TEE: nothing here is confidential)' : evidence.provider.name,
    simulated: evidence.simulated,
    platform: evidence.platform,
    evidence: { boot: `${EVIDENCE_PATH}/${evidence.boot.id}`, freshUntil: evidence.boot.freshUntil.toISOString() },
    freshEvidence: evidence.freshLatency.summary(),
    tls: tlsStatus(),
    memoryHygiene: hygieneStatus(),
    ...(keyConfigs === undefined ? {} : { ohttp: { gateway: OHTTP_GATEWAY_PATH, keyIds: keyConfigs().map((c) => c[0]) } }),
    ...(collateral === undefined ? {} : { collateral: collateralStatus(collateral()) }),
  }));
  return Promise.resolve();
}
