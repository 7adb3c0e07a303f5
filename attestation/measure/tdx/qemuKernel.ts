// The bzImage as OVMF receives it from QEMU's -kernel: QEMU's x86_load_linux() (hw/i386/x86-common.c; hw/i386/x86.c
// in 8.2 and older; read at qemu/qemu 04ddbb13) fills in the setup-header fields the Linux x86
// boot protocol leaves to the boot loader, then serves the setup sectors with that header (FW_CFG_SETUP_DATA) and
// the rest of the file (FW_CFG_KERNEL_DATA) over fw_cfg; OVMF joins them again and measures the result into RTMR1.
// Field offsets from Linux Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header"; all little-endian.
//
//   0x020 cmd_line_magic u16   0x022 cmd_line_offset u16   (protocol < 2.02: the command line's place)
//   0x1F1 setup_sects u8       0x1FA vid_mode u16          0x202 header "HdrS"     0x206 version u16
//   0x210 type_of_loader u8    0x211 loadflags u8 (0x01 LOADED_HIGH, 0x80 CAN_USE_HEAP)
//   0x218 ramdisk_image u32    0x21C ramdisk_size u32      0x224 heap_end_ptr u16  0x228 cmd_line_ptr u32 (2.02+)
//   0x22C initrd_addr_max u32 (2.03+)                       0x236 xloadflags u16 (2.12+; 0x2 CAN_BE_LOADED_ABOVE_4G)
//
// What QEMU writes: type_of_loader 0xB0 ("QEMU", revision 0); CAN_USE_HEAP and heap_end_ptr = cmdline address -
// setup address - 0x200 (2.01+); cmd_line_ptr (2.02+) or cmd_line_magic/offset; vid_mode when the command line
// holds "vga="; with an initrd, ramdisk_size and ramdisk_image, the initrd placed as high as it may go below
// min(the kernel's limit, below-4G RAM - ACPI data), 4 KiB aligned down. Below-4G RAM follows pc_q35_init():
// RAM of 0xB0000000 bytes or more is split at 2 GiB, less stays whole below 4G (capped by max-ram-below-4g).
//
// QEMU 10.2 (commit a7542a38f399, "x86/loader: Don't update kernel header for CoCo VMs") leaves the header of a
// confidential guest (SEV, TDX) as the file has it; `qemuVersion` says which behaviour to follow.
import { dataView } from '../../bytes.js';
import { CloisterError, ParseError } from '../../errors.js';

/** The setup-header fields QEMU reads or writes: offset and size in bytes (boot.rst). */
export const SETUP_HEADER = {
  cmd_line_magic: { offset: 0x020, size: 2 },
  cmd_line_offset: { offset: 0x022, size: 2 },
  setup_sects: { offset: 0x1f1, size: 1 },
  vid_mode: { offset: 0x1fa, size: 2 },
  header: { offset: 0x202, size: 4 },
  version: { offset: 0x206, size: 2 },
  type_of_loader: { offset: 0x210, size: 1 },
  loadflags: { offset: 0x211, size: 1 },
  ramdisk_image: { offset: 0x218, size: 4 },
  ramdisk_size: { offset: 0x21c, size: 4 },
  heap_end_ptr: { offset: 0x224, size: 2 },
  cmd_line_ptr: { offset: 0x228, size: 4 },
  initrd_addr_max: { offset: 0x22c, size: 4 },
  xloadflags: { offset: 0x236, size: 2 },
} as const;

export type SetupHeaderField = keyof typeof SETUP_HEADER;

/** "HdrS" read as a little-endian u32. */
const HDRS = 0x53726448;
/** type_of_loader: high nibble 0xB is QEMU's boot loader id, low nibble its revision (0). */
export const QEMU_LOADER_TYPE = 0xb0;
const LOADED_HIGH = 0x01;
const CAN_USE_HEAP = 0x80;
const XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
/** QEMU's pcmc->acpi_data_size for q35 (and i440fx 2.1+) machine types: 128 KiB of ACPI tables + 32 KiB. */
export const QEMU_ACPI_DATA_SIZE = 0x28000;
/** The oldest QEMU version that leaves a confidential guest's setup header unpatched (commit a7542a38f399). */
export const QEMU_UNPATCHED_COCO_HEADER = '10.2';
const GiB = 1n << 30n;

