// The Cloister server: createServer(config) assembles it; buildApp is its fastify application.
export { createServer, type CloisterServer, type ServerConfig, type TeeConfig } from './createServer.js';
export { buildApp, EVIDENCE_PATH, FRESH_EVIDENCE_PATH, type AppOptions } from './app.js';
export { EvidenceService } from './evidenceService.js';
export { TlsIdentity } from './tlsIdentity.js';
