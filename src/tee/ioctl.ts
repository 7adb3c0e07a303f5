// The guest-driver ioctls, byte for byte. The native addon (native/) knows no structure: this file
// computes the ioctl numbers, marshals every struct, names which 8-byte fields must receive the
// address of which other buffer (pointer fixups), and parses everything the kernel writes back.
//
// Sources (x86_64, natural alignment, little-endian):
//   Linux include/uapi/asm-generic/ioctl.h    _IOC: nr bits 0..7, type 8..15, size 16..29, dir 30..31
//   Linux include/uapi/linux/sev-guest.h      snp_report_req, snp_ext_report_req, snp_guest_request_ioctl,
//                                             snp_report_resp, SNP_GET_REPORT, SNP_GET_EXT_REPORT,
//                                             SNP_GUEST_VMM_ERR_INVALID_LEN / _BUSY (/ _GENERIC in newer kernels)
//   Linux include/uapi/linux/psp-sev.h        sev_ret_code (firmware status codes, as explicit values)
//   Linux include/uapi/linux/tdx-guest.h      tdx_report_req, TDX_CMD_GET_REPORT0
//   Linux drivers/virt/coco/sev-guest/sev-guest.c   what the driver copies in and out (see the quirks below)
//   AMD SEV-SNP Firmware ABI, MSG_REPORT_RSP  { status u32, report_size u32, reserved[0x18], report }
//   Intel TDX Module ABI, REPORTMACSTRUCT     TDREPORT bytes 0x00 (REPORTTYPE.TYPE, 0x81 = TDX), 0x80 (REPORTDATA)
//
//   snp_guest_request_ioctl (32 bytes)          snp_ext_report_req (112 bytes)
//   0x00 msg_version u8                          0x00 data: snp_report_req (96 bytes)
//   0x01 (padding, 7 bytes)                           0x00 user_data[64]
//   0x08 req_data u64  -> snp_[ext_]report_req        0x40 vmpl u32
//   0x10 resp_data u64 -> snp_report_resp             0x44 rsvd[28], must be zero
//   0x18 exitinfo2 u64 = fw_error u32 @0x18      0x60 certs_address u64 -> certificate buffer
//                        vmm_error u32 @0x1c     0x68 certs_len u32 (page multiple)
//                                                0x6c (padding, 4 bytes)
//   snp_report_resp: data[4000], starting with MSG_REPORT_RSP:
//   0x00 status u32, 0x04 report_size u32, 0x08..0x1f reserved, 0x20 ATTESTATION_REPORT (0x4a0 bytes)
//
//   tdx_report_req (1088 bytes): 0x000 reportdata[64], 0x040 tdreport[1024]
import type { PointerFixup } from '../base/native.js';
import { dataView, isAllZero, toHex } from '../../attestation/bytes.js';
import { CloisterError, ParseError } from '../../attestation/errors.js';
import { REPORT_SIZE } from '../../attestation/snp/report.js';
import { REPORT_DATA_SIZE, TeeDeviceError } from './provider.js';

// ---------------------------------------------------------------------------------------------
// _IOC encoding

const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = 8;
const IOC_SIZESHIFT = 16;
const IOC_DIRSHIFT = 30;
const IOC_SIZEMASK = 0x3fff;
export const IOC_WRITE = 1;
export const IOC_READ = 2;

/** Linux `_IOC(dir, type, nr, size)` as an unsigned 32-bit number. */
export function ioc(dir: number, type: string, nr: number, size: number): number {
  if (type.length !== 1 || type.charCodeAt(0) > 0xff) throw new RangeError(`ioctl type must be one byte, got ${JSON.stringify(type)}`);
  if (!Number.isInteger(nr) || nr < 0 || nr > 0xff) throw new RangeError(`ioctl nr must be 0..255, got ${nr}`);
  if (!Number.isInteger(size) || size < 0 || size > IOC_SIZEMASK) throw new RangeError(`ioctl size must be 0..${IOC_SIZEMASK}, got ${size}`);
  if (!Number.isInteger(dir) || dir < 0 || dir > 3) throw new RangeError(`ioctl dir must be 0..3, got ${dir}`);
  return ((dir << IOC_DIRSHIFT) | (size << IOC_SIZESHIFT) | (type.charCodeAt(0) << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT)) >>> 0;
}

