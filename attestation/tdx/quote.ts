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
import { fromBase64, isAllZero, toHex } from '../bytes.js';
import { readTlv } from '../der.js';
import { ParseError } from '../errors.js';
import { defineLayout } from '../layout.js';

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

// Where the parts sit: the body follows the header (v4) or the v5 body descriptor; the rest follows the body.
const V4_BODY_START = 0x030;
const V5_DESCRIPTOR_START = 0x030;
const V5_BODY_START = 0x036;

/** A.3.1 TD Quote Header. */
const HEADER = defineLayout({
  name: 'Quote Header',
  size: HEADER_SIZE,
  fields: {
    version: { offset: 0x000, size: 2, kind: 'u16' },
    attestationKeyType: { offset: 0x002, size: 2, kind: 'u16' },
    teeType: { offset: 0x004, size: 4, kind: 'u32' },
    reserved: { offset: 0x008, size: 0x04, kind: 'zero', name: 'header RESERVED' },
    qeVendorId: { offset: 0x00c, size: 16, kind: 'bytes' },
    userData: { offset: 0x01c, size: 20, kind: 'bytes' },
  },
});

/** A.4.2 TD Quote Body Descriptor (version 5 only), at 0x030. */
const BODY_DESCRIPTOR = defineLayout({
  name: 'TD Quote Body Descriptor',
  size: V5_BODY_START - V5_DESCRIPTOR_START,
  fields: {
    bodyType: { offset: 0x000, size: 2, kind: 'u16' },
    bodySize: { offset: 0x002, size: 4, kind: 'u32' },
  },
});

/** A.3.2 / A.4.4 TD Quote Body; its variants are the body types, TDX 1.5 adding two fields. */
const BODY = defineLayout({
  name: 'TD Quote Body',
  size: { [TD_BODY_TYPE.tdx10]: TD_REPORT10_SIZE, [TD_BODY_TYPE.tdx15]: TD_REPORT15_SIZE },
  variants: [TD_BODY_TYPE.tdx10, TD_BODY_TYPE.tdx15],
  fields: {
    teeTcbSvn: { offset: 0x000, size: 16, kind: 'bytes' },
    mrSeam: { offset: 0x010, size: 48, kind: 'bytes' },
    mrSignerSeam: { offset: 0x040, size: 48, kind: 'bytes' },
    seamAttributes: { offset: 0x070, size: 8, kind: 'u64' },
    tdAttributes: { offset: 0x078, size: 8, kind: 'u64' },
    xfam: { offset: 0x080, size: 8, kind: 'u64' },
    mrTd: { offset: 0x088, size: 48, kind: 'bytes' },
    mrConfigId: { offset: 0x0b8, size: 48, kind: 'bytes' },
    mrOwner: { offset: 0x0e8, size: 48, kind: 'bytes' },
    mrOwnerConfig: { offset: 0x118, size: 48, kind: 'bytes' },
    rtmr0: { offset: 0x148, size: 48, kind: 'bytes' },
    rtmr1: { offset: 0x178, size: 48, kind: 'bytes' },
    rtmr2: { offset: 0x1a8, size: 48, kind: 'bytes' },
    rtmr3: { offset: 0x1d8, size: 48, kind: 'bytes' },
    reportData: { offset: 0x208, size: 64, kind: 'bytes' },
    teeTcbSvn2: { offset: 0x248, size: 16, kind: 'bytes', variants: [TD_BODY_TYPE.tdx15] },
    mrServiceTd: { offset: 0x258, size: 48, kind: 'bytes', variants: [TD_BODY_TYPE.tdx15] },
  },
});

/** Quote Signature Data Len, right after the body. */
const SIGNATURE_DATA_LEN = defineLayout({ name: 'Quote Signature Data Len', size: 4, fields: { length: { offset: 0x000, size: 4, kind: 'u32' } } });

