// Intel TDX DCAP quotes, versions 4 and 5, with ECDSA P-256 attestation keys, as specified in "Intel TDX
// DCAP: Quote Generation Library and Quote Verification Library" (Intel_TDX_DCAP_Quoting_Library_API.pdf,
// download.01.org/intel-sgx/latest/dcap-latest/linux/docs/): Appendix A.3 "Version 4 Quote Format"
// (rev. 0.9 and later: A.3.1 TD Quote Header, A.3.2 TD Quote Body, A.3.8 ECDSA 256-bit Quote Signature
// Data Structure - Version 4, A.3.9 QE Certification Data - Version 4, A.3.10 Enclave Report Body, A.3.11
// QE Report Certification Data) and Appendix A.4 "Version 5 Quote Format" of the revisions that cover TDX
// 1.5 (A.4.2 TD Quote Body Descriptor, A.4.4 TD Quote Body for TDX 1.5). Offsets below are hex, from
// those sections, cross-checked against google/go-tdx-guest abi/abi.go and against the quotes T1..T8.
// All integers are little-endian.
//
//   header   0x000 Version u16 (4 | 5)   0x002 Attestation Key Type u16 (2 = ECDSA-256-with-P-256)
//            0x004 TEE Type u32 (0x81 = TDX)   0x008 RESERVED [2] + RESERVED [2] (zero)
//            0x00C QE Vendor ID [16]           0x01C User Data [20]
//   v4       0x030 TD Quote Body [584]         0x278 Quote Signature Data Len u32   0x27C Quote Signature Data
//   v5       0x030 TD Quote Body Type u16 (2 = TDX 1.0, 584 bytes; 3 = TDX 1.5, 648 bytes)
//            0x032 TD Quote Body Size u32      0x036 TD Quote Body      then Quote Signature Data Len u32, data
//
//   TD Quote Body (offsets from its start)
//            0x000 TEE_TCB_SVN [16]  0x010 MRSEAM [48]   0x040 MRSIGNERSEAM [48]  0x070 SEAMATTRIBUTES u64
//            0x078 TDATTRIBUTES u64  0x080 XFAM u64      0x088 MRTD [48]          0x0B8 MRCONFIGID [48]
//            0x0E8 MROWNER [48]      0x118 MROWNERCONFIG [48]                     0x148 RTMR0..3 [4 x 48]
//            0x208 REPORTDATA [64]   0x248 end of a TDX 1.0 body
//            TDX 1.5 only: 0x248 TEE_TCB_SVN_2 [16]  0x258 MRSERVICETD [48]   0x288 end
//
//   Quote Signature Data (offsets from its start)
//            0x000 ECDSA signature r||s [64] over header .. end of the body (big-endian r and s)
//            0x040 ECDSA attestation key x||y [64]
//            0x080 Certification Data Type u16 (6 = QE Report Certification Data)   0x082 Size u32
//            0x086 QE Report Certification Data:
//                  +0x000 QE Report [384] (enclave report body)   +0x180 QE Report Signature r||s [64]
//                  +0x1C0 QE Authentication Data size u16         +0x1C2 QE Authentication Data
//                  then QE Certification Data: type u16 (5 = PCK certificate chain), size u32,
//                  data (PEM: PCK certificate || PCK Platform/Processor CA || Root CA)
//
// The quote ends with the signature data; bytes after it are accepted only when they are all zero:
// quotes are returned in, and often copied out of, fixed-size buffers (the TDG.VP.VMCALL<GetQuote> shared
// buffer, quote-generation library output buffers), so captured quotes carry zero padding (T3 has 3065
// bytes of it, T6..T8 70). Nothing signs those bytes, so anything but zeros there is rejected rather than
// silently carried along; `paddingSize` keeps the count so that a quote serializes back byte for byte.
import { dataView, fromBase64, isAllZero, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';

export const QUOTE_VERSIONS = [4, 5] as const;
export type QuoteVersion = (typeof QUOTE_VERSIONS)[number];
const isQuoteVersion = (n: number): n is QuoteVersion => (QUOTE_VERSIONS as readonly number[]).includes(n);

export const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
export const TEE_TYPE_TDX = 0x81;
export const CERTIFICATION_DATA_QE_REPORT = 6;
export const CERTIFICATION_DATA_PCK_CHAIN = 5;

/** TD Quote Body types of a version 5 quote (A.4.2); a version 4 body has the TDX 1.0 layout. */
export const TD_BODY_TYPE = { tdx10: 2, tdx15: 3 } as const;
export type TdBodyType = (typeof TD_BODY_TYPE)[keyof typeof TD_BODY_TYPE];
const isTdBodyType = (n: number): n is TdBodyType => n === TD_BODY_TYPE.tdx10 || n === TD_BODY_TYPE.tdx15;

export const HEADER_SIZE = 0x30;
export const TD_REPORT10_SIZE = 0x248;
export const TD_REPORT15_SIZE = 0x288;
export const QE_REPORT_SIZE = 0x180;
/** The Intel SGX QE vendor (A.3.1). */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';

const V4_BODY_START = 0x030;
const V5_BODY_TYPE = 0x030;
const V5_BODY_SIZE = 0x032;
const V5_BODY_START = 0x036;
// Quote Signature Data, relative to its start.
const SIG_SIGNATURE = 0x000;
const SIG_ATTESTATION_KEY = 0x040;
const SIG_CERT_TYPE = 0x080;
const SIG_CERT_SIZE = 0x082;
const SIG_CERT_DATA = 0x086;
// QE Report Certification Data, relative to its start.
const QE_REPORT_SIGNATURE = 0x180;
const QE_AUTH_SIZE = 0x1c0;
const QE_AUTH_DATA = 0x1c2;

/** TDATTRIBUTES bits (Intel TDX Module ABI, TD ATTRIBUTES); the rest stay in `raw` for policies. */
export interface TdAttributes {
  readonly raw: bigint;
  /** Bit 0: the TD runs in debug mode; the host can read and change its state. */
  readonly debug: boolean;
  /** Bit 28: EPT violations on pending pages are not turned into #VE. */
  readonly septVeDisable: boolean;
  /** Bit 29: the TD may be migrated. */
  readonly migratable: boolean;
  /** Bit 30: protection keys for supervisor pages. */
  readonly pks: boolean;
  /** Bit 31: key locker. */
  readonly kl: boolean;
  /** Bit 63: the TD may use performance monitoring. */
  readonly perfmon: boolean;
}

export function decodeTdAttributes(raw: bigint): TdAttributes {
  const bit = (n: number): boolean => ((raw >> BigInt(n)) & 1n) === 1n;
  return Object.freeze({ raw, debug: bit(0), septVeDisable: bit(28), migratable: bit(29), pks: bit(30), kl: bit(31), perfmon: bit(63) });
}

export interface QuoteHeader {
  readonly version: QuoteVersion;
  readonly attestationKeyType: number;
  readonly teeType: number;
  readonly qeVendorId: Uint8Array;
  readonly userData: Uint8Array;
}

export interface TdReportBody {
  /** 2 (TDX 1.0 layout, 584 bytes; always for version 4) or 3 (TDX 1.5, 648 bytes). */
  readonly bodyType: TdBodyType;
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: bigint;
  readonly tdAttributes: TdAttributes;
  readonly xfam: bigint;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  /** RTMR0..RTMR3. */
  readonly rtmrs: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly reportData: Uint8Array;
  /** TDX 1.5 bodies only. */
  readonly teeTcbSvn2: Uint8Array | undefined;
  readonly mrServiceTd: Uint8Array | undefined;
}

/**
 * The Quoting Enclave's SGX report (A.3.10). A.3.10 calls 0x014..0x030, 0x0A0..0x100 and 0x104..0x140
 * reserved; the SGX SDK's sgx_report_body_t defines the key-separation fields ISVEXTPRODID (0x020),
 * CONFIGID (0x0C0), CONFIGSVN (0x104) and ISVFAMILYID (0x130) there, so they are read as fields and only
 * the bytes reserved in both are must-be-zero.
 */
export interface QeReport {
  readonly cpuSvn: Uint8Array;
  readonly miscSelect: number;
  readonly isvExtProdId: Uint8Array;
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly configId: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly configSvn: number;
  readonly isvFamilyId: Uint8Array;
  /** SHA-256(attestation key || QE authentication data) followed by 32 zero bytes. */
  readonly reportData: Uint8Array;
  /** The 384 bytes the QE report signature covers. */
  readonly raw: Uint8Array;
}

export type QeReportFields = Omit<QeReport, 'raw'>;

export interface TdxQuote {
  readonly header: QuoteHeader;
  readonly body: TdReportBody;
  /** ECDSA P-256 r||s (big-endian, 32 bytes each) over `signedBytes`, by the attestation key. */
  readonly signature: Uint8Array;
  /** The attestation key as the uncompressed point x||y (64 bytes, no 0x04 prefix). */
  readonly attestationKey: Uint8Array;
  readonly qeReport: QeReport;
  /** ECDSA P-256 r||s over the 384-byte QE report, by the PCK key. */
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** The certification data of type 5 exactly as stored: PEM text, often ending in a NUL byte. */
  readonly pckCertChain: Uint8Array;
  /** DER of every certificate in `pckCertChain`, in order (PCK certificate first). */
  readonly pckCertificates: readonly Uint8Array[];
  /** How many zero bytes follow the signature data. */
  readonly paddingSize: number;
  /** Header and body (for version 5 including the body descriptor): what the quote signature covers. */
  readonly signedBytes: Uint8Array;
  readonly raw: Uint8Array;
}

export type TdxQuoteFields = Omit<TdxQuote, 'signedBytes' | 'raw' | 'pckCertificates' | 'qeReport'> & { readonly qeReport: QeReportFields };

const hex = (n: number): string => `0x${n.toString(16).padStart(3, '0')}`;

function truncated(field: string, what: string, need: number, have: number): never {
  throw new ParseError('TRUNCATED', `TDX quote is ${have} bytes, ${what} needs ${need}`, { field, expected: `>= ${need}`, actual: String(have), offset: have });
}

function malformed(field: string, message: string, offset: number, expected: string, actual: string): never {
  throw new ParseError('MALFORMED_FIELD', message, { field, expected, actual, offset });
}

function mustBeZero(bytes: Uint8Array, start: number, end: number, field: string): void {
  const slice = bytes.subarray(start, end);
  if (!isAllZero(slice)) {
    throw new ParseError('RESERVED_NONZERO', `must-be-zero range ${hex(start)}..${hex(end)} (${field}) holds ${toHex(slice)}`, {
      field,
      expected: 'zero',
      actual: toHex(slice),
      offset: start,
    });
  }
}

/** Parses the 384-byte QE report; `at` is its offset in the quote, for error messages. */
export function parseQeReport(bytes: Uint8Array, at = 0): QeReport {
  if (bytes.length !== QE_REPORT_SIZE) {
    throw new ParseError('TRUNCATED', `QE report is ${bytes.length} bytes, expected ${QE_REPORT_SIZE}`, { field: 'QE Report', expected: String(QE_REPORT_SIZE), actual: String(bytes.length), offset: at });
  }
  mustBeZero(bytes, 0x014, 0x020, 'QE Report reserved after MISCSELECT');
  mustBeZero(bytes, 0x060, 0x080, 'QE Report reserved after MRENCLAVE');
  mustBeZero(bytes, 0x0a0, 0x0c0, 'QE Report reserved after MRSIGNER');
  mustBeZero(bytes, 0x106, 0x130, 'QE Report reserved after CONFIGSVN');
  const v = dataView(bytes);
  const raw = bytes.slice();
  const slice = (start: number, size: number): Uint8Array => bytes.slice(start, start + size);
  return Object.freeze({
    cpuSvn: slice(0x000, 16),
    miscSelect: v.getUint32(0x010, true),
    isvExtProdId: slice(0x020, 16),
    attributes: slice(0x030, 16),
    mrEnclave: slice(0x040, 32),
    mrSigner: slice(0x080, 32),
    configId: slice(0x0c0, 64),
    isvProdId: v.getUint16(0x100, true),
    isvSvn: v.getUint16(0x102, true),
    configSvn: v.getUint16(0x104, true),
    isvFamilyId: slice(0x130, 16),
    reportData: slice(0x140, 64),
    raw,
  });
}

export function serializeQeReport(r: QeReportFields): Uint8Array {
  const out = new Uint8Array(QE_REPORT_SIZE);
  const v = dataView(out);
  out.set(r.cpuSvn, 0x000);
  v.setUint32(0x010, r.miscSelect, true);
  out.set(r.isvExtProdId, 0x020);
  out.set(r.attributes, 0x030);
  out.set(r.mrEnclave, 0x040);
  out.set(r.mrSigner, 0x080);
  out.set(r.configId, 0x0c0);
  v.setUint16(0x100, r.isvProdId, true);
  v.setUint16(0x102, r.isvSvn, true);
  v.setUint16(0x104, r.configSvn, true);
  out.set(r.isvFamilyId, 0x130);
  out.set(r.reportData, 0x140);
  return out;
}

function parseBody(bytes: Uint8Array, start: number, bodyType: TdBodyType): TdReportBody {
  const v = dataView(bytes);
  const slice = (off: number, size: number): Uint8Array => bytes.slice(start + off, start + off + size);
  const rtmr = (i: number): Uint8Array => slice(0x148 + 0x30 * i, 0x30);
  const tdx15 = bodyType === TD_BODY_TYPE.tdx15;
  return Object.freeze({
    bodyType,
    teeTcbSvn: slice(0x000, 16),
    mrSeam: slice(0x010, 48),
    mrSignerSeam: slice(0x040, 48),
    seamAttributes: v.getBigUint64(start + 0x070, true),
    tdAttributes: decodeTdAttributes(v.getBigUint64(start + 0x078, true)),
    xfam: v.getBigUint64(start + 0x080, true),
    mrTd: slice(0x088, 48),
    mrConfigId: slice(0x0b8, 48),
    mrOwner: slice(0x0e8, 48),
    mrOwnerConfig: slice(0x118, 48),
    rtmrs: Object.freeze([rtmr(0), rtmr(1), rtmr(2), rtmr(3)] as const),
    reportData: slice(0x208, 64),
    teeTcbSvn2: tdx15 ? slice(0x248, 16) : undefined,
    mrServiceTd: tdx15 ? slice(0x258, 48) : undefined,
  });
}

function writeBody(out: Uint8Array, start: number, b: TdReportBody): void {
  const v = dataView(out);
  out.set(b.teeTcbSvn, start + 0x000);
  out.set(b.mrSeam, start + 0x010);
  out.set(b.mrSignerSeam, start + 0x040);
  v.setBigUint64(start + 0x070, b.seamAttributes, true);
  v.setBigUint64(start + 0x078, b.tdAttributes.raw, true);
  v.setBigUint64(start + 0x080, b.xfam, true);
  out.set(b.mrTd, start + 0x088);
  out.set(b.mrConfigId, start + 0x0b8);
  out.set(b.mrOwner, start + 0x0e8);
  out.set(b.mrOwnerConfig, start + 0x118);
  b.rtmrs.forEach((r, i) => { out.set(r, start + 0x148 + 0x30 * i); });
  out.set(b.reportData, start + 0x208);
  if (b.bodyType === TD_BODY_TYPE.tdx15) {
    out.set(b.teeTcbSvn2 ?? new Uint8Array(16), start + 0x248);
    out.set(b.mrServiceTd ?? new Uint8Array(48), start + 0x258);
  }
}

const PEM_CERTIFICATE = /[ \t\r\n]*-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\r\n]*)-----END CERTIFICATE-----/y;

