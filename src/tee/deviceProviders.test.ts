import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dataView, toHex } from '../../attestation/bytes.js';
import { CloisterError, ParseError } from '../../attestation/errors.js';
import { CERT_GUID, parseCertTable, serializeCertTable } from '../../attestation/snp/certTable.js';
import { REPORT_SIZE } from '../../attestation/snp/report.js';
import {
  deviceError,
  MAX_EXT_REPORT_ATTEMPTS,
  SEV_GUEST_SOURCE,
  SevGuestDeviceProvider,
  TDX_GUEST_SOURCE,
  TdxGuestDeviceProvider,
} from './deviceProviders.js';
import {
  iocSize,
  serializeMsgReportRsp,
  SNP_EXT_REPORT_REQ,
  SNP_GET_EXT_REPORT,
  SNP_GET_REPORT,
  SNP_GUEST_REQUEST_IOCTL,
  SNP_REPORT_REQ,
  TDX_CMD_GET_REPORT0,
  TDX_REPORT_REQ,
  type IoctlCall,
  type IoctlOutcome,
  type IoctlRunner,
} from './ioctl.js';
import { TeeDeviceError } from './provider.js';

const reportData = new Uint8Array(64).map((_, i) => 0xc0 ^ i);
const PAGE = 4096;

// ------------------------------------------------------------------------------------------
// A fake kernel. Like the addon, it gives each buffer an address and writes the fixups; like the
// driver (drivers/virt/coco/sev-guest/sev-guest.c), it finds the request and response only by
// following those addresses, so a wrong fixup or offset fails here as it would on hardware.

interface Memory {
  at(address: bigint, length: number): Uint8Array;
}

type FakeDriver = (request: number, arg: Uint8Array, memory: Memory) => IoctlOutcome;

const BASE = 0x7f00_0000_1000n;

function fakeKernel(driver: FakeDriver): IoctlRunner & { calls: IoctlCall[]; patched: Uint8Array[][] } {
  const calls: IoctlCall[] = [];
  const patched: Uint8Array[][] = [];
  const run = (call: IoctlCall): Promise<IoctlOutcome> => {
    calls.push(call);
    const address = (i: number): bigint => BASE + BigInt(i) * 0x10_0000n;
    const saved = call.fixups.map((f) => call.buffers[f.buffer]?.slice(f.offset, f.offset + 8));
    for (const f of call.fixups) dataView(call.buffers[f.buffer] as Uint8Array).setBigUint64(f.offset, address(f.target), true);
    patched.push(call.buffers.map((b) => b.slice()));
    const memory: Memory = {
      at(a, length) {
        const i = call.buffers.findIndex((_, j) => address(j) === a);
        const b = call.buffers[i];
        if (b === undefined) throw new Error(`fake kernel: EFAULT at 0x${a.toString(16)}`);
        if (length > b.length) throw new Error(`fake kernel: ${length} bytes at 0x${a.toString(16)} overrun a ${b.length}-byte buffer`);
        return b.subarray(0, length);
      },
    };
    const arg = call.buffers[0] as Uint8Array;
    assert.ok(arg.length >= iocSize(call.request));
    const outcome = driver(call.request, arg, memory);
    call.fixups.forEach((f, i) => call.buffers[f.buffer]?.set(saved[i] as Uint8Array, f.offset));
    return Promise.resolve(outcome);
  };
  return Object.assign(run, { calls, patched });
}

interface HostConfig {
  /** The certificate blob the host supplies (empty: none). */
  certs?: Uint8Array;
  /** Firmware error for the guest request (EIO with exitinfo2 = code). */
  fwError?: number;
  /** MSG_REPORT_RSP status and report_size. */
  status?: number;
  reportSize?: number;
  /** Length the host asks for, overriding the blob's page-rounded size. */
  needed?: (certsLen: number) => number;
  errno?: { errno: string; syscall: string };
  vmpl?: number[];
}

const ERR = (errno: string): IoctlOutcome => ({ ok: false, errno, syscall: 'ioctl' });