/** A.3.8 ECDSA 256-bit Quote Signature Data, up to its certification data (A.3.9 header included). */
const SIGNATURE_DATA = defineLayout({
  name: 'Quote Signature Data',
  size: 0x086,
  fields: {
    signature: { offset: 0x000, size: 64, kind: 'bytes' },
    attestationKey: { offset: 0x040, size: 64, kind: 'bytes' },
    certType: { offset: 0x080, size: 2, kind: 'u16' },
    certSize: { offset: 0x082, size: 4, kind: 'u32' },
  },
});
const SIG_CERT_DATA = SIGNATURE_DATA.size();

/** A.3.11 QE Report Certification Data, up to its QE Authentication Data. */
const QE_CERT_DATA = defineLayout({
  name: 'QE Report Certification Data',
  size: 0x1c2,
  fields: {
    qeReport: { offset: 0x000, size: QE_REPORT_SIZE, kind: 'bytes' },
    qeReportSignature: { offset: 0x180, size: 64, kind: 'bytes' },
    authSize: { offset: 0x1c0, size: 2, kind: 'u16' },
  },
});
const QE_AUTH_DATA = QE_CERT_DATA.size();

/** The QE Certification Data header after the QE Authentication Data: type, then size of the data that follows. */
const INNER_CERT_DATA = defineLayout({
  name: 'QE Certification Data',
  size: 6,
  fields: {
    type: { offset: 0x000, size: 2, kind: 'u16' },
    size: { offset: 0x002, size: 4, kind: 'u32' },
  },
});
const INNER_HEADER = INNER_CERT_DATA.size();

/** A.3.10 Enclave Report Body (see QeReport for the fields read in bytes A.3.10 calls reserved). */
const QE_REPORT = defineLayout({
  name: 'QE report',
  field: 'QE Report',
  size: QE_REPORT_SIZE,
  fields: {
    cpuSvn: { offset: 0x000, size: 16, kind: 'bytes' },
    miscSelect: { offset: 0x010, size: 4, kind: 'u32' },
    reservedAfterMiscSelect: { offset: 0x014, size: 0x0c, kind: 'zero', name: 'QE Report reserved after MISCSELECT' },
    isvExtProdId: { offset: 0x020, size: 16, kind: 'bytes' },
    attributes: { offset: 0x030, size: 16, kind: 'bytes' },
    mrEnclave: { offset: 0x040, size: 32, kind: 'bytes' },
    reservedAfterMrEnclave: { offset: 0x060, size: 0x20, kind: 'zero', name: 'QE Report reserved after MRENCLAVE' },
    mrSigner: { offset: 0x080, size: 32, kind: 'bytes' },
    reservedAfterMrSigner: { offset: 0x0a0, size: 0x20, kind: 'zero', name: 'QE Report reserved after MRSIGNER' },
    configId: { offset: 0x0c0, size: 64, kind: 'bytes' },
    isvProdId: { offset: 0x100, size: 2, kind: 'u16' },
    isvSvn: { offset: 0x102, size: 2, kind: 'u16' },
    configSvn: { offset: 0x104, size: 2, kind: 'u16' },
    reservedAfterConfigSvn: { offset: 0x106, size: 0x2a, kind: 'zero', name: 'QE Report reserved after CONFIGSVN' },
    isvFamilyId: { offset: 0x130, size: 16, kind: 'bytes' },
    reportData: { offset: 0x140, size: 64, kind: 'bytes' },
  },
});

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

/** Parses the 384-byte QE report; `at` is its offset in the quote, for error messages. */
export function parseQeReport(bytes: Uint8Array, at = 0): QeReport {
  if (bytes.length !== QE_REPORT_SIZE) {
    throw new ParseError('TRUNCATED', `QE report is ${bytes.length} bytes, expected ${QE_REPORT_SIZE}`, { field: 'QE Report', expected: String(QE_REPORT_SIZE), actual: String(bytes.length), offset: at });
  }
  return Object.freeze({ ...QE_REPORT.read(bytes, 0), raw: bytes.slice() });
}

export function serializeQeReport(r: QeReportFields): Uint8Array {
  return QE_REPORT.serialize(r);
}