/**
 * Splits certification data type 5 into DER certificates. It must be PEM CERTIFICATE blocks separated
 * by whitespace and nothing else; the Quote Generation Library writes it as a C string, so NUL bytes at
 * the very end are allowed (newer quotes end in one, older ones do not).
 */
function splitPckChain(data: Uint8Array, at: number): Uint8Array[] {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  let text = '';
  for (let i = 0; i < end; i++) text += String.fromCharCode(data[i] as number);
  const certificates: Uint8Array[] = [];
  let pos = 0;
  for (;;) {
    PEM_CERTIFICATE.lastIndex = pos;
    const m = PEM_CERTIFICATE.exec(text);
    if (m === null) break;
    certificates.push(fromBase64(m[1] as string, 'PCK Cert Chain'));
    pos = PEM_CERTIFICATE.lastIndex;
  }
  const rest = text.slice(pos);
  if (!/^[ \t\r\n]*$/.test(rest)) {
    const first = pos + rest.search(/[^ \t\r\n]/);
    malformed('PCK Cert Chain', `PCK certificate chain (certification data type 5) holds bytes at ${hex(at + first)} that are not a PEM CERTIFICATE block`, at + first, 'PEM CERTIFICATE blocks', JSON.stringify(rest.slice(rest.search(/[^ \t\r\n]/)).slice(0, 40)));
  }
  if (certificates.length === 0) malformed('PCK Cert Chain', 'PCK certificate chain (certification data type 5) holds no PEM CERTIFICATE block', at, '>= 1 certificate', '0');
  return certificates;
}

