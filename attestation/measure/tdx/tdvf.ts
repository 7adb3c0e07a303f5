// The TDVF descriptor (TDX metadata) of an OVMF / TDVF image: Intel TDX Virtual Firmware Design Guide
// (rev. 1.01 and later), section 11 "TDVF Metadata", Table 11-1 "TDVF_DESCRIPTOR" and Table 11-2
// "TDVF_SECTION"; the section types and attributes are those edk2 (OvmfPkg/ResetVector/X64/IntelTdxMetadata.asm)
// and td-shim emit. The image's GUIDed table entry e47a6535-... holds, in its last 4 bytes, the descriptor's
// offset counted back from the end of the image.
//
//   TDVF_DESCRIPTOR   0x00 Signature "TDVF"   0x04 Length u32 (16 + 32 x sections)   0x08 Version u32 (1)
//                     0x0C NumberOfSectionEntry u32                                  0x10 sections
//   TDVF_SECTION      0x00 DataOffset u32 (in the image)   0x04 RawDataSize u32   0x08 MemoryAddress u64 (GPA)
//                     0x10 MemoryDataSize u64   0x18 Type u32   0x1C Attributes u32
//
// Offsets in errors are from the start of the image.
import { dataView } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import { parseFirmwareTable, TABLE_GUIDS } from '../firmwareTable.js';

export const PAGE_SIZE = 0x1000;
const DESCRIPTOR_HEADER = 0x10;
const SECTION_SIZE = 0x20;
const SIGNATURE = 0x46564454; // "TDVF" read as u32 LE
const VERSION = 1;
/**
 * Most guest memory this calculator measures (TDH.MEM.PAGE.ADD plus TDH.MR.EXTEND): OVMF adds about 4 MiB, td-shim
 * payloads tens of MiB. A descriptor declaring more is refused rather than hashed for minutes.
 */
export const MAX_MEASURED_BYTES = 0x800_0000;

export const TDVF_SECTION_TYPES = {
  BFV: 0,
  CFV: 1,
  TD_HOB: 2,
  TempMem: 3,
  PermMem: 4,
  Payload: 5,
  PayloadParam: 6,
  TD_INFO: 7,
} as const;
export type TdvfSectionTypeName = keyof typeof TDVF_SECTION_TYPES;
const TYPE_NAMES = Object.keys(TDVF_SECTION_TYPES) as TdvfSectionTypeName[];

/** TDVF_SECTION.Attributes bits. */
export const TDVF_ATTRIBUTES = {
  /** The section's pages are measured into MRTD with TDH.MR.EXTEND. */
  MR_EXTEND: 0x1,
  /** The pages are added after launch with TDH.MEM.PAGE.AUG, so not part of MRTD. */
  PAGE_AUG: 0x2,
} as const;
const KNOWN_ATTRIBUTES = TDVF_ATTRIBUTES.MR_EXTEND | TDVF_ATTRIBUTES.PAGE_AUG;

export interface TdvfSection {
  readonly dataOffset: number;
  readonly rawDataSize: number;
  readonly memoryAddress: bigint;
  readonly memoryDataSize: bigint;
  readonly type: number;
  readonly typeName: TdvfSectionTypeName;
  readonly attributes: number;
}

