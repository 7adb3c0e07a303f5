// Evidence from the guest drivers' ioctls: /dev/sev-guest (SNP_GET_REPORT, SNP_GET_EXT_REPORT)
// and /dev/tdx_guest (TDX_CMD_GET_REPORT0). The ioctl runner is injected (the native addon by
// default), so everything here is tested without hardware; ioctl.ts holds the byte layouts.
import { CloisterError } from '../../attestation/errors.js';
import { parseCertTable } from '../../attestation/snp/certTable.js';
import { isAllZero } from '../../attestation/bytes.js';
import {
  checkCertsLen,
  checkTdReport,
  firmwareErrorName,
  parseMsgReportRsp,
  parseSnpExtReportReq,
  parseSnpGuestRequestIoctl,
  parseTdxReportReq,
  PAGE_SIZE,
  SEV_FW_BLOB_MAX_SIZE,
  SNP_FW_ERROR_NOT_ISSUED,
  SNP_GUEST_VMM_ERR,
  snpGetExtReportCall,
  snpGetReportCall,
  tdxGetReport0Call,
  vmmErrorName,
  type IoctlOutcome,
  type IoctlRunner,
  type SnpCall,
} from './ioctl.js';
import { nativeIoctlRunner } from './nativeIoctl.js';
import { assertReportData, TeeDeviceError, type EvidenceProvider, type EvidenceRequest, type RawEvidence } from './provider.js';

export const SEV_GUEST_DEVICE = '/dev/sev-guest';
export const TDX_GUEST_DEVICE = '/dev/tdx_guest';

/** Source names in RawEvidence. */
export const SEV_GUEST_SOURCE = 'sev-guest ioctl';
export const TDX_GUEST_SOURCE = 'tdx_guest ioctl (TDREPORT, not a quote)';

/** Largest certificate buffer this provider grows to (256 pages; the driver itself allows 16 KiB today). */
export const MAX_CERTS_LENGTH = 0x10_0000;
/** SNP_GET_EXT_REPORT attempts: the first, then at most two regrowths. */
export const MAX_EXT_REPORT_ATTEMPTS = 3;

type Failure = Extract<IoctlOutcome, { ok: false }>;

interface DeviceInfo {
  readonly path: string;
  /** "sev-guest", "tdx_guest" */
  readonly device: string;
  readonly ioctl: string;
  readonly platformHint: string;
}

/** The TeeDeviceError for a failed open or ioctl; `codes` are SNP's fw_error / vmm_error when read back. */
export function deviceError(info: DeviceInfo, failure: Failure, codes: { readonly fwError: number; readonly vmmError: number } = { fwError: 0, vmmError: 0 }): TeeDeviceError {
  const { path, device, ioctl } = info;
  const { errno } = failure;
  const firmwareError = codes.fwError !== 0 && codes.fwError !== SNP_FW_ERROR_NOT_ISSUED ? codes.fwError : undefined;
  const vmmError = codes.vmmError !== 0 ? codes.vmmError : undefined;
  const details = { errno, field: path, ...(firmwareError === undefined ? {} : { firmwareError }), ...(vmmError === undefined ? {} : { vmmError }) };
  if (failure.syscall === 'open') {
    if (errno === 'ENOENT' || errno === 'ENXIO' || errno === 'ENODEV') return new TeeDeviceError(`${path} does not exist (${errno}): ${info.platformHint}`, details);
    if (errno === 'EACCES' || errno === 'EPERM') {
      return new TeeDeviceError(`permission denied opening ${path} (${errno}): run as root or give this user read-write access to the device`, details);
    }
    return new TeeDeviceError(`cannot open ${path}: ${errno}`, details);
  }
  const codeText = [
    ...(firmwareError === undefined ? [] : [`firmware error ${firmwareErrorName(firmwareError)}`]),
    ...(vmmError === undefined ? [] : [`VMM error ${vmmErrorName(vmmError)}`]),
  ].join(', ');
  switch (errno) {
    case 'ENOTTY':
      return new TeeDeviceError(
        `${path} does not implement ${ioctl} (ENOTTY): not a ${device} device${device === 'sev-guest' ? ', or the driver disabled its VMPCK after an earlier firmware error' : ''}`,
        details,
      );
    case 'EIO':
      return new TeeDeviceError(`${ioctl} on ${path} failed (EIO): ${codeText === '' ? (device === 'tdx_guest' ? 'the TDG.MR.REPORT TDCALL failed' : 'no firmware or VMM code') : codeText}`, details);
    case 'EINVAL':
      return new TeeDeviceError(`${path} rejected the ${ioctl} arguments (EINVAL)${codeText === '' ? '' : `: ${codeText}`}`, details);
    case 'ETIMEDOUT':
      return new TeeDeviceError(`${ioctl} on ${path} timed out (ETIMEDOUT): the host kept answering busy${codeText === '' ? '' : `: ${codeText}`}`, details);
    default:
      return new TeeDeviceError(`${ioctl} on ${path} failed: ${errno}${codeText === '' ? '' : `: ${codeText}`}`, details);
  }
}

