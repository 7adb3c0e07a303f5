// What an SEV-SNP launch measures of an OVMF image, read from its GUIDed table (firmwareTable.ts) and its
// SEV metadata (sevMetadata.ts). The image is mapped to end at 4 GiB (the reset vector at 0xfffffff0).
//
//   SEV-ES reset block 00f771de-...   u32 LE: the IP where APs start (ResetVectorVtf0.asm SEV_ES_AP_RESET_IP)
//   SEV hash table     7255371f-...   u32 LE gpa, u32 LE size: where the VMM writes the kernel hashes table
import { ParseError } from '../../errors.js';
import { dataView } from '../../bytes.js';
import { parseFirmwareTable, TABLE_GUIDS, type TableEntry } from '../firmwareTable.js';
import { parseSevMetadata, type SevMetadataSection } from './sevMetadata.js';

const FOUR_GIB = 2 ** 32;

export interface SnpFirmware {
  /** Bytes in the image (a suffix of it, when the caller gives the OVMF pages' chain state). */
  readonly size: number;
  /** Where the image starts: 4 GiB - size. */
  readonly gpa: number;
  readonly sections: readonly SevMetadataSection[];
  readonly sevEsResetEip: number;
  /** Absent when the image has no SEV hash table entry or its gpa is 0 (no direct-boot hashes). */
  readonly sevHashTable: { readonly gpa: number; readonly size: number } | undefined;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function entryWords(entry: TableEntry, words: number, name: string): number[] {
  if (entry.data.length < 4 * words) {
    throw new ParseError('TRUNCATED', `${name} table entry at offset ${hex(entry.offset)} holds ${entry.data.length} bytes, expected ${4 * words}`, { field: `ovmf.footerTable.${name}`, offset: entry.offset, expected: `>= ${4 * words}`, actual: String(entry.data.length) });
  }
  const v = dataView(entry.data);
  return Array.from({ length: words }, (_, i) => v.getUint32(4 * i, true));
}

export function parseSnpFirmware(image: Uint8Array): SnpFirmware {
  if (image.length > FOUR_GIB) {
    throw new ParseError('MALFORMED_FIELD', `OVMF image is ${image.length} bytes, more than the 4 GiB below its reset vector`, { field: 'ovmf', expected: `<= ${FOUR_GIB}`, actual: String(image.length) });
  }
  const table = parseFirmwareTable(image);
  const missing = (what: string, guid: string): ParseError =>
    new ParseError('MALFORMED_FIELD', `OVMF image has no ${what} entry (${guid}) in its GUIDed table: not a firmware built for SEV-SNP`, { field: `ovmf.footerTable`, expected: guid });
  const metadata = parseSevMetadata(image, table);
  if (metadata === undefined) throw missing('SEV metadata', TABLE_GUIDS.sevMetadata);
  const resetBlock = table.get(TABLE_GUIDS.sevEsResetBlock);
  if (resetBlock === undefined) throw missing('SEV-ES reset block', TABLE_GUIDS.sevEsResetBlock);
  const [sevEsResetEip] = entryWords(resetBlock, 1, 'sevEsResetBlock') as [number];
  if (sevEsResetEip === 0) {
    throw new ParseError('MALFORMED_FIELD', `SEV-ES reset block at offset ${hex(resetBlock.offset)} gives AP reset IP 0`, { field: 'ovmf.footerTable.sevEsResetBlock', offset: resetBlock.offset, actual: '0' });
  }
  const hashEntry = table.get(TABLE_GUIDS.sevHashTable);
  const [hashGpa, hashSize] = hashEntry === undefined ? [0, 0] : (entryWords(hashEntry, 2, 'sevHashTable') as [number, number]);
  return Object.freeze({
    size: image.length,
    gpa: FOUR_GIB - image.length,
    sections: metadata.sections,
    sevEsResetEip,
    sevHashTable: hashGpa === 0 ? undefined : Object.freeze({ gpa: hashGpa, size: hashSize }),
  });
}