export interface TdvfDescriptor {
  /** Where the descriptor starts in the image. */
  readonly offset: number;
  readonly version: number;
  readonly sections: readonly TdvfSection[];
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

function malformed(field: string, offset: number, actual: string, message: string): ParseError {
  return new ParseError('MALFORMED_FIELD', `${message} at offset ${hex(offset)}`, { field, offset, actual });
}

/** Where the image says its TDVF descriptor starts; a ParseError when the image carries no TDX metadata. */
export function tdvfDescriptorOffset(firmware: Uint8Array): number {
  const entry = parseFirmwareTable(firmware).get(TABLE_GUIDS.tdxMetadata);
  if (entry === undefined) {
    throw new ParseError('MALFORMED_FIELD', 'the firmware has no TDX metadata entry (e47a6535-984a-4798-865e-4685a7bf8ec2) in its GUIDed table', { field: 'tdvf.metadataOffset', offset: Math.max(0, firmware.length - 0x20) });
  }
  if (entry.data.length < 4) {
    throw new ParseError('TRUNCATED', `the TDX metadata entry at offset ${hex(entry.offset)} holds ${entry.data.length} bytes, expected 4`, { field: 'tdvf.metadataOffset', offset: entry.offset });
  }
  const at = entry.data.length - 4;
  const fromEnd = dataView(entry.data).getUint32(at, true);
  if (fromEnd > firmware.length || fromEnd < DESCRIPTOR_HEADER) {
    throw malformed('tdvf.metadataOffset', entry.offset + at, hex(fromEnd), `TDVF descriptor offset ${hex(fromEnd)} from the end of a ${hex(firmware.length)}-byte image points outside it`);
  }
  return firmware.length - fromEnd;
}

function parseSection(firmware: Uint8Array, view: DataView, at: number): TdvfSection {
  const dataOffset = view.getUint32(at + 0x00, true);
  const rawDataSize = view.getUint32(at + 0x04, true);
  const memoryAddress = view.getBigUint64(at + 0x08, true);
  const memoryDataSize = view.getBigUint64(at + 0x10, true);
  const type = view.getUint32(at + 0x18, true);
  const attributes = view.getUint32(at + 0x1c, true);
  const typeName = TYPE_NAMES[type];
  if (typeName === undefined) throw malformed('tdvf.section.type', at + 0x18, String(type), `TDVF section type ${type} is not one the TDVF design guide defines (0..${TYPE_NAMES.length - 1})`);
  if ((attributes & ~KNOWN_ATTRIBUTES) !== 0) throw malformed('tdvf.section.attributes', at + 0x1c, hex(attributes), `TDVF section attributes ${hex(attributes)} set undefined bits`);
  if (dataOffset + rawDataSize > firmware.length) {
    throw malformed('tdvf.section.dataOffset', at, `${hex(dataOffset)}+${hex(rawDataSize)}`, `TDVF section data ${hex(dataOffset)}..${hex(dataOffset + rawDataSize)} runs past the ${hex(firmware.length)}-byte image`);
  }
  if (memoryAddress % BigInt(PAGE_SIZE) !== 0n || memoryDataSize % BigInt(PAGE_SIZE) !== 0n) {
    throw malformed('tdvf.section.memoryAddress', at + 0x08, `${hex(memoryAddress)}+${hex(memoryDataSize)}`, `TDVF section memory ${hex(memoryAddress)}+${hex(memoryDataSize)} is not 4 KiB aligned`);
  }
  if (BigInt(rawDataSize) > memoryDataSize) {
    throw malformed('tdvf.section.rawDataSize', at + 0x04, hex(rawDataSize), `TDVF section raw data size ${hex(rawDataSize)} exceeds its memory size ${hex(memoryDataSize)}`);
  }
  if (memoryAddress + memoryDataSize > 1n << 52n) {
    throw malformed('tdvf.section.memoryDataSize', at + 0x10, hex(memoryDataSize), `TDVF section memory ${hex(memoryAddress)}+${hex(memoryDataSize)} lies beyond the 52-bit guest physical address space`);
  }
  return Object.freeze({ dataOffset, rawDataSize, memoryAddress, memoryDataSize, type, typeName, attributes });
}

/** The TDVF descriptor of an OVMF / TDVF image, every section checked against the image and the design guide. */
export function parseTdvfDescriptor(firmware: Uint8Array): TdvfDescriptor {
  const offset = tdvfDescriptorOffset(firmware);
  const view = dataView(firmware);
  if (firmware.length - offset < DESCRIPTOR_HEADER) {
    throw new ParseError('TRUNCATED', `TDVF descriptor at offset ${hex(offset)} needs ${DESCRIPTOR_HEADER} bytes, ${firmware.length - offset} remain`, { field: 'tdvf.descriptor', offset });
  }
  const signature = view.getUint32(offset + 0x00, true);
  if (signature !== SIGNATURE) throw malformed('tdvf.signature', offset, hex(signature), 'TDVF descriptor signature is not "TDVF"');
  const length = view.getUint32(offset + 0x04, true);
  const version = view.getUint32(offset + 0x08, true);
  const count = view.getUint32(offset + 0x0c, true);
  if (version !== VERSION) {
    throw new ParseError('UNSUPPORTED_VERSION', `TDVF descriptor version ${version} at offset ${hex(offset + 0x08)}, expected ${VERSION}`, { field: 'tdvf.version', offset: offset + 0x08, actual: String(version) });
  }
  if (length !== DESCRIPTOR_HEADER + SECTION_SIZE * count) {
    throw malformed('tdvf.length', offset + 0x04, String(length), `TDVF descriptor length ${length} does not match ${count} sections`);
  }
  if (length > firmware.length - offset) {
    throw new ParseError('TRUNCATED', `TDVF descriptor at offset ${hex(offset)} declares ${count} sections (${length} bytes), ${firmware.length - offset} remain`, { field: 'tdvf.numberOfSectionEntry', offset: offset + 0x0c });
  }
  const sections: TdvfSection[] = [];
  let measured = 0n;
  for (let i = 0; i < count; i++) {
    const at = offset + DESCRIPTOR_HEADER + SECTION_SIZE * i;
    const section = parseSection(firmware, view, at);
    if ((section.attributes & TDVF_ATTRIBUTES.PAGE_AUG) === 0) measured += section.memoryDataSize;
    if (measured > BigInt(MAX_MEASURED_BYTES)) {
      throw malformed('tdvf.section.memoryDataSize', at + 0x10, hex(section.memoryDataSize), `TDVF sections add more than ${hex(MAX_MEASURED_BYTES)} bytes of measured memory`);
    }
    sections.push(section);
  }
  return Object.freeze({ offset, version, sections: Object.freeze(sections) });
}