function parseBody(bytes: Uint8Array, start: number, bodyType: TdBodyType): TdReportBody {
  const b = BODY.read(bytes, start, bodyType);
  return Object.freeze({
    bodyType,
    teeTcbSvn: b.teeTcbSvn,
    mrSeam: b.mrSeam,
    mrSignerSeam: b.mrSignerSeam,
    seamAttributes: b.seamAttributes,
    tdAttributes: decodeTdAttributes(b.tdAttributes),
    xfam: b.xfam,
    mrTd: b.mrTd,
    mrConfigId: b.mrConfigId,
    mrOwner: b.mrOwner,
    mrOwnerConfig: b.mrOwnerConfig,
    rtmrs: Object.freeze([b.rtmr0, b.rtmr1, b.rtmr2, b.rtmr3] as const),
    reportData: b.reportData,
    teeTcbSvn2: b.teeTcbSvn2,
    mrServiceTd: b.mrServiceTd,
  });
}

function writeBody(out: Uint8Array, start: number, b: TdReportBody): void {
  const [rtmr0, rtmr1, rtmr2, rtmr3] = b.rtmrs;
  BODY.write(out, start, { ...b, tdAttributes: b.tdAttributes.raw, rtmr0, rtmr1, rtmr2, rtmr3 }, b.bodyType);
}

/** One character per byte, as the offsets in error messages count them. */
const LATIN1 = new TextDecoder('latin1');

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const PEM_BEGIN = ascii('-----BEGIN CERTIFICATE-----');
const PEM_END = ascii('-----END CERTIFICATE-----');
const isSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
const isLineBreak = (b: number): boolean => b === 0x0d || b === 0x0a;
/** A-Z a-z 0-9 + / = */
const isBase64Char = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2b || b === 0x2f || b === 0x3d;

function markerAt(data: Uint8Array, pos: number, end: number, marker: Uint8Array): boolean {
  if (pos + marker.length > end) return false;
  for (let i = 0; i < marker.length; i++) if (data[pos + i] !== marker[i]) return false;
  return true;
}

/**
 * Certification data type 5 as concatenated DER certificates, which some quote generators write instead of PEM:
 * each a SEQUENCE whose length the header gives, with nothing between or after them but NUL padding.
 */
function splitDerChain(data: Uint8Array, end: number, at: number): Uint8Array[] {
  const certificates: Uint8Array[] = [];
  let pos = 0;
  while (pos < end) {
    let next: number;
    try {
      next = readTlv(data.subarray(0, end), pos).next;
    } catch {
      return malformed('PCK Cert Chain', `PCK certificate chain (certification data type 5, DER) holds bytes at ${hex(at + pos)} that are not a DER certificate`, at + pos, 'DER certificates', hex(data[pos] as number));
    }
    if (data[pos] !== 0x30) malformed('PCK Cert Chain', `PCK certificate chain (certification data type 5, DER) holds bytes at ${hex(at + pos)} that are not a DER certificate`, at + pos, 'DER SEQUENCE (0x30)', hex(data[pos] as number));
    certificates.push(data.slice(pos, next));
    pos = next;
  }
  return certificates;
}

/**
 * One PEM CERTIFICATE block at `pos` (after optional whitespace): the offsets of its base64 body, which holds only
 * base64 characters and line breaks, and whether that body is base64 atob decodes (whole quads, '=' only as the
 * last one or two characters); undefined when no such block starts there.
 */
function pemBlockAt(data: Uint8Array, pos: number, end: number): { body: number; bodyEnd: number; next: number; valid: boolean } | undefined {
  let i = pos;
  while (i < end && isSpace(data[i] as number)) i++;
  if (!markerAt(data, i, end, PEM_BEGIN)) return undefined;
  const body = i + PEM_BEGIN.length;
  let count = 0;
  let firstPad = -1;
  let j = body;
  for (; j < end; j++) {
    const b = data[j] as number;
    if (isLineBreak(b)) continue;
    if (!isBase64Char(b)) break;
    if (b === 0x3d && firstPad === -1) firstPad = count;
    count++;
  }
  if (!markerAt(data, j, end, PEM_END)) return undefined;
  const valid = count % 4 === 0 && (firstPad === -1 || firstPad === count - 1 || (firstPad === count - 2 && data[lastNonBreak(data, j)] === 0x3d));
  return { body, bodyEnd: j, next: j + PEM_END.length, valid };
}

