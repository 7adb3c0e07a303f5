// Test support only (never imported by the library): a development AMD-style chain
// (ARK -> ASK -> VCEK, RSA-PSS SHA-384 and P-384) and reports signed by it, to exercise the
// paths real data cannot reach: CRLs, untrusted roots, arbitrary field values.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { concatBytes, toArrayBufferView } from '../bytes.js';
import { encodeIa5String, encodeSmallInteger } from '../der.js';
import { decodeGuestPolicy, decodeKeyInfo, decodePlatformInfo } from '../snp/fields.js';
import type { Product } from '../snp/product.js';
import { serializeReport, SIGNED_SIZE, type SnpReport } from '../snp/report.js';
import { encodeTcb, type TcbParts } from '../snp/tcb.js';
import { AMD_OID } from '../snp/vek.js';

const crypto = globalThis.crypto;
const PSS = { name: 'RSA-PSS', hash: 'SHA-384', saltLength: 48 } as const;
const DN = 'OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices';



async function rsaKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ ...PSS, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['sign', 'verify']);
}

export interface DevChain {
  readonly product: Product;
  readonly ark: Uint8Array;
  readonly ask: Uint8Array;
  readonly vcek: Uint8Array;
  readonly arkKey: CryptoKey;
  readonly vcekKey: CryptoKey;
  readonly askSerial: string;
  readonly tcb: TcbParts;
  readonly hwId: Uint8Array;
}

export interface DevChainOptions {
  readonly product?: Product;
  readonly tcb?: TcbParts;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Sign the ASK with this key instead of the ARK's (a broken chain). */
  readonly askSignedBy?: CryptoKey;
  /** Common name of the ASK (default SEV-<product>). */
  readonly askCommonName?: string;
  /** Replaces the ASK's extensions (default: CA, keyCertSign + cRLSign). */
  readonly askExtensions?: x509.Extension[];
  /** Replaces the ARK's extensions (default: CA, keyCertSign + cRLSign). */
  readonly arkExtensions?: x509.Extension[];
}

/** The extensions AMD's ARK and ASK carry: a critical CA basicConstraints and keyUsage. */
export function caExtensions(...usages: x509.KeyUsageFlags[]): x509.Extension[] {
  const flags = (usages.length > 0 ? usages : [x509.KeyUsageFlags.keyCertSign, x509.KeyUsageFlags.cRLSign]).reduce<number>((a, u) => a | u, 0);
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- the extension takes OR-ed flags, which no enum member names
  return [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(flags, true)];
}

export async function createDevChain(options: DevChainOptions = {}): Promise<DevChain> {
  const product = options.product ?? 'Milan';
  const tcb = options.tcb ?? { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
  const notBefore = options.notBefore ?? new Date('2024-01-01T00:00:00Z');
  const notAfter = options.notAfter ?? new Date('2049-01-01T00:00:00Z');
  const arkKeys = await rsaKeys();
  const askKeys = await rsaKeys();
  const vcekKeys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
  const ark = await x509.X509CertificateGenerator.create({
    serialNumber: '01',
    subject: `${DN}, CN=ARK-${product}`,
    issuer: `${DN}, CN=ARK-${product}`,
    notBefore,
    notAfter,
    signingAlgorithm: PSS,
    publicKey: arkKeys.publicKey,
    signingKey: arkKeys.privateKey,
    extensions: options.arkExtensions ?? caExtensions(),
  });
  const askSerial = '02a1';
  const askName = options.askCommonName ?? `SEV-${product}`;
  const ask = await x509.X509CertificateGenerator.create({
    serialNumber: askSerial,
    subject: `${DN}, CN=${askName}`,
    issuer: `${DN}, CN=ARK-${product}`,
    notBefore,
    notAfter,
    signingAlgorithm: PSS,
    publicKey: askKeys.publicKey,
    signingKey: options.askSignedBy ?? arkKeys.privateKey,
    extensions: options.askExtensions ?? caExtensions(),
  });
  const hwId = crypto.getRandomValues(new Uint8Array(product === 'Turin' ? 8 : 64));
  const ext = (oid: string, der: Uint8Array): x509.Extension => new x509.Extension(oid, false, toArrayBufferView(der));
  const vcek = await x509.X509CertificateGenerator.create({
    serialNumber: '00',
    subject: `${DN}, CN=SEV-VCEK`,
    issuer: `${DN}, CN=${askName}`,
    notBefore,
    notAfter,
    signingAlgorithm: PSS,
    publicKey: vcekKeys.publicKey,
    signingKey: askKeys.privateKey,
    extensions: [
      ext(AMD_OID.structVersion, encodeSmallInteger(1)),
      ext(AMD_OID.productName, encodeIa5String(product === 'Milan' ? 'Milan-B0' : product)),
      ext(AMD_OID.blSpl, encodeSmallInteger(tcb.bootloader)),
      ext(AMD_OID.teeSpl, encodeSmallInteger(tcb.tee)),
      ext(AMD_OID.snpSpl, encodeSmallInteger(tcb.snp)),
      ext(AMD_OID.ucodeSpl, encodeSmallInteger(tcb.microcode)),
      ...(product === 'Turin' ? [ext(AMD_OID.fmcSpl, encodeSmallInteger(tcb.fmc ?? 0))] : []),
      ext(AMD_OID.hwId, hwId),
    ],
  });
  return {
    product,
    ark: new Uint8Array(ark.rawData),
    ask: new Uint8Array(ask.rawData),
    vcek: new Uint8Array(vcek.rawData),
    arkKey: arkKeys.privateKey,
    vcekKey: vcekKeys.privateKey,
    askSerial,
    tcb,
    hwId,
  };
}

/** A CRL issued by the chain's ARK (or `signingKey`). */
export async function createDevCrl(chain: DevChain, options: { revoked?: string[]; thisUpdate?: Date; nextUpdate?: Date; signingKey?: CryptoKey } = {}): Promise<Uint8Array> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: `${DN}, CN=ARK-${chain.product}`,
    thisUpdate: options.thisUpdate ?? new Date('2025-01-01T00:00:00Z'),
    nextUpdate: options.nextUpdate ?? new Date('2025-12-31T00:00:00Z'),
    entries: (options.revoked ?? []).map((serialNumber) => ({ serialNumber, revocationDate: new Date('2025-01-01T00:00:00Z') })),
    signingAlgorithm: PSS,
    signingKey: options.signingKey ?? chain.arkKey,
  });
  return new Uint8Array(crl.rawData);
}