/** Linux `_IOWR(type, nr, size)`. */
export function iowr(type: string, nr: number, size: number): number {
  return ioc(IOC_READ | IOC_WRITE, type, nr, size);
}

/** Linux `_IOC_SIZE(request)`: how many bytes the kernel copies in and out of the ioctl argument. */
export function iocSize(request: number): number {
  return (request >>> IOC_SIZESHIFT) & IOC_SIZEMASK;
}

// ---------------------------------------------------------------------------------------------
// Layouts

export interface Field {
  readonly offset: number;
  readonly size: number;
}

export const SNP_REPORT_REQ = {
  size: 96,
  userData: { offset: 0x00, size: 64 },
  vmpl: { offset: 0x40, size: 4 },
  rsvd: { offset: 0x44, size: 28 },
} as const;

export const SNP_EXT_REPORT_REQ = {
  size: 112,
  data: { offset: 0x00, size: SNP_REPORT_REQ.size },
  certsAddress: { offset: 0x60, size: 8 },
  certsLen: { offset: 0x68, size: 4 },
  padding: { offset: 0x6c, size: 4 },
} as const;

export const SNP_GUEST_REQUEST_IOCTL = {
  size: 32,
  msgVersion: { offset: 0x00, size: 1 },
  padding: { offset: 0x01, size: 7 },
  reqData: { offset: 0x08, size: 8 },
  respData: { offset: 0x10, size: 8 },
  exitinfo2: { offset: 0x18, size: 8 },
  fwError: { offset: 0x18, size: 4 },
  vmmError: { offset: 0x1c, size: 4 },
} as const;

/** struct snp_report_resp: a fixed 4000-byte buffer the driver copies out whole. */
export const SNP_REPORT_RESP_SIZE = 4000;

export const MSG_REPORT_RSP = {
  size: 0x20 + REPORT_SIZE,
  status: { offset: 0x00, size: 4 },
  reportSize: { offset: 0x04, size: 4 },
  reserved: { offset: 0x08, size: 0x18 },
  report: { offset: 0x20, size: REPORT_SIZE },
} as const;

export const TDX_REPORT_LEN = 1024;

export const TDX_REPORT_REQ = {
  size: REPORT_DATA_SIZE + TDX_REPORT_LEN,
  reportData: { offset: 0x000, size: REPORT_DATA_SIZE },
  tdReport: { offset: 0x040, size: TDX_REPORT_LEN },
} as const;

/** TDREPORT_STRUCT.REPORTMACSTRUCT fields this layer checks. */
export const TDREPORT = {
  reportType: { offset: 0x00, size: 1 },
  reportData: { offset: 0x80, size: REPORT_DATA_SIZE },
} as const;
export const TDREPORT_TYPE_TDX = 0x81;

// ---------------------------------------------------------------------------------------------
// ioctl numbers (checked against the constants in ioctl.test.ts)

export const SNP_GUEST_REQ_IOC_TYPE = 'S';
/** _IOWR('S', 0x0, struct snp_guest_request_ioctl) = 0xc0205300 */
export const SNP_GET_REPORT = iowr(SNP_GUEST_REQ_IOC_TYPE, 0x0, SNP_GUEST_REQUEST_IOCTL.size);
/** _IOWR('S', 0x2, struct snp_guest_request_ioctl) = 0xc0205302 */
export const SNP_GET_EXT_REPORT = iowr(SNP_GUEST_REQ_IOC_TYPE, 0x2, SNP_GUEST_REQUEST_IOCTL.size);
/** _IOWR('T', 1, struct tdx_report_req) = 0xc4405401 */
export const TDX_CMD_GET_REPORT0 = iowr('T', 1, TDX_REPORT_REQ.size);

