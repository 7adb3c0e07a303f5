// The wire protocols of the client SDK (package export cloister/attestation/protocols): Oblivious HTTP
// (RFC 9458) and its key configurations (RFC 9540), Binary HTTP (RFC 9292), the HPKE primitives behind
// them (RFC 9180), the size classes messages are padded to, deterministic CBOR (RFC 8949) and the RA-TLS
// certificate extension, and Privacy Pass tokens (RFC 9474, 9577, 9578).
export * from './ohttp/paths.js';
export * from './ohttp/keyConfig.js';
export * from './ohttp/hpke.js';
export * from './ohttp/encapsulation.js';
export * from './bhttp.js';
export * from './padding.js';
export * from './cbor.js';
export * from './httpText.js';
export { encodeRaTlsExtension, decodeRaTlsExtension, ID_PE_CMW, EVIDENCE_MEDIA_TYPE, CMW_LABEL, CMW_INDICATOR, type RaTlsAttestation } from './ratlsExtension.js';
export * from './privacypass/index.js';
// Privacy Pass privately verifiable tokens (RFC 9578 token type 0x0001, VOPRF(P-384, SHA-384) of RFC 9497), as a
// namespace: the Blind RSA type has functions of the same names.
export * as privacyPassType1 from './privacypass/type1.js';
