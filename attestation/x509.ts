// X.509 certificates and CRLs (RFC 5280), parsed to the fields attestation chains need.
import { bytesEqual, toHex } from './bytes.js';
import {
  TAG,
  children,
  decodeBitString,
  decodeOid,
  decodeOne,
  decodeSmallInteger,
  decodeString,
  decodeTime,
  expectTag,
  unsignedIntegerBytes,
  type Tlv,
} from './der.js';
import { ParseError } from './errors.js';

export const OID = {
  commonName: '2.5.4.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  secp256r1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  mgf1: '1.2.840.113549.1.1.8',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
} as const;

export interface AlgorithmIdentifier {
  readonly oid: string;
  /** Raw DER of the parameters, if present. */
  readonly params: Tlv | undefined;
}

export interface BasicConstraints {
  readonly ca: boolean;
  readonly pathLength: number | undefined;
}

/** keyUsage bits (RFC 5280 4.2.1.3) that issuers need. */
export interface KeyUsage {
  readonly keyCertSign: boolean;
  readonly cRLSign: boolean;
}

export interface Extension {
  readonly critical: boolean;
  readonly value: Uint8Array;
}

export interface Signed {
  /** The signed bytes (tbsCertificate / tbsCertList), header included. */
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  readonly signature: Uint8Array;
}

export interface Certificate extends Signed {
  readonly der: Uint8Array;
  readonly serialHex: string;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly issuerCommonName: string | undefined;
  readonly subjectCommonName: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  readonly spkiAlgorithm: AlgorithmIdentifier;
  readonly extensions: ReadonlyMap<string, Extension>;
  readonly basicConstraints: BasicConstraints | undefined;
  readonly keyUsage: KeyUsage | undefined;
  /** OIDs of critical extensions this parser does not process. */
  readonly unhandledCritical: readonly string[];
}

export interface Crl extends Signed {
  readonly der: Uint8Array;
  readonly issuer: Uint8Array;
  readonly issuerCommonName: string | undefined;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly revokedSerialsHex: ReadonlySet<string>;
}

function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof ParseError) {
      throw new ParseError('MALFORMED_DER', `${what}: ${cause.message}`, { field: what, cause });
    }
    throw cause;
  }
}

function present(tlv: Tlv | undefined, what: string): Tlv {
  if (tlv === undefined) throw new ParseError('MALFORMED_DER', `${what} is missing`);
  return tlv;
}

function parseAlgorithm(tlv: Tlv | undefined, what: string): AlgorithmIdentifier {
  const parts = children(expectTag(tlv, TAG.SEQUENCE, what));
  return { oid: decodeOid(expectTag(parts[0], TAG.OID, `${what} OID`)), params: parts[1] };
}

function commonName(name: Tlv): string | undefined {
  for (const rdn of children(name)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (type !== undefined && value !== undefined && decodeOid(type) === OID.commonName) return decodeString(value);
    }
  }
  return undefined;
}

const HANDLED_CRITICAL: ReadonlySet<string> = new Set([OID.basicConstraints, OID.keyUsage]);

function parseBasicConstraints(ext: Extension | undefined): BasicConstraints | undefined {
  if (ext === undefined) return undefined;
  const parts = children(decodeOne(ext.value, TAG.SEQUENCE));
  let i = 0;
  let ca = false;
  if (parts[i]?.tag === TAG.BOOLEAN) ca = parts[i++]?.value[0] !== 0;
  const pathLength = parts[i]?.tag === TAG.INTEGER ? decodeSmallInteger(parts[i] as Tlv) : undefined;
  return { ca, pathLength };
}

function parseKeyUsage(ext: Extension | undefined): KeyUsage | undefined {
  if (ext === undefined) return undefined;
  const bits = decodeOne(ext.value, TAG.BIT_STRING).value;
  // Named bits, most significant first: keyCertSign is bit 5 and cRLSign bit 6 of the first octet.
  const first = bits[1] ?? 0;
  return { keyCertSign: (first & 0x04) !== 0, cRLSign: (first & 0x02) !== 0 };
}

function sameAlgorithm(outer: AlgorithmIdentifier, inner: AlgorithmIdentifier): boolean {
  return outer.oid === inner.oid && (outer.params === undefined) === (inner.params === undefined) && (outer.params === undefined || bytesEqual(outer.params.raw, (inner.params as Tlv).raw));
}

function parseSigned(der: Uint8Array, what: string): { tbs: Tlv; signed: Signed } {
  const outer = children(decodeOne(der, TAG.SEQUENCE));
  if (outer.length !== 3) throw new ParseError('MALFORMED_DER', `${what} must have 3 top-level elements, found ${outer.length}`);
  const tbs = expectTag(outer[0], TAG.SEQUENCE, `${what} TBS`);
  return {
    tbs,
    signed: {
      tbs: tbs.raw,
      signatureAlgorithm: parseAlgorithm(outer[1], `${what} signatureAlgorithm`),
      signature: decodeBitString(expectTag(outer[2], TAG.BIT_STRING, `${what} signatureValue`)),
    },
  };
}