/**
 * Checks the shape of a TDX quote (sizes, version, key and TEE types, the nesting of the certification
 * data, must-be-zero ranges, trailing bytes) and returns its fields. No signature is checked here.
 */
export function parseQuote(bytes: Uint8Array): TdxQuote {
  if (bytes.length < HEADER_SIZE) truncated('Quote Header', 'the quote header', HEADER_SIZE, bytes.length);
  const v = dataView(bytes);
  const version = v.getUint16(0x000, true);
  if (!isQuoteVersion(version)) {
    throw new ParseError('UNSUPPORTED_VERSION', `TDX quote version ${version} is not supported (supported: ${QUOTE_VERSIONS.join(', ')})`, {
      field: 'Version',
      expected: QUOTE_VERSIONS.join('|'),
      actual: String(version),
      offset: 0x000,
    });
  }
  const attestationKeyType = v.getUint16(0x002, true);
  if (attestationKeyType !== ATTESTATION_KEY_TYPE_ECDSA_P256) {
    throw new ParseError('UNSUPPORTED_ALGORITHM', `Attestation Key Type is ${attestationKeyType}, expected 2 (ECDSA-256-with-P-256)`, {
      field: 'Attestation Key Type',
      expected: '2',
      actual: String(attestationKeyType),
      offset: 0x002,
    });
  }
  const teeType = v.getUint32(0x004, true);
  if (teeType !== TEE_TYPE_TDX) malformed('TEE Type', `TEE Type is 0x${teeType.toString(16).padStart(8, '0')}, expected 0x00000081 (TDX)`, 0x004, '0x00000081', `0x${teeType.toString(16).padStart(8, '0')}`);
  mustBeZero(bytes, 0x008, 0x00c, 'header RESERVED');

  let bodyType: TdBodyType = TD_BODY_TYPE.tdx10;
  let bodyStart = V4_BODY_START;
  if (version === 5) {
    if (bytes.length < V5_BODY_START) truncated('TD Quote Body Descriptor', 'the TD Quote Body Descriptor', V5_BODY_START, bytes.length);
    const type = v.getUint16(V5_BODY_TYPE, true);
    if (!isTdBodyType(type)) {
      malformed('TD Quote Body Type', `TD Quote Body Type is ${type}, expected 2 (TDX 1.0) or 3 (TDX 1.5)`, V5_BODY_TYPE, '2|3', String(type));
    }
    bodyType = type;
    const size = v.getUint32(V5_BODY_SIZE, true);
    const expected = type === TD_BODY_TYPE.tdx10 ? TD_REPORT10_SIZE : TD_REPORT15_SIZE;
    if (size !== expected) malformed('TD Quote Body Size', `TD Quote Body Size is ${size}, a type ${type} body is ${expected} bytes`, V5_BODY_SIZE, String(expected), String(size));
    bodyStart = V5_BODY_START;
  }
  const bodyEnd = bodyStart + (bodyType === TD_BODY_TYPE.tdx15 ? TD_REPORT15_SIZE : TD_REPORT10_SIZE);
  if (bytes.length < bodyEnd + 4) truncated('TD Quote Body', 'the TD Quote Body and Quote Signature Data Len', bodyEnd + 4, bytes.length);

  const sigLen = v.getUint32(bodyEnd, true);
  const sigStart = bodyEnd + 4;
  const sigEnd = sigStart + sigLen;
  if (sigEnd > bytes.length) truncated('Quote Signature Data', `the Quote Signature Data (Quote Signature Data Len ${sigLen} at ${hex(bodyEnd)})`, sigEnd, bytes.length);
  if (sigLen < SIG_CERT_DATA) {
    malformed('Quote Signature Data Len', `Quote Signature Data Len is ${sigLen}, below the ${SIG_CERT_DATA} bytes of signature, attestation key and certification data header`, bodyEnd, `>= ${SIG_CERT_DATA}`, String(sigLen));
  }
  const certType = v.getUint16(sigStart + SIG_CERT_TYPE, true);
  if (certType !== CERTIFICATION_DATA_QE_REPORT) {
    malformed('Certification Data Type', `Certification Data Type is ${certType}, expected 6 (QE Report Certification Data)`, sigStart + SIG_CERT_TYPE, '6', String(certType));
  }
  const certSize = v.getUint32(sigStart + SIG_CERT_SIZE, true);
  if (certSize !== sigLen - SIG_CERT_DATA) {
    malformed(
      'Certification Data Size',
      `certification data size ${certSize} does not match the ${sigLen - SIG_CERT_DATA} bytes left in the Quote Signature Data (Quote Signature Data Len ${sigLen})`,
      sigStart + SIG_CERT_SIZE,
      String(sigLen - SIG_CERT_DATA),
      String(certSize),
    );
  }
  const qeStart = sigStart + SIG_CERT_DATA;
  if (certSize < QE_AUTH_DATA) {
    malformed('Certification Data Size', `QE Report Certification Data is ${certSize} bytes, below the ${QE_AUTH_DATA} bytes of QE report, signature and authentication data size`, sigStart + SIG_CERT_SIZE, `>= ${QE_AUTH_DATA}`, String(certSize));
  }
  const authSize = v.getUint16(qeStart + QE_AUTH_SIZE, true);
  const innerStart = qeStart + QE_AUTH_DATA + authSize;
  if (innerStart + 6 > sigEnd) {
    malformed('QE Authentication Data size', `QE Authentication Data size ${authSize} leaves no room for the QE Certification Data within the signature data (ends at ${hex(sigEnd)})`, qeStart + QE_AUTH_SIZE, `<= ${sigEnd - 6 - qeStart - QE_AUTH_DATA}`, String(authSize));
  }
  const innerType = v.getUint16(innerStart, true);
  if (innerType !== CERTIFICATION_DATA_PCK_CHAIN) {
    malformed('QE Certification Data Type', `QE Certification Data Type is ${innerType}, expected 5 (PCK certificate chain)`, innerStart, '5', String(innerType));
  }
  const innerSize = v.getUint32(innerStart + 2, true);
  if (innerStart + 6 + innerSize !== sigEnd) {
    malformed('QE Certification Data Size', `PCK certificate chain size ${innerSize} does not match the ${sigEnd - innerStart - 6} bytes left in the QE Report Certification Data`, innerStart + 2, String(sigEnd - innerStart - 6), String(innerSize));
  }
  const padding = bytes.subarray(sigEnd);
  if (!isAllZero(padding)) {
    const first = padding.findIndex((b) => b !== 0);
    throw new ParseError('TRAILING_BYTES', `TDX quote has ${padding.length} bytes after the signature data (ends at ${hex(sigEnd)}); only zero padding is allowed, found ${toHex(padding.subarray(first, first + 16))} at ${hex(sigEnd + first)}`, {
      field: 'quote',
      expected: 'zero padding',
      actual: toHex(padding.subarray(first, first + 16)),
      offset: sigEnd + first,
    });
  }
  const qeReport = parseQeReport(bytes.subarray(qeStart, qeStart + QE_REPORT_SIZE), qeStart);
  const pckCertChain = bytes.slice(innerStart + 6, sigEnd);
  const pckCertificates = Object.freeze(splitPckChain(pckCertChain, innerStart + 6));

  const raw = bytes.slice();
  return Object.freeze({
    header: Object.freeze({ version, attestationKeyType, teeType, qeVendorId: bytes.slice(0x00c, 0x01c), userData: bytes.slice(0x01c, 0x030) }),
    body: parseBody(bytes, bodyStart, bodyType),
    signature: bytes.slice(sigStart + SIG_SIGNATURE, sigStart + SIG_SIGNATURE + 64),
    attestationKey: bytes.slice(sigStart + SIG_ATTESTATION_KEY, sigStart + SIG_ATTESTATION_KEY + 64),
    qeReport,
    qeReportSignature: bytes.slice(qeStart + QE_REPORT_SIGNATURE, qeStart + QE_REPORT_SIGNATURE + 64),
    qeAuthData: bytes.slice(qeStart + QE_AUTH_DATA, qeStart + QE_AUTH_DATA + authSize),
    pckCertChain,
    pckCertificates,
    paddingSize: padding.length,
    signedBytes: raw.subarray(0, bodyEnd),
    raw,
  });
}