// ---------------------------------------------------------------------------------------------
// Codes

/** Non-zero message version: the driver returns EINVAL for 0. MSG_REPORT_REQ version 1. */
export const SNP_MSG_VERSION = 1;
/** The certificate buffer length must be a multiple of the (x86) page size. */
export const PAGE_SIZE = 4096;
/** SEV_FW_BLOB_MAX_SIZE in the driver (16 KiB; some vendor kernels raised it): larger certs_len is EINVAL. */
export const SEV_FW_BLOB_MAX_SIZE = 0x4000;

export const SNP_GUEST_VMM_ERR = {
  INVALID_LEN: 1,
  BUSY: 2,
  GENERIC: 0x8000_0000,
} as const;

/**
 * The driver sets exitinfo2 to 0xff before it does anything and copies the struct back whenever
 * exitinfo2 is non-zero, so a request refused before it reached the firmware (EINVAL, EFAULT,
 * ENOTTY for a disabled VMPCK...) comes back with fw_error 0xff, vmm_error 0. 0xff is no
 * firmware status; it is not reported as one.
 */
export const SNP_FW_ERROR_NOT_ISSUED = 0xff;

/** sev_ret_code, include/uapi/linux/psp-sev.h (the SEV-SNP ABI status codes). */
export const SEV_RET_NAMES: Readonly<Record<number, string>> = {
  0x00: 'SEV_RET_SUCCESS',
  0x01: 'SEV_RET_INVALID_PLATFORM_STATE',
  0x02: 'SEV_RET_INVALID_GUEST_STATE',
  0x03: 'SEV_RET_INVALID_CONFIG',
  0x04: 'SEV_RET_INVALID_LEN',
  0x05: 'SEV_RET_ALREADY_OWNED',
  0x06: 'SEV_RET_INVALID_CERTIFICATE',
  0x07: 'SEV_RET_POLICY_FAILURE',
  0x08: 'SEV_RET_INACTIVE',
  0x09: 'SEV_RET_INVALID_ADDRESS',
  0x0a: 'SEV_RET_BAD_SIGNATURE',
  0x0b: 'SEV_RET_BAD_MEASUREMENT',
  0x0c: 'SEV_RET_ASID_OWNED',
  0x0d: 'SEV_RET_INVALID_ASID',
  0x0e: 'SEV_RET_WBINVD_REQUIRED',
  0x0f: 'SEV_RET_DFFLUSH_REQUIRED',
  0x10: 'SEV_RET_INVALID_GUEST',
  0x11: 'SEV_RET_INVALID_COMMAND',
  0x12: 'SEV_RET_ACTIVE',
  0x13: 'SEV_RET_HWSEV_RET_PLATFORM',
  0x14: 'SEV_RET_HWSEV_RET_UNSAFE',
  0x15: 'SEV_RET_UNSUPPORTED',
  0x16: 'SEV_RET_INVALID_PARAM',
  0x17: 'SEV_RET_RESOURCE_LIMIT',
  0x18: 'SEV_RET_SECURE_DATA_INVALID',
  0x19: 'SEV_RET_INVALID_PAGE_SIZE',
  0x1a: 'SEV_RET_INVALID_PAGE_STATE',
  0x1b: 'SEV_RET_INVALID_MDATA_ENTRY',
  0x1c: 'SEV_RET_INVALID_PAGE_OWNER',
  0x1d: 'SEV_RET_AEAD_OFLOW',
  0x1f: 'SEV_RET_EXIT_RING_BUFFER',
  0x20: 'SEV_RET_RMP_INIT_REQUIRED',
  0x21: 'SEV_RET_BAD_SVN',
  0x22: 'SEV_RET_BAD_VERSION',
  0x23: 'SEV_RET_SHUTDOWN_REQUIRED',
  0x24: 'SEV_RET_UPDATE_FAILED',
  0x25: 'SEV_RET_RESTORE_REQUIRED',
  0x26: 'SEV_RET_RMP_INITIALIZATION_FAILED',
  0x27: 'SEV_RET_INVALID_KEY',
  0x28: 'SEV_RET_SHUTDOWN_INCOMPLETE',
  0x30: 'SEV_RET_INCORRECT_BUFFER_LENGTH',
  0x31: 'SEV_RET_EXPAND_BUFFER_LENGTH_REQUEST',
};

