import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fromHex, toHex } from '../../attestation/bytes.js';
import { CloisterError, ParseError } from '../../attestation/errors.js';
import { REPORT_SIZE } from '../../attestation/snp/report.js';
import {
  checkTdReport,
  firmwareErrorName,
  ioc,
  iocSize,
  iowr,
  MSG_REPORT_RSP,
  parseMsgReportRsp,
  parseSnpExtReportReq,
  parseSnpGuestRequestIoctl,
  parseSnpReportReq,
  parseTdxReportReq,
  serializeMsgReportRsp,
  serializeSnpExtReportReq,
  serializeSnpGuestRequestIoctl,
  serializeSnpReportReq,
  serializeTdxReportReq,
  SNP_EXT_REPORT_REQ,
  SNP_GET_EXT_REPORT,
  SNP_GET_REPORT,
  SNP_GUEST_REQUEST_IOCTL,
  SNP_REPORT_REQ,
  SNP_REPORT_RESP_SIZE,
  snpGetExtReportCall,
  snpGetReportCall,
  TDX_CMD_GET_REPORT0,
  TDX_REPORT_REQ,
  tdxGetReport0Call,
  vmmErrorName,
} from './ioctl.js';
import { TeeDeviceError } from './provider.js';

const userData = new Uint8Array(64).map((_, i) => i);

// Recorded structures: the bytes the kernel reads, written out by hand from the uapi layouts
// (include/uapi/linux/sev-guest.h, tdx-guest.h) for user_data = 00..3f.
const USER_DATA_ROWS = [
  '000102030405060708090a0b0c0d0e0f', // 0x00 user_data
  '101112131415161718191a1b1c1d1e1f',
  '202122232425262728292a2b2c2d2e2f',
  '303132333435363738393a3b3c3d3e3f',
];
const SNP_REPORT_REQ_VMPL2 = [
  ...USER_DATA_ROWS,
  '02000000' + '000000000000000000000000', // 0x40 vmpl = 2, 0x44 rsvd
  '00000000000000000000000000000000', // rsvd .. 0x5f
].join('');
const SNP_EXT_REPORT_REQ_VMPL1_16K = [
  ...USER_DATA_ROWS,
  '01000000' + '000000000000000000000000', // 0x40 vmpl = 1, 0x44 rsvd
  '00000000000000000000000000000000', // rsvd .. 0x5f
  '0000000000000000' + '00400000' + '00000000', // 0x60 certs_address (addon writes it), 0x68 certs_len = 0x4000, 0x6c padding
].join('');
const SNP_GUEST_REQUEST_IOCTL_MARSHALLED = [
  '01' + '00000000000000' + '0000000000000000', // 0x00 msg_version = 1, padding, 0x08 req_data (addon writes it)
  '0000000000000000' + '0000000000000000', // 0x10 resp_data (addon writes it), 0x18 exitinfo2 = 0
].join('');
const SNP_GUEST_REQUEST_IOCTL_FW_0x16 = [
  '01' + '00000000000000' + '00100000007f0000', // req_data = 0x7f0000001000
  '00200000007f0000' + '16000000' + '00000000', // resp_data = 0x7f0000002000, fw_error = 0x16, vmm_error = 0
].join('');
const TDX_REPORT_REQ_MARSHALLED = [...USER_DATA_ROWS, '00'.repeat(1024)].join('');

describe('ioctl numbers', () => {
  it('match the kernel constants', () => {
    assert.equal(SNP_GET_REPORT, 0xc0205300);
    assert.equal(SNP_GET_EXT_REPORT, 0xc0205302);
    assert.equal(TDX_CMD_GET_REPORT0, 0xc4405401);
    assert.equal(iocSize(SNP_GET_EXT_REPORT), 32);
    assert.equal(iocSize(TDX_CMD_GET_REPORT0), 1088);
  });

  it('encode _IOC like asm-generic/ioctl.h and refuse out-of-range parts', () => {
    assert.equal(ioc(0, 'T', 0x1b, 0), 0x541b); // FIONREAD's shape: no direction, no size
    assert.equal(iowr('S', 0x1, 32), 0xc0205301); // SNP_GET_DERIVED_KEY
    assert.throws(() => iowr('ST', 0, 32), RangeError);
    assert.throws(() => iowr('S', 256, 32), RangeError);
    assert.throws(() => iowr('S', 0, 0x4000), RangeError);
    assert.throws(() => ioc(4, 'S', 0, 0), RangeError);
  });
});

