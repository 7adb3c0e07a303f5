// RFC 3161 timestamps, as Sigstore bundles carry them (timestampVerificationData.rfc3161Timestamps): the DER of a
// TimeStampResp (RFC 3161 section 2.4.2) or of its bare token, a CMS ContentInfo (RFC 5652) around SignedData:
//
//   TimeStampResp ::= SEQUENCE { status PKIStatusInfo (SEQUENCE { status INTEGER 0|1, ... }), timeStampToken ContentInfo }
//   ContentInfo   ::= SEQUENCE { contentType 1.2.840.113549.1.7.2, [0] EXPLICIT SignedData }
//   SignedData    ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo SEQUENCE { eContentType
//                     1.2.840.113549.1.9.16.1.4 (TSTInfo), [0] EXPLICIT OCTET STRING }, [0] IMPLICIT certificates OPTIONAL,
//                     [1] IMPLICIT crls OPTIONAL, signerInfos SET OF SignerInfo }
//   SignerInfo    ::= SEQUENCE { version, sid (IssuerAndSerialNumber | [0] SubjectKeyIdentifier), digestAlgorithm,
//                     [0] IMPLICIT signedAttrs OPTIONAL, signatureAlgorithm, signature OCTET STRING, [1] unsignedAttrs OPTIONAL }
//   TSTInfo       ::= SEQUENCE { version 1, policy OID, messageImprint SEQUENCE { hashAlgorithm, hashedMessage OCTET STRING },
//                     serialNumber INTEGER, genTime GeneralizedTime, accuracy, ordering, nonce, [0] tsa, [1] extensions }
//
// Verification (RFC 3161 section 2.4.2, RFC 5652 section 5.4, as Sigstore applies them): the message imprint is the
// hash of the data Sigstore timestamps (the bundle's signature bytes); the signer is the first certificate of a
// timestamp authority of the trusted root, matched by issuer and serial, trusted at genTime (its validFor window,
// closed) and with every certificate of its chain valid at genTime and signed by the next; the signed attributes
// hold the content type TSTInfo and the message digest of the TSTInfo; the signature over the signed attributes
// (re-tagged as a SET) verifies with the signer's key. Certificates embedded in the token are not trusted.
import { bytesEqual, toArrayBufferView, toHex } from '../bytes.js';
import { TAG, children, decodeOid, decodeOne, expectTag, unsignedIntegerBytes, type Tlv } from '../der.js';
import { CloisterError, ParseError, VerificationError } from '../errors.js';
import type { Hasher, HashName } from '../hash.js';
import { verifySignedBy } from '../signatures.js';
import { OID, parseCertificate, type AlgorithmIdentifier, type Certificate } from '../x509.js';
import { withinWindow, type TrustedAuthority } from './trustedRoot.js';

const OID_ECDSA_SHA512 = '1.2.840.10045.4.3.4';

const CMS_OID = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
} as const;

type TimestampHash = HashName | 'SHA-512';
const HASHES: Readonly<Record<string, TimestampHash>> = { [OID.sha256]: 'SHA-256', [OID.sha384]: 'SHA-384', [OID.sha512]: 'SHA-512' };

/** The Hasher has SHA-256 and SHA-384; TSAs also use SHA-512, hashed here with WebCrypto. */
async function digestOf(hasher: Hasher, name: TimestampHash, data: Uint8Array): Promise<Uint8Array> {
  return name === 'SHA-512' ? new Uint8Array(await globalThis.crypto.subtle.digest(name, toArrayBufferView(data))) : hasher.digest(name, [data]);
}

