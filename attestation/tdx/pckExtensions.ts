// The Intel SGX extensions of a PCK certificate (Intel SGX PCK Certificate and CRL Profile, 1.2.840.113741.1.13.1):
// the platform's TCB as the PCK was certified for it (16 CPUSVN components, PCESVN), its FMSPC and PCE ID, which
// TCB info must name, and whether the PCK CA is the Platform or the Processor CA. Intel encodes the extension as a
// SEQUENCE of (OID, value) pairs, the TCB as a nested SEQUENCE of the same.
import { toHex } from '../bytes.js';
import { children, decodeOid, decodeOne, decodeSmallInteger, expectTag, TAG, type Tlv } from '../der.js';
import { ParseError } from '../errors.js';
import type { Certificate } from '../x509.js';

export const SGX_EXTENSIONS_OID = '1.2.840.113741.1.13.1';
const ARC = SGX_EXTENSIONS_OID;
const OIDS = {
  ppid: `${ARC}.1`,
  tcb: `${ARC}.2`,
  pceId: `${ARC}.3`,
  fmspc: `${ARC}.4`,
  sgxType: `${ARC}.5`,
  platformInstanceId: `${ARC}.6`,
} as const;
const TCB_PCESVN = `${OIDS.tcb}.17`;
const TCB_CPUSVN = `${OIDS.tcb}.18`;
const TAG_ENUMERATED = 0x0a;

export type SgxType = 'Standard' | 'Scalable' | 'ScalableWithIntegrity';
const SGX_TYPES: readonly SgxType[] = ['Standard', 'Scalable', 'ScalableWithIntegrity'];

export interface PckExtensions {
  readonly ppid: Uint8Array;
  /** The 16 SGX TCB component SVNs (TCB info's sgxtcbcomponents are matched against these). */
  readonly cpuSvnComponents: readonly number[];
  readonly pceSvn: number;
  /** CPUSVN as 16 raw bytes. */
  readonly cpuSvn: Uint8Array;
  /** Two bytes; TCB info's pceId in hex must equal it. */
  readonly pceId: Uint8Array;
  /** Six bytes; TCB info's fmspc in hex must equal it. */
  readonly fmspc: Uint8Array;
  readonly sgxType: SgxType;
  readonly platformInstanceId: Uint8Array | undefined;
}

function malformed(message: string, field: string): never {
  throw new ParseError('MALFORMED_DER', `PCK certificate SGX extensions: ${message}`, { field });
}

/** The (OID, value) pairs of one SEQUENCE level, each OID once. */
function pairs(seq: Tlv, where: string): Map<string, Tlv> {
  const out = new Map<string, Tlv>();
  for (const entry of children(expectTag(seq, TAG.SEQUENCE, where))) {
    const [oidTlv, value, ...extra] = children(expectTag(entry, TAG.SEQUENCE, `${where} entry`));
    if (oidTlv === undefined || value === undefined || extra.length > 0) malformed(`an entry of ${where} is not an (OID, value) pair`, where);
    const oid = decodeOid(oidTlv);
    if (out.has(oid)) malformed(`${oid} appears twice in ${where}`, oid);
    out.set(oid, value);
  }
  return out;
}

function octets(map: Map<string, Tlv>, oid: string, name: string, size?: number): Uint8Array {
  const v = map.get(oid);
  if (v === undefined) malformed(`${name} (${oid}) is missing`, name);
  if (v.tag !== TAG.OCTET_STRING) malformed(`${name} is not an OCTET STRING`, name);
  if (size !== undefined && v.value.length !== size) malformed(`${name} is ${v.value.length} bytes, expected ${size}`, name);
  return v.value;
}

function integer(map: Map<string, Tlv>, oid: string, name: string, max: number): number {
  const v = map.get(oid);
  if (v === undefined) malformed(`${name} (${oid}) is missing`, name);
  const n = decodeSmallInteger(v);
  if (n > max) malformed(`${name} is ${n}, above ${max}`, name);
  return n;
}

// Certificates are frozen, so the extensions of one are parsed once.
const parsed = new WeakMap<Certificate, PckExtensions>();

/** Parses the SGX extensions of `pck`; a PCK certificate without them, or with malformed ones, is a ParseError. */
export function parsePckExtensions(pck: Certificate): PckExtensions {
  const known = parsed.get(pck);
  if (known !== undefined) return known;
  const result = readPckExtensions(pck);
  parsed.set(pck, result);
  return result;
}

function readPckExtensions(pck: Certificate): PckExtensions {
  const ext = pck.extensions.get(SGX_EXTENSIONS_OID);
  if (ext === undefined) malformed(`"${pck.subjectCommonName ?? '?'}" has no SGX extensions (${SGX_EXTENSIONS_OID}); it is not a PCK certificate`, 'SGX Extensions');
  try {
    const top = pairs(decodeOne(ext.value), 'SGX Extensions');
    const tcbTlv = top.get(OIDS.tcb);
    if (tcbTlv === undefined) malformed(`TCB (${OIDS.tcb}) is missing`, 'TCB');
    const tcb = pairs(tcbTlv, 'TCB');
    const cpuSvnComponents = Array.from({ length: 16 }, (_, i) => integer(tcb, `${OIDS.tcb}.${i + 1}`, `SGX TCB Comp${String(i + 1).padStart(2, '0')} SVN`, 255));
    const sgxTypeTlv = top.get(OIDS.sgxType);
    if (sgxTypeTlv?.tag !== TAG_ENUMERATED || sgxTypeTlv.value.length !== 1) malformed('SGX Type is missing or not a one-byte ENUMERATED', 'SGX Type');
    const sgxType = SGX_TYPES[sgxTypeTlv.value[0] as number];
    if (sgxType === undefined) malformed(`SGX Type ${sgxTypeTlv.value[0] as number} is not one Intel defines (0, 1, 2)`, 'SGX Type');
    return Object.freeze({
      ppid: octets(top, OIDS.ppid, 'PPID', 16),
      cpuSvnComponents: Object.freeze(cpuSvnComponents),
      pceSvn: integer(tcb, TCB_PCESVN, 'PCESVN', 0xffff),
      cpuSvn: octets(tcb, TCB_CPUSVN, 'CPUSVN', 16),
      pceId: octets(top, OIDS.pceId, 'PCE-ID', 2),
      fmspc: octets(top, OIDS.fmspc, 'FMSPC', 6),
      sgxType,
      platformInstanceId: top.has(OIDS.platformInstanceId) ? octets(top, OIDS.platformInstanceId, 'Platform Instance ID', 16) : undefined,
    });
  } catch (cause) {
    if (cause instanceof ParseError && cause.message.startsWith('PCK certificate SGX extensions')) throw cause;
    if (cause instanceof ParseError) malformed(cause.message, 'SGX Extensions');
    throw cause;
  }
}

/** Which PCK CA issued the certificate, read from its issuer's common name as Intel's PCS names the CAs. */
export function pckCaType(pck: Certificate): 'platform' | 'processor' | undefined {
  const cn = pck.issuerCommonName ?? '';
  if (cn === 'Intel SGX PCK Platform CA') return 'platform';
  if (cn === 'Intel SGX PCK Processor CA') return 'processor';
  return undefined;
}

export const fmspcHex = (e: PckExtensions): string => toHex(e.fmspc);
