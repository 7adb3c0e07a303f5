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
import { ParseError } from '../errors.js';
import { defineLayout } from '../layout.js';
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

/** ATTESTATION_REPORT, Table 23: every byte is a field or a must-be-zero range, per VERSION. */
const REPORT = defineLayout({
  name: 'SEV-SNP report',
  field: 'report',
  size: REPORT_SIZE,
  variants: SUPPORTED_VERSIONS,
  fields: {
    version: { offset: 0x000, size: 4, kind: 'u32' },
    guestSvn: { offset: 0x004, size: 4, kind: 'u32' },
    policy: { offset: 0x008, size: 8, kind: 'u64' },
    familyId: { offset: 0x010, size: 16, kind: 'bytes' },
    imageId: { offset: 0x020, size: 16, kind: 'bytes' },
    vmpl: { offset: 0x030, size: 4, kind: 'u32' },
    signatureAlgo: { offset: 0x034, size: 4, kind: 'u32' },
    currentTcb: { offset: 0x038, size: 8, kind: 'u64' },
    platformInfo: { offset: 0x040, size: 8, kind: 'u64' },
    keyInfo: { offset: 0x048, size: 4, kind: 'u32' },
    reservedAfterKeyInfo: { offset: 0x04c, size: 0x04, kind: 'zero', name: 'reserved after key info' },
    reportData: { offset: 0x050, size: 64, kind: 'bytes' },
    measurement: { offset: 0x090, size: 48, kind: 'bytes' },
    hostData: { offset: 0x0c0, size: 32, kind: 'bytes' },
    idKeyDigest: { offset: 0x0e0, size: 48, kind: 'bytes' },
    authorKeyDigest: { offset: 0x110, size: 48, kind: 'bytes' },
    reportId: { offset: 0x140, size: 32, kind: 'bytes' },
    reportIdMa: { offset: 0x160, size: 32, kind: 'bytes' },
    reportedTcb: { offset: 0x180, size: 8, kind: 'u64' },
    reservedAfterReportedTcb: { offset: 0x188, size: 0x18, kind: 'zero', name: 'reserved after REPORTED_TCB', variants: [2] },
    cpuidFamId: { offset: 0x188, size: 1, kind: 'u8', variants: [3, 4, 5] },
    cpuidModId: { offset: 0x189, size: 1, kind: 'u8', variants: [3, 4, 5] },
    cpuidStep: { offset: 0x18a, size: 1, kind: 'u8', variants: [3, 4, 5] },
    reservedAfterCpuidStep: { offset: 0x18b, size: 0x15, kind: 'zero', name: 'reserved after CPUID_STEP', variants: [3, 4, 5] },
    chipId: { offset: 0x1a0, size: 64, kind: 'bytes' },
    committedTcb: { offset: 0x1e0, size: 8, kind: 'u64' },
    currentBuild: { offset: 0x1e8, size: 1, kind: 'u8' },
    currentMinor: { offset: 0x1e9, size: 1, kind: 'u8' },
    currentMajor: { offset: 0x1ea, size: 1, kind: 'u8' },
    reservedAfterCurrentMajor: { offset: 0x1eb, size: 0x01, kind: 'zero', name: 'reserved after CURRENT_MAJOR' },
    committedBuild: { offset: 0x1ec, size: 1, kind: 'u8' },
    committedMinor: { offset: 0x1ed, size: 1, kind: 'u8' },
    committedMajor: { offset: 0x1ee, size: 1, kind: 'u8' },
    reservedAfterCommittedMajor: { offset: 0x1ef, size: 0x01, kind: 'zero', name: 'reserved after COMMITTED_MAJOR' },
    launchTcb: { offset: 0x1f0, size: 8, kind: 'u64' },
    reservedAfterLaunchTcb: { offset: 0x1f8, size: 0xa8, kind: 'zero', name: 'reserved after LAUNCH_TCB', variants: [2, 3, 4] },
    launchMitVector: { offset: 0x1f8, size: 8, kind: 'u64', variants: [5] },
    currentMitVector: { offset: 0x200, size: 8, kind: 'u64', variants: [5] },
    reservedAfterCurrentMitVector: { offset: 0x208, size: 0x98, kind: 'zero', name: 'reserved after CURRENT_MIT_VECTOR', variants: [5] },
    // A P-384 scalar is 48 bytes; the spec's 72-byte R and S keep their top 24 bytes zero.
    signatureR: { offset: 0x2a0, size: 72, kind: 'bytes' },
    signatureRHigh: { offset: 0x2d0, size: 0x18, kind: 'zero', name: 'SIGNATURE.R high bytes' },
    signatureS: { offset: 0x2e8, size: 72, kind: 'bytes' },
    signatureSHigh: { offset: 0x318, size: 0x18, kind: 'zero', name: 'SIGNATURE.S high bytes' },
    reservedAfterSignature: { offset: 0x330, size: 0x170, kind: 'zero', name: 'reserved after SIGNATURE.S' },
  },
});

const F = REPORT.fields;
/** Every field: serializeReport writes what it is given, whatever VERSION says (see there). */
const WIDEST_VERSION = 5;