export interface TimestampToken {
  readonly genTime: Date;
  readonly imprintAlgorithm: string;
  readonly imprint: Uint8Array;
  /** DER Name of the signer's issuer and the signer's serial (hex), from the SignerInfo's sid; undefined for an sid by key identifier. */
  readonly signerIssuer: Uint8Array | undefined;
  readonly signerSerialHex: string | undefined;
  readonly digestAlgorithm: string;
  /** The DER TSTInfo (the eContent). */
  readonly tstInfo: Uint8Array;
  /** The signed attributes re-tagged as SET OF (what the signature covers); undefined when the SignerInfo has none. */
  readonly signedAttributes: Uint8Array | undefined;
  readonly contentTypeAttribute: string | undefined;
  readonly messageDigestAttribute: Uint8Array | undefined;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  readonly signature: Uint8Array;
}

function fail(message: string, cause?: unknown): never {
  throw new ParseError('MALFORMED_TIMESTAMP', `RFC 3161 timestamp: ${message}`, { field: 'rfc3161Timestamps', ...(cause === undefined ? {} : { cause }) });
}

function algorithm(tlv: Tlv | undefined, what: string): AlgorithmIdentifier {
  const [oid, params] = children(expectTag(tlv, TAG.SEQUENCE, what));
  return { oid: decodeOid(expectTag(oid, TAG.OID, `${what} OID`)), params: params?.tag === TAG.NULL ? undefined : params };
}

/** GeneralizedTime YYYYMMDDHHMMSS[.f*]Z (RFC 3161 allows fractions of a second). */
function generalizedTime(tlv: Tlv): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(new TextDecoder().decode(tlv.value));
  if (tlv.tag !== TAG.GENERALIZED_TIME || m === null) fail('genTime is not a GeneralizedTime in UTC');
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const frac = m[7];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s, frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000)));
}

function parseToken(der: Uint8Array): TimestampToken {
  let top = children(decodeOne(der, TAG.SEQUENCE));
  if (top[0]?.tag === TAG.SEQUENCE) {
    // a TimeStampResp: the status, then the token
    const status = children(top[0])[0];
    const code = status === undefined ? -1 : (status.value[0] ?? -1);
    if (status?.tag !== TAG.INTEGER || status.value.length !== 1 || (code !== 0 && code !== 1)) fail(`TimeStampResp status is ${code}, not granted (0 or 1)`);
    if (top[1] === undefined) fail('TimeStampResp carries no token');
    top = children(expectTag(top[1], TAG.SEQUENCE, 'timeStampToken'));
  }
  if (decodeOid(expectTag(top[0], TAG.OID, 'contentType')) !== CMS_OID.signedData) fail('the token is not CMS SignedData');
  const signedData = children(expectTag(children(expectTag(top[1], 0xa0, 'content'))[0], TAG.SEQUENCE, 'SignedData'));
  const encap = children(expectTag(signedData[2], TAG.SEQUENCE, 'encapContentInfo'));
  if (decodeOid(expectTag(encap[0], TAG.OID, 'eContentType')) !== CMS_OID.tstInfo) fail('the signed content is not a TSTInfo');
  const tstInfo = expectTag(children(expectTag(encap[1], 0xa0, 'eContent'))[0], TAG.OCTET_STRING, 'eContent').value;
  const signerInfos = children(expectTag(signedData.at(-1), TAG.SET, 'signerInfos'));
  if (signerInfos.length !== 1) fail(`the token has ${signerInfos.length} SignerInfos, not one`);
  const si = children(expectTag(signerInfos[0], TAG.SEQUENCE, 'SignerInfo'));
  let signerIssuer: Uint8Array | undefined;
  let signerSerialHex: string | undefined;
  if (si[1]?.tag === TAG.SEQUENCE) {
    const [issuer, serial] = children(si[1]);
    signerIssuer = expectTag(issuer, TAG.SEQUENCE, 'sid issuer').raw;
    signerSerialHex = toHex(unsignedIntegerBytes(expectTag(serial, TAG.INTEGER, 'sid serialNumber')));
  }
  const digestAlgorithm = algorithm(si[2], 'digestAlgorithm').oid;
  let i = 3;
  let signedAttributes: Uint8Array | undefined;
  let contentTypeAttribute: string | undefined;
  let messageDigestAttribute: Uint8Array | undefined;
  if (si[i]?.tag === 0xa0) {
    const attrs = si[i++] as Tlv;
    signedAttributes = Uint8Array.from(attrs.raw);
    signedAttributes[0] = TAG.SET; // RFC 5652 5.4: the signature covers the DER of SET OF Attribute, not the [0] IMPLICIT tag
    for (const attr of children(attrs)) {
      const [type, values] = children(expectTag(attr, TAG.SEQUENCE, 'Attribute'));
      const oid = decodeOid(expectTag(type, TAG.OID, 'attrType'));
      const value = children(expectTag(values, TAG.SET, 'attrValues'))[0];
      if (oid === CMS_OID.contentType) contentTypeAttribute = decodeOid(expectTag(value, TAG.OID, 'content-type attribute'));
      if (oid === CMS_OID.messageDigest) messageDigestAttribute = expectTag(value, TAG.OCTET_STRING, 'message-digest attribute').value;
    }
  }
  const signatureAlgorithm = algorithm(si[i++], 'signatureAlgorithm');
  const signature = expectTag(si[i], TAG.OCTET_STRING, 'signature').value;
  const tst = children(decodeOne(tstInfo, TAG.SEQUENCE));
  const [imprintAlg, imprint] = children(expectTag(tst[2], TAG.SEQUENCE, 'messageImprint'));
  return Object.freeze({
    genTime: generalizedTime(expectTag(tst[4], TAG.GENERALIZED_TIME, 'genTime')),
    imprintAlgorithm: algorithm(imprintAlg, 'messageImprint hashAlgorithm').oid,
    imprint: expectTag(imprint, TAG.OCTET_STRING, 'hashedMessage').value,
    signerIssuer,
    signerSerialHex,
    digestAlgorithm,
    tstInfo,
    signedAttributes,
    contentTypeAttribute,
    messageDigestAttribute,
    signatureAlgorithm,
    signature,
  });
}

