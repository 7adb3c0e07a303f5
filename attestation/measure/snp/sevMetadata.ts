// The OVMF SEV metadata (edk2 OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm): the memory ranges the VMM
// must add to an SEV-SNP guest before it starts, found through the GUIDed table entry dc886566-...
// whose data is a u32 LE offset of the block from the end of the image.
//
//   0x00 signature "ASEV"    0x04 size u32 (header and descriptors)    0x08 version u32 (1)    0x0c num_items u32
//   0x10 descriptors, 12 bytes each:  0x0 gpa u32   0x4 size u32   0x8 type u32 (SECTION_TYPES)
//
// Offsets in errors are from the start of the image (parseSevMetadata) or of the block (decodeSevMetadata).
import { ParseError } from '../../errors.js';
import { bytesEqual, dataView, toHex } from '../../bytes.js';
import { defineLayout } from '../../layout.js';
import { parseFirmwareTable, TABLE_GUIDS, type TableEntry } from '../firmwareTable.js';
import { PAGE_SIZE } from './launchDigest.js';

export const SECTION_TYPES = { SNP_SEC_MEMORY: 1, SNP_SECRETS: 2, CPUID: 3, SVSM_CAA: 4, SNP_KERNEL_HASHES: 0x10 } as const;
export type SectionType = keyof typeof SECTION_TYPES;

const SIGNATURE = new TextEncoder().encode('ASEV');
const VERSION = 1;
/**
 * The most the ranges may add up to. Real OVMF builds declare well under 1 MiB; a mutated or hostile image
 * could declare up to 4 GiB, a million page updates. 64 MiB keeps a calculation bounded (16 Ki updates).
 */
export const MAX_SECTION_BYTES = 0x400_0000;

const HEADER_SIZE = 0x10;
const DESCRIPTOR_SIZE = 0x0c;

const HEADER = defineLayout({
  name: 'SEV metadata header',
  field: 'ovmf.sevMetadata',
  size: HEADER_SIZE,
  fields: {
    signature: { offset: 0x00, size: 4, kind: 'bytes' },
    size: { offset: 0x04, size: 4, kind: 'u32' },
    version: { offset: 0x08, size: 4, kind: 'u32' },
    numItems: { offset: 0x0c, size: 4, kind: 'u32' },
  },
});

const DESCRIPTOR = defineLayout({
  name: 'SEV metadata section descriptor',
  field: 'ovmf.sevMetadata.section',
  size: DESCRIPTOR_SIZE,
  fields: {
    gpa: { offset: 0x0, size: 4, kind: 'u32' },
    size: { offset: 0x4, size: 4, kind: 'u32' },
    type: { offset: 0x8, size: 4, kind: 'u32' },
  },
});

export interface SevMetadataSection {
  readonly type: SectionType;
  readonly gpa: number;
  readonly size: number;
}

