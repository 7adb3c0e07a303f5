// SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP Firmware ABI specification, rev. 1.58, Table 23).
//
//   0x000 VERSION u32            0x004 GUEST_SVN u32        0x008 POLICY u64
//   0x010 FAMILY_ID [16]         0x020 IMAGE_ID [16]        0x030 VMPL u32
//   0x034 SIGNATURE_ALGO u32     0x038 CURRENT_TCB u64      0x040 PLATFORM_INFO u64
//   0x048 key info u32 (AUTHOR_KEY_EN bit 0, MASK_CHIP_KEY bit 1, SIGNING_KEY bits 4:2)
//   0x04C reserved u32           0x050 REPORT_DATA [64]     0x090 MEASUREMENT [48]
//   0x0C0 HOST_DATA [32]         0x0E0 ID_KEY_DIGEST [48]   0x110 AUTHOR_KEY_DIGEST [48]
//   0x140 REPORT_ID [32]         0x160 REPORT_ID_MA [32]    0x180 REPORTED_TCB u64
//   0x188 CPUID_FAM_ID, 0x189 CPUID_MOD_ID, 0x18A CPUID_STEP (version >= 3; reserved in 2)
//   0x18B reserved [21]          0x1A0 CHIP_ID [64]         0x1E0 COMMITTED_TCB u64
//   0x1E8 CURRENT_BUILD, MINOR, MAJOR, reserved             0x1EC COMMITTED_BUILD, MINOR, MAJOR, reserved
//   0x1F0 LAUNCH_TCB u64
//   0x1F8 LAUNCH_MIT_VECTOR u64, 0x200 CURRENT_MIT_VECTOR u64 (version >= 5; reserved before)
//   0x208 reserved up to 0x2A0
//   0x2A0 SIGNATURE: R [72] little-endian, S [72] little-endian at 0x2E8, reserved to 0x4A0
// The signature covers bytes 0x000..0x2A0.
import { dataView, isAllZero, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';
import { decodeGuestPolicy, decodeKeyInfo, decodePlatformInfo, type GuestPolicy, type KeyInfo, type PlatformInfo } from './fields.js';

export const REPORT_SIZE = 0x4a0;
export const SIGNED_SIZE = 0x2a0;
// Version 4 is unpublished but emitted by some firmware (GCP Milan 1.55.31); it has the version 3 layout.
export const SUPPORTED_VERSIONS = [2, 3, 4, 5] as const;
export const SIGNATURE_ALGO_ECDSA_P384_SHA384 = 1;

export interface CpuId {
  readonly family: number;
  readonly model: number;
  readonly stepping: number;
}

export interface FirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
}

export interface SnpReport {
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: GuestPolicy;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  /** TCB_VERSION values stay raw u64: their byte layout depends on the product (see tcb.ts). */
  readonly currentTcb: bigint;
  readonly platformInfo: PlatformInfo;
  readonly keyInfo: KeyInfo;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  readonly reportedTcb: bigint;
  readonly cpuid: CpuId | undefined;
  readonly chipId: Uint8Array;
  readonly committedTcb: bigint;
  readonly currentVersion: FirmwareVersion;
  readonly committedVersion: FirmwareVersion;
  readonly launchTcb: bigint;
  readonly launchMitVector: bigint | undefined;
  readonly currentMitVector: bigint | undefined;
  /** R and S as stored: 72-byte little-endian each. */
  readonly signatureR: Uint8Array;
  readonly signatureS: Uint8Array;
  /** The bytes the signature covers. */
  readonly signedBytes: Uint8Array;
  readonly raw: Uint8Array;
}

interface Range {
  readonly start: number;
  readonly end: number;
  readonly field: string;
}