export const SNP_GUEST_VMM_ERR_NAMES: Readonly<Record<number, string>> = {
  [SNP_GUEST_VMM_ERR.INVALID_LEN]: 'SNP_GUEST_VMM_ERR_INVALID_LEN',
  [SNP_GUEST_VMM_ERR.BUSY]: 'SNP_GUEST_VMM_ERR_BUSY',
  [SNP_GUEST_VMM_ERR.GENERIC]: 'SNP_GUEST_VMM_ERR_GENERIC',
};

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

/** "0x16 SEV_RET_INVALID_PARAM", or "0x42 (unknown)". */
export function firmwareErrorName(code: number): string {
  return `${hex32(code)} ${SEV_RET_NAMES[code] ?? '(unknown)'}`;
}

export function vmmErrorName(code: number): string {
  return `${hex32(code)} ${SNP_GUEST_VMM_ERR_NAMES[code] ?? '(unknown)'}`;
}

// ---------------------------------------------------------------------------------------------
// Serialize / parse

function checkLength(bytes: Uint8Array, size: number, struct: string): void {
  if (bytes.length < size) throw new ParseError('TRUNCATED', `${struct} is ${bytes.length} bytes, expected ${size}`, { field: struct, expected: String(size), actual: String(bytes.length) });
  if (bytes.length > size) throw new ParseError('TRAILING_BYTES', `${struct} is ${bytes.length} bytes, expected ${size}`, { field: struct, expected: String(size), actual: String(bytes.length), offset: size });
}

function checkZero(bytes: Uint8Array, field: Field, name: string): void {
  const range = bytes.subarray(field.offset, field.offset + field.size);
  if (!isAllZero(range)) {
    throw new ParseError('RESERVED_NONZERO', `${name} (0x${field.offset.toString(16)}..0x${(field.offset + field.size - 1).toString(16)}) must be zero, found ${toHex(range)}`, {
      field: name,
      offset: field.offset,
    });
  }
}

function checkUint(value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new CloisterError('MALFORMED_FIELD', `${field} must be an integer in 0..${max}, got ${value}`, { field, expected: `0..${max}`, actual: String(value) });
  }
}

function checkBytes(bytes: Uint8Array, size: number, field: string): void {
  if (bytes.length !== size) throw new CloisterError('MALFORMED_FIELD', `${field} must be ${size} bytes, got ${bytes.length}`, { field, expected: String(size), actual: String(bytes.length) });
}

export interface SnpReportReq {
  /** 64 bytes, copied into REPORT_DATA. */
  readonly userData: Uint8Array;
  /** VMPL to report, 0..3. */
  readonly vmpl: number;
}

function writeSnpReportReq(out: Uint8Array, req: SnpReportReq): void {
  checkBytes(req.userData, SNP_REPORT_REQ.userData.size, 'user_data');
  checkUint(req.vmpl, 3, 'vmpl');
  out.set(req.userData, SNP_REPORT_REQ.userData.offset);
  dataView(out).setUint32(SNP_REPORT_REQ.vmpl.offset, req.vmpl, true);
}

export function serializeSnpReportReq(req: SnpReportReq): Uint8Array {
  const out = new Uint8Array(SNP_REPORT_REQ.size);
  writeSnpReportReq(out, req);
  return out;
}

export function parseSnpReportReq(bytes: Uint8Array): SnpReportReq {
  checkLength(bytes, SNP_REPORT_REQ.size, 'snp_report_req');
  checkZero(bytes, SNP_REPORT_REQ.rsvd, 'snp_report_req.rsvd');
  return Object.freeze({
    userData: bytes.slice(SNP_REPORT_REQ.userData.offset, SNP_REPORT_REQ.userData.offset + SNP_REPORT_REQ.userData.size),
    vmpl: dataView(bytes).getUint32(SNP_REPORT_REQ.vmpl.offset, true),
  });
}

