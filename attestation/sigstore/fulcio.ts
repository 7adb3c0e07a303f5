// Fulcio signing certificates (sigstore/fulcio docs/certificate-specification.md): the leaf's chain to a certificate
// authority of the trusted root, the identity it binds, and its embedded signed certificate timestamps.
//
// Chain: the CA whose first certificate is the leaf's issuer (by name) and verifies its signature, each certificate of
// the CA's chain signed by the next; the CA's validFor window and every certificate's validity must hold at each
// verified time (the integrated time of a promised log entry, the time of an RFC 3161 timestamp). Intermediates in a
// v0.1/v0.2 bundle are not trusted (the root's chain is); a bundle chain that carries a self-signed root is refused.
//
// Identity: the subject alternative name (URI, email or other; certificate-specification "Subject Alternative Name")
// and the OIDC issuer, extension 1.3.6.1.4.1.57264.1.8 (a DER UTF8String), or the deprecated 1.3.6.1.4.1.57264.1.1
// (the raw string).
//
// SCTs (RFC 6962 section 3.2-3.3): extension 1.3.6.1.4.1.11129.2.4.2 holds an OCTET STRING with the TLS-encoded
// SignedCertificateTimestampList; each SCT signs
//   version(1)=0 || signature_type(1)=0 || timestamp(8) || entry_type(2)=1 (precert) || SHA-256(issuer SPKI)(32)
//   || uint24 length || TBSCertificate without the SCT extension || uint16 length || extensions
// At least one SCT must verify with a CT log key of the trusted root valid at the SCT's time.
import { bytesEqual, concatBytes, dataView, toHex } from '../bytes.js';
import { TAG, children, decodeOid, decodeOne, decodeString, encodeSequence, encodeTlv, expectTag, type Tlv } from '../der.js';
import { ParseError, VerificationError } from '../errors.js';
import type { Hasher } from '../hash.js';
import { verifySignedBy } from '../signatures.js';
import { checkValidity } from '../validity.js';
import { parseCertificate, type Certificate } from '../x509.js';
import { importSigstoreKey, type SigstoreCrypto } from './sigstoreKeys.js';
import { withinWindow, type TrustedAuthority, type TrustedLog } from './trustedRoot.js';

export const FULCIO_OID = {
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  issuerV2: '1.3.6.1.4.1.57264.1.8',
  subjectAltName: '2.5.29.17',
  sctList: '1.3.6.1.4.1.11129.2.4.2',
} as const;

export interface CertificateIdentity {
  /** The first URI, email or other name of the subject alternative name extension. */
  readonly subjectAlternativeName: string | undefined;
  readonly issuer: string | undefined;
}

/** Reads the Fulcio identity extensions; a malformed one is MALFORMED_DER. */
export function certificateIdentity(cert: Certificate): CertificateIdentity {
  let subjectAlternativeName: string | undefined;
  const san = cert.extensions.get(FULCIO_OID.subjectAltName);
  if (san !== undefined) {
    for (const name of children(decodeOne(san.value, TAG.SEQUENCE))) {
      // [1] rfc822Name, [6] uniformResourceIdentifier: IA5String content; [0] otherName: OID and [0] EXPLICIT UTF8String
      if (name.tag === 0x81 || name.tag === 0x86) subjectAlternativeName = new TextDecoder().decode(name.value);
      else if (name.tag === 0xa0) {
        const [, value] = children(name);
        const inner = value === undefined ? undefined : children(value)[0];
        if (inner !== undefined) subjectAlternativeName = decodeString(inner);
      }
      if (subjectAlternativeName !== undefined) break;
    }
  }
  const v2 = cert.extensions.get(FULCIO_OID.issuerV2);
  const v1 = cert.extensions.get(FULCIO_OID.issuerV1);
  const issuer = v2 !== undefined ? decodeString(decodeOne(v2.value)) : v1 !== undefined ? new TextDecoder().decode(v1.value) : undefined;
  return Object.freeze({ subjectAlternativeName, issuer });
}

const isSelfSigned = (c: Certificate): boolean => bytesEqual(c.issuer, c.subject);