export interface QemuKernelLoad {
  /** Guest RAM in bytes (-m); the q35 machine splits it below and above 4 GiB, which places the initrd. */
  readonly memoryBytes: number | bigint;
  /** Bytes of -initrd; absent when there is none (an empty file is 0 and still fills ramdisk_image/size). */
  readonly initrdSize?: number;
  /**
   * The -append text. Its UTF-8 length places the command line of a kernel loaded low or of protocol < 2.02, and a
   * "vga=" in it sets vid_mode; a recent bzImage without "vga=" comes out the same for every command line.
   */
  readonly cmdline?: string;
  /** The q35 machine property max-ram-below-4g (bytes); QEMU's default is 4 GiB, which leaves the split alone. */
  readonly maxRamBelow4g?: number | bigint;
  /** The machine type's ACPI data reservation below the top of low RAM; QEMU_ACPI_DATA_SIZE for every q35 type. */
  readonly acpiDataSize?: number;
  /**
   * The host's QEMU as "major.minor[.patch]". 10.2 and later leave a confidential guest's header unpatched, so the
   * image is returned unchanged (after the same checks); absent means the patch of QEMU 10.1 and older.
   */
  readonly qemuVersion?: string;
}

/** The values QEMU computes for a load (exported for explanations; qemuPatchedKernel writes them). */
export interface QemuKernelPlacement {
  readonly protocol: number;
  /** The setup sectors with the boot sector: (setup_sects || 4) + 1 sectors of 512 bytes. */
  readonly setupSize: number;
  readonly realAddr: number;
  readonly cmdlineAddr: number;
  readonly below4gMemory: bigint;
  /** The highest address the initrd may reach (QEMU's initrd_max). */
  readonly initrdMax: number;
  /** Absent without an initrd. */
  readonly initrdAddr?: number;
  /** vid_mode from "vga=", when the command line has one. */
  readonly vidMode?: number;
  /** False for QEMU 10.2+ (confidential guests keep the header as the file has it). */
  readonly patchesHeader: boolean;
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

const inputError = (field: string, message: string, expected?: string, actual?: string): CloisterError =>
  new CloisterError('MEASUREMENT_INPUT', message, { field, ...(expected === undefined ? {} : { expected }), ...(actual === undefined ? {} : { actual }) });

function nonNegativeBigInt(value: number | bigint, field: string): bigint {
  if (typeof value === 'bigint' ? value < 0n : !Number.isSafeInteger(value) || value < 0) {
    throw inputError(field, `${field} ${String(value)} is not a non-negative integer`, 'a non-negative integer', String(value));
  }
  return BigInt(value);
}

/** Whether a QEMU version patches a confidential guest's setup header (before 10.2) or not (10.2 and later). */
export function qemuPatchesCocoHeader(version: string): boolean {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(version);
  if (m === null) throw inputError('qemuVersion', `qemuVersion ${JSON.stringify(version)} is not "major.minor[.patch]"`, 'major.minor[.patch]', version);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major < 10 || (major === 10 && minor < 2);
}

/** Below-4G RAM of a q35 machine (pc_q35_init): split at 2 GiB from 0xB0000000 bytes, else 0xB0000000, capped by max-ram-below-4g. */
export function q35Below4gMemory(memoryBytes: bigint, maxRamBelow4g: bigint = 4n * GiB): bigint {
  let lowmem = memoryBytes >= 0xb0000000n ? 0x80000000n : 0xb0000000n;
  if (lowmem > maxRamBelow4g) lowmem = maxRamBelow4g;
  return memoryBytes >= lowmem ? lowmem : memoryBytes;
}

/** QEMU's "vga=" handling: the first "vga=" anywhere in the command line (strstr), then a keyword or a C integer. */
function vgaMode(cmdline: string): number | undefined {
  const at = cmdline.indexOf('vga=');
  if (at < 0) return undefined;
  const v = cmdline.slice(at + 4);
  if (v.startsWith('normal')) return 0xffff;
  if (v.startsWith('ext')) return 0xfffe;
  if (v.startsWith('ask')) return 0xfffd;
  // qemu_strtoui(base 0) followed by the end or a space; QEMU refuses anything else ("invalid 'vga=' kernel parameter").
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(?= |$)/.exec(v);
  const value = m?.[1] === undefined ? Number.NaN : m[1].length > 1 && m[1].startsWith('0') && !/^0[xX]/.test(m[1]) ? Number.parseInt(m[1], 8) : Number(m[1]);
  if (!Number.isSafeInteger(value) || value > 0xffffffff) {
    throw inputError('cmdline', `"vga=${v.split(' ')[0] ?? ''}" is not a value this model follows: normal, ext, ask or an unsigned C integer (QEMU refuses most others with "invalid 'vga=' kernel parameter")`);
  }
  return value & 0xffff;
}

/** Reads the setup header as QEMU does and computes what QEMU writes into it. The image must be a bzImage (ParseError otherwise). */
export function qemuKernelPlacement(bzImage: Uint8Array, load: QemuKernelLoad): QemuKernelPlacement {
  const { header, version, setup_sects: setupSects, loadflags, initrd_addr_max: initrdAddrMax, xloadflags } = SETUP_HEADER;
  if (bzImage.length < version.offset + version.size) {
    throw new ParseError('TRUNCATED', `kernel image is ${bzImage.length} bytes, shorter than a setup header (${hex(version.offset + version.size)})`, { field: 'bzImage.version', offset: bzImage.length, expected: `at least ${hex(version.offset + version.size)} bytes`, actual: String(bzImage.length) });
  }
  const view = dataView(bzImage);
  const magic = view.getUint32(header.offset, true);
  if (magic !== HDRS) {
    throw new ParseError('MALFORMED_FIELD', `setup header magic at ${hex(header.offset)} is ${hex(magic)}, not "HdrS": not a bzImage`, { field: 'bzImage.header', offset: header.offset, expected: hex(HDRS), actual: hex(magic) });
  }
  const protocol = view.getUint16(version.offset, true);
  // Before 2.00 there is no type_of_loader and no initrd; such a kernel cannot carry the EFI stub OVMF needs either.
  if (protocol < 0x200) {
    throw new ParseError('UNSUPPORTED_VERSION', `boot protocol ${hex(protocol)} is older than 2.00`, { field: 'bzImage.version', offset: version.offset, expected: '>= 0x200', actual: hex(protocol) });
  }
  const sects = bzImage[setupSects.offset] ?? 0;
  const setupSize = ((sects === 0 ? 4 : sects) + 1) * 512;
  if (setupSize > bzImage.length) {
    throw new ParseError('TRUNCATED', `setup_sects ${sects} makes ${hex(setupSize)} bytes of setup code, longer than the ${hex(bzImage.length)}-byte image ("qemu: invalid kernel header")`, { field: 'bzImage.setup_sects', offset: setupSects.offset, expected: `at most ${hex(bzImage.length)} bytes`, actual: hex(setupSize) });
  }

  const cmdline = load.cmdline ?? '';
  if (cmdline.includes('\0')) throw inputError('cmdline', 'the command line holds a NUL, which QEMU\'s argv cannot carry');
  const cmdlineSize = (new TextEncoder().encode(cmdline).length + 16) & ~15;
  const high = ((bzImage[loadflags.offset] ?? 0) & LOADED_HIGH) !== 0;
  const [realAddr, cmdlineAddr] = !high || protocol < 0x202 ? [0x90000, 0x9a000 - cmdlineSize] : [0x10000, 0x20000];

  let initrdMax: number;
  if (protocol >= 0x20c && (view.getUint16(xloadflags.offset, true) & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0) initrdMax = 0xffffffff;
  else if (protocol >= 0x203) initrdMax = view.getUint32(initrdAddrMax.offset, true);
  else initrdMax = 0x37ffffff;
  const memory = nonNegativeBigInt(load.memoryBytes, 'memoryBytes');
  const below4gMemory = q35Below4gMemory(memory, load.maxRamBelow4g === undefined ? undefined : nonNegativeBigInt(load.maxRamBelow4g, 'maxRamBelow4g'));
  const acpi = nonNegativeBigInt(load.acpiDataSize ?? QEMU_ACPI_DATA_SIZE, 'acpiDataSize');
  if (below4gMemory <= acpi) throw inputError('memoryBytes', `below-4G RAM ${hex(below4gMemory)} does not exceed the ACPI data size ${hex(acpi)}`);
  if (BigInt(initrdMax) >= below4gMemory - acpi) initrdMax = Number(below4gMemory - acpi - 1n);

  let initrdAddr: number | undefined;
  if (load.initrdSize !== undefined) {
    const size = nonNegativeBigInt(load.initrdSize, 'initrdSize');
    if (size >= BigInt(initrdMax)) throw inputError('initrdSize', `initrd of ${size} bytes does not fit below ${hex(initrdMax)} ("qemu: initrd is too large")`, `< ${initrdMax}`, String(size));
    initrdAddr = (initrdMax - Number(size)) & ~0xfff;
    initrdAddr >>>= 0;
  }
  const vidMode = vgaMode(cmdline);
  return Object.freeze({
    protocol, setupSize, realAddr, cmdlineAddr, below4gMemory, initrdMax,
    ...(initrdAddr === undefined ? {} : { initrdAddr }),
    ...(vidMode === undefined ? {} : { vidMode }),
    patchesHeader: load.qemuVersion === undefined || qemuPatchesCocoHeader(load.qemuVersion),
  });
}

/**
 * A copy of `bzImage` with the setup header QEMU's x86_load_linux() writes before it serves the kernel over fw_cfg
 * (a TDX or OVMF direct boot: the image whose Authenticode hash RTMR1 records). Throws ParseError when the bytes are
 * not a bzImage, CloisterError MEASUREMENT_INPUT when QEMU would refuse the load (initrd too large, bad "vga=").
 */
export function qemuPatchedKernel(bzImage: Uint8Array, load: QemuKernelLoad): Uint8Array {
  const p = qemuKernelPlacement(bzImage, load);
  // Not bzImage.slice(): on a Node Buffer that is a view of the same memory, and the caller's image would change.
  const out = new Uint8Array(bzImage.length);
  out.set(bzImage);
  if (!p.patchesHeader) return out;
  const view = dataView(out);
  const f = SETUP_HEADER;
  if (p.protocol >= 0x202) view.setUint32(f.cmd_line_ptr.offset, p.cmdlineAddr, true);
  else {
    view.setUint16(f.cmd_line_magic.offset, 0xa33f, true);
    view.setUint16(f.cmd_line_offset.offset, (p.cmdlineAddr - p.realAddr) & 0xffff, true);
  }
  if (p.vidMode !== undefined) view.setUint16(f.vid_mode.offset, p.vidMode, true);
  out[f.type_of_loader.offset] = QEMU_LOADER_TYPE;
  if (p.protocol >= 0x201) {
    out[f.loadflags.offset] = (out[f.loadflags.offset] ?? 0) | CAN_USE_HEAP;
    view.setUint16(f.heap_end_ptr.offset, (p.cmdlineAddr - p.realAddr - 0x200) & 0xffff, true);
  }
  if (p.initrdAddr !== undefined && load.initrdSize !== undefined) {
    view.setUint32(f.ramdisk_image.offset, p.initrdAddr, true);
    view.setUint32(f.ramdisk_size.offset, load.initrdSize, true);
  }
  return out;
}
