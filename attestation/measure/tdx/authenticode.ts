// The Authenticode hash of a PE/COFF image, as UEFI firmware measures an EFI application it loads
// (EV_EFI_BOOT_SERVICES_APPLICATION): "Windows Authenticode Portable Executable Signature Format" (Microsoft,
// 2008), "Calculating the PE Image Hash"; edk2 SecurityPkg/Library/DxeTpm2MeasureBootLib follows it. Offsets
// from the Microsoft PE/COFF Specification; all integers little-endian.
//
//   MS-DOS stub      0x00 "MZ"   0x3C e_lfanew u32: where the PE signature is
//   PE signature     "PE\0\0", then the COFF file header (0x14 bytes):
//                    +0x02 NumberOfSections u16   +0x10 SizeOfOptionalHeader u16
//   optional header  0x00 Magic u16 (0x10B PE32, 0x20B PE32+)   0x3C SizeOfHeaders u32   0x40 CheckSum u32
//                    0x5C / 0x6C NumberOfRvaAndSizes u32 (PE32 / PE32+)   0x60 / 0x70 data directories
//                    (8 bytes each; entry 4 is the Certificate Table: file offset u32, size u32)
//   section table    after the optional header, 0x28 bytes each: +0x10 SizeOfRawData  +0x14 PointerToRawData
//
// Hashed: the headers up to SizeOfHeaders without CheckSum and without the Certificate Table entry; each
// section's raw data in the order of PointerToRawData; then whatever follows the sections in the file except
// the certificate table's last CertificateTable.Size bytes. Nothing is padded: the measurement covers the file
// as loaded (sbsign and pesign pad unsigned images to 8 bytes before signing, which changes the file).
import { dataView } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import type { Hasher } from '../../hash.js';
import { webCryptoHasher } from '../../hash.js';

const E_LFANEW = 0x3c;
const COFF_HEADER = 0x14;
const SECTION_HEADER = 0x28;
const PE32 = 0x10b;
const PE32_PLUS = 0x20b;
const CERTIFICATE_TABLE = 4;
/** The PE/COFF specification caps the section count at 96. */
const MAX_SECTIONS = 96;

const hex = (n: number): string => `0x${n.toString(16)}`;

export interface PeLayout {
  /** Byte ranges [start, end) of the file that the Authenticode hash covers, in order. */
  readonly hashed: readonly (readonly [number, number])[];
}

function field(pe: Uint8Array, at: number, size: 2 | 4, name: string): number {
  if (at + size > pe.length) {
    throw new ParseError('TRUNCATED', `PE ${name} at offset ${hex(at)} lies past the ${pe.length}-byte file`, { field: `pe.${name}`, offset: at });
  }
  const view = dataView(pe);
  return size === 2 ? view.getUint16(at, true) : view.getUint32(at, true);
}

function malformed(name: string, at: number, actual: number, message: string): ParseError {
  return new ParseError('MALFORMED_FIELD', `PE ${message} at offset ${hex(at)}`, { field: `pe.${name}`, offset: at, actual: hex(actual) });
}