export interface SnpExtReportReq extends SnpReportReq {
  /** The certificate buffer's address; 0 when marshalled (the addon writes it). */
  readonly certsAddress: bigint;
  /** The certificate buffer's length; the driver writes the length it needs on SNP_GUEST_VMM_ERR_INVALID_LEN. */
  readonly certsLen: number;
}

export function serializeSnpExtReportReq(req: Omit<SnpExtReportReq, 'certsAddress'> & { readonly certsAddress?: bigint }): Uint8Array {
  const out = new Uint8Array(SNP_EXT_REPORT_REQ.size);
  writeSnpReportReq(out, req);
  checkUint(req.certsLen, 0xffff_ffff, 'certs_len');
  const v = dataView(out);
  v.setBigUint64(SNP_EXT_REPORT_REQ.certsAddress.offset, req.certsAddress ?? 0n, true);
  v.setUint32(SNP_EXT_REPORT_REQ.certsLen.offset, req.certsLen, true);
  return out;
}

export function parseSnpExtReportReq(bytes: Uint8Array): SnpExtReportReq {
  checkLength(bytes, SNP_EXT_REPORT_REQ.size, 'snp_ext_report_req');
  const data = parseSnpReportReq(bytes.subarray(SNP_EXT_REPORT_REQ.data.offset, SNP_EXT_REPORT_REQ.data.offset + SNP_EXT_REPORT_REQ.data.size));
  checkZero(bytes, SNP_EXT_REPORT_REQ.padding, 'snp_ext_report_req padding');
  const v = dataView(bytes);
  return Object.freeze({
    ...data,
    certsAddress: v.getBigUint64(SNP_EXT_REPORT_REQ.certsAddress.offset, true),
    certsLen: v.getUint32(SNP_EXT_REPORT_REQ.certsLen.offset, true),
  });
}

export interface SnpGuestRequestIoctl {
  readonly msgVersion: number;
  /** Addresses; 0 when marshalled (the addon writes them). */
  readonly reqData: bigint;
  readonly respData: bigint;
  /** bits 63..32 VMM error, bits 31..0 firmware error. */
  readonly exitinfo2: bigint;
  readonly fwError: number;
  readonly vmmError: number;
}

export function serializeSnpGuestRequestIoctl(io: { readonly msgVersion: number; readonly reqData?: bigint; readonly respData?: bigint; readonly exitinfo2?: bigint }): Uint8Array {
  checkUint(io.msgVersion, 0xff, 'msg_version');
  const out = new Uint8Array(SNP_GUEST_REQUEST_IOCTL.size);
  const v = dataView(out);
  v.setUint8(SNP_GUEST_REQUEST_IOCTL.msgVersion.offset, io.msgVersion);
  v.setBigUint64(SNP_GUEST_REQUEST_IOCTL.reqData.offset, io.reqData ?? 0n, true);
  v.setBigUint64(SNP_GUEST_REQUEST_IOCTL.respData.offset, io.respData ?? 0n, true);
  // Zero, so that a success (which the driver does not copy back) reads as no error.
  v.setBigUint64(SNP_GUEST_REQUEST_IOCTL.exitinfo2.offset, io.exitinfo2 ?? 0n, true);
  return out;
}

