// Node-only RA-TLS client (`cloister/attestation/node`): attested TLS connections, an https.Agent, a fetch.
export {
  AttestationRefusedError,
  AttestedAgent,
  AttestedCertificateCache,
  attestedConnect,
  attestedFetch,
  createAttestedAgent,
  createAttestedVerifier,
  type AttestedConnection,
  type AttestedOptions,
  type AttestedResponse,
  type AttestedVerify,
  type ConnectTarget,
} from './attestedAgent.js';