describe('struct marshalling', () => {
  it('snp_report_req is byte-exact and round-trips', () => {
    const bytes = serializeSnpReportReq({ userData, vmpl: 2 });
    assert.equal(bytes.length, SNP_REPORT_REQ.size);
    assert.equal(toHex(bytes), SNP_REPORT_REQ_VMPL2);
    assert.deepEqual(parseSnpReportReq(bytes), { userData, vmpl: 2 });
  });

  it('snp_ext_report_req is byte-exact and round-trips', () => {
    const bytes = serializeSnpExtReportReq({ userData, vmpl: 1, certsLen: 0x4000 });
    assert.equal(bytes.length, SNP_EXT_REPORT_REQ.size);
    assert.equal(toHex(bytes), SNP_EXT_REPORT_REQ_VMPL1_16K);
    assert.deepEqual(parseSnpExtReportReq(bytes), { userData, vmpl: 1, certsAddress: 0n, certsLen: 0x4000 });
    const withAddress = serializeSnpExtReportReq({ userData, vmpl: 3, certsLen: 0x1000, certsAddress: 0x7f0000003000n });
    assert.equal(toHex(withAddress.subarray(0x60)), '00300000007f0000' + '00100000' + '00000000');
    assert.deepEqual(parseSnpExtReportReq(withAddress), { userData, vmpl: 3, certsAddress: 0x7f0000003000n, certsLen: 0x1000 });
  });

  it('snp_guest_request_ioctl is byte-exact, and fw_error / vmm_error are the halves of exitinfo2', () => {
    const marshalled = serializeSnpGuestRequestIoctl({ msgVersion: 1 });
    assert.equal(marshalled.length, SNP_GUEST_REQUEST_IOCTL.size);
    assert.equal(toHex(marshalled), SNP_GUEST_REQUEST_IOCTL_MARSHALLED);
    const back = parseSnpGuestRequestIoctl(fromHex(SNP_GUEST_REQUEST_IOCTL_FW_0x16));
    assert.deepEqual(back, { msgVersion: 1, reqData: 0x7f0000001000n, respData: 0x7f0000002000n, exitinfo2: 0x16n, fwError: 0x16, vmmError: 0 });
    assert.equal(toHex(serializeSnpGuestRequestIoctl(back)), SNP_GUEST_REQUEST_IOCTL_FW_0x16);
    const invalidLen = parseSnpGuestRequestIoctl(serializeSnpGuestRequestIoctl({ msgVersion: 1, exitinfo2: 1n << 32n }));
    assert.equal(invalidLen.vmmError, 1);
    assert.equal(invalidLen.fwError, 0);
  });

  it('tdx_report_req is byte-exact and round-trips', () => {
    const bytes = serializeTdxReportReq({ reportData: userData });
    assert.equal(bytes.length, TDX_REPORT_REQ.size);
    assert.equal(toHex(bytes), TDX_REPORT_REQ_MARSHALLED);
    const tdReport = new Uint8Array(1024).fill(7);
    const parsed = parseTdxReportReq(serializeTdxReportReq({ reportData: userData, tdReport }));
    assert.deepEqual(parsed, { reportData: userData, tdReport });
  });

  it('refuses bad field values before anything reaches the kernel', () => {
    const malformed = (f: () => unknown, field: string): void => {
      assert.throws(f, (e: unknown) => e instanceof CloisterError && e.code === 'MALFORMED_FIELD' && e.field === field);
    };
    malformed(() => serializeSnpReportReq({ userData: new Uint8Array(63), vmpl: 0 }), 'user_data');
    malformed(() => serializeSnpReportReq({ userData, vmpl: 4 }), 'vmpl');
    malformed(() => serializeSnpReportReq({ userData, vmpl: 1.5 }), 'vmpl');
    malformed(() => serializeSnpGuestRequestIoctl({ msgVersion: 256 }), 'msg_version');
    malformed(() => snpGetExtReportCall('/dev/x', { userData, vmpl: 0, certsLen: 0x1001 }), 'certs_len');
    malformed(() => snpGetExtReportCall('/dev/x', { userData, vmpl: 0, certsLen: 0 }), 'certs_len');
    malformed(() => serializeTdxReportReq({ reportData: new Uint8Array(65) }), 'reportdata');
    malformed(() => serializeTdxReportReq({ reportData: userData, tdReport: new Uint8Array(10) }), 'tdreport');
    malformed(() => serializeMsgReportRsp({ status: 0, report: new Uint8Array(SNP_REPORT_RESP_SIZE) }), 'report');
  });

  it('parsers check length and must-be-zero ranges', () => {
    assert.throws(() => parseSnpReportReq(new Uint8Array(95)), (e: unknown) => e instanceof ParseError && e.code === 'TRUNCATED');
    assert.throws(() => parseSnpReportReq(new Uint8Array(97)), (e: unknown) => e instanceof ParseError && e.code === 'TRAILING_BYTES');
    const rsvd = serializeSnpReportReq({ userData, vmpl: 0 });
    rsvd[0x50] = 1;
    assert.throws(() => parseSnpReportReq(rsvd), /snp_report_req.rsvd \(0x44..0x5f\) must be zero, found 0{24}01/);
    const pad = serializeSnpGuestRequestIoctl({ msgVersion: 1 });
    pad[3] = 9;
    assert.throws(() => parseSnpGuestRequestIoctl(pad), (e: unknown) => e instanceof ParseError && e.code === 'RESERVED_NONZERO' && e.offset === 1);
    const extPad = serializeSnpExtReportReq({ userData, vmpl: 0, certsLen: 0x1000 });
    extPad[0x6f] = 1;
    assert.throws(() => parseSnpExtReportReq(extPad), /padding \(0x6c..0x6f\)/);
    assert.throws(() => parseTdxReportReq(new Uint8Array(1087)), (e: unknown) => e instanceof ParseError && e.code === 'TRUNCATED');
  });
});