function fakeSevGuest(host: HostConfig = {}): ReturnType<typeof fakeKernel> {
  return fakeKernel((request, arg, memory) => {
    if (host.errno !== undefined) return { ok: false, ...host.errno };
    if (request !== SNP_GET_REPORT && request !== SNP_GET_EXT_REPORT) return ERR('ENOTTY');
    const io = dataView(arg);
    // snp_guest_ioctl: exitinfo2 = 0xff first; copied back only when non-zero.
    let exitinfo2 = 0xffn;
    const finish = (outcome: IoctlOutcome): IoctlOutcome => {
      if (exitinfo2 !== 0n) io.setBigUint64(SNP_GUEST_REQUEST_IOCTL.exitinfo2.offset, exitinfo2, true);
      return outcome;
    };
    if (io.getUint8(0) === 0) return finish(ERR('EINVAL'));
    const reqData = io.getBigUint64(SNP_GUEST_REQUEST_IOCTL.reqData.offset, true);
    const respData = io.getBigUint64(SNP_GUEST_REQUEST_IOCTL.respData.offset, true);
    const ext = request === SNP_GET_EXT_REPORT;
    const req = memory.at(reqData, ext ? SNP_EXT_REPORT_REQ.size : SNP_REPORT_REQ.size);
    const rv = dataView(req);
    host.vmpl?.push(rv.getUint32(SNP_REPORT_REQ.vmpl.offset, true));
    const resp = memory.at(respData, 4000);
    let certs: Uint8Array | undefined;
    if (ext) {
      const certsLen = rv.getUint32(SNP_EXT_REPORT_REQ.certsLen.offset, true);
      const certsAddress = rv.getBigUint64(SNP_EXT_REPORT_REQ.certsAddress.offset, true);
      if (certsLen > 0 && certsAddress !== 0n) {
        if (certsLen > 0x4000 * 64 || certsLen % PAGE !== 0) return finish(ERR('EINVAL'));
        certs = memory.at(certsAddress, certsLen);
        const blob = host.certs ?? new Uint8Array(0);
        // A `needed` function plays a host that may misbehave: any other length is INVALID_LEN.
        const needed = host.needed?.(certsLen) ?? Math.ceil(blob.length / PAGE) * PAGE;
        if (host.needed === undefined ? needed > certsLen : needed !== certsLen) {
          // INVALID_LEN: the driver reissues a plain request, then writes the needed length back.
          exitinfo2 = 1n << 32n;
          rv.setUint32(SNP_EXT_REPORT_REQ.certsLen.offset, needed, true);
          return finish(ERR('EIO'));
        }
        certs.fill(0);
        certs.set(blob);
      }
    }
    if (host.fwError !== undefined) {
      exitinfo2 = BigInt(host.fwError);
      return finish(ERR('EIO'));
    }
    exitinfo2 = 0n;
    const report = new Uint8Array(REPORT_SIZE);
    report.set(req.subarray(0, 64), 0x50); // REPORT_DATA
    resp.set(serializeMsgReportRsp({ status: host.status ?? 0, reportSize: host.reportSize ?? REPORT_SIZE, report }));
    return finish({ ok: true, rc: 0 });
  });
}

function hostCerts(): Uint8Array {
  return serializeCertTable([
    { guid: CERT_GUID.vcek, data: new Uint8Array(1300).fill(1) },
    { guid: CERT_GUID.ask, data: new Uint8Array(1600).fill(2) },
    { guid: CERT_GUID.ark, data: new Uint8Array(1600).fill(3) },
  ]);
}

function deviceErr(check: (e: TeeDeviceError) => boolean): (e: unknown) => boolean {
  return (e: unknown) => e instanceof TeeDeviceError && e.code === 'TEE_DEVICE' && check(e);
}