export function parseSnpGuestRequestIoctl(bytes: Uint8Array): SnpGuestRequestIoctl {
  checkLength(bytes, SNP_GUEST_REQUEST_IOCTL.size, 'snp_guest_request_ioctl');
  checkZero(bytes, SNP_GUEST_REQUEST_IOCTL.padding, 'snp_guest_request_ioctl padding');
  const v = dataView(bytes);
  return Object.freeze({
    msgVersion: v.getUint8(SNP_GUEST_REQUEST_IOCTL.msgVersion.offset),
    reqData: v.getBigUint64(SNP_GUEST_REQUEST_IOCTL.reqData.offset, true),
    respData: v.getBigUint64(SNP_GUEST_REQUEST_IOCTL.respData.offset, true),
    exitinfo2: v.getBigUint64(SNP_GUEST_REQUEST_IOCTL.exitinfo2.offset, true),
    fwError: v.getUint32(SNP_GUEST_REQUEST_IOCTL.fwError.offset, true),
    vmmError: v.getUint32(SNP_GUEST_REQUEST_IOCTL.vmmError.offset, true),
  });
}

export interface MsgReportRsp {
  readonly status: number;
  readonly reportSize: number;
  /** The ATTESTATION_REPORT, REPORT_SIZE bytes (a copy). */
  readonly report: Uint8Array;
}

/**
 * Parses the MSG_REPORT_RSP at the start of a snp_report_resp. A non-zero status is the firmware's
 * refusal and throws TeeDeviceError (firmwareError = status); a report_size other than 1184 or
 * non-zero reserved bytes throw ParseError. Bytes after the report are the rest of the driver's
 * fixed 4000-byte buffer, not part of the message, and are not read.
 */
export function parseMsgReportRsp(resp: Uint8Array): MsgReportRsp {
  if (resp.length < MSG_REPORT_RSP.size) {
    throw new ParseError('TRUNCATED', `snp_report_resp is ${resp.length} bytes, MSG_REPORT_RSP needs ${MSG_REPORT_RSP.size}`, {
      field: 'snp_report_resp',
      expected: String(MSG_REPORT_RSP.size),
      actual: String(resp.length),
    });
  }
  const v = dataView(resp);
  const status = v.getUint32(MSG_REPORT_RSP.status.offset, true);
  const reportSize = v.getUint32(MSG_REPORT_RSP.reportSize.offset, true);
  if (status !== 0) {
    throw new TeeDeviceError(`MSG_REPORT_RSP status is ${firmwareErrorName(status)}: the firmware refused the report request`, { firmwareError: status, field: 'MSG_REPORT_RSP.status' });
  }
  if (reportSize !== REPORT_SIZE) {
    throw new ParseError('MALFORMED_FIELD', `MSG_REPORT_RSP report_size is ${reportSize}, expected ${REPORT_SIZE}`, {
      field: 'MSG_REPORT_RSP.report_size',
      expected: String(REPORT_SIZE),
      actual: String(reportSize),
      offset: MSG_REPORT_RSP.reportSize.offset,
    });
  }
  checkZero(resp, MSG_REPORT_RSP.reserved, 'MSG_REPORT_RSP.reserved');
  return Object.freeze({ status, reportSize, report: resp.slice(MSG_REPORT_RSP.report.offset, MSG_REPORT_RSP.report.offset + REPORT_SIZE) });
}

/** A snp_report_resp (4000 bytes) holding this MSG_REPORT_RSP; for tests and fakes. */
export function serializeMsgReportRsp(rsp: { readonly status: number; readonly reportSize?: number; readonly report: Uint8Array }): Uint8Array {
  checkUint(rsp.status, 0xffff_ffff, 'status');
  const reportSize = rsp.reportSize ?? rsp.report.length;
  checkUint(reportSize, 0xffff_ffff, 'report_size');
  if (MSG_REPORT_RSP.report.offset + rsp.report.length > SNP_REPORT_RESP_SIZE) {
    throw new CloisterError('MALFORMED_FIELD', `report of ${rsp.report.length} bytes does not fit snp_report_resp`, { field: 'report' });
  }
  const out = new Uint8Array(SNP_REPORT_RESP_SIZE);
  const v = dataView(out);
  v.setUint32(MSG_REPORT_RSP.status.offset, rsp.status, true);
  v.setUint32(MSG_REPORT_RSP.reportSize.offset, reportSize, true);
  out.set(rsp.report, MSG_REPORT_RSP.report.offset);
  return out;
}

