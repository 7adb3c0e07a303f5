// The launch measurements the simulated TEE reports unless configured otherwise, which `--trust-simulated` accepts
// when no measurement is given: defined where clients find them too (attestation/client/simulatedTrust.ts).
export { simulatedMeasurement, simulatedMeasurementPolicy, simulatedMeasurementsHex } from '../../../attestation/client/simulatedTrust.js';