export type ReportFields = Omit<SnpReport, 'signedBytes' | 'raw' | 'policy' | 'platformInfo' | 'keyInfo'> & {
  readonly policy: bigint;
  readonly platformInfo: bigint;
  readonly keyInfo: number;
};

/** Report fields consistent with `chain`: version 3, a Milan/Genoa/Turin CPUID, the chain's TCB and hwID. */
export function devReportFields(chain: DevChain, overrides: Partial<ReportFields> = {}): ReportFields {
  const tcb = encodeTcb(chain.tcb, chain.product);
  const cpuid = { Milan: { family: 0x19, model: 0x01, stepping: 1 }, Genoa: { family: 0x19, model: 0x11, stepping: 1 }, Turin: { family: 0x1a, model: 0x02, stepping: 1 } }[chain.product];
  return {
    version: 3,
    guestSvn: 1,
    policy: 0x30000n,
    familyId: new Uint8Array(16),
    imageId: new Uint8Array(16),
    vmpl: 0,
    signatureAlgo: 1,
    currentTcb: tcb,
    platformInfo: 0x5n,
    keyInfo: 0,
    reportData: new Uint8Array(64).fill(0xab),
    measurement: new Uint8Array(48).fill(0x11),
    hostData: new Uint8Array(32),
    idKeyDigest: new Uint8Array(48),
    authorKeyDigest: new Uint8Array(48),
    reportId: new Uint8Array(32).fill(7),
    reportIdMa: new Uint8Array(32).fill(0xff),
    reportedTcb: tcb,
    cpuid,
    chipId: concatBytes(chain.hwId, new Uint8Array(64 - chain.hwId.length)),
    committedTcb: tcb,
    currentVersion: { major: 1, minor: 55, build: 21 },
    committedVersion: { major: 1, minor: 55, build: 21 },
    launchTcb: tcb,
    launchMitVector: undefined,
    currentMitVector: undefined,
    signatureR: new Uint8Array(72),
    signatureS: new Uint8Array(72),
    ...overrides,
  };
}

/** Serializes `fields` and signs bytes 0..0x2A0 with the chain's VCEK, as the firmware does. */
export async function signDevReport(chain: DevChain, fields: ReportFields): Promise<Uint8Array> {
  const bytes = serializeReport({
    ...fields,
    policy: decodeGuestPolicy(fields.policy),
    platformInfo: decodePlatformInfo(fields.platformInfo),
    keyInfo: decodeKeyInfo(fields.keyInfo),
  });
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, chain.vcekKey, toArrayBufferView(bytes.subarray(0, SIGNED_SIZE))));
  for (let i = 0; i < 48; i++) {
    bytes[0x2a0 + i] = sig[47 - i] as number;
    bytes[0x2e8 + i] = sig[95 - i] as number;
  }
  return bytes;
}
