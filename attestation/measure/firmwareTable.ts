// The GUIDed table at the end of an edk2 OVMF / TDVF image (OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm,
// ResetVectorVtf0.asm "OVMF GUIDed structure table"), which points to the SEV and TDX metadata.
//
//   image end - 0x20 - 0x12   footer entry: u16 LE size of the whole table, footer GUID 96b582de-...
//   walking back from there   entries laid out as data, then u16 LE size (data + 18), then the entry's GUID
//
// Offsets in errors are from the start of the image.
import { ParseError } from '../errors.js';
import { dataView } from '../bytes.js';

/** The table's own GUID, in its text form. */
export const FOOTER_GUID = '96b582de-1fb2-45f7-baea-a366c55a082d';
/** Entries of interest (OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm). */
export const TABLE_GUIDS = {
  sevMetadata: 'dc886566-984a-4798-a75e-5585a7bf67cc',
  tdxMetadata: 'e47a6535-984a-4798-865e-4685a7bf8ec2',
  sevHashTable: '7255371f-3a3b-4b04-927b-1da6efa8d454',
  sevEsResetBlock: '00f771de-1a7e-4fcb-890e-68c77e2fb44e',
} as const;

const ENTRY_HEADER = 18;
const FOOTER_FROM_END = 0x20;

export interface TableEntry {
  readonly guid: string;
  /** Offset of the entry's data in the image. */
  readonly offset: number;
  readonly data: Uint8Array;
}

/** A GUID in its text form from its 16 bytes in EFI (mixed-endian) order. */
export function guidToString(b: Uint8Array): string {
  const h = (i: number, n: number, le: boolean): string => {
    const bytes = Array.from(b.subarray(i, i + n));
    if (le) bytes.reverse();
    return bytes.map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${h(0, 4, true)}-${h(4, 2, true)}-${h(6, 2, true)}-${h(8, 2, false)}-${h(10, 6, false)}`;
}

/** The 16 bytes in EFI (mixed-endian) order of a GUID in its text form; the inverse of guidToString. */
export function guidToBytes(guid: string): Uint8Array {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(guid);
  if (m === null) throw new RangeError(`${guid} is not a GUID in its text form`);
  const hex = (s: string, le: boolean): number[] => {
    const bytes = Array.from({ length: s.length / 2 }, (_, i) => parseInt(s.slice(2 * i, 2 * i + 2), 16));
    return le ? bytes.reverse() : bytes;
  };
  const [, a, b, c, d, e] = m as unknown as [string, string, string, string, string, string];
  return new Uint8Array([...hex(a, true), ...hex(b, true), ...hex(c, true), ...hex(d, false), ...hex(e, false)]);
}

/**
 * The image's GUIDed table, by GUID; an empty map when the image has no footer GUID where the table
 * would end (not an OVMF with SEV/TDX support). A table that points outside the image or whose entries
 * do not add up is a ParseError naming the offset.
 */
export function parseFirmwareTable(image: Uint8Array): ReadonlyMap<string, TableEntry> {
  const footerAt = image.length - FOOTER_FROM_END - ENTRY_HEADER;
  const table = new Map<string, TableEntry>();
  if (footerAt < 0) return table;
  if (guidToString(image.subarray(footerAt + 2, footerAt + ENTRY_HEADER)) !== FOOTER_GUID) return table;
  const view = dataView(image);
  const size = view.getUint16(footerAt, true);
  if (size < ENTRY_HEADER || size - ENTRY_HEADER > footerAt) {
    throw new ParseError('MALFORMED_FIELD', `firmware table size ${size} at offset 0x${footerAt.toString(16)} points outside the image`, { field: 'ovmf.footerTable.size', offset: footerAt, actual: String(size) });
  }
  const start = footerAt - (size - ENTRY_HEADER);
  let end = footerAt;
  while (end - start >= ENTRY_HEADER) {
    const header = end - ENTRY_HEADER;
    const entrySize = view.getUint16(header, true);
    const guid = guidToString(image.subarray(header + 2, end));
    if (entrySize < ENTRY_HEADER || end - entrySize < start) {
      throw new ParseError('MALFORMED_FIELD', `firmware table entry ${guid} at offset 0x${header.toString(16)} has size ${entrySize}, outside the table (0x${start.toString(16)}..0x${footerAt.toString(16)})`, { field: 'ovmf.footerTable.entry.size', offset: header, actual: String(entrySize) });
    }
    const offset = end - entrySize;
    if (!table.has(guid)) table.set(guid, { guid, offset, data: image.subarray(offset, header) });
    end = offset;
  }
  return table;
}