/** The leaf of the bundle's key material, parsed; a v0.1/v0.2 chain carrying a self-signed root is CERT_CONSTRAINTS. */
export function leafCertificate(certificates: readonly Uint8Array[]): Certificate {
  const [leaf, ...rest] = certificates.map((c) => parseCertificate(c));
  if (leaf === undefined) throw new ParseError('MALFORMED_SIGSTORE_BUNDLE', 'the certificate chain is empty', { field: '$.verificationMaterial.x509CertificateChain.certificates' });
  const root = rest.find(isSelfSigned);
  if (root !== undefined) throw new VerificationError('CERT_CONSTRAINTS', `the bundle's chain carries the root certificate "${root.subjectCommonName ?? '?'}": roots come from the trusted root only`, { field: 'x509CertificateChain' });
  if (leaf.basicConstraints?.ca === true) throw new VerificationError('CERT_CONSTRAINTS', 'the signing certificate is a CA certificate', { field: 'certificate.basicConstraints' });
  return leaf;
}

export interface VerifiedChain {
  readonly authority: TrustedAuthority;
  /** The CA's chain, parsed: the leaf's issuer first. */
  readonly chain: readonly Certificate[];
}

/**
 * The certificate authority of `authorities` that issued `leaf`, with the chain verified and every certificate and
 * the CA's window valid at each of `times`. UNTRUSTED_ROOT when no CA issued it or none is trusted at those times.
 */
export async function verifyCertificateChain(leaf: Certificate, authorities: readonly TrustedAuthority[], times: readonly Date[]): Promise<VerifiedChain> {
  let outsideWindow: TrustedAuthority | undefined;
  for (const authority of authorities) {
    const chain = authority.certChain.map((c) => parseCertificate(c));
    const issuer = chain[0];
    if (issuer === undefined || !bytesEqual(issuer.subject, leaf.issuer) || !(await verifySignedBy(leaf, issuer))) continue;
    if (!times.every((t) => withinWindow(authority.validFor, t))) {
      outsideWindow = authority;
      continue;
    }
    for (let i = 0; i + 1 < chain.length; i++) {
      const child = chain[i] as Certificate;
      if (!(await verifySignedBy(child, chain[i + 1] as Certificate))) {
        throw new VerificationError('CHAIN_SIGNATURE_INVALID', `"${child.subjectCommonName ?? '?'}" of the trusted root's CA ${authority.uri} is not signed by the next certificate of its chain`, { field: 'certificateAuthorities' });
      }
    }
    for (const t of times) checkValidity([leaf, ...chain], t);
    return { authority, chain };
  }
  const when = times.map((t) => t.toISOString()).join(', ');
  if (outsideWindow !== undefined) {
    const w = outsideWindow.validFor;
    throw new VerificationError('UNTRUSTED_ROOT', `the CA ${outsideWindow.uri} that issued the signing certificate is trusted from ${w.start.toISOString()} to ${w.end?.toISOString() ?? '(open)'}, not at ${when}`, {
      field: 'certificateAuthorities.validFor',
      expected: `${w.start.toISOString()}..${w.end?.toISOString() ?? ''}`,
      actual: when,
    });
  }
  throw new VerificationError('UNTRUSTED_ROOT', `no certificate authority of the trusted root issued the signing certificate (issuer "${leaf.issuerCommonName ?? '?'}")`, { field: 'certificate.issuer' });
}

interface Sct {
  readonly logId: Uint8Array;
  readonly timestamp: number;
  readonly extensions: Uint8Array;
  readonly hashAlgorithm: number;
  readonly signatureAlgorithm: number;
  readonly signature: Uint8Array;
}

function sctFail(message: string): never {
  throw new ParseError('MALFORMED_DER', `SCT list: ${message}`, { field: `extension ${FULCIO_OID.sctList}` });
}