describe('MSG_REPORT_RSP', () => {
  const report = new Uint8Array(REPORT_SIZE).map((_, i) => i & 0xff);

  it('parses a successful response and round-trips', () => {
    const resp = serializeMsgReportRsp({ status: 0, report });
    assert.equal(resp.length, SNP_REPORT_RESP_SIZE);
    assert.equal(toHex(resp.subarray(0, 0x20)), '00000000' + 'a0040000' + '00'.repeat(0x18)); // status 0, report_size 0x4a0
    const parsed = parseMsgReportRsp(resp);
    assert.equal(parsed.status, 0);
    assert.equal(parsed.reportSize, REPORT_SIZE);
    assert.deepEqual(parsed.report, report);
    assert.deepEqual(serializeMsgReportRsp(parsed), resp);
    // The copy is the caller's: the response buffer can be wiped.
    resp.fill(0);
    assert.deepEqual(parsed.report, report);
  });

  it('names a non-zero status as a firmware error', () => {
    for (const [status, name] of [
      [0x16, 'SEV_RET_INVALID_PARAM'],
      [0x27, 'SEV_RET_INVALID_KEY'],
      [0x99, '(unknown)'],
    ] as const) {
      assert.throws(
        () => parseMsgReportRsp(serializeMsgReportRsp({ status, reportSize: 0, report: new Uint8Array(0) })),
        (e: unknown) => e instanceof TeeDeviceError && e.firmwareError === status && e.message.includes(name) && e.code === 'TEE_DEVICE',
      );
    }
  });

  it('refuses a short or oversized report_size, reserved bytes and a truncated buffer', () => {
    for (const reportSize of [0, 0x4a0 - 1, 0x4a0 + 1, SNP_REPORT_RESP_SIZE, 0xffffffff]) {
      assert.throws(
        () => parseMsgReportRsp(serializeMsgReportRsp({ status: 0, reportSize, report })),
        (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_FIELD' && e.field === 'MSG_REPORT_RSP.report_size' && e.actual === String(reportSize),
      );
    }
    const reserved = serializeMsgReportRsp({ status: 0, report });
    reserved[0x1f] = 0x80;
    assert.throws(() => parseMsgReportRsp(reserved), /MSG_REPORT_RSP.reserved \(0x8..0x1f\) must be zero/);
    assert.throws(() => parseMsgReportRsp(new Uint8Array(MSG_REPORT_RSP.size - 1)), (e: unknown) => e instanceof ParseError && e.code === 'TRUNCATED');
  });

  it('names firmware and VMM codes', () => {
    assert.equal(firmwareErrorName(0x16), '0x16 SEV_RET_INVALID_PARAM');
    assert.equal(vmmErrorName(1), '0x01 SNP_GUEST_VMM_ERR_INVALID_LEN');
    assert.equal(vmmErrorName(0x80000000), '0x80000000 SNP_GUEST_VMM_ERR_GENERIC');
  });
});

describe('TDREPORT checks', () => {
  const tdReport = (type: number, reportData: Uint8Array): Uint8Array => {
    const r = new Uint8Array(1024);
    r[0] = type;
    r.set(reportData, 0x80);
    return r;
  };

  it('accepts a TDX report echoing the report data', () => {
    checkTdReport(tdReport(0x81, userData), userData);
  });

  it('refuses another report type, another REPORTDATA and another length', () => {
    assert.throws(() => {
      checkTdReport(tdReport(0x00, userData), userData);
    }, /REPORTTYPE.TYPE is 0x00, expected 0x81/);
    assert.throws(() => {
      checkTdReport(tdReport(0x81, new Uint8Array(64)), userData);
    }, (e: unknown) => e instanceof ParseError && e.field === 'REPORTMACSTRUCT.REPORTDATA');
    assert.throws(() => {
      checkTdReport(new Uint8Array(1023), userData);
    }, (e: unknown) => e instanceof ParseError && e.code === 'TRUNCATED');
  });
});

describe('calls', () => {
  it('SNP_GET_REPORT points req_data and resp_data at the request and response buffers', () => {
    const c = snpGetReportCall('/dev/sev-guest', { userData, vmpl: 2 });
    assert.equal(c.call.request, SNP_GET_REPORT);
    assert.deepEqual(c.call.buffers, [c.guestRequest, c.reportReq, c.response]);
    assert.deepEqual(c.call.fixups, [
      { buffer: 0, offset: 0x08, target: 1 },
      { buffer: 0, offset: 0x10, target: 2 },
    ]);
    assert.equal(toHex(c.guestRequest), SNP_GUEST_REQUEST_IOCTL_MARSHALLED);
    assert.equal(toHex(c.reportReq), SNP_REPORT_REQ_VMPL2);
    assert.equal(c.response.length, 4000);
    assert.equal(c.certs, undefined);
  });

  it('SNP_GET_EXT_REPORT also points certs_address at a buffer of exactly certs_len bytes', () => {
    const c = snpGetExtReportCall('/dev/sev-guest', { userData, vmpl: 1, certsLen: 0x4000 });
    assert.equal(c.call.request, SNP_GET_EXT_REPORT);
    assert.deepEqual(c.call.fixups, [
      { buffer: 0, offset: 0x08, target: 1 },
      { buffer: 0, offset: 0x10, target: 2 },
      { buffer: 1, offset: 0x60, target: 3 },
    ]);
    assert.equal(toHex(c.reportReq), SNP_EXT_REPORT_REQ_VMPL1_16K);
    assert.equal(c.certs?.length, 0x4000);
    assert.equal(c.call.buffers[3], c.certs);
  });

  it('TDX_CMD_GET_REPORT0 passes tdx_report_req in place', () => {
    const c = tdxGetReport0Call('/dev/tdx_guest', userData);
    assert.equal(c.call.request, TDX_CMD_GET_REPORT0);
    assert.deepEqual(c.call.buffers, [c.reportReq]);
    assert.deepEqual(c.call.fixups, []);
    assert.equal(toHex(c.reportReq), TDX_REPORT_REQ_MARSHALLED);
  });
});

// Cross-check with the C compiler: sizes, offsets and ioctl numbers from the machine's kernel
// headers (linux-libc-dev). Skipped where there is no compiler or no header.
function compilerLayout(): Record<string, number> | string {
  const cc = ['/usr/bin/cc', '/usr/bin/gcc'].find((p) => existsSync(p));
  if (cc === undefined) return 'no C compiler';
  if (!existsSync('/usr/include/linux/sev-guest.h')) return 'no <linux/sev-guest.h> (linux-libc-dev)';
  const dir = mkdtempSync(join(tmpdir(), 'cloister-uapi-'));
  try {
    const source = `
#include <stdio.h>
#include <stddef.h>
#include <linux/ioctl.h>
#include <linux/sev-guest.h>
#if __has_include(<linux/tdx-guest.h>)
#include <linux/tdx-guest.h>
#endif
#define P(name, value) printf("\\"%s\\":%lu,", name, (unsigned long)(value))
int main(void) {
  printf("{");
  P("snp_report_req", sizeof(struct snp_report_req));
  P("snp_report_req.vmpl", offsetof(struct snp_report_req, vmpl));
  P("snp_report_req.rsvd", offsetof(struct snp_report_req, rsvd));
  P("snp_ext_report_req", sizeof(struct snp_ext_report_req));
  P("snp_ext_report_req.certs_address", offsetof(struct snp_ext_report_req, certs_address));
  P("snp_ext_report_req.certs_len", offsetof(struct snp_ext_report_req, certs_len));
  P("snp_guest_request_ioctl", sizeof(struct snp_guest_request_ioctl));
  P("snp_guest_request_ioctl.req_data", offsetof(struct snp_guest_request_ioctl, req_data));
  P("snp_guest_request_ioctl.resp_data", offsetof(struct snp_guest_request_ioctl, resp_data));
  P("snp_guest_request_ioctl.exitinfo2", offsetof(struct snp_guest_request_ioctl, resp_data) + 8);
  P("snp_report_resp", sizeof(struct snp_report_resp));
  P("SNP_GET_REPORT", SNP_GET_REPORT);
  P("SNP_GET_EXT_REPORT", SNP_GET_EXT_REPORT);
  P("SNP_GUEST_VMM_ERR_INVALID_LEN", SNP_GUEST_VMM_ERR_INVALID_LEN);
#ifdef TDX_CMD_GET_REPORT0
  P("tdx_report_req", sizeof(struct tdx_report_req));
  P("tdx_report_req.tdreport", offsetof(struct tdx_report_req, tdreport));
  P("TDX_CMD_GET_REPORT0", TDX_CMD_GET_REPORT0);
#endif
  printf("\\"end\\":0}\\n");
  return 0;
}
`;
    writeFileSync(join(dir, 'layout.c'), source);
    execFileSync(cc, ['-o', join(dir, 'layout'), join(dir, 'layout.c')], { stdio: 'pipe' });
    return JSON.parse(execFileSync(join(dir, 'layout'), { encoding: 'utf8' })) as Record<string, number>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('kernel headers', () => {
  const layout = compilerLayout();
  it('agree with ioctl.ts on sizes, offsets and ioctl numbers', { skip: typeof layout === 'string' ? layout : false }, (t) => {
    if (typeof layout === 'string') return;
    assert.equal(layout['snp_report_req'], SNP_REPORT_REQ.size);
    assert.equal(layout['snp_report_req.vmpl'], SNP_REPORT_REQ.vmpl.offset);
    assert.equal(layout['snp_report_req.rsvd'], SNP_REPORT_REQ.rsvd.offset);
    assert.equal(layout['snp_ext_report_req'], SNP_EXT_REPORT_REQ.size);
    assert.equal(layout['snp_ext_report_req.certs_address'], SNP_EXT_REPORT_REQ.certsAddress.offset);
    assert.equal(layout['snp_ext_report_req.certs_len'], SNP_EXT_REPORT_REQ.certsLen.offset);
    assert.equal(layout['snp_guest_request_ioctl'], SNP_GUEST_REQUEST_IOCTL.size);
    assert.equal(layout['snp_guest_request_ioctl.req_data'], SNP_GUEST_REQUEST_IOCTL.reqData.offset);
    assert.equal(layout['snp_guest_request_ioctl.resp_data'], SNP_GUEST_REQUEST_IOCTL.respData.offset);
    assert.equal(layout['snp_guest_request_ioctl.exitinfo2'], SNP_GUEST_REQUEST_IOCTL.exitinfo2.offset);
    assert.equal(layout['snp_report_resp'], SNP_REPORT_RESP_SIZE);
    assert.equal(layout['SNP_GET_REPORT'], SNP_GET_REPORT);
    assert.equal(layout['SNP_GET_EXT_REPORT'], SNP_GET_EXT_REPORT);
    assert.equal(layout['SNP_GUEST_VMM_ERR_INVALID_LEN'], 1);
    if (layout['TDX_CMD_GET_REPORT0'] === undefined) {
      t.diagnostic('no <linux/tdx-guest.h> in these headers (added in Linux 6.2): TDX layout checked against the constants only');
      return;
    }
    assert.equal(layout['tdx_report_req'], TDX_REPORT_REQ.size);
    assert.equal(layout['tdx_report_req.tdreport'], TDX_REPORT_REQ.tdReport.offset);
    assert.equal(layout['TDX_CMD_GET_REPORT0'], TDX_CMD_GET_REPORT0);
  });
});
