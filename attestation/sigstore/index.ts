// Sigstore (docs/transparency.md "Sigstore bundles"): DSSE envelopes, in-toto statements, bundles v0.1 to v0.3,
// trusted roots, and their offline verification. Browser-safe, like the rest of the SDK.
export { parseDsseEnvelope, serializeDsseEnvelope, dsseEnvelopeJson, pae, verifyDsseEnvelope, signDsseEnvelope, IN_TOTO_PAYLOAD_TYPE, type DsseEnvelope, type DsseSignature, type DsseKey, type DsseVerdict } from './dsse.js';
export { parseStatement, serializeStatement, matchSubject, subjectsWithDigest, STATEMENT_TYPE_V1, type Statement, type StatementSubject } from './inToto.js';
export {
  parseSigstoreBundle,
  serializeSigstoreBundle,
  BUNDLE_MEDIA_TYPE_V03,
  BUNDLE_MEDIA_TYPES,
  type SigstoreBundle,
  type BundleVersion,
  type BundleContent,
  type KeyMaterial,
  type TlogEntry,
  type InclusionProofJson,
} from './sigstoreBundle.js';
export { parseTrustedRoot, withinWindow, TRUSTED_ROOT_MEDIA_TYPE, type TrustedRoot, type TrustedLog, type TrustedAuthority, type ValidityWindow } from './trustedRoot.js';
export { importSigstoreKey, publicKeyFromPem, type SignatureVerifier, type SigstoreCrypto, type SigstoreKeyScheme } from './sigstoreKeys.js';
export { checkEntryBody, signedEntryTimestampMessage, verifySignedEntryTimestamp, type EntrySigner } from './rekorEntry.js';
export { parseTimestamp, verifyTimestamp, type TimestampToken } from './rfc3161.js';
export { certificateIdentity, verifyCertificateChain, verifyEmbeddedScts, type CertificateIdentity } from './fulcio.js';
export { verifySigstoreBundle, type VerifyBundleOptions, type BundleVerdict, type ExpectedIdentity } from './verifyBundle.js';
export { dsseEntryBody, dsseBundle, tlogLogId, KEY_DETAILS, type LoggedEntry } from './buildBundle.js';
