export {
  parseQuote,
  serializeQuote,
  quoteSignedBytes,
  parseQeReport,
  serializeQeReport,
  decodeTdAttributes,
  QUOTE_VERSIONS,
  TD_BODY_TYPE,
  HEADER_SIZE,
  TD_REPORT10_SIZE,
  TD_REPORT15_SIZE,
  QE_REPORT_SIZE,
  ATTESTATION_KEY_TYPE_ECDSA_P256,
  TEE_TYPE_TDX,
  CERTIFICATION_DATA_QE_REPORT,
  CERTIFICATION_DATA_PCK_CHAIN,
  INTEL_QE_VENDOR_ID,
  type TdxQuote,
  type TdxQuoteFields,
  type QuoteHeader,
  type QuoteVersion,
  type TdReportBody,
  type TdBodyType,
  type TdAttributes,
  type QeReport,
  type QeReportFields,
} from './quote.js';
export { TdxVerifier, attestationKeySpki, expectedQeReportData, type TdxVerifierOptions, type TdxVerifyOptions, type TdxVerification, type TdxChainSummary } from './verify.js';
export { INTEL_SGX_ROOT_CA_PEM } from './intelRoots.js';
export { decodeTdxEvidence } from '../evidence/platforms.js';
export { TDX_PLATFORM } from './platform.js';
export { decodeRawTdxEvidence, verifyTdxEvidence, looksLikeTdxQuote, tdxClaims, CHAIN_ONLY, type TdxEvidence, type TdxVerdict, type VerifyTdxOptions } from './evidence.js';
export { validateTdxQuote, type TdxPolicy } from './validate.js';
export { assertTdxPolicy, parseTdxPolicyJson } from './policy.js';
export { readTdxCollateral, tdxCollateralJson, collateralDates, COLLATERAL_MEMBERS, type TdxCollateral, type CollateralDates } from './collateral.js';
export { parseTdxCollateralFile } from './collateralFile.js';
export { jsonMemberText } from './jsonMemberText.js';
export { fetchQuoteCollateral, fetchPckCollateral, pcsTarget, pcsUrls, INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL, PCS_UPDATE_TYPES, type PcsClientOptions, type PcsFetch, type PcsTarget, type PcsUpdateType, type PcsUrls } from './pcsClient.js';
export { collateralFromPcsResponses, PCS_ISSUER_CHAIN_HEADERS, type PcsResponses, type PcsJsonResponse, type PcsCrlResponse, type PcsProblem, type PcsResponseName } from './pcsResponses.js';