/**
 * Writes a quote back to bytes, `paddingSize` zero bytes included; the sizes are computed from the
 * fields. A version 4 quote must have a TDX 1.0 body.
 */
export function serializeQuote(q: TdxQuoteFields): Uint8Array {
  const { version } = q.header;
  const bodyType = q.body.bodyType;
  if (version === 4 && bodyType !== TD_BODY_TYPE.tdx10) {
    throw new ParseError('MALFORMED_FIELD', `a version 4 quote carries a TDX 1.0 body, not body type ${bodyType}`, { field: 'TD Quote Body Type', expected: '2', actual: String(bodyType) });
  }
  if (q.qeAuthData.length > 0xffff) {
    throw new ParseError('MALFORMED_FIELD', `QE Authentication Data is ${q.qeAuthData.length} bytes, its size field holds at most 65535`, { field: 'QE Authentication Data', expected: '<= 65535', actual: String(q.qeAuthData.length) });
  }
  const bodyStart = version === 4 ? V4_BODY_START : V5_BODY_START;
  const bodySize = bodyType === TD_BODY_TYPE.tdx15 ? TD_REPORT15_SIZE : TD_REPORT10_SIZE;
  const bodyEnd = bodyStart + bodySize;
  const certSize = QE_AUTH_DATA + q.qeAuthData.length + 6 + q.pckCertChain.length;
  const sigLen = SIG_CERT_DATA + certSize;
  const sigStart = bodyEnd + 4;
  const out = new Uint8Array(sigStart + sigLen + q.paddingSize);
  const v = dataView(out);
  v.setUint16(0x000, version, true);
  v.setUint16(0x002, q.header.attestationKeyType, true);
  v.setUint32(0x004, q.header.teeType, true);
  out.set(q.header.qeVendorId, 0x00c);
  out.set(q.header.userData, 0x01c);
  if (version === 5) {
    v.setUint16(V5_BODY_TYPE, bodyType, true);
    v.setUint32(V5_BODY_SIZE, bodySize, true);
  }
  writeBody(out, bodyStart, q.body);
  v.setUint32(bodyEnd, sigLen, true);
  out.set(q.signature, sigStart + SIG_SIGNATURE);
  out.set(q.attestationKey, sigStart + SIG_ATTESTATION_KEY);
  v.setUint16(sigStart + SIG_CERT_TYPE, CERTIFICATION_DATA_QE_REPORT, true);
  v.setUint32(sigStart + SIG_CERT_SIZE, certSize, true);
  const qeStart = sigStart + SIG_CERT_DATA;
  out.set(serializeQeReport(q.qeReport), qeStart);
  out.set(q.qeReportSignature, qeStart + QE_REPORT_SIGNATURE);
  v.setUint16(qeStart + QE_AUTH_SIZE, q.qeAuthData.length, true);
  out.set(q.qeAuthData, qeStart + QE_AUTH_DATA);
  const innerStart = qeStart + QE_AUTH_DATA + q.qeAuthData.length;
  v.setUint16(innerStart, CERTIFICATION_DATA_PCK_CHAIN, true);
  v.setUint32(innerStart + 2, q.pckCertChain.length, true);
  out.set(q.pckCertChain, innerStart + 6);
  return out;
}

/** The bytes the quote signature covers for `q`: header and body (and the v5 body descriptor). */
export function quoteSignedBytes(q: TdxQuoteFields): Uint8Array {
  const bodyStart = q.header.version === 4 ? V4_BODY_START : V5_BODY_START;
  const bodySize = q.body.bodyType === TD_BODY_TYPE.tdx15 ? TD_REPORT15_SIZE : TD_REPORT10_SIZE;
  return serializeQuote(q).subarray(0, bodyStart + bodySize);
}
