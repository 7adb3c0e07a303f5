// Evidence inside the VM: the providers (configfs-tsm, the /dev/sev-guest and /dev/tdx_guest ioctls, the
// simulated TEE), bundle assembly, TDX collateral sources, and RA-TLS certificate issuing.
export type { EvidenceProvider, EvidenceRequest, RawEvidence, TeePlatform } from './provider.js';
export { detectEvidenceProvider, EVIDENCE_SOURCES, type EvidenceSource } from './detectProvider.js';
export * from './assembleBundle.js';
export { CollateralCache, collateralSchedule, type CollateralFetch, type CollateralSource } from './collateralSource.js';
export { KdsCertificateProvider, KDS_SOURCE_SUFFIX, type KdsCertificateOptions } from './kdsCertificates.js';
export { createRaTlsCertificate } from './ratls/issue.js';
export { createDevChain, loadOrCreateDevChain, defaultStateDir } from './sim/devChain.js';
export { availableSimulatedRoots } from './sim/devRoots.js';
export { SimulatedSnp, SimulatedSnpProvider } from './sim/snpSimulator.js';
export { SimulatedTdx } from './sim/tdxSimulator.js';
export { SimulatedCollateralSource } from './sim/simulatedCollateral.js';
export { simulatedMeasurementPolicy, simulatedMeasurementsHex } from './sim/simulatedMeasurements.js';
export { startAttestedServer } from './sim/ratlsServer.js';
