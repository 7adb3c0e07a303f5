// Node-only RA-TLS client (`cloister/attestation/node`): attested TLS connections, an https.Agent, a fetch.
export {
  AttestationRefusedError,
  AttestedAgent,
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
export { AttestedCertificateCache } from './certificateCache.js';
export { FRESH_EVIDENCE_PATH } from './freshEvidence.js';
export { SessionStore, type StoredSession } from './sessionStore.js';