function parseSctList(bytes: Uint8Array): Sct[] {
  const view = dataView(bytes);
  if (bytes.length < 2 || view.getUint16(0) !== bytes.length - 2) sctFail('list length does not match');
  const out: Sct[] = [];
  for (let at = 2; at < bytes.length; ) {
    if (at + 2 > bytes.length) sctFail('truncated');
    const length = view.getUint16(at);
    const start = at + 2;
    const end = start + length;
    if (end > bytes.length || length < 1 + 32 + 8 + 2) sctFail('SCT truncated');
    if (bytes[start] !== 0) sctFail(`SCT version ${bytes[start]} is not v1 (0)`);
    const extLength = view.getUint16(start + 41);
    const sigAt = start + 43 + extLength;
    if (sigAt + 4 > end) sctFail('SCT truncated');
    const sigLength = view.getUint16(sigAt + 2);
    if (sigAt + 4 + sigLength !== end) sctFail('SCT signature length does not match');
    out.push({
      logId: bytes.subarray(start + 1, start + 33),
      timestamp: Number(view.getBigUint64(start + 33)),
      extensions: bytes.subarray(start + 43, start + 43 + extLength),
      hashAlgorithm: bytes[sigAt] as number,
      signatureAlgorithm: bytes[sigAt + 1] as number,
      signature: bytes.subarray(sigAt + 4, end),
    });
    at = end;
  }
  return out;
}

/** The TBSCertificate re-encoded without the SCT list extension (the precertificate's TBS). */
function tbsWithoutScts(cert: Certificate): Uint8Array {
  const fields = children(decodeOne(cert.tbs, TAG.SEQUENCE));
  const rebuilt = fields.map((f: Tlv) => {
    if (f.tag !== 0xa3) return f.raw;
    const exts = children(expectTag(children(f)[0], TAG.SEQUENCE, 'extensions')).filter((e) => decodeOid(expectTag(children(e)[0], TAG.OID, 'extnID')) !== FULCIO_OID.sctList);
    return encodeTlv(0xa3, encodeSequence(...exts.map((e) => e.raw)));
  });
  return encodeSequence(...rebuilt);
}

/**
 * Verifies the leaf's embedded SCTs: at least one must verify with a CT log of `ctlogs` (matched by log ID, valid at
 * the SCT's time). SCT_INVALID when none does, or the certificate carries none.
 */
export async function verifyEmbeddedScts(leaf: Certificate, issuer: Certificate, ctlogs: readonly TrustedLog[], hasher: Hasher, crypto: SigstoreCrypto = {}): Promise<number> {
  const ext = leaf.extensions.get(FULCIO_OID.sctList);
  if (ext === undefined) throw new VerificationError('SCT_INVALID', 'the signing certificate carries no signed certificate timestamp', { field: `extension ${FULCIO_OID.sctList}` });
  const scts = parseSctList(decodeOne(ext.value, TAG.OCTET_STRING).value);
  const tbs = tbsWithoutScts(leaf);
  const issuerKeyHash = await hasher.digest('SHA-256', [issuer.spki]);
  let verified = 0;
  for (const sct of scts) {
    const head = new Uint8Array(12);
    const view = dataView(head);
    view.setBigUint64(2, BigInt(sct.timestamp));
    view.setUint16(10, 1); // entry_type precert_entry
    const tail = new Uint8Array(2);
    dataView(tail).setUint16(0, sct.extensions.length);
    const length = Uint8Array.of(tbs.length >> 16, (tbs.length >> 8) & 0xff, tbs.length & 0xff);
    const message = concatBytes(head, issuerKeyHash, length, tbs, tail, sct.extensions);
    for (const log of ctlogs) {
      if (log.spki === undefined || !bytesEqual(log.logId, sct.logId) || !withinWindow(log.validFor, new Date(sct.timestamp))) continue;
      const key = await importSigstoreKey(log.spki, crypto);
      if (await key.verify(sct.signature, message)) {
        verified++;
        break;
      }
    }
  }
  if (verified === 0) {
    throw new VerificationError('SCT_INVALID', `none of the ${scts.length} SCTs of the signing certificate verifies with a CT log key of the trusted root (log IDs ${scts.map((s) => toHex(s.logId)).join(', ')})`, {
      field: `extension ${FULCIO_OID.sctList}`,
    });
  }
  return verified;
}
