// The Cloister verifier and client SDK: pure TypeScript over WebCrypto, for Node and browsers.
export * from './errors.js';
export type { Check, CheckStatus, Verdict, VerdictError } from './checks.js';
export { CheckLog } from './checks.js';
export { webCryptoEcdsa, type EcdsaImporter, type EcdsaPublicKey, type EcdsaCurve, type EcdsaHash } from './ecdsa.js';
export { parseCertificate, parseCrl, type Certificate, type Crl } from './x509.js';
export * from './snp/index.js';
export * from './tdx/index.js';
export { decodeEvidenceBundle, isJsonBundle, BUNDLE_PLATFORMS, type BundlePlatform, type DecodedEvidenceBundle } from './bundle.js';
export { decodeEvidence, type DecodedEvidence } from './evidence.js';
export { bootReportData, freshReportData, keysDigest, keysDigestInput, KEYS_DIGEST_LABEL, KEYS_DIGEST_SIZE, NONCE_MIN, NONCE_MAX } from './binding.js';
export { decodeCbor, encodeCbor, type CborValue, type CborMap } from './cbor.js';
export { raTlsReportData, raTlsBindingInput, RATLS_BINDING_LABEL } from './ratls/binding.js';
export {
  decodeRaTlsExtension,
  encodeRaTlsExtension,
  decodeOhttpKeys,
  encodeOhttpKeys,
  ID_PE_CMW,
  EVIDENCE_MEDIA_TYPE,
  OHTTP_KEYS_MEDIA_TYPE,
  CMW_INDICATOR,
  type RaTlsAttestation,
} from './ratls/extension.js';
export { verifyAttestedCertificate, type RaTlsPolicy, type RaTlsVerdict, type VerifyRaTlsOptions } from './ratls/verify.js';
export { verifyFreshEvidence, type VerifyFreshOptions } from './ratls/fresh.js';
export { ohttpFetch, OhttpClient, KeyConfigRejectedError, type OhttpClientOptions, type OhttpRequest, type OhttpResponse } from './ohttp/client.js';
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse, type BhttpRequest, type BhttpResponse, type BhttpFields } from './ohttp/bhttp.js';
export { encapsulateRequest, decapsulateRequest, ResponseOpener, Responder, type GatewayKey } from './ohttp/encapsulation.js';
export { webCryptoHpke, cipherSuite, type HpkePrimitives } from './ohttp/hpke.js';
export { decodeKeyConfig, encodeKeyConfig, type KeyConfig, type SymmetricSuite } from './ohttp/keyConfig.js';
export { OHTTP_GATEWAY_PATH, ATTESTATION_CERTIFICATE_PATH } from './ohttp/paths.js';
