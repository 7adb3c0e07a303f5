// Every error the verifier raises carries one of these codes; docs/errors.md "SDK codes" lists exactly these
// (checked by attestation/errors.test.ts). The server runtime's own codes live in src/base/runtimeErrors.ts.
export const ERROR_CODES = {
  // parse: the bytes do not have the shape of the format
  TRUNCATED: 'input is shorter than the format requires',
  TRAILING_BYTES: 'input has bytes after the end of the format',
  UNSUPPORTED_VERSION: 'format version is not one this verifier implements',
  UNSUPPORTED_ALGORITHM: 'signature or key algorithm is not the one the format requires',
  RESERVED_NONZERO: 'a must-be-zero range holds non-zero bytes',
  MALFORMED_FIELD: 'a field holds a value its specification does not allow',
  MALFORMED_DER: 'DER/X.509 structure could not be decoded',
  MALFORMED_CERT_TABLE: 'certificate table of an extended report is malformed',
  MALFORMED_EVIDENCE: 'evidence bundle JSON is malformed or has invalid members',
  MALFORMED_POLICY: 'policy object or file has invalid fields',
  MALFORMED_COLLATERAL: 'Intel PCS collateral (TCB info, QE identity) is not the JSON its format defines',
  // verify: signatures, chains, validity, revocation
  MISSING_CERTIFICATE: 'a certificate needed to build the chain was not supplied nor embedded',
  PRODUCT_MISMATCH: 'report and certificates belong to different AMD products',
  UNTRUSTED_ROOT: 'the chain ends in a root that is not trusted',
  CHAIN_SIGNATURE_INVALID: 'a certificate is not signed by its issuer',
  CERT_NOT_YET_VALID: 'a certificate is not valid yet at the evaluation time',
  CERT_EXPIRED: 'a certificate has expired at the evaluation time',
  CERT_REVOKED: 'a certificate is listed in its issuer\'s CRL',
  CERT_CONSTRAINTS: 'a certificate\'s extensions forbid its role in the chain (not a CA, no keyCertSign/cRLSign, unknown critical extension)',
  CRL_INVALID: 'a CRL is not signed by its issuer',
  CRL_EXPIRED: 'a CRL is outside its thisUpdate..nextUpdate window',
  CRL_UNAVAILABLE: 'policy requires a CRL and none was supplied for the chain\'s root',
  KDS_REQUEST_FAILED: 'a request to AMD KDS failed: no answer, an HTTP error, or a body that is not the certificate or CRL asked for',
  SIGNING_KEY_MISMATCH: 'the report names a signing key (VCEK/VLEK) other than the certificate supplied',
  TCB_MISMATCH: 'REPORTED_TCB differs from the TCB in the VCEK/VLEK extensions',
  CHIP_ID_MISMATCH: 'CHIP_ID differs from the VCEK hwID extension',
  REPORT_SIGNATURE_INVALID: 'the report signature does not verify with the VCEK/VLEK',
  QE_REPORT_DATA_MISMATCH: 'the TDX QE report does not bind the quote\'s attestation key',
  COLLATERAL_MISSING: 'the TDX collateral (TCB info, QE identity, CRLs) needed to evaluate the TCB was not supplied',
  COLLATERAL_SIGNATURE_INVALID: 'TCB info or QE identity is not signed by its TCB Signing certificate',
  COLLATERAL_EXPIRED: 'the evaluation time is outside the TCB info or QE identity issueDate..nextUpdate window',
  COLLATERAL_MISMATCH: 'the TCB info is for another platform (FMSPC, PCE ID) than the PCK certificate',
  QE_IDENTITY_MISMATCH: 'the TDX QE report differs from Intel\'s QE identity (MRSIGNER, ISVPRODID, MISCSELECT, ATTRIBUTES)',
  TDX_MODULE_MISMATCH: 'the TDX module\'s signer or attributes differ from the TCB info, or the TCB info has no identity for its version',
  TCB_NOT_SUPPORTED: 'no TCB level of the collateral is met by the platform, TDX module or QE',
  // RA-TLS certificates (attestation/ratls)
  NO_ATTESTATION: 'the certificate carries no attestation extension (id-pe-cmw)',
  KEY_CONFIG_MISMATCH: 'the OHTTP key configurations in the certificate differ from the ones the client expects',
  KEY_BINDING_MISMATCH: 'the evidence REPORT_DATA does not bind this certificate\'s public key and key configurations',
  FRESHNESS_MISMATCH: 'the fresh evidence REPORT_DATA does not bind the client\'s nonce and the certificate\'s keys',
  EVIDENCE_MISMATCH: 'the fresh evidence comes from another platform or launch measurement than the certificate\'s evidence',
  FRESH_EVIDENCE_UNAVAILABLE: 'the server returned no fresh evidence for the client\'s nonce (an HTTP error such as 429, or no fresh-evidence endpoint)',
  // Oblivious HTTP and Binary HTTP (attestation/ohttp)
  MALFORMED_BHTTP: 'a Binary HTTP message (RFC 9292) could not be decoded, or a message cannot be encoded',
  MALFORMED_OHTTP: 'an encapsulated request or response, or a key configuration (RFC 9458), is malformed',
  OHTTP_UNKNOWN_KEY: 'the encapsulated request names a key ID the gateway does not hold',
  OHTTP_UNSUPPORTED_SUITE: 'a KEM, KDF or AEAD that this implementation or the key configuration does not support',
  OHTTP_DECRYPT_FAILED: 'HPKE decryption of an encapsulated request or response failed',
  OHTTP_REQUEST_FAILED: 'the relay or the gateway did not answer the encapsulated request with an encapsulated response',
  // Privacy Pass (attestation/protocols/privacypass): RFC 9474 blind RSA, RFC 9577 auth scheme, RFC 9578 tokens
  MALFORMED_PRIVACY_PASS: 'a Privacy Pass message, header, token key or blind RSA input is malformed (RFC 9474, 9577, 9578)',
  PRIVACY_PASS_TOKEN_INVALID: 'a Privacy Pass token, or a blind signature once unblinded, does not verify with the issuer key',
  // the Privacy Pass client (attestation/client/privacyPass): the issuer, and the server's challenge
  PRIVACY_PASS_ISSUER_FAILED: 'the Privacy Pass issuer did not answer with its directory or a token response (network, time limit, an HTTP error, a body of another kind)',
  PRIVACY_PASS_ISSUER_UNAUTHORIZED: 'the Privacy Pass issuer refused the client\'s credential (401)',
  PRIVACY_PASS_ISSUER_RATE_LIMITED: 'the Privacy Pass issuer refused more tokens for now (429, with the seconds to wait when it says)',
  PRIVACY_PASS_NO_USABLE_CHALLENGE: 'the server\'s PrivateToken challenges all ask for token types this client does not obtain',
  PRIVACY_PASS_KEY_INCONSISTENT: 'the server\'s challenge names an issuer key that the issuer\'s own directory does not list (a key only this client may be shown)',
  // VOPRF (RFC 9497) and Privacy Pass privately verifiable tokens (RFC 9578 type 0x0001)
  MALFORMED_VOPRF: 'a P-384 element, scalar, DLEQ proof or OPRF input is not one RFC 9497 allows, or a type 1 token message is malformed',
  VOPRF_PROOF_INVALID: 'the server\'s DLEQ proof does not show that it evaluated the blinded elements with the key it published',
  VOPRF_TOKEN_INVALID: 'a type 1 token or token request names another issuer key, or the token\'s authenticator is not the issuer\'s evaluation of its input',
  // transparency logs (attestation/transparency): C2SP signed-note, tlog-checkpoint, tlog-cosignature, tlog-tiles; RFC 9162 proofs
  MALFORMED_NOTE: 'a signed note, one of its signature lines, or a verifier key (vkey) does not have the shape C2SP signed-note defines',
  MALFORMED_CHECKPOINT: 'a checkpoint body (origin, tree size, root hash, extension lines), or a witness add-checkpoint request around one, is malformed',
  MALFORMED_TILE: 'a tile, an entry bundle or a tile path does not have the size or shape C2SP tlog-tiles defines for it',
  NOTE_SIGNATURE_INVALID: 'a note signature line from a trusted key (its name and key ID match) does not verify',
  NOTE_UNVERIFIED: 'no signature line of the note is from a key the verifier trusts',
  CHECKPOINT_ORIGIN_MISMATCH: 'the checkpoint names another log (origin line) than the one the verifier expects',
  WITNESS_COSIGNATURES_MISSING: 'fewer of the required witnesses than the threshold cosigned the checkpoint',
  INCLUSION_PROOF_INVALID: 'an inclusion proof does not lead from the entry to the checkpoint\'s root hash at its tree size',
  CONSISTENCY_PROOF_INVALID: 'a consistency proof does not show the newer checkpoint\'s tree extends the older one',
  CHECKPOINT_FORK: 'two checkpoints of the same log give different root hashes for the same tree size',
  CHECKPOINT_ROLLBACK: 'the checkpoint is smaller than the newest one already seen for its log',
  // Sigstore (attestation/sigstore): DSSE envelopes, in-toto statements, bundles, trusted roots, their verification
  MALFORMED_DSSE: 'a DSSE envelope is not the JSON the DSSE specification defines (payloadType, base64 payload, signatures)',
  MALFORMED_STATEMENT: 'a DSSE payload is not an in-toto Statement v1 (_type, subject digests, predicateType, predicate)',
  MALFORMED_SIGSTORE_BUNDLE: 'a Sigstore bundle is not valid JSON, or a member has the wrong type, is missing, is not base64 or is out of range',
  MALFORMED_TRUSTED_ROOT: 'a Sigstore trusted root is not valid JSON, or a log, CA or TSA in it is malformed (a validity window without its start)',
  MALFORMED_TLOG_ENTRY: 'a transparency log entry body (canonicalizedBody) is not JSON of a kind and version this verifier reads',
  MALFORMED_TIMESTAMP: 'an RFC 3161 timestamp is not a DER TimeStampResp or token (CMS SignedData around a TSTInfo)',
  VERIFICATION_KEY_MISSING: 'the bundle is signed with a managed key and no key was given to verify it',
  MESSAGE_SIGNATURE_INVALID: 'the bundle\'s signature over the artifact does not verify with the signing key',
  DSSE_SIGNATURE_INVALID: 'no signature of the DSSE envelope verifies with a trusted key (or fewer than the threshold)',
  ARTIFACT_DIGEST_MISMATCH: 'the artifact\'s digest is not the one the bundle\'s messageDigest states',
  TLOG_ENTRY_MISMATCH: 'the transparency log entry records another signature, key, certificate or digest than the bundle carries',
  TLOG_UNKNOWN_LOG: 'the log entry names a log (log ID) that the trusted root does not list, or lists only outside its validity window',
  TLOG_INCLUSION_MISSING: 'the bundle carries no log entry, or an entry without the inclusion proof (or promise) its version requires',
  INCLUSION_PROMISE_INVALID: 'the signed entry timestamp (inclusion promise) does not verify with the log\'s key',
  TLOG_TIME_INVALID: 'the log entry\'s integrated time is in the future',
  TIMESTAMP_INVALID: 'an RFC 3161 timestamp does not verify: its signature, message imprint, TSA certificate chain or validity window',
  VERIFIED_TIME_MISSING: 'a certificate\'s validity cannot be checked: no verified time (integrated time with a promise, or RFC 3161 timestamp)',
  SCT_INVALID: 'no embedded signed certificate timestamp of the Fulcio certificate verifies with a CT log key of the trusted root',
  SIGNER_IDENTITY_MISMATCH: 'the signing certificate names another identity (subject alternative name) or OIDC issuer than the expected one',
  SUBJECT_MISMATCH: 'the in-toto statement has no subject with the artifact\'s digest',
  // API misuse, and the attested agent's connection (attestation/client)
  INVALID_STATE: 'an object was used after it was closed, discarded or already used, or before it was started',
  CONNECTION_FAILED: 'the connection to the server failed, timed out or closed before its certificate was verified',
  ATTESTATION_REFUSED: 'the attested agent refused a server whose verdict names no registered error code (a custom verifier)',
  MEASUREMENT_NOT_LOGGED: 'the attested launch measurement is in no measurements statement of the transparency log that a pinned publisher key signed (--log)',
  HARDWARE_POLICY_VERSION: 'a hardware policy statement\'s version is not above the one published before (cloister publish), or is below the newest one the client accepted',
  HARDWARE_POLICY_NOT_LOGGED: 'a client that requires a logged hardware policy (--require-hardware-policy) was given a transparency log that publishes none',
  WEB_PAGE_NOT_LOGGED: 'the verify page whose web-manifest.json has this SHA-256 is in no statement of the transparency log that a pinned publisher key signed (cloister verify-web)',
  TLOG_UNAVAILABLE: 'the transparency log (--log URL) did not answer with a file the client needs in time: a network failure, the time limit, or an HTTP status other than 200 or 404',
  MEASUREMENT_SOURCE_MISSING: 'a client that sends data (OhttpClient, the attested agent) was given no launch measurement to accept for the platform, in its policy or a measurements file, nor anyMeasurement',
  // the fleet directory and its client (attestation/fleet, attestation/client/fleetClient.ts)
  MALFORMED_FLEET_DIRECTORY: 'a fleet directory is not cloister-fleet/v1 JSON: a member is missing or malformed, names repeat, key ID ranges overlap, or a key configuration lies outside its node\'s range',
  FLEET_DIRECTORY_INCONSISTENT: 'the fleet directory fetched directly differs from the one the relay serves, even past every cache: the operator may be showing this client a directory of its own',
  FLEET_NO_NODE: 'no node of the fleet directory passed verification (or none was left to retry on)',
  FLEET_ENTRY_MISMATCH: 'a fleet directory entry lists key configurations, a key ID range or an evidence digest other than what its verified certificate binds',
  // launch-measurement calculators (attestation/measure)
  MEASUREMENT_INPUT: 'the inputs of a launch-measurement calculation are out of range or contradict the firmware (a kernel for a firmware without a kernel-hashes section, an unknown vCPU type)',
  // fetching Intel PCS collateral (attestation/tdx/pcsClient.ts)
  COLLATERAL_UNAVAILABLE: 'Intel PCS (or the caching service standing in for it) did not give usable collateral: a network failure, an HTTP status other than 200, or a response without its signed body, signature or issuer chain',
  // validate: the caller's policy
  POLICY_DEBUG: 'guest policy allows debugging',
  POLICY_MIGRATION_AGENT: 'guest policy allows a migration agent',
  POLICY_RESERVED_BITS: 'reserved bits are set in a policy, platform-info or key-info field',
  POLICY_PLATFORM_FEATURE: 'a guest-policy or PLATFORM_INFO bit differs from a feature the policy requires (SMT disabled, TSME, ciphertext hiding)',
  POLICY_PROVISIONAL_FIRMWARE: 'CURRENT_TCB or the current firmware version differs from the committed one, or REPORTED_TCB is above COMMITTED_TCB (provisional firmware)',
  POLICY_TCB_TOO_LOW: 'a TCB component (REPORTED, CURRENT, COMMITTED or LAUNCH_TCB) is below the policy minimum',
  POLICY_FIRMWARE_TOO_OLD: 'firmware version or build is below the policy minimum',
  POLICY_GUEST_SVN_TOO_LOW: 'GUEST_SVN is below the policy minimum',
  POLICY_VMPL: 'VMPL differs from the policy',
  POLICY_MEASUREMENT: 'MEASUREMENT is not in the allowed list',
  POLICY_HOST_DATA: 'HOST_DATA differs from the policy',
  POLICY_REPORT_DATA: 'REPORT_DATA differs from the expected value',
  POLICY_ID_KEY: 'ID key digest is not in the allowed list',
  POLICY_AUTHOR_KEY: 'author key digest is not in the allowed list',
  POLICY_SIGNING_KEY: 'the report is signed by a key kind (VCEK/VLEK) the policy does not allow',
  POLICY_CHIP_ID: 'CHIP_ID is not in the allowed list',
  POLICY_CSP_ID: 'the VLEK\'s CSP identity is not in the allowed list',
  TCB_STATUS: 'the TCB status Intel\'s collateral gives is not among the accepted ones (default UpToDate)',
  POLICY_TCB_EVALUATION_DATA_NUMBER: 'the TDX TCB was evaluated with collateral older than the logged hardware policy\'s minimum TCB evaluation data number',
  POLICY_TD_ATTRIBUTES: 'TDATTRIBUTES has SEPT_VE_DISABLE clear or reserved bits set, or MR_SERVICETD is not allowed',
  POLICY_TD_CONFIG: 'MRCONFIGID, MROWNER, MROWNERCONFIG or XFAM differs from the policy',
  POLICY_MRSEAM: 'MRSEAM (the TDX module measurement) is not in the allowed list',
} as const;