/** Parses a TimeStampResp or a bare timestamp token; MALFORMED_TIMESTAMP for anything else. */
export function parseTimestamp(der: Uint8Array): TimestampToken {
  try {
    return parseToken(der);
  } catch (cause) {
    if (cause instanceof ParseError && cause.code === 'MALFORMED_TIMESTAMP') throw cause;
    if (cause instanceof CloisterError) return fail(cause.message, cause);
    throw cause;
  }
}

function invalid(message: string, field = 'rfc3161Timestamps', expected?: string, actual?: string): never {
  throw new VerificationError('TIMESTAMP_INVALID', `RFC 3161 timestamp: ${message}`, { field, ...(expected === undefined ? {} : { expected }), ...(actual === undefined ? {} : { actual }) });
}

/** The signature algorithm a CMS signer's key verifies with: ECDSA or RSA PKCS #1 with the SignerInfo's digest when the OID names only the key. */
function signedWith(token: TimestampToken): AlgorithmIdentifier {
  const hash = HASHES[token.digestAlgorithm];
  if (token.signatureAlgorithm.oid === OID.ecPublicKey) return { oid: hash === 'SHA-384' ? OID.ecdsaWithSha384 : hash === 'SHA-512' ? OID_ECDSA_SHA512 : OID.ecdsaWithSha256, params: undefined };
  if (token.signatureAlgorithm.oid === OID.rsaEncryption) return { oid: hash === 'SHA-384' ? OID.sha384WithRsa : OID.sha256WithRsa, params: undefined };
  return token.signatureAlgorithm;
}

/**
 * Verifies a timestamp over `data` (the signature bytes Sigstore timestamps) against the trusted timestamp
 * authorities; returns the verified time. TIMESTAMP_INVALID for every failure.
 */