describe('SevGuestDeviceProvider (fake driver)', () => {
  it('SNP_GET_REPORT: returns the report bound to the report data at the requested VMPL', async () => {
    const vmpl: number[] = [];
    const kernel = fakeSevGuest({ vmpl });
    const p = new SevGuestDeviceProvider({ certificates: false, runIoctl: kernel, path: '/dev/fake-sev' });
    const raw = await p.getEvidence({ reportData, privilegeLevel: 2 });
    assert.equal(raw.platform, 'sev-snp');
    assert.equal(raw.simulated, false);
    assert.equal(raw.source, SEV_GUEST_SOURCE);
    assert.equal(raw.evidence.length, REPORT_SIZE);
    assert.deepEqual(raw.evidence.subarray(0x50, 0x90), reportData);
    assert.equal(raw.certTable, undefined);
    assert.deepEqual(vmpl, [2]);
    assert.equal(kernel.calls.length, 1);
    assert.equal(kernel.calls[0]?.path, '/dev/fake-sev');
    assert.equal(kernel.calls[0].request, SNP_GET_REPORT);
    // What the kernel saw: msg_version 1 and the two addresses, little-endian.
    const seen = kernel.patched[0]?.[0];
    assert.equal(
      toHex(seen ?? new Uint8Array(0)),
      '01' + '00000000000000' + '00101000007f0000' + '00102000007f0000' + '0000000000000000', // req_data = 0x7f0000101000, resp_data = 0x7f0000201000
    );
  });

  it('SNP_GET_EXT_REPORT: returns the report and the host certificate table', async () => {
    const kernel = fakeSevGuest({ certs: hostCerts() });
    const raw = await new SevGuestDeviceProvider({ runIoctl: kernel }).getEvidence({ reportData });
    assert.equal(kernel.calls[0]?.request, SNP_GET_EXT_REPORT);
    assert.equal(kernel.calls[0].path, '/dev/sev-guest');
    assert.equal(raw.certTable?.length, 0x4000);
    assert.deepEqual(parseCertTable(raw.certTable ?? new Uint8Array(0)).map((e) => e.guid), [CERT_GUID.vcek, CERT_GUID.ask, CERT_GUID.ark]);
    assert.deepEqual(raw.evidence.subarray(0x50, 0x90), reportData);
  });

  it('SNP_GET_EXT_REPORT: no certTable when the host supplies none', async () => {
    const raw = await new SevGuestDeviceProvider({ runIoctl: fakeSevGuest() }).getEvidence({ reportData });
    assert.equal(raw.certTable, undefined);
  });

  it('refuses a malformed certificate table', async () => {
    const bad = hostCerts();
    dataView(bad).setUint32(20, 0x10_0000, true); // first entry's length points past the buffer
    await assert.rejects(new SevGuestDeviceProvider({ runIoctl: fakeSevGuest({ certs: bad }) }).getEvidence({ reportData }), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_CERT_TABLE');
  });

  it('grows the certificate buffer when the host says INVALID_LEN, and retries', async () => {
    const certs = new Uint8Array(0x5800);
    certs.set(hostCerts());
    const kernel = fakeSevGuest({ certs });
    const raw = await new SevGuestDeviceProvider({ runIoctl: kernel, initialCertsLength: PAGE }).getEvidence({ reportData });
    assert.deepEqual(
      kernel.calls.map((c) => c.buffers[3]?.length),
      [PAGE, 0x6000],
    );
    // The retry marshals the new length and a buffer of exactly that length.
    assert.equal(dataView(kernel.calls[1]?.buffers[1] ?? new Uint8Array(112)).getUint32(SNP_EXT_REPORT_REQ.certsLen.offset, true), 0x6000);
    assert.equal(raw.certTable?.length, 0x6000);
  });

  it('gives up after a bounded number of attempts when the host keeps asking for more', async () => {
    const kernel = fakeSevGuest({ needed: (len) => len + PAGE });
    await assert.rejects(
      new SevGuestDeviceProvider({ runIoctl: kernel, initialCertsLength: PAGE }).getEvidence({ reportData }),
      deviceErr((e) => e.vmmError === 1 && e.errno === 'EIO' && /still too small after 3 attempts/.test(e.message)),
    );
    assert.equal(kernel.calls.length, MAX_EXT_REPORT_ATTEMPTS);
  });

  it('refuses a needed length above the limit, not larger, or not a page multiple', async () => {
    for (const [initial, needed, why] of [
      [PAGE, 0x20_0000, /more than the 1048576-byte limit/],
      [PAGE * 2, PAGE, /not a page multiple larger than the 8192 bytes offered/],
      [PAGE, PAGE * 2 + 1, /not a page multiple larger than/],
    ] as const) {
      await assert.rejects(
        new SevGuestDeviceProvider({ runIoctl: fakeSevGuest({ needed: () => needed }), initialCertsLength: initial }).getEvidence({ reportData }),
        deviceErr((e) => e.vmmError === 1 && why.test(e.message)),
      );
    }
  });

  it('names firmware errors from fw_error', async () => {
    await assert.rejects(
      new SevGuestDeviceProvider({ runIoctl: fakeSevGuest({ fwError: 0x16 }) }).getEvidence({ reportData }),
      deviceErr((e) => e.firmwareError === 0x16 && e.vmmError === undefined && e.errno === 'EIO' && e.message === 'SNP_GET_EXT_REPORT on /dev/sev-guest failed (EIO): firmware error 0x16 SEV_RET_INVALID_PARAM'),
    );
  });

  it('names a MSG_REPORT_RSP status as a firmware error', async () => {
    await assert.rejects(
      new SevGuestDeviceProvider({ certificates: false, runIoctl: fakeSevGuest({ status: 0x27, reportSize: 0 }) }).getEvidence({ reportData }),
      deviceErr((e) => e.firmwareError === 0x27 && e.message.includes('SEV_RET_INVALID_KEY')),
    );
  });

  it('refuses a short or oversized report_size', async () => {
    for (const reportSize of [REPORT_SIZE - 4, 4000 - 0x20]) {
      await assert.rejects(
        new SevGuestDeviceProvider({ runIoctl: fakeSevGuest({ reportSize }) }).getEvidence({ reportData }),
        (e: unknown) => e instanceof ParseError && e.field === 'MSG_REPORT_RSP.report_size',
      );
    }
  });

  it('does not report the driver\'s 0xff sentinel as a firmware code', async () => {
    // certs_len above the driver's limit: EINVAL before the firmware, exitinfo2 = 0xff copied back.
    await assert.rejects(
      new SevGuestDeviceProvider({ runIoctl: fakeSevGuest(), initialCertsLength: 0x4000 * 128, maxCertsLength: 0x4000 * 128 }).getEvidence({ reportData }),
      deviceErr((e) => e.errno === 'EINVAL' && e.firmwareError === undefined && e.message === '/dev/sev-guest rejected the SNP_GET_EXT_REPORT arguments (EINVAL)'),
    );
  });

  it('maps open and ioctl errnos to clear messages', async () => {
    const cases: [{ errno: string; syscall: string }, RegExp][] = [
      [{ errno: 'ENOENT', syscall: 'open' }, /^\/dev\/sev-guest does not exist \(ENOENT\): not an SEV-SNP guest/],
      [{ errno: 'EACCES', syscall: 'open' }, /^permission denied opening \/dev\/sev-guest \(EACCES\): run as root/],
      [{ errno: 'EBUSY', syscall: 'open' }, /^cannot open \/dev\/sev-guest: EBUSY$/],
      [{ errno: 'ENOTTY', syscall: 'ioctl' }, /does not implement SNP_GET_EXT_REPORT \(ENOTTY\): not a sev-guest device, or the driver disabled its VMPCK/],
      [{ errno: 'EIO', syscall: 'ioctl' }, /failed \(EIO\): no firmware or VMM code$/],
      [{ errno: 'ETIMEDOUT', syscall: 'ioctl' }, /timed out \(ETIMEDOUT\): the host kept answering busy$/],
      [{ errno: 'EFAULT', syscall: 'ioctl' }, /^SNP_GET_EXT_REPORT on \/dev\/sev-guest failed: EFAULT$/],
    ];
    for (const [errno, message] of cases) {
      await assert.rejects(
        new SevGuestDeviceProvider({ runIoctl: fakeSevGuest({ errno }) }).getEvidence({ reportData }),
        deviceErr((e) => e.errno === errno.errno && message.test(e.message)),
      );
    }
  });

  it('names VMM errors with their codes', () => {
    const e = deviceError({ path: '/dev/sev-guest', device: 'sev-guest', ioctl: 'SNP_GET_REPORT', platformHint: '' }, { ok: false, errno: 'EINVAL', syscall: 'ioctl' }, { fwError: 0, vmmError: 2 });
    assert.equal(e.message, '/dev/sev-guest rejected the SNP_GET_REPORT arguments (EINVAL): VMM error 0x02 SNP_GUEST_VMM_ERR_BUSY');
    assert.equal(e.vmmError, 2);
    const both = deviceError({ path: '/d', device: 'sev-guest', ioctl: 'X', platformHint: '' }, { ok: false, errno: 'EAGAIN', syscall: 'ioctl' }, { fwError: 0x16, vmmError: 0x80000000 });
    assert.equal(both.message, 'X on /d failed: EAGAIN: firmware error 0x16 SEV_RET_INVALID_PARAM, VMM error 0x80000000 SNP_GUEST_VMM_ERR_GENERIC');
  });

  it('validates the request and the options', async () => {
    const p = new SevGuestDeviceProvider({ runIoctl: fakeSevGuest() });
    await assert.rejects(p.getEvidence({ reportData: new Uint8Array(32) }), (e: unknown) => e instanceof CloisterError && e.field === 'reportData');
    await assert.rejects(p.getEvidence({ reportData, privilegeLevel: 4 }), (e: unknown) => e instanceof CloisterError && e.field === 'privilegeLevel');
    assert.throws(() => new SevGuestDeviceProvider({ initialCertsLength: 100 }), (e: unknown) => e instanceof CloisterError && e.field === 'initialCertsLength');
    assert.throws(() => new SevGuestDeviceProvider({ maxCertsLength: 0 }), (e: unknown) => e instanceof CloisterError && e.field === 'maxCertsLength');
  });
});

// ------------------------------------------------------------------------------------------

function fakeTdxGuest(opts: { type?: number; echo?: boolean; errno?: { errno: string; syscall: string } } = {}): ReturnType<typeof fakeKernel> {
  return fakeKernel((request, arg) => {
    if (opts.errno !== undefined) return { ok: false, ...opts.errno };
    if (request !== TDX_CMD_GET_REPORT0) return ERR('ENOTTY');
    const tdReport = arg.subarray(TDX_REPORT_REQ.tdReport.offset, TDX_REPORT_REQ.tdReport.offset + 1024);
    tdReport.fill(0x5a);
    tdReport[0] = opts.type ?? 0x81;
    if (opts.echo ?? true) tdReport.set(arg.subarray(0, 64), 0x80);
    return { ok: true, rc: 0 };
  });
}

describe('TdxGuestDeviceProvider (fake driver)', () => {
  it('returns the TDREPORT and says it is not a quote', async () => {
    const kernel = fakeTdxGuest();
    const raw = await new TdxGuestDeviceProvider({ runIoctl: kernel, path: '/dev/fake-tdx' }).getEvidence({ reportData });
    assert.equal(raw.platform, 'tdx');
    assert.equal(raw.source, TDX_GUEST_SOURCE);
    assert.match(raw.source, /not a quote/);
    assert.equal(raw.evidence.length, 1024);
    assert.deepEqual(raw.evidence.subarray(0x80, 0xc0), reportData);
    assert.equal(kernel.calls[0]?.request, TDX_CMD_GET_REPORT0);
    assert.equal(kernel.calls[0].path, '/dev/fake-tdx');
  });

  it('refuses a report of another type or without the report data', async () => {
    await assert.rejects(new TdxGuestDeviceProvider({ runIoctl: fakeTdxGuest({ type: 0 }) }).getEvidence({ reportData }), (e: unknown) => e instanceof ParseError && e.field === 'REPORTMACSTRUCT.REPORTTYPE.TYPE');
    await assert.rejects(new TdxGuestDeviceProvider({ runIoctl: fakeTdxGuest({ echo: false }) }).getEvidence({ reportData }), (e: unknown) => e instanceof ParseError && e.field === 'REPORTMACSTRUCT.REPORTDATA');
  });

  it('maps errors', async () => {
    await assert.rejects(
      new TdxGuestDeviceProvider({ runIoctl: fakeTdxGuest({ errno: { errno: 'EIO', syscall: 'ioctl' } }) }).getEvidence({ reportData }),
      deviceErr((e) => e.message === 'TDX_CMD_GET_REPORT0 on /dev/tdx_guest failed (EIO): the TDG.MR.REPORT TDCALL failed' && e.firmwareError === undefined),
    );
    await assert.rejects(
      new TdxGuestDeviceProvider({ runIoctl: fakeTdxGuest({ errno: { errno: 'ENOENT', syscall: 'open' } }) }).getEvidence({ reportData }),
      deviceErr((e) => /not a TDX guest, or the tdx_guest driver is not loaded/.test(e.message)),
    );
    await assert.rejects(
      new TdxGuestDeviceProvider({ runIoctl: fakeTdxGuest({ errno: { errno: 'ENOTTY', syscall: 'ioctl' } }) }).getEvidence({ reportData }),
      deviceErr((e) => /not a tdx_guest device$/.test(e.message)),
    );
  });

  it('refuses a privilege level', async () => {
    await assert.rejects(new TdxGuestDeviceProvider({ runIoctl: fakeTdxGuest() }).getEvidence({ reportData, privilegeLevel: 1 }), (e: unknown) => e instanceof CloisterError && e.field === 'privilegeLevel');
  });
});

// ------------------------------------------------------------------------------------------
// The real addon (native/): error paths without hardware.

describe('device providers on the native addon', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-dev-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('no device: ENOENT', async () => {
    await assert.rejects(new SevGuestDeviceProvider({ path: join(dir, 'sev-guest') }).getEvidence({ reportData }), deviceErr((e) => e.errno === 'ENOENT' && e.message.includes('does not exist (ENOENT)')));
    await assert.rejects(new TdxGuestDeviceProvider({ path: join(dir, 'tdx_guest') }).getEvidence({ reportData }), deviceErr((e) => e.errno === 'ENOENT'));
  });

  it('not the driver: ENOTTY from /dev/null and from a regular file', async () => {
    const file = join(dir, 'regular');
    writeFileSync(file, 'not a device');
    for (const path of ['/dev/null', file]) {
      await assert.rejects(new SevGuestDeviceProvider({ path }).getEvidence({ reportData }), deviceErr((e) => e.errno === 'ENOTTY' && e.message.includes('does not implement SNP_GET_EXT_REPORT')));
      await assert.rejects(new SevGuestDeviceProvider({ path, certificates: false }).getEvidence({ reportData }), deviceErr((e) => e.errno === 'ENOTTY' && e.message.includes('SNP_GET_REPORT')));
      await assert.rejects(new TdxGuestDeviceProvider({ path }).getEvidence({ reportData }), deviceErr((e) => e.errno === 'ENOTTY' && e.message.includes('TDX_CMD_GET_REPORT0')));
    }
  });

  const root = process.getuid?.() === 0;
  it('permission denied: EACCES', { skip: root ? 'running as root: mode 000 does not stop root (CAP_DAC_OVERRIDE)' : false }, async () => {
    const file = join(dir, 'locked');
    writeFileSync(file, '');
    chmodSync(file, 0o000);
    await assert.rejects(new SevGuestDeviceProvider({ path: file }).getEvidence({ reportData }), deviceErr((e) => e.errno === 'EACCES' && e.message.startsWith('permission denied')));
  });
});