export interface TdxReportReq {
  readonly reportData: Uint8Array;
  /** TDREPORT_STRUCT, 1024 bytes; all zero when marshalled. */
  readonly tdReport: Uint8Array;
}

export function serializeTdxReportReq(req: { readonly reportData: Uint8Array; readonly tdReport?: Uint8Array }): Uint8Array {
  checkBytes(req.reportData, TDX_REPORT_REQ.reportData.size, 'reportdata');
  const out = new Uint8Array(TDX_REPORT_REQ.size);
  out.set(req.reportData, TDX_REPORT_REQ.reportData.offset);
  if (req.tdReport !== undefined) {
    checkBytes(req.tdReport, TDX_REPORT_REQ.tdReport.size, 'tdreport');
    out.set(req.tdReport, TDX_REPORT_REQ.tdReport.offset);
  }
  return out;
}

export function parseTdxReportReq(bytes: Uint8Array): TdxReportReq {
  checkLength(bytes, TDX_REPORT_REQ.size, 'tdx_report_req');
  return Object.freeze({
    reportData: bytes.slice(TDX_REPORT_REQ.reportData.offset, TDX_REPORT_REQ.reportData.offset + TDX_REPORT_REQ.reportData.size),
    tdReport: bytes.slice(TDX_REPORT_REQ.tdReport.offset, TDX_REPORT_REQ.tdReport.offset + TDX_REPORT_REQ.tdReport.size),
  });
}

/**
 * Checks the TDREPORT the driver returned: REPORTTYPE.TYPE is TDX (0x81) and REPORTDATA echoes the
 * request. It does not verify the MAC: only the TDX module on the same platform can.
 */