export interface SevMetadata {
  readonly version: number;
  readonly sections: readonly SevMetadataSection[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const TYPE_BY_VALUE = new Map<number, SectionType>(Object.entries(SECTION_TYPES).map(([k, v]) => [v, k as SectionType]));
/** Types that cover a range of pages; the secrets and CPUID sections are one page each, whatever their size. */
const RANGE_TYPES: ReadonlySet<SectionType> = new Set(['SNP_SEC_MEMORY', 'SVSM_CAA', 'SNP_KERNEL_HASHES']);

/** The "ASEV" block alone; `base` is its offset in the image, for error offsets. */
export function decodeSevMetadata(block: Uint8Array, base = 0): SevMetadata {
  const header = HEADER.read(block, 0);
  if (!bytesEqual(header.signature, SIGNATURE)) {
    throw new ParseError('MALFORMED_FIELD', `SEV metadata signature at offset ${hex(base)} is ${toHex(header.signature)}, expected "ASEV"`, { field: 'ovmf.sevMetadata.signature', offset: base, expected: toHex(SIGNATURE), actual: toHex(header.signature) });
  }
  if (header.version !== VERSION) {
    throw new ParseError('UNSUPPORTED_VERSION', `SEV metadata version ${header.version} at offset ${hex(base + 0x08)}, expected ${VERSION}`, { field: 'ovmf.sevMetadata.version', offset: base + 0x08, expected: String(VERSION), actual: String(header.version) });
  }
  const needed = HEADER_SIZE + header.numItems * DESCRIPTOR_SIZE;
  if (header.size !== needed || header.size > block.length) {
    throw new ParseError(header.size > needed ? 'TRAILING_BYTES' : 'TRUNCATED', `SEV metadata at offset ${hex(base)} declares size ${header.size} for ${header.numItems} sections (${needed} bytes) in ${block.length} bytes`, { field: 'ovmf.sevMetadata.size', offset: base + 0x04, expected: String(needed), actual: String(header.size) });
  }
  if (block.length !== header.size) {
    throw new ParseError('TRAILING_BYTES', `SEV metadata block is ${block.length} bytes, its header says ${header.size}`, { field: 'ovmf.sevMetadata.size', offset: base + header.size, expected: String(header.size), actual: String(block.length) });
  }
  const sections: SevMetadataSection[] = [];
  let total = 0;
  for (let i = 0; i < header.numItems; i++) {
    const at = HEADER_SIZE + i * DESCRIPTOR_SIZE;
    const d = DESCRIPTOR.read(block, at);
    const type = TYPE_BY_VALUE.get(d.type);
    const where = `SEV metadata section ${i} at offset ${hex(base + at)}`;
    if (type === undefined) {
      throw new ParseError('MALFORMED_FIELD', `${where} has unknown type ${hex(d.type)} (known: ${Object.entries(SECTION_TYPES).map(([k, v]) => `${k} ${hex(v)}`).join(', ')})`, { field: 'ovmf.sevMetadata.section.type', offset: base + at + 0x8, actual: hex(d.type) });
    }
    const misaligned = d.gpa % PAGE_SIZE !== 0 ? 'gpa' : RANGE_TYPES.has(type) && d.size % PAGE_SIZE !== 0 ? 'size' : undefined;
    if (misaligned !== undefined) {
      throw new ParseError('MALFORMED_FIELD', `${where} (${type}) has ${misaligned} ${hex(d[misaligned])}, not a multiple of the page size`, { field: `ovmf.sevMetadata.section.${misaligned}`, offset: base + at + (misaligned === 'gpa' ? 0 : 4), actual: hex(d[misaligned]) });
    }
    if (d.gpa + d.size > 2 ** 32) {
      throw new ParseError('MALFORMED_FIELD', `${where} (${type}) ends at ${hex(d.gpa + d.size)}, above 4 GiB`, { field: 'ovmf.sevMetadata.section.size', offset: base + at + 4, actual: hex(d.size) });
    }
    total += RANGE_TYPES.has(type) ? d.size : PAGE_SIZE;
    if (total > MAX_SECTION_BYTES) {
      throw new ParseError('MALFORMED_FIELD', `${where} brings the measured sections to ${hex(total)} bytes, above the ${hex(MAX_SECTION_BYTES)} this calculator accepts`, { field: 'ovmf.sevMetadata.section.size', offset: base + at + 4, expected: `<= ${hex(MAX_SECTION_BYTES)}`, actual: hex(total) });
    }
    sections.push(Object.freeze({ type, gpa: d.gpa, size: d.size }));
  }
  return Object.freeze({ version: header.version, sections: Object.freeze(sections) });
}

export function serializeSevMetadata(metadata: SevMetadata): Uint8Array {
  const size = HEADER_SIZE + metadata.sections.length * DESCRIPTOR_SIZE;
  const out = new Uint8Array(size);
  HEADER.write(out, 0, { signature: SIGNATURE, size, version: metadata.version, numItems: metadata.sections.length });
  metadata.sections.forEach((s, i) => {
    DESCRIPTOR.write(out, HEADER_SIZE + i * DESCRIPTOR_SIZE, { gpa: s.gpa, size: s.size, type: SECTION_TYPES[s.type] });
  });
  return out;
}

/**
 * The SEV metadata of an OVMF image, located through its GUIDed table; undefined when the table has no
 * SEV metadata entry. An entry that points outside the image is a ParseError naming the offset.
 */
export function parseSevMetadata(image: Uint8Array, table: ReadonlyMap<string, TableEntry> = parseFirmwareTable(image)): SevMetadata | undefined {
  const entry = table.get(TABLE_GUIDS.sevMetadata);
  if (entry === undefined) return undefined;
  if (entry.data.length < 4) {
    throw new ParseError('TRUNCATED', `SEV metadata table entry at offset ${hex(entry.offset)} holds ${entry.data.length} bytes, expected a u32 offset`, { field: 'ovmf.footerTable.sevMetadata', offset: entry.offset, expected: '>= 4', actual: String(entry.data.length) });
  }
  const fromEnd = dataView(entry.data).getUint32(0, true);
  const start = image.length - fromEnd;
  if (fromEnd < HEADER_SIZE || start < 0) {
    throw new ParseError('MALFORMED_FIELD', `SEV metadata offset ${hex(fromEnd)} from the end (table entry at offset ${hex(entry.offset)}) points outside the ${image.length}-byte image`, { field: 'ovmf.footerTable.sevMetadata', offset: entry.offset, actual: hex(fromEnd) });
  }
  const declared = HEADER.get(image, 'size', start);
  if (declared > fromEnd) {
    throw new ParseError('TRUNCATED', `SEV metadata at offset ${hex(start)} declares ${declared} bytes, past the end of the image`, { field: 'ovmf.sevMetadata.size', offset: start + 0x04, expected: `<= ${fromEnd}`, actual: String(declared) });
  }
  return decodeSevMetadata(image.subarray(start, start + Math.max(declared, HEADER_SIZE)), start);
}