/** The ranges the Authenticode hash covers; a ParseError naming the offset when the file is not a well-formed PE image. */
export function authenticodeRanges(pe: Uint8Array): PeLayout {
  if (field(pe, 0, 2, 'e_magic') !== 0x5a4d) throw malformed('e_magic', 0, field(pe, 0, 2, 'e_magic'), 'file does not start with the MS-DOS "MZ" signature');
  const signatureAt = field(pe, E_LFANEW, 4, 'e_lfanew');
  if (field(pe, signatureAt, 4, 'signature') !== 0x00004550) throw malformed('signature', signatureAt, field(pe, signatureAt, 4, 'signature'), 'signature is not "PE\\0\\0"');
  const coff = signatureAt + 4;
  const sectionCount = field(pe, coff + 0x02, 2, 'NumberOfSections');
  if (sectionCount > MAX_SECTIONS) throw malformed('NumberOfSections', coff + 0x02, sectionCount, `NumberOfSections ${sectionCount} exceeds ${MAX_SECTIONS}`);
  const optionalSize = field(pe, coff + 0x10, 2, 'SizeOfOptionalHeader');
  const opt = coff + COFF_HEADER;
  const magic = field(pe, opt, 2, 'Magic');
  if (magic !== PE32 && magic !== PE32_PLUS) throw malformed('Magic', opt, magic, `optional header magic ${hex(magic)} is neither PE32 nor PE32+`);
  const [countAt, directoriesAt] = magic === PE32 ? [opt + 0x5c, opt + 0x60] : [opt + 0x6c, opt + 0x70];
  const checksumAt = opt + 0x40;
  const sizeOfHeaders = field(pe, opt + 0x3c, 4, 'SizeOfHeaders');
  const directories = field(pe, countAt, 4, 'NumberOfRvaAndSizes');
  const sectionsAt = opt + optionalSize;
  const sectionsEnd = sectionsAt + sectionCount * SECTION_HEADER;
  const certEntryAt = directoriesAt + CERTIFICATE_TABLE * 8;
  const hasCertEntry = directories > CERTIFICATE_TABLE;
  const headersNeed = Math.max(sectionsEnd, hasCertEntry ? certEntryAt + 8 : countAt + 4);
  if (directoriesAt + Math.min(directories, 16) * 8 > sectionsAt) {
    throw malformed('SizeOfOptionalHeader', coff + 0x10, optionalSize, `optional header of ${optionalSize} bytes cannot hold ${directories} data directories`);
  }
  if (sizeOfHeaders < headersNeed || sizeOfHeaders > pe.length) {
    throw malformed('SizeOfHeaders', opt + 0x3c, sizeOfHeaders, `SizeOfHeaders ${hex(sizeOfHeaders)} does not cover the headers (${hex(headersNeed)} bytes) within the ${hex(pe.length)}-byte file`);
  }
  const hashed: [number, number][] = [[0, checksumAt]];
  if (hasCertEntry) hashed.push([checksumAt + 4, certEntryAt], [certEntryAt + 8, sizeOfHeaders]);
  else hashed.push([checksumAt + 4, sizeOfHeaders]);

  const sections: { at: number; size: number }[] = [];
  for (let i = 0; i < sectionCount; i++) {
    const header = sectionsAt + i * SECTION_HEADER;
    const size = field(pe, header + 0x10, 4, 'SizeOfRawData');
    const at = field(pe, header + 0x14, 4, 'PointerToRawData');
    if (size === 0) continue;
    if (at + size > pe.length) throw malformed('PointerToRawData', header + 0x14, at, `section ${i} raw data ${hex(at)}+${hex(size)} runs past the ${hex(pe.length)}-byte file`);
    sections.push({ at, size });
  }
  // Array.prototype.sort is stable, as edk2's insertion sort: sections at the same offset keep their table order.
  sections.sort((a, b) => a.at - b.at);
  let sum = sizeOfHeaders;
  for (const s of sections) {
    hashed.push([s.at, s.at + s.size]);
    sum += s.size;
  }
  if (pe.length > sum) {
    const certSize = hasCertEntry ? field(pe, certEntryAt + 4, 4, 'CertificateTable.Size') : 0;
    if (pe.length < sum + certSize) {
      throw malformed('CertificateTable.Size', certEntryAt + 4, certSize, `certificate table of ${hex(certSize)} bytes is larger than the ${hex(pe.length - sum)} bytes after the sections`);
    }
    if (pe.length > sum + certSize) hashed.push([sum, pe.length - certSize]);
  }
  return Object.freeze({ hashed: Object.freeze(hashed.map((r) => Object.freeze(r))) });
}

/** The SHA-384 Authenticode hash of a PE/COFF image (an EFI application, a Linux kernel with its EFI stub). */
export async function authenticodeHash(pe: Uint8Array, hasher: Hasher = webCryptoHasher): Promise<Uint8Array> {
  const { hashed } = authenticodeRanges(pe);
  return hasher.digest('SHA-384', hashed.map(([start, end]) => pe.subarray(start, end)));
}