/** A code of the SDK's registry. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The parse group of ERROR_CODES: the input does not have its format's shape. A verdict failing with one of these failed on its input, not on its evidence. */
export const PARSE_ERROR_CODES = [
  'TRUNCATED',
  'TRAILING_BYTES',
  'UNSUPPORTED_VERSION',
  'UNSUPPORTED_ALGORITHM',
  'RESERVED_NONZERO',
  'MALFORMED_FIELD',
  'MALFORMED_DER',
  'MALFORMED_CERT_TABLE',
  'MALFORMED_EVIDENCE',
  'MALFORMED_POLICY',
  'MALFORMED_COLLATERAL',
] as const satisfies readonly ErrorCode[];

export function isParseErrorCode(code: string): boolean {
  return (PARSE_ERROR_CODES as readonly string[]).includes(code);
}

/**
 * Every registry a CloisterError's code may come from, by code. The SDK's own here; a program that raises
 * CloisterErrors of its own adds its registry by augmenting this interface (src/base/runtimeErrors.ts does), so that
 * `instanceof CloisterError` narrows `code` to the union of both. Built alone, the SDK knows only its codes.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- an interface, so that a program can merge its registry into it
export interface CloisterErrorCodes extends Readonly<typeof ERROR_CODES> {}

/** A code of any registry known to the program: ErrorCode, plus those merged into CloisterErrorCodes. */
export type AnyErrorCode = keyof CloisterErrorCodes;

export interface ErrorDetails {
  readonly field?: string;
  readonly expected?: string;
  readonly actual?: string;
  readonly offset?: number;
  readonly cause?: unknown;
}

export class CloisterError extends Error {
  readonly code: AnyErrorCode;
  readonly field: string | undefined;
  readonly expected: string | undefined;
  readonly actual: string | undefined;

  constructor(code: AnyErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.field = details.field;
    this.expected = details.expected;
    this.actual = details.actual;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.expected === undefined ? {} : { expected: this.expected }),
      ...(this.actual === undefined ? {} : { actual: this.actual }),
    };
  }
}

export class ParseError extends CloisterError {
  readonly offset: number | undefined;
  constructor(code: AnyErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.offset = details.offset;
  }
}

export class VerificationError extends CloisterError {}

export class PolicyError extends CloisterError {}


