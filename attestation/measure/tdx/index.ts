// TDX measurement calculators: MRTD from a TDVF image, RTMR replay of a CC event log, the direct-boot events of
// a kernel, initrd and command line, and an explanation of where a quote departs from them. Browser-safe.
export { tdxMrtd } from './mrtd.js';
export type { MrtdOptions, PageAddOrder } from './mrtd.js';
export { parseTdvfDescriptor, tdvfDescriptorOffset, TDVF_ATTRIBUTES, TDVF_SECTION_TYPES, MAX_MEASURED_BYTES } from './tdvf.js';
export type { TdvfDescriptor, TdvfSection, TdvfSectionTypeName } from './tdvf.js';
export { parseCcelEventLog, replayRtmrs, extendRtmrs } from './ccel.js';
export type { CcelEvent } from './ccel.js';
export { eventTypeName, TCG_EVENT_TYPES, TPM_ALG } from './eventTypes.js';
export type { TcgEventTypeName } from './eventTypes.js';
export { authenticodeHash, authenticodeRanges } from './authenticode.js';
export type { PeLayout } from './authenticode.js';
export { directBootEvents, predictedRtmrs, loadOptions, EFI_ACTIONS, LINUX_EVENT_TAGS } from './directBoot.js';
export type { DirectBootInputs, DirectBootOptions, ExpectedEvent } from './directBoot.js';
export { qemuPatchedKernel, qemuKernelPlacement, qemuPatchesCocoHeader, q35Below4gMemory, SETUP_HEADER, QEMU_ACPI_DATA_SIZE, QEMU_LOADER_TYPE, QEMU_UNPATCHED_COCO_HEADER } from './qemuKernel.js';
export type { QemuKernelLoad, QemuKernelPlacement, SetupHeaderField } from './qemuKernel.js';
export { explainTdxMeasurement } from './explainTdMeasurements.js';
export type { TdxExplanation, TdxMeasurementInputs } from './explainTdMeasurements.js';
