// Issues the server's RA-TLS certificate inside the VM (docs/ra-tls.md): a fresh in-memory ECDSA P-256
// key pair (never written anywhere), evidence whose REPORT_DATA binds the key's SubjectPublicKeyInfo
// and the OHTTP key configs, assembled into a `cloister-evidence/v1` bundle and carried in a
// non-critical id-pe-cmw extension of a short-lived self-signed certificate.
import 'reflect-metadata';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { toArrayBufferView } from '../../../attestation/bytes.js';
import { raTlsReportData } from '../../../attestation/ratls/certificateBinding.js';
import { encodeRaTlsExtension, ID_PE_CMW } from '../../../attestation/protocols/ratlsExtension.js';
import { assembleBundle, type BundleInputs } from '../assembleBundle.js';
import type { EvidenceProvider } from '../provider.js';

export const DEFAULT_VALIDITY_SECONDS = 3600;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface IssueOptions {
  readonly provider: EvidenceProvider;
  /** The OHTTP key configurations (RFC 9458 KeyConfig) the server serves, in the order it serves them. */
  readonly keyConfigs: readonly Uint8Array[];
  /** Default 3600. */
  readonly validitySeconds?: number;
  /** Issuance time (notBefore). Default: now. */
  readonly now?: Date;
  /** DNS names for subjectAltName; none by default. */
  readonly dnsNames?: readonly string[];
  /** CRLs, extra certificates or TDX collateral for the bundle. */
  readonly bundleInputs?: BundleInputs;
  /** The Sigstore bundle of this image's logged measurements statement, shipped in the certificate's CMW. */
  readonly transparencyBundle?: Uint8Array;
}

export interface AttestedCertificate {
  readonly certificatePem: string;
  readonly certificateDer: Uint8Array;
  /** The private key, in memory only. */
  readonly privateKey: KeyObject;
  readonly notAfter: Date;
}

export interface CertificateSpec {
  /** Key whose SubjectPublicKeyInfo the certificate carries. */
  readonly publicKey: KeyObject;
  /** Key that signs the certificate; the matching private key for a genuine certificate. */
  readonly signingKey: KeyObject;
  /** extnValue contents of the id-pe-cmw extension, or undefined for none. */
  readonly cmw: Uint8Array | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames?: readonly string[];
}

/** The DER SubjectPublicKeyInfo of `key`, as the certificate will carry it. */
export const spkiOf = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ type: 'spki', format: 'der' }));

// Node's webcrypto CryptoKey and the DOM CryptoKey @peculiar/x509 is typed with are the same object at
// run time; their declarations differ only in the KeyUsage union (Node's adds KEM usages).
const webCryptoKey = (key: KeyObject): CryptoKey => key.toCryptoKey(EC, false, ['sign']) as unknown as CryptoKey;

/** Builds and signs the certificate (separate from issuance so tests can build tampered ones). */
export async function createRaTlsCertificate(spec: CertificateSpec): Promise<Uint8Array> {
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f; // a positive INTEGER (RFC 5280 4.1.2.2)
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
    ...(spec.dnsNames === undefined || spec.dnsNames.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(spec.dnsNames.map((value) => ({ type: 'dns' as const, value })), false)]),
    ...(spec.cmw === undefined ? [] : [new x509.Extension(ID_PE_CMW, false, toArrayBufferView(spec.cmw))]),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: 'CN=cloister',
    issuer: 'CN=cloister',
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    publicKey: toArrayBufferView(spkiOf(spec.publicKey)),
    signingKey: webCryptoKey(spec.signingKey),
    signingAlgorithm: SIGNING,
    extensions,
  });
  return new Uint8Array(cert.rawData);
}

export async function issueAttestedCertificate(options: IssueOptions): Promise<AttestedCertificate> {
  const validitySeconds = options.validitySeconds ?? DEFAULT_VALIDITY_SECONDS;
  if (!Number.isInteger(validitySeconds) || validitySeconds <= 0) throw new RangeError(`validitySeconds must be a positive integer, got ${validitySeconds}`);
  // X.509 times have whole seconds: truncate so notAfter in the certificate equals the one returned.
  const notBefore = new Date(Math.floor((options.now ?? new Date()).getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + validitySeconds * 1000);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const reportData = await raTlsReportData(spkiOf(publicKey), options.keyConfigs);
  const raw = await options.provider.getEvidence({ reportData });
  const bundle = assembleBundle(raw, options.bundleInputs ?? {});
  const certificateDer = await createRaTlsCertificate({
    publicKey,
    signingKey: privateKey,
    cmw: encodeRaTlsExtension({ bundle: bundle.bytes, keyConfigs: options.keyConfigs, ...(options.transparencyBundle === undefined ? {} : { transparencyBundle: options.transparencyBundle }) }),
    notBefore,
    notAfter,
    ...(options.dnsNames === undefined ? {} : { dnsNames: options.dnsNames }),
  });
  return { certificatePem: new x509.X509Certificate(toArrayBufferView(certificateDer)).toString('pem'), certificateDer, privateKey, notAfter };
}