function lastNonBreak(data: Uint8Array, end: number): number {
  let i = end - 1;
  while (isLineBreak(data[i] as number)) i--;
  return i;
}

/**
 * Splits certification data type 5 into its certificates, checking their encoding completely but decoding none:
 * the result gives each one's DER when asked (a verifier that has seen this chain before never asks). Intel's
 * Quote Generation Library writes PEM CERTIFICATE blocks separated by whitespace, as a C string, so NUL bytes at
 * the very end are allowed (newer quotes end in one, older ones do not); data that starts with a DER SEQUENCE is
 * read as DER certificates.
 */
function splitPckChain(data: Uint8Array, at: number): (() => Uint8Array)[] {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  if (data[0] === 0x30) return splitDerChain(data, end, at).map((der) => () => der);
  const certificates: (() => Uint8Array)[] = [];
  let pos = 0;
  for (let block = pemBlockAt(data, pos, end); block !== undefined; block = pemBlockAt(data, pos, end)) {
    if (!block.valid) malformed('PCK Cert Chain', `PCK certificate ${certificates.length + 1} (certification data type 5) is not valid base64`, at + pos, 'base64', `${base64Text(data, block.body, block.bodyEnd).length} characters`);
    const { body, bodyEnd } = block;
    certificates.push(() => fromBase64(base64Text(data, body, bodyEnd), 'PCK Cert Chain'));
    pos = block.next;
  }
  let first = pos;
  while (first < end && isSpace(data[first] as number)) first++;
  if (first < end) {
    const rest = LATIN1.decode(data.subarray(first, Math.min(end, first + 40)));
    malformed('PCK Cert Chain', `PCK certificate chain (certification data type 5) holds bytes at ${hex(at + first)} that are not a PEM CERTIFICATE block`, at + first, 'PEM CERTIFICATE blocks', JSON.stringify(rest));
  }
  if (certificates.length === 0) malformed('PCK Cert Chain', 'PCK certificate chain (certification data type 5) holds no PEM CERTIFICATE block', at, '>= 1 certificate', '0');
  return certificates;
}

/** A PEM body's base64 characters, line breaks removed. */
function base64Text(data: Uint8Array, start: number, end: number): string {
  return LATIN1.decode(data.subarray(start, end)).replace(/[\r\n]+/g, '');
}

/**
 * Checks the shape of a TDX quote (sizes, version, key and TEE types, the nesting of the certification
 * data, must-be-zero ranges, trailing bytes) and returns its fields. No signature is checked here.
 */
