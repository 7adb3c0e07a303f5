// The Oblivious Gateway Resource: the gateway, its key store, and the target interface it calls.
export { OhttpGateway, DEFAULT_TARGET_TIMEOUT_MS, type GatewayOptions, type GatewayOutcome } from './gateway.js';
export { OhttpKeyStore, DEFAULT_OVERLAP_SECONDS, DEFAULT_ROTATE_SECONDS } from './keyStore.js';
export { targetRouter, textResponse, echoRoute, type TargetContext, type TargetHandler, type TargetResponse, type TargetRoute } from './target.js';