export function parseCertificate(der: Uint8Array): Certificate {
  return wrap('certificate', () => {
    const { tbs, signed } = parseSigned(der, 'certificate');
    const f = children(tbs);
    let i = 0;
    if (f[0]?.tag === 0xa0) i++; // [0] version
    const serial = expectTag(f[i++], TAG.INTEGER, 'serialNumber');
    const inner = parseAlgorithm(f[i++], 'tbs signature');
    if (!sameAlgorithm(signed.signatureAlgorithm, inner)) throw new ParseError('MALFORMED_DER', 'signatureAlgorithm differs from the signature algorithm inside tbsCertificate');
    const issuer = expectTag(f[i++], TAG.SEQUENCE, 'issuer');
    const validity = children(expectTag(f[i++], TAG.SEQUENCE, 'validity'));
    const subject = expectTag(f[i++], TAG.SEQUENCE, 'subject');
    const spki = expectTag(f[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo');
    const extensions = new Map<string, Extension>();
    for (; i < f.length; i++) {
      const field = f[i] as Tlv;
      if (field.tag !== 0xa3) continue; // issuerUniqueID / subjectUniqueID
      for (const ext of children(expectTag(children(field)[0], TAG.SEQUENCE, 'extensions'))) {
        const parts = children(ext);
        const oid = decodeOid(expectTag(parts[0], TAG.OID, 'extnID'));
        const critical = parts.length === 3 && parts[1]?.tag === TAG.BOOLEAN && parts[1].value[0] !== 0;
        const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, `extension ${oid}`).value;
        if (extensions.has(oid)) throw new ParseError('MALFORMED_DER', `extension ${oid} appears twice`);
        extensions.set(oid, { critical, value });
      }
    }
    return Object.freeze({
      ...signed,
      der,
      serialHex: toHex(unsignedIntegerBytes(serial)),
      issuer: issuer.raw,
      subject: subject.raw,
      issuerCommonName: commonName(issuer),
      subjectCommonName: commonName(subject),
      notBefore: decodeTime(present(validity[0], 'notBefore')),
      notAfter: decodeTime(present(validity[1], 'notAfter')),
      spki: spki.raw,
      spkiAlgorithm: parseAlgorithm(children(spki)[0], 'subjectPublicKeyInfo algorithm'),
      extensions,
      basicConstraints: parseBasicConstraints(extensions.get(OID.basicConstraints)),
      keyUsage: parseKeyUsage(extensions.get(OID.keyUsage)),
      unhandledCritical: [...extensions].filter(([oid, e]) => e.critical && !HANDLED_CRITICAL.has(oid)).map(([oid]) => oid),
    });
  });
}

export function parseCrl(der: Uint8Array): Crl {
  return wrap('CRL', () => {
    const { tbs, signed } = parseSigned(der, 'CRL');
    const f = children(tbs);
    let i = 0;
    if (f[0]?.tag === TAG.INTEGER) i++; // version
    const inner = parseAlgorithm(f[i++], 'tbs signature');
    if (!sameAlgorithm(signed.signatureAlgorithm, inner)) throw new ParseError('MALFORMED_DER', 'signatureAlgorithm differs from the signature algorithm inside tbsCertList');
    const issuer = expectTag(f[i++], TAG.SEQUENCE, 'issuer');
    const thisUpdate = decodeTime(present(f[i++], 'thisUpdate'));
    let nextUpdate: Date | undefined;
    if (f[i]?.tag === TAG.UTC_TIME || f[i]?.tag === TAG.GENERALIZED_TIME) nextUpdate = decodeTime(f[i++] as Tlv);
    const revoked = new Set<string>();
    if (f[i]?.tag === TAG.SEQUENCE) {
      for (const entry of children(f[i] as Tlv)) {
        revoked.add(toHex(unsignedIntegerBytes(expectTag(children(entry)[0], TAG.INTEGER, 'userCertificate'))));
      }
    }
    return Object.freeze({
      ...signed,
      der,
      issuer: issuer.raw,
      issuerCommonName: commonName(issuer),
      thisUpdate,
      nextUpdate,
      revokedSerialsHex: revoked,
    });
  });
}

/** True when the DER looks like a CRL (TBSCertList has no [0] version tag and no validity sequence). */
export function looksLikeCrl(der: Uint8Array): boolean {
  try {
    const tbs = children(children(decodeOne(der, TAG.SEQUENCE))[0] as Tlv);
    const afterIssuer = tbs[tbs[0]?.tag === TAG.INTEGER ? 3 : 2];
    return afterIssuer?.tag === TAG.UTC_TIME || afterIssuer?.tag === TAG.GENERALIZED_TIME;
  } catch {
    return false;
  }
}