/**
 * Checks the shape of a report: its size, version, signature algorithm and every must-be-zero
 * range for its version. Field values that policies judge (reserved policy bits, TCB bytes) are
 * decoded, not rejected, so that a tampered byte fails the signature rather than the parse.
 */
export function parseReport(bytes: Uint8Array): SnpReport {
  REPORT.checkSize(bytes);
  const version = REPORT.get(bytes, 'version');
  if (!(SUPPORTED_VERSIONS as readonly number[]).includes(version)) {
    throw new ParseError('UNSUPPORTED_VERSION', `SEV-SNP report version ${version} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`, {
      field: 'VERSION',
      expected: SUPPORTED_VERSIONS.join('|'),
      actual: String(version),
      offset: F.version.offset,
    });
  }
  const signatureAlgo = REPORT.get(bytes, 'signatureAlgo');
  if (signatureAlgo !== SIGNATURE_ALGO_ECDSA_P384_SHA384) {
    throw new ParseError('UNSUPPORTED_ALGORITHM', `SIGNATURE_ALGO is ${signatureAlgo}, expected 1 (ECDSA P-384 with SHA-384)`, {
      field: 'SIGNATURE_ALGO',
      expected: '1',
      actual: String(signatureAlgo),
      offset: F.signatureAlgo.offset,
    });
  }
  // Fields are copies, so changing one cannot change `raw` or the signed bytes.
  const f = REPORT.read(bytes, 0, version);
  if (f.vmpl > 3) {
    throw new ParseError('MALFORMED_FIELD', `VMPL is ${f.vmpl}, expected 0..3`, { field: 'VMPL', expected: '0..3', actual: String(f.vmpl), offset: F.vmpl.offset });
  }
  const raw = bytes.slice();
  return Object.freeze({
    version,
    guestSvn: f.guestSvn,
    policy: decodeGuestPolicy(f.policy),
    familyId: f.familyId,
    imageId: f.imageId,
    vmpl: f.vmpl,
    signatureAlgo,
    currentTcb: f.currentTcb,
    platformInfo: decodePlatformInfo(f.platformInfo),
    keyInfo: decodeKeyInfo(f.keyInfo),
    reportData: f.reportData,
    measurement: f.measurement,
    hostData: f.hostData,
    idKeyDigest: f.idKeyDigest,
    authorKeyDigest: f.authorKeyDigest,
    reportId: f.reportId,
    reportIdMa: f.reportIdMa,
    reportedTcb: f.reportedTcb,
    cpuid: f.cpuidFamId === undefined ? undefined : { family: f.cpuidFamId, model: f.cpuidModId as number, stepping: f.cpuidStep as number },
    chipId: f.chipId,
    committedTcb: f.committedTcb,
    currentVersion: { build: f.currentBuild, minor: f.currentMinor, major: f.currentMajor },
    committedVersion: { build: f.committedBuild, minor: f.committedMinor, major: f.committedMajor },
    launchTcb: f.launchTcb,
    launchMitVector: f.launchMitVector,
    currentMitVector: f.currentMitVector,
    signatureR: f.signatureR,
    signatureS: f.signatureS,
    signedBytes: raw.subarray(0, SIGNED_SIZE),
    raw,
  });
}

/**
 * Writes a report back to its 1184 bytes; reserved ranges are zero. It is written with the widest
 * layout: every field given is written and fields left undefined stay zero, so a report whose
 * VERSION and fields disagree (as tests build them) comes out as given, for parseReport to judge.
 */
export function serializeReport(r: Omit<SnpReport, 'signedBytes' | 'raw'>): Uint8Array {
  return REPORT.serialize(
    {
      version: r.version,
      guestSvn: r.guestSvn,
      policy: r.policy.raw,
      familyId: r.familyId,
      imageId: r.imageId,
      vmpl: r.vmpl,
      signatureAlgo: r.signatureAlgo,
      currentTcb: r.currentTcb,
      platformInfo: r.platformInfo.raw,
      keyInfo: r.keyInfo.raw,
      reportData: r.reportData,
      measurement: r.measurement,
      hostData: r.hostData,
      idKeyDigest: r.idKeyDigest,
      authorKeyDigest: r.authorKeyDigest,
      reportId: r.reportId,
      reportIdMa: r.reportIdMa,
      reportedTcb: r.reportedTcb,
      cpuidFamId: r.cpuid?.family,
      cpuidModId: r.cpuid?.model,
      cpuidStep: r.cpuid?.stepping,
      chipId: r.chipId,
      committedTcb: r.committedTcb,
      currentBuild: r.currentVersion.build,
      currentMinor: r.currentVersion.minor,
      currentMajor: r.currentVersion.major,
      committedBuild: r.committedVersion.build,
      committedMinor: r.committedVersion.minor,
      committedMajor: r.committedVersion.major,
      launchTcb: r.launchTcb,
      launchMitVector: r.launchMitVector,
      currentMitVector: r.currentMitVector,
      signatureR: r.signatureR,
      signatureS: r.signatureS,
    },
    WIDEST_VERSION,
  );
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