function privilegeLevel(request: EvidenceRequest): number {
  const vmpl = request.privilegeLevel ?? 0;
  if (!Number.isInteger(vmpl) || vmpl < 0 || vmpl > 3) {
    throw new CloisterError('MALFORMED_FIELD', `privilege level (VMPL) must be 0..3, got ${vmpl}`, { field: 'privilegeLevel', expected: '0..3', actual: String(vmpl) });
  }
  return vmpl;
}

export interface SevGuestDeviceOptions {
  /** Default /dev/sev-guest. */
  readonly path?: string;
  /** SNP_GET_EXT_REPORT with the host's certificate table (default true), or SNP_GET_REPORT alone. */
  readonly certificates?: boolean;
  /** First certificate buffer length, a page multiple. Default SEV_FW_BLOB_MAX_SIZE (16 KiB). */
  readonly initialCertsLength?: number;
  /** Largest buffer to grow to when the host asks for more. Default MAX_CERTS_LENGTH. */
  readonly maxCertsLength?: number;
  /** Default: the native addon. */
  readonly runIoctl?: IoctlRunner;
}

/** SEV-SNP evidence from /dev/sev-guest. */
export class SevGuestDeviceProvider implements EvidenceProvider {
  readonly name = 'sev-guest-ioctl';
  readonly platform = 'sev-snp' as const;
  readonly simulated = false;
  readonly path: string;
  readonly certificates: boolean;
  readonly #initialCertsLength: number;
  readonly #maxCertsLength: number;
  readonly #run: IoctlRunner;