export function checkTdReport(tdReport: Uint8Array, reportData: Uint8Array): void {
  checkLength(tdReport, TDX_REPORT_LEN, 'TDREPORT');
  const type = tdReport[TDREPORT.reportType.offset] as number;
  if (type !== TDREPORT_TYPE_TDX) {
    throw new ParseError('MALFORMED_FIELD', `TDREPORT REPORTTYPE.TYPE is ${hex32(type)}, expected ${hex32(TDREPORT_TYPE_TDX)} (TDX)`, {
      field: 'REPORTMACSTRUCT.REPORTTYPE.TYPE',
      expected: hex32(TDREPORT_TYPE_TDX),
      actual: hex32(type),
      offset: TDREPORT.reportType.offset,
    });
  }
  const echoed = tdReport.subarray(TDREPORT.reportData.offset, TDREPORT.reportData.offset + TDREPORT.reportData.size);
  if (toHex(echoed) !== toHex(reportData)) {
    throw new ParseError('MALFORMED_FIELD', `TDREPORT REPORTDATA ${toHex(echoed)} is not the requested ${toHex(reportData)}`, {
      field: 'REPORTMACSTRUCT.REPORTDATA',
      expected: toHex(reportData),
      actual: toHex(echoed),
      offset: TDREPORT.reportData.offset,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Calls: what the addon (or a fake) is asked to do

export type { PointerFixup };

/**
 * One ioctl: open `path` read-write, patch the fixups, `ioctl(fd, request, buffers[0])`. The runner
 * copies what the kernel wrote back into `buffers` (address fields restored to their marshalled
 * value) before it settles, on success and on failure alike, so fw_error / vmm_error / certs_len
 * are read from the caller's own arrays.
 */
export interface IoctlCall {
  readonly path: string;
  readonly request: number;
  readonly buffers: readonly Uint8Array[];
  readonly fixups: readonly PointerFixup[];
}

/** The syscall's result: rc on success, or the errno name ('ENOENT') and which call failed. */
export type IoctlOutcome =
  | { readonly ok: true; readonly rc: number }
  | { readonly ok: false; readonly errno: string; readonly syscall: string };

/** Runs an IoctlCall: the native addon in production (nativeIoctl.ts), a fake in tests. */
export type IoctlRunner = (call: IoctlCall) => Promise<IoctlOutcome>;

/** Indices of the buffers in an SNP call. */
export const SNP_BUFFER = { guestRequest: 0, reportReq: 1, response: 2, certs: 3 } as const;

export interface SnpCall {
  readonly call: IoctlCall;
  readonly guestRequest: Uint8Array;
  readonly reportReq: Uint8Array;
  readonly response: Uint8Array;
  readonly certs: Uint8Array | undefined;
}

/** SNP_GET_REPORT: snp_guest_request_ioctl -> snp_report_req, snp_report_resp. */
export function snpGetReportCall(path: string, req: SnpReportReq, msgVersion = SNP_MSG_VERSION): SnpCall {
  const guestRequest = serializeSnpGuestRequestIoctl({ msgVersion });
  const reportReq = serializeSnpReportReq(req);
  const response = new Uint8Array(SNP_REPORT_RESP_SIZE);
  return {
    call: {
      path,
      request: SNP_GET_REPORT,
      buffers: [guestRequest, reportReq, response],
      fixups: [
        { buffer: SNP_BUFFER.guestRequest, offset: SNP_GUEST_REQUEST_IOCTL.reqData.offset, target: SNP_BUFFER.reportReq },
        { buffer: SNP_BUFFER.guestRequest, offset: SNP_GUEST_REQUEST_IOCTL.respData.offset, target: SNP_BUFFER.response },
      ],
    },
    guestRequest,
    reportReq,
    response,
    certs: undefined,
  };
}

export function checkCertsLen(certsLen: number, field = 'certs_len'): void {
  if (!Number.isInteger(certsLen) || certsLen <= 0 || certsLen % PAGE_SIZE !== 0 || certsLen > 0xffff_ffff) {
    throw new CloisterError('MALFORMED_FIELD', `${field} must be a positive multiple of ${PAGE_SIZE}, got ${certsLen}`, { field, actual: String(certsLen) });
  }
}

/**
 * SNP_GET_EXT_REPORT: snp_guest_request_ioctl -> snp_ext_report_req (-> certificate buffer),
 * snp_report_resp. The certificate buffer is exactly certs_len bytes, so the kernel never writes
 * past it.
 */
export function snpGetExtReportCall(path: string, req: SnpReportReq & { readonly certsLen: number }, msgVersion = SNP_MSG_VERSION): SnpCall {
  checkCertsLen(req.certsLen);
  const guestRequest = serializeSnpGuestRequestIoctl({ msgVersion });
  const reportReq = serializeSnpExtReportReq({ userData: req.userData, vmpl: req.vmpl, certsLen: req.certsLen });
  const response = new Uint8Array(SNP_REPORT_RESP_SIZE);
  const certs = new Uint8Array(req.certsLen);
  return {
    call: {
      path,
      request: SNP_GET_EXT_REPORT,
      buffers: [guestRequest, reportReq, response, certs],
      fixups: [
        { buffer: SNP_BUFFER.guestRequest, offset: SNP_GUEST_REQUEST_IOCTL.reqData.offset, target: SNP_BUFFER.reportReq },
        { buffer: SNP_BUFFER.guestRequest, offset: SNP_GUEST_REQUEST_IOCTL.respData.offset, target: SNP_BUFFER.response },
        { buffer: SNP_BUFFER.reportReq, offset: SNP_EXT_REPORT_REQ.certsAddress.offset, target: SNP_BUFFER.certs },
      ],
    },
    guestRequest,
    reportReq,
    response,
    certs,
  };
}

export interface TdxCall {
  readonly call: IoctlCall;
  readonly reportReq: Uint8Array;
}

/** TDX_CMD_GET_REPORT0: tdx_report_req in place, no pointers. */
export function tdxGetReport0Call(path: string, reportData: Uint8Array): TdxCall {
  const reportReq = serializeTdxReportReq({ reportData });
  return { call: { path, request: TDX_CMD_GET_REPORT0, buffers: [reportReq], fixups: [] }, reportReq };
}
