// SEV-SNP launch digest calculator: what MEASUREMENT a guest booted from an OVMF image reports, and which
// input explains a mismatch. Browser-safe: all hashing goes through an injected Hasher.
export { snpLaunchDigest, SnpLaunchCalculator, validateLaunchInputs, MAX_VCPUS, DEFAULT_GUEST_FEATURES, type SnpLaunchInputs, type SnpMeasurement, type LaunchConfig } from './launch.js';
export { explainSnpMeasurement, type SnpExplanation } from './explainLaunchDigest.js';
export { LaunchDigest, pageInfo, PAGE_TYPES, PAGE_SIZE, VMSA_GPA, LAUNCH_DIGEST_SIZE, type PageType } from './launchDigest.js';
export { parseSevMetadata, decodeSevMetadata, serializeSevMetadata, SECTION_TYPES, MAX_SECTION_BYTES, type SevMetadata, type SevMetadataSection, type SectionType } from './sevMetadata.js';
export { parseSnpFirmware, type SnpFirmware } from './snpFirmware.js';
export { sevHashes, serializeSevHashTable, parseSevHashTable, sevHashesPage, cmdlineBytes, SEV_HASH_TABLE_GUIDS, SEV_HASH_TABLE_SIZE, type SevHashes } from './sevHashTable.js';
export { VCPU_TYPES, VCPU_CPUIDS, cpuSignature, vcpuSignature, type CpuId } from './vcpuTypes.js';
export { vmsaPage, vmsaRegisters, describeSevFeatures, VMSA, VMM_TYPES, SEV_FEATURES, BSP_EIP, type VmmType, type VmsaInputs, type VmsaRegisters } from './vmsa.js';
