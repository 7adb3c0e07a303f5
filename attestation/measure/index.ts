// Launch measurement calculators (docs/measure.md): what a confidential VM built from given parts must
// report, and why a report departs from it.
export { webCryptoHasher, type Hasher, type HashName } from '../hash.js';
export { parseFirmwareTable, guidToString, FOOTER_GUID, TABLE_GUIDS, type TableEntry } from './firmwareTable.js';
export * from './snp/index.js';
export * from './tdx/index.js';
export { parseMeasurementsFile, assertMeasurementsFile, allowedMeasurements, policyWithMeasurements, MEASUREMENTS_SCHEMA, type MeasurementsFile, type SnpMeasurementEntry, type TdxMeasurementEntry, type AllowedMeasurements } from './measurementsFile.js';
export { initDataBinding, initDataMetadata, fitToField, INIT_DATA_ALGORITHMS, INIT_DATA_VERSION, HOST_DATA_SIZE, MR_CONFIG_ID_SIZE, type InitDataBinding, type InitDataAlgorithm } from './initData.js';
