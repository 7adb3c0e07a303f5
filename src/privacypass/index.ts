// Privacy Pass, the server side: the issuer's blind signing, the issuer service, and redemption at the gateway.
export { issuerKey, issueTokenResponse, blindSign, rsaSigningKey, type IssuerKey, type RsaSigningKey } from './blindSign.js';
export { AccountsAuthorizer, parseAccounts, parseRate, type Account, type IssuanceAuthorizer, type IssuanceDecision, type IssuanceRate } from './issuer/authorizer.js';
export { DEFAULT_REQUEST_PATH, DIRECTORY_PATH, TOKEN_REQUEST_MEDIA_TYPE, TOKEN_RESPONSE_MEDIA_TYPE } from './issuer/directory.js';
export { createIssuerLogger } from './issuer/issuerLog.js';
export { KeyRing } from './issuer/keyRing.js';
export { DEFAULT_ISSUER_PORT, issuerHandler, startIssuer, type IssuerOptions, type RunningIssuer } from './issuer/server.js';
export { ISSUER_TOKEN_TYPES, issuerTokenType, type IssuerTokenType, type TypedIssuerKey } from './issuer/tokenTypes.js';
export { Redeemer, type RedeemerOptions, type RedemptionVerdict } from './redemption/redeemer.js';
export { redeemedTokenTypes, type TokenCheck, type TokenTypeVerifier } from './redemption/verifiers.js';
export { voprfIssuerKey, type VoprfIssuerKey } from './voprfKey.js';
export { MemorySpentTokens, SpentTokensUnavailable, type SpendResult, type SpentTokenStore } from './redemption/spentTokens.js';