function reservedRanges(version: number): Range[] {
  const ranges: Range[] = [{ start: 0x04c, end: 0x050, field: 'reserved after key info' }];
  ranges.push(version >= 3 ? { start: 0x18b, end: 0x1a0, field: 'reserved after CPUID_STEP' } : { start: 0x188, end: 0x1a0, field: 'reserved after REPORTED_TCB' });
  ranges.push({ start: 0x1eb, end: 0x1ec, field: 'reserved after CURRENT_MAJOR' });
  ranges.push({ start: 0x1ef, end: 0x1f0, field: 'reserved after COMMITTED_MAJOR' });
  ranges.push(version >= 5 ? { start: 0x208, end: 0x2a0, field: 'reserved after CURRENT_MIT_VECTOR' } : { start: 0x1f8, end: 0x2a0, field: 'reserved after LAUNCH_TCB' });
  ranges.push({ start: 0x2a0 + 48, end: 0x2a0 + 72, field: 'SIGNATURE.R high bytes' });
  ranges.push({ start: 0x2e8 + 48, end: 0x2e8 + 72, field: 'SIGNATURE.S high bytes' });
  ranges.push({ start: 0x330, end: 0x4a0, field: 'reserved after SIGNATURE.S' });
  return ranges;
}

function hexRange(r: Range): string {
  return `0x${r.start.toString(16).padStart(3, '0')}..0x${r.end.toString(16).padStart(3, '0')}`;
}

/**
 * Checks the shape of a report: its size, version, signature algorithm and every must-be-zero
 * range for its version. Field values that policies judge (reserved policy bits, TCB bytes) are
 * decoded, not rejected, so that a tampered byte fails the signature rather than the parse.
 */
export function parseReport(bytes: Uint8Array): SnpReport {
  if (bytes.length < REPORT_SIZE) {
    throw new ParseError('TRUNCATED', `SEV-SNP report is ${bytes.length} bytes, expected ${REPORT_SIZE}`, {
      field: 'report',
      expected: String(REPORT_SIZE),
      actual: String(bytes.length),
    });
  }
  if (bytes.length > REPORT_SIZE) {
    throw new ParseError('TRAILING_BYTES', `SEV-SNP report is ${bytes.length} bytes, expected ${REPORT_SIZE}`, {
      field: 'report',
      expected: String(REPORT_SIZE),
      actual: String(bytes.length),
      offset: REPORT_SIZE,
    });
  }
  const v = dataView(bytes);
  const version = v.getUint32(0x000, true);
  if (!(SUPPORTED_VERSIONS as readonly number[]).includes(version)) {
    throw new ParseError('UNSUPPORTED_VERSION', `SEV-SNP report version ${version} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`, {
      field: 'VERSION',
      expected: SUPPORTED_VERSIONS.join('|'),
      actual: String(version),
      offset: 0,
    });
  }
  const signatureAlgo = v.getUint32(0x034, true);
  if (signatureAlgo !== SIGNATURE_ALGO_ECDSA_P384_SHA384) {
    throw new ParseError('UNSUPPORTED_ALGORITHM', `SIGNATURE_ALGO is ${signatureAlgo}, expected 1 (ECDSA P-384 with SHA-384)`, {
      field: 'SIGNATURE_ALGO',
      expected: '1',
      actual: String(signatureAlgo),
      offset: 0x034,
    });
  }
  for (const r of reservedRanges(version)) {
    const slice = bytes.subarray(r.start, r.end);
    if (!isAllZero(slice)) {
      throw new ParseError('RESERVED_NONZERO', `must-be-zero range ${hexRange(r)} (${r.field}) holds ${toHex(slice)}`, {
        field: r.field,
        expected: 'zero',
        actual: toHex(slice),
        offset: r.start,
      });
    }
  }
  const vmpl = v.getUint32(0x030, true);
  if (vmpl > 3) {
    throw new ParseError('MALFORMED_FIELD', `VMPL is ${vmpl}, expected 0..3`, { field: 'VMPL', expected: '0..3', actual: String(vmpl), offset: 0x030 });
  }
  // Fields are copies, so changing one cannot change `raw` or the signed bytes.
  const raw = bytes.slice();
  const slice = (start: number, size: number): Uint8Array => bytes.slice(start, start + size);
  const fw = (at: number): FirmwareVersion => ({ build: bytes[at] as number, minor: bytes[at + 1] as number, major: bytes[at + 2] as number });
  return Object.freeze({
    version,
    guestSvn: v.getUint32(0x004, true),
    policy: decodeGuestPolicy(v.getBigUint64(0x008, true)),
    familyId: slice(0x010, 16),
    imageId: slice(0x020, 16),
    vmpl,
    signatureAlgo,
    currentTcb: v.getBigUint64(0x038, true),
    platformInfo: decodePlatformInfo(v.getBigUint64(0x040, true)),
    keyInfo: decodeKeyInfo(v.getUint32(0x048, true)),
    reportData: slice(0x050, 64),
    measurement: slice(0x090, 48),
    hostData: slice(0x0c0, 32),
    idKeyDigest: slice(0x0e0, 48),
    authorKeyDigest: slice(0x110, 48),
    reportId: slice(0x140, 32),
    reportIdMa: slice(0x160, 32),
    reportedTcb: v.getBigUint64(0x180, true),
    cpuid: version >= 3 ? { family: bytes[0x188] as number, model: bytes[0x189] as number, stepping: bytes[0x18a] as number } : undefined,
    chipId: slice(0x1a0, 64),
    committedTcb: v.getBigUint64(0x1e0, true),
    currentVersion: fw(0x1e8),
    committedVersion: fw(0x1ec),
    launchTcb: v.getBigUint64(0x1f0, true),
    launchMitVector: version >= 5 ? v.getBigUint64(0x1f8, true) : undefined,
    currentMitVector: version >= 5 ? v.getBigUint64(0x200, true) : undefined,
    signatureR: slice(0x2a0, 72),
    signatureS: slice(0x2e8, 72),
    signedBytes: raw.subarray(0, SIGNED_SIZE),
    raw,
  });
}