export function parseQuote(bytes: Uint8Array): TdxQuote {
  if (bytes.length < HEADER_SIZE) truncated('Quote Header', 'the quote header', HEADER_SIZE, bytes.length);
  const version = HEADER.get(bytes, 'version');
  if (!isQuoteVersion(version)) {
    throw new ParseError('UNSUPPORTED_VERSION', `TDX quote version ${version} is not supported (supported: ${QUOTE_VERSIONS.join(', ')})`, {
      field: 'Version',
      expected: QUOTE_VERSIONS.join('|'),
      actual: String(version),
      offset: HEADER.fields.version.offset,
    });
  }
  const attestationKeyType = HEADER.get(bytes, 'attestationKeyType');
  if (attestationKeyType !== ATTESTATION_KEY_TYPE_ECDSA_P256) {
    throw new ParseError('UNSUPPORTED_ALGORITHM', `Attestation Key Type is ${attestationKeyType}, expected 2 (ECDSA-256-with-P-256)`, {
      field: 'Attestation Key Type',
      expected: '2',
      actual: String(attestationKeyType),
      offset: HEADER.fields.attestationKeyType.offset,
    });
  }
  const teeType = HEADER.get(bytes, 'teeType');
  if (teeType !== TEE_TYPE_TDX) malformed('TEE Type', `TEE Type is 0x${teeType.toString(16).padStart(8, '0')}, expected 0x00000081 (TDX)`, HEADER.fields.teeType.offset, '0x00000081', `0x${teeType.toString(16).padStart(8, '0')}`);
  const header = HEADER.read(bytes, 0);

  let bodyType: TdBodyType = TD_BODY_TYPE.tdx10;
  let bodyStart = V4_BODY_START;
  if (version === 5) {
    if (bytes.length < V5_BODY_START) truncated('TD Quote Body Descriptor', 'the TD Quote Body Descriptor', V5_BODY_START, bytes.length);
    const descriptor = BODY_DESCRIPTOR.read(bytes, V5_DESCRIPTOR_START);
    const type = descriptor.bodyType;
    const typeAt = V5_DESCRIPTOR_START + BODY_DESCRIPTOR.fields.bodyType.offset;
    if (!isTdBodyType(type)) malformed('TD Quote Body Type', `TD Quote Body Type is ${type}, expected 2 (TDX 1.0) or 3 (TDX 1.5)`, typeAt, '2|3', String(type));
    bodyType = type;
    const size = descriptor.bodySize;
    const expected = BODY.size(type);
    if (size !== expected) malformed('TD Quote Body Size', `TD Quote Body Size is ${size}, a type ${type} body is ${expected} bytes`, V5_DESCRIPTOR_START + BODY_DESCRIPTOR.fields.bodySize.offset, String(expected), String(size));
    bodyStart = V5_BODY_START;
  }
  const bodyEnd = bodyStart + BODY.size(bodyType);
  if (bytes.length < bodyEnd + 4) truncated('TD Quote Body', 'the TD Quote Body and Quote Signature Data Len', bodyEnd + 4, bytes.length);

  const sigLen = SIGNATURE_DATA_LEN.get(bytes, 'length', bodyEnd);
  const sigStart = bodyEnd + SIGNATURE_DATA_LEN.size();
  const sigEnd = sigStart + sigLen;
  if (sigEnd > bytes.length) truncated('Quote Signature Data', `the Quote Signature Data (Quote Signature Data Len ${sigLen} at ${hex(bodyEnd)})`, sigEnd, bytes.length);
  if (sigLen < SIG_CERT_DATA) {
    malformed('Quote Signature Data Len', `Quote Signature Data Len is ${sigLen}, below the ${SIG_CERT_DATA} bytes of signature, attestation key and certification data header`, bodyEnd, `>= ${SIG_CERT_DATA}`, String(sigLen));
  }
  const sig = SIGNATURE_DATA.read(bytes, sigStart);
  const certType = sig.certType;
  if (certType !== CERTIFICATION_DATA_QE_REPORT) {
    malformed('Certification Data Type', `Certification Data Type is ${certType}, expected 6 (QE Report Certification Data)`, sigStart + SIGNATURE_DATA.fields.certType.offset, '6', String(certType));
  }
  const certSize = sig.certSize;
  const certSizeAt = sigStart + SIGNATURE_DATA.fields.certSize.offset;
  if (certSize !== sigLen - SIG_CERT_DATA) {
    malformed(
      'Certification Data Size',
      `certification data size ${certSize} does not match the ${sigLen - SIG_CERT_DATA} bytes left in the Quote Signature Data (Quote Signature Data Len ${sigLen})`,
      certSizeAt,
      String(sigLen - SIG_CERT_DATA),
      String(certSize),
    );
  }
  const qeStart = sigStart + SIG_CERT_DATA;
  if (certSize < QE_AUTH_DATA) {
    malformed('Certification Data Size', `QE Report Certification Data is ${certSize} bytes, below the ${QE_AUTH_DATA} bytes of QE report, signature and authentication data size`, certSizeAt, `>= ${QE_AUTH_DATA}`, String(certSize));
  }
  const qe = QE_CERT_DATA.read(bytes, qeStart);
  const authSize = qe.authSize;
  const innerStart = qeStart + QE_AUTH_DATA + authSize;
  if (innerStart + INNER_HEADER > sigEnd) {
    malformed('QE Authentication Data size', `QE Authentication Data size ${authSize} leaves no room for the QE Certification Data within the signature data (ends at ${hex(sigEnd)})`, qeStart + QE_CERT_DATA.fields.authSize.offset, `<= ${sigEnd - INNER_HEADER - qeStart - QE_AUTH_DATA}`, String(authSize));
  }
  const inner = INNER_CERT_DATA.read(bytes, innerStart);
  if (inner.type !== CERTIFICATION_DATA_PCK_CHAIN) {
    malformed('QE Certification Data Type', `QE Certification Data Type is ${inner.type}, expected 5 (PCK certificate chain)`, innerStart + INNER_CERT_DATA.fields.type.offset, '5', String(inner.type));
  }
  const chainStart = innerStart + INNER_HEADER;
  if (chainStart + inner.size !== sigEnd) {
    malformed('QE Certification Data Size', `PCK certificate chain size ${inner.size} does not match the ${sigEnd - chainStart} bytes left in the QE Report Certification Data`, innerStart + INNER_CERT_DATA.fields.size.offset, String(sigEnd - chainStart), String(inner.size));
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
  const qeReport = parseQeReport(qe.qeReport, qeStart + QE_CERT_DATA.fields.qeReport.offset);
  const pckCertChain = bytes.slice(chainStart, sigEnd);
  const certificates = splitPckChain(pckCertChain, chainStart);
  let decoded: readonly Uint8Array[] | undefined;

  const raw = bytes.slice();
  const quote = {
    header: Object.freeze({ version, attestationKeyType, teeType, qeVendorId: header.qeVendorId, userData: header.userData }),
    body: parseBody(bytes, bodyStart, bodyType),
    signature: sig.signature,
    attestationKey: sig.attestationKey,
    qeReport,
    qeReportSignature: qe.qeReportSignature,
    qeAuthData: bytes.slice(qeStart + QE_AUTH_DATA, innerStart),
    pckCertChain,
    paddingSize: padding.length,
    signedBytes: raw.subarray(0, bodyEnd),
    raw,
  };
  Object.defineProperty(quote, 'pckCertificates', { enumerable: true, get: () => (decoded ??= Object.freeze(certificates.map((decode) => decode()))) });
  return Object.freeze(quote as typeof quote & { readonly pckCertificates: readonly Uint8Array[] });
}

/** Where the body starts, where it ends, and its size, for a quote version and body type. */
function bodyPlace(version: QuoteVersion, bodyType: TdBodyType): { readonly start: number; readonly size: number; readonly end: number } {
  const start = version === 4 ? V4_BODY_START : V5_BODY_START;
  const size = BODY.size(bodyType);
  return { start, size, end: start + size };
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
  const body = bodyPlace(version, bodyType);
  const certSize = QE_AUTH_DATA + q.qeAuthData.length + INNER_HEADER + q.pckCertChain.length;
  const sigLen = SIG_CERT_DATA + certSize;
  const sigStart = body.end + SIGNATURE_DATA_LEN.size();
  const out = new Uint8Array(sigStart + sigLen + q.paddingSize);
  HEADER.write(out, 0, q.header);
  if (version === 5) BODY_DESCRIPTOR.write(out, V5_DESCRIPTOR_START, { bodyType, bodySize: body.size });
  writeBody(out, body.start, q.body);
  SIGNATURE_DATA_LEN.write(out, body.end, { length: sigLen });
  SIGNATURE_DATA.write(out, sigStart, { signature: q.signature, attestationKey: q.attestationKey, certType: CERTIFICATION_DATA_QE_REPORT, certSize });
  const qeStart = sigStart + SIG_CERT_DATA;
  QE_CERT_DATA.write(out, qeStart, { qeReport: serializeQeReport(q.qeReport), qeReportSignature: q.qeReportSignature, authSize: q.qeAuthData.length });
  out.set(q.qeAuthData, qeStart + QE_AUTH_DATA);
  const innerStart = qeStart + QE_AUTH_DATA + q.qeAuthData.length;
  INNER_CERT_DATA.write(out, innerStart, { type: CERTIFICATION_DATA_PCK_CHAIN, size: q.pckCertChain.length });
  out.set(q.pckCertChain, innerStart + INNER_HEADER);
  return out;
}

/** The bytes the quote signature covers for `q`: header and body (and the v5 body descriptor). */
export function quoteSignedBytes(q: TdxQuoteFields): Uint8Array {
  return serializeQuote(q).subarray(0, bodyPlace(q.header.version, q.body.bodyType).end);
}