  constructor(options: SevGuestDeviceOptions = {}) {
    this.path = options.path ?? SEV_GUEST_DEVICE;
    this.certificates = options.certificates ?? true;
    this.#initialCertsLength = options.initialCertsLength ?? SEV_FW_BLOB_MAX_SIZE;
    this.#maxCertsLength = options.maxCertsLength ?? MAX_CERTS_LENGTH;
    checkCertsLen(this.#initialCertsLength, 'initialCertsLength');
    checkCertsLen(this.#maxCertsLength, 'maxCertsLength');
    this.#run = options.runIoctl ?? nativeIoctlRunner();
  }

  async getEvidence(request: EvidenceRequest): Promise<RawEvidence> {
    assertReportData(request.reportData);
    const vmpl = privilegeLevel(request);
    if (!this.certificates) {
      const call = snpGetReportCall(this.path, { userData: request.reportData, vmpl });
      await this.#issue(call, 'SNP_GET_REPORT');
      return { platform: 'sev-snp', evidence: parseMsgReportRsp(call.response).report, source: SEV_GUEST_SOURCE, simulated: false };
    }
    let certsLen = this.#initialCertsLength;
    for (let attempt = 1; ; attempt++) {
      const call = snpGetExtReportCall(this.path, { userData: request.reportData, vmpl, certsLen });
      const needed = await this.#issue(call, 'SNP_GET_EXT_REPORT');
      if (needed === undefined) {
        const report = parseMsgReportRsp(call.response).report;
        const certs = call.certs ?? new Uint8Array(0);
        // The driver zero-fills the buffer: an all-zero first entry means the host supplied no certificates.
        if (isAllZero(certs.subarray(0, 24))) return { platform: 'sev-snp', evidence: report, source: SEV_GUEST_SOURCE, simulated: false };
        parseCertTable(certs);
        return { platform: 'sev-snp', evidence: report, certTable: certs, source: SEV_GUEST_SOURCE, simulated: false };
      }
      // SNP_GUEST_VMM_ERR_INVALID_LEN: the driver wrote the length the host needs into certs_len.
      const error = (why: string): TeeDeviceError =>
        new TeeDeviceError(`SNP_GET_EXT_REPORT on ${this.path}: the host needs a ${needed}-byte certificate buffer (${why})`, {
          errno: 'EIO',
          vmmError: SNP_GUEST_VMM_ERR.INVALID_LEN,
          field: 'certs_len',
        });
      if (needed <= certsLen || needed % PAGE_SIZE !== 0) throw error(`not a page multiple larger than the ${certsLen} bytes offered`);
      if (needed > this.#maxCertsLength) throw error(`more than the ${this.#maxCertsLength}-byte limit`);
      if (attempt >= MAX_EXT_REPORT_ATTEMPTS) throw error(`still too small after ${attempt} attempts`);
      certsLen = needed;
    }
  }

  /** Runs the call; undefined on success, the needed certs_len on INVALID_LEN, else throws. */
  async #issue(call: SnpCall, ioctl: string): Promise<number | undefined> {
    const outcome = await this.#run(call.call);
    if (outcome.ok) return undefined;
    const info = { path: this.path, device: 'sev-guest', ioctl, platformHint: 'not an SEV-SNP guest, or the sev-guest driver is not loaded' };
    if (outcome.syscall !== 'ioctl') throw deviceError(info, outcome);
    const io = parseSnpGuestRequestIoctl(call.guestRequest);
    // Current drivers return EIO with it; vmm_error, not the errno, is what says it.
    if (io.vmmError === SNP_GUEST_VMM_ERR.INVALID_LEN && call.certs !== undefined) return parseSnpExtReportReq(call.reportReq).certsLen;
    throw deviceError(info, outcome, io);
  }
}

export interface TdxGuestDeviceOptions {
  /** Default /dev/tdx_guest. */
  readonly path?: string;
  /** Default: the native addon. */
  readonly runIoctl?: IoctlRunner;
}

/**
 * The 1024-byte TDREPORT from /dev/tdx_guest. A TDREPORT is not a quote: it is MACed with a key
 * only this platform's TDX module holds, so no remote party can verify it. A quote (signed by the
 * TD quoting enclave) comes from configfs-tsm or a quote generation service (QGS); this provider
 * is for local checks and for handing the TDREPORT to a QGS. RawEvidence.source says so.
 */
export class TdxGuestDeviceProvider implements EvidenceProvider {
  readonly name = 'tdx_guest-ioctl';
  readonly platform = 'tdx' as const;
  readonly simulated = false;
  readonly path: string;
  readonly #run: IoctlRunner;

  constructor(options: TdxGuestDeviceOptions = {}) {
    this.path = options.path ?? TDX_GUEST_DEVICE;
    this.#run = options.runIoctl ?? nativeIoctlRunner();
  }

  async getEvidence(request: EvidenceRequest): Promise<RawEvidence> {
    assertReportData(request.reportData);
    if ((request.privilegeLevel ?? 0) !== 0) {
      throw new CloisterError('MALFORMED_FIELD', `TDX has no privilege levels; privilegeLevel must be 0, got ${request.privilegeLevel}`, {
        field: 'privilegeLevel',
        expected: '0',
        actual: String(request.privilegeLevel),
      });
    }
    const { call, reportReq } = tdxGetReport0Call(this.path, request.reportData);
    const outcome = await this.#run(call);
    if (!outcome.ok) {
      throw deviceError({ path: this.path, device: 'tdx_guest', ioctl: 'TDX_CMD_GET_REPORT0', platformHint: 'not a TDX guest, or the tdx_guest driver is not loaded' }, outcome);
    }
    const { tdReport } = parseTdxReportReq(reportReq);
    checkTdReport(tdReport, request.reportData);
    return { platform: 'tdx', evidence: tdReport, source: TDX_GUEST_SOURCE, simulated: false };
  }
}