/** Writes a report back to its 1184 bytes; reserved ranges are zero. */
export function serializeReport(r: Omit<SnpReport, 'signedBytes' | 'raw'>): Uint8Array {
  const out = new Uint8Array(REPORT_SIZE);
  const v = dataView(out);
  v.setUint32(0x000, r.version, true);
  v.setUint32(0x004, r.guestSvn, true);
  v.setBigUint64(0x008, r.policy.raw, true);
  out.set(r.familyId, 0x010);
  out.set(r.imageId, 0x020);
  v.setUint32(0x030, r.vmpl, true);
  v.setUint32(0x034, r.signatureAlgo, true);
  v.setBigUint64(0x038, r.currentTcb, true);
  v.setBigUint64(0x040, r.platformInfo.raw, true);
  v.setUint32(0x048, r.keyInfo.raw, true);
  out.set(r.reportData, 0x050);
  out.set(r.measurement, 0x090);
  out.set(r.hostData, 0x0c0);
  out.set(r.idKeyDigest, 0x0e0);
  out.set(r.authorKeyDigest, 0x110);
  out.set(r.reportId, 0x140);
  out.set(r.reportIdMa, 0x160);
  v.setBigUint64(0x180, r.reportedTcb, true);
  if (r.cpuid !== undefined) out.set([r.cpuid.family, r.cpuid.model, r.cpuid.stepping], 0x188);
  out.set(r.chipId, 0x1a0);
  v.setBigUint64(0x1e0, r.committedTcb, true);
  out.set([r.currentVersion.build, r.currentVersion.minor, r.currentVersion.major], 0x1e8);
  out.set([r.committedVersion.build, r.committedVersion.minor, r.committedVersion.major], 0x1ec);
  v.setBigUint64(0x1f0, r.launchTcb, true);
  if (r.launchMitVector !== undefined) v.setBigUint64(0x1f8, r.launchMitVector, true);
  if (r.currentMitVector !== undefined) v.setBigUint64(0x200, r.currentMitVector, true);
  out.set(r.signatureR, 0x2a0);
  out.set(r.signatureS, 0x2e8);
  return out;
}

/** The report signature as the big-endian r||s (96 bytes) that WebCrypto's P-384 verify takes. */
export function signatureP1363(r: SnpReport): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(96);
  for (let i = 0; i < 48; i++) {
    out[47 - i] = r.signatureR[i] as number;
    out[95 - i] = r.signatureS[i] as number;
  }
  return out;
}
