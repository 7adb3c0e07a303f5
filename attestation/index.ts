// The Cloister verifier and client SDK: pure TypeScript over WebCrypto, for Node and browsers.
export * from './errors.js';
export { fromHex, toHex, fromBase64, toBase64, decodePem, encodePem } from './bytes.js';
export type { Check, CheckStatus, Verdict, VerdictError } from './checks.js';
export { CheckLog } from './checks.js';
export { webCryptoEcdsa, type EcdsaImporter, type EcdsaPublicKey, type EcdsaCurve, type EcdsaHash } from './ecdsa.js';
export { parseCertificate, parseCrl, type Certificate, type Crl } from './x509.js';
export { ecdsaP1363ToDer } from './signatures.js';
export * from './snp/index.js';
export * from './tdx/index.js';
export {
  decodeEvidence,
  decodeEvidenceBundle,
  decodePlatformEvidence,
  isJsonBundle,
  platformOf,
  verifyDecoded,
  BUNDLE_PLATFORMS,
  PLATFORMS,
  PLATFORM_LIST,
  type BundlePlatform,
  type DecodedEvidence,
  type DecodedEvidenceBundle,
  type DecodedEvidenceOf,
  type EvidenceOf,
  type PlatformEntry,
  type PlatformName,
  type PolicyOf,
  type VerifierOf,
} from './evidence/platforms.js';
export type { Platform, PlatformEvidence, BundleMembers, EvidenceField, PolicyOptionFields } from './evidence/platformEntry.js';
export { bootReportData, freshReportData, keysDigest, keysDigestInput, KEYS_DIGEST_LABEL, KEYS_DIGEST_SIZE, NONCE_MIN, NONCE_MAX } from './evidence/reportData.js';
export { decodeCbor, encodeCbor, type CborValue, type CborMap } from './protocols/cbor.js';
export { raTlsReportData, raTlsBindingInput, RATLS_BINDING_LABEL } from './ratls/certificateBinding.js';
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
} from './protocols/ratlsExtension.js';
export { verifyAttestedCertificate, type RaTlsPolicy, type RaTlsVerdict, type VerifyRaTlsOptions } from './ratls/verifyCertificate.js';
export { verifyFreshEvidence, type VerifyFreshOptions } from './ratls/verifyFresh.js';
export { ohttpFetch, OhttpClient, KeyConfigRejectedError, type OhttpClientOptions, type OhttpRequest, type OhttpResponse, type PrivateTokenSource } from './client/ohttpClient.js';
export { FleetClient, type FleetClientOptions, type FleetNodeVerdict, type FleetResponse } from './client/fleetClient.js';
export { parseFleetDirectory, serializeFleetDirectory, assertFleetDirectory, FLEET_SCHEMA, FLEET_DIRECTORY_PATH, type FleetDirectory, type FleetNode } from './fleet/fleetDirectory.js';
export { globalFetch, type FetchLike, type FetchInit, type FetchResponse } from './client/httpFetch.js';
export { PrivacyPassClient, type PrivacyPassClientOptions } from './client/privacyPass/privacyPassClient.js';
export { IssuerClient, IssuerError, fetchIssuerDirectory, type IssuerClientOptions, type IssuerErrorCode, type FetchedDirectory } from './client/privacyPass/issuerClient.js';
export { MemoryTokenStore, type TokenStore, type TokenSlot } from './client/privacyPass/tokenStore.js';
export { chooseChallenge, type ChosenChallenge } from './client/privacyPass/challengeChoice.js';
export { CLIENT_TOKEN_TYPES, type ClientTokenType, type PendingIssuance } from './client/privacyPass/clientTokenTypes.js';
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse, type BhttpRequest, type BhttpResponse, type BhttpFields } from './protocols/bhttp.js';
export { encapsulateRequest, decapsulateRequest, ResponseOpener, Responder, type GatewayKey } from './protocols/ohttp/encapsulation.js';
export { DEFAULT_PADDING, type PaddingPolicy, type SizeClasses } from './protocols/padding.js';
export { webCryptoHpke, cipherSuite, type HpkePrimitives } from './protocols/ohttp/hpke.js';
export { decodeKeyConfig, encodeKeyConfig, type KeyConfig, type SymmetricSuite } from './protocols/ohttp/keyConfig.js';
export { OHTTP_GATEWAY_PATH, ATTESTATION_CERTIFICATE_PATH } from './protocols/ohttp/paths.js';
export {
  webCryptoHasher,
  snpLaunchDigest,
  explainSnpMeasurement,
  SnpLaunchCalculator,
  VCPU_TYPES,
  VMM_TYPES,
  tdxMrtd,
  parseCcelEventLog,
  replayRtmrs,
  authenticodeHash,
  directBootEvents,
  explainTdxMeasurement,
  parseMeasurementsFile,
  allowedMeasurements,
  policyWithMeasurements,
  type MeasurementsFile,
  type Hasher,
  type SnpLaunchInputs,
  type SnpMeasurement,
  type SnpExplanation,
  type VmmType,
  type CcelEvent,
  type ExpectedEvent,
  type TdxExplanation,
} from './measure/index.js';
export { webCryptoEd25519, type Ed25519Importer, type Ed25519PublicKey } from './ed25519.js';
export * from './transparency/index.js';
export * from './sigstore/index.js';
