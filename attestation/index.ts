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