export async function verifyTimestamp(token: TimestampToken, data: Uint8Array, authorities: readonly TrustedAuthority[], hasher: Hasher): Promise<Date> {
  const imprintHash = HASHES[token.imprintAlgorithm] ?? invalid(`message imprint algorithm ${token.imprintAlgorithm} is not SHA-256, SHA-384 or SHA-512`, 'messageImprint');
  const expected = await digestOf(hasher, imprintHash, data);
  if (!bytesEqual(expected, token.imprint)) invalid('the message imprint is not the hash of the bundle\'s signature', 'messageImprint', toHex(expected), toHex(token.imprint));
  const digestHash = HASHES[token.digestAlgorithm] ?? invalid(`digest algorithm ${token.digestAlgorithm} is not SHA-256, SHA-384 or SHA-512`, 'digestAlgorithm');
  const candidates = authorities.filter((a) => {
    const first = a.certChain[0];
    if (first === undefined) return false;
    const leaf = parseCertificate(first);
    return token.signerIssuer === undefined || (bytesEqual(leaf.issuer, token.signerIssuer) && leaf.serialHex === token.signerSerialHex);
  });
  if (candidates.length === 0) invalid(`no timestamp authority of the trusted root has the signer's certificate (serial ${token.signerSerialHex ?? '?'})`, 'timestampAuthorities');
  const at = token.genTime;
  let lastError: CloisterError | undefined;
  for (const authority of candidates) {
    try {
      await verifyWithAuthority(token, authority, digestHash, at, hasher);
      return at;
    } catch (e) {
      if (!(e instanceof CloisterError)) throw e;
      lastError = e;
    }
  }
  throw lastError ?? invalid('no timestamp authority verifies it');
}

async function verifyWithAuthority(token: TimestampToken, authority: TrustedAuthority, digestHash: TimestampHash, at: Date, hasher: Hasher): Promise<void> {
  const w = authority.validFor;
  if (!withinWindow(w, at)) invalid(`genTime ${at.toISOString()} is outside the window ${w.start.toISOString()}..${w.end?.toISOString() ?? ''} in which the trusted root trusts ${authority.uri}`, 'timestampAuthorities.validFor', `${w.start.toISOString()}..${w.end?.toISOString() ?? ''}`, at.toISOString());
  const chain = authority.certChain.map((c) => parseCertificate(c));
  for (const c of chain) {
    if (at < c.notBefore || at > c.notAfter) invalid(`genTime ${at.toISOString()} is outside the validity of the TSA certificate "${c.subjectCommonName ?? '?'}" (${c.notBefore.toISOString()}..${c.notAfter.toISOString()})`, 'timestampAuthorities.certChain');
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!(await verifySignedBy(chain[i] as Certificate, chain[i + 1] as Certificate))) invalid(`the TSA certificate "${chain[i]?.subjectCommonName ?? '?'}" is not signed by the next of its chain`, 'timestampAuthorities.certChain');
  }
  const signer = chain[0] as Certificate;
  let signed = token.tstInfo;
  if (token.signedAttributes !== undefined) {
    if (token.contentTypeAttribute !== CMS_OID.tstInfo) invalid('the signed content-type attribute is not TSTInfo', 'signedAttrs');
    const digest = await digestOf(hasher, digestHash, token.tstInfo);
    if (token.messageDigestAttribute === undefined || !bytesEqual(digest, token.messageDigestAttribute)) invalid('the signed message-digest attribute is not the digest of the TSTInfo', 'signedAttrs');
    signed = token.signedAttributes;
  }
  let ok: boolean;
  try {
    ok = await verifySignedBy({ tbs: signed, signatureAlgorithm: signedWith(token), signature: token.signature }, signer);
  } catch (cause) {
    return invalid(`the signature cannot be checked: ${cause instanceof Error ? cause.message : String(cause)}`, 'signature');
  }
  if (!ok) invalid(`the signature does not verify with the key of "${signer.subjectCommonName ?? '?'}"`, 'signature');
}
