// The SEV hashes table QEMU writes into the SNP_KERNEL_HASHES page for direct boot (QEMU target/i386/sev.c
// SevHashTable; read by edk2 OvmfPkg/AmdSevDxe / BlobVerifierLibSevHashes), little-endian, packed:
//
//   0x00 table GUID [16] 9438d606-...   0x10 length u16 (0xa8)
//   0x12 cmdline entry, 0x44 initrd entry, 0x76 kernel entry, each:
//        0x00 GUID [16]   0x10 length u16 (0x32)   0x12 SHA-256 [32]
//   0xa8 zero padding to 0xb0 (QEMU pads the table to 16 bytes)
//
// The command line is hashed with its trailing NUL ("\0" alone when there is none); a missing initrd
// hashes as an empty file.
import { ParseError } from '../../errors.js';
import { bytesEqual, toHex } from '../../bytes.js';
import { defineLayout } from '../../layout.js';
import { guidToBytes, guidToString } from '../firmwareTable.js';
import type { Hasher } from '../../hash.js';
import { PAGE_SIZE } from './launchDigest.js';

export const SEV_HASH_TABLE_GUIDS = {
  table: '9438d606-4f22-4cc9-b479-a793d411fd21',
  kernel: '4de79437-abd2-427f-b835-d5b172d2045b',
  initrd: '44baf731-3a2f-4bd7-9af1-41e29169781d',
  cmdline: '97d02dd8-bd20-4c94-aa78-e7714d36ab2a',
} as const;

const ENTRY_SIZE = 0x32;
const TABLE_LENGTH = 0xa8;
/** The table as written into the page: padded to 16 bytes. */
export const SEV_HASH_TABLE_SIZE = 0xb0;

const TABLE = defineLayout({
  name: 'SEV hashes table',
  field: 'sevHashTable',
  size: SEV_HASH_TABLE_SIZE,
  fields: {
    guid: { offset: 0x00, size: 16, kind: 'bytes' },
    length: { offset: 0x10, size: 2, kind: 'u16' },
    cmdlineGuid: { offset: 0x12, size: 16, kind: 'bytes' },
    cmdlineLength: { offset: 0x22, size: 2, kind: 'u16' },
    cmdline: { offset: 0x24, size: 32, kind: 'bytes' },
    initrdGuid: { offset: 0x44, size: 16, kind: 'bytes' },
    initrdLength: { offset: 0x54, size: 2, kind: 'u16' },
    initrd: { offset: 0x56, size: 32, kind: 'bytes' },
    kernelGuid: { offset: 0x76, size: 16, kind: 'bytes' },
    kernelLength: { offset: 0x86, size: 2, kind: 'u16' },
    kernel: { offset: 0x88, size: 32, kind: 'bytes' },
    padding: { offset: 0xa8, size: 8, kind: 'zero', name: 'SEV hashes table padding' },
  },
});

/** The SHA-256 of each direct-boot input. */
export interface SevHashes {
  readonly kernel: Uint8Array;
  readonly initrd: Uint8Array;
  readonly cmdline: Uint8Array;
}

/** The bytes QEMU hashes for `-append`: UTF-8 with a trailing NUL. */
export function cmdlineBytes(append: string | undefined): Uint8Array {
  return new TextEncoder().encode(`${append ?? ''}\0`);
}

export async function sevHashes(kernel: Uint8Array, initrd: Uint8Array | undefined, append: string | undefined, hasher: Hasher): Promise<SevHashes> {
  const sha256 = (b: Uint8Array): Promise<Uint8Array> => hasher.digest('SHA-256', [b]);
  const [k, i, c] = await Promise.all([sha256(kernel), sha256(initrd ?? new Uint8Array(0)), sha256(cmdlineBytes(append))]);
  return Object.freeze({ kernel: k, initrd: i, cmdline: c });
}

const GUID = {
  table: guidToBytes(SEV_HASH_TABLE_GUIDS.table),
  kernel: guidToBytes(SEV_HASH_TABLE_GUIDS.kernel),
  initrd: guidToBytes(SEV_HASH_TABLE_GUIDS.initrd),
  cmdline: guidToBytes(SEV_HASH_TABLE_GUIDS.cmdline),
};

export function serializeSevHashTable(h: SevHashes): Uint8Array {
  return TABLE.serialize({
    guid: GUID.table, length: TABLE_LENGTH,
    cmdlineGuid: GUID.cmdline, cmdlineLength: ENTRY_SIZE, cmdline: h.cmdline,
    initrdGuid: GUID.initrd, initrdLength: ENTRY_SIZE, initrd: h.initrd,
    kernelGuid: GUID.kernel, kernelLength: ENTRY_SIZE, kernel: h.kernel,
  });
}

export function parseSevHashTable(bytes: Uint8Array): SevHashes {
  const t = TABLE.parse(bytes);
  const expect = (field: string, offset: number, ok: boolean, expected: string, actual: string): void => {
    if (!ok) throw new ParseError('MALFORMED_FIELD', `SEV hashes table ${field} at offset 0x${offset.toString(16)} is ${actual}, expected ${expected}`, { field: `sevHashTable.${field}`, offset, expected, actual });
  };
  expect('guid', 0x00, bytesEqual(t.guid, GUID.table), SEV_HASH_TABLE_GUIDS.table, guidToString(t.guid));
  expect('length', 0x10, t.length === TABLE_LENGTH, String(TABLE_LENGTH), String(t.length));
  for (const [name, at] of [['cmdline', 0x12], ['initrd', 0x44], ['kernel', 0x76]] as const) {
    const guid = t[`${name}Guid`];
    expect(`${name}.guid`, at, bytesEqual(guid, GUID[name]), SEV_HASH_TABLE_GUIDS[name], guidToString(guid));
    expect(`${name}.length`, at + 0x10, t[`${name}Length`] === ENTRY_SIZE, String(ENTRY_SIZE), String(t[`${name}Length`]));
  }
  return Object.freeze({ kernel: t.kernel, initrd: t.initrd, cmdline: t.cmdline });
}

/** The SNP_KERNEL_HASHES page: the table at `offsetInPage` (the hash table gpa's offset), zero elsewhere. */
export function sevHashesPage(h: SevHashes, offsetInPage: number): Uint8Array {
  if (!Number.isInteger(offsetInPage) || offsetInPage < 0 || offsetInPage + SEV_HASH_TABLE_SIZE > PAGE_SIZE) {
    throw new ParseError('MALFORMED_FIELD', `SEV hashes table at offset 0x${offsetInPage.toString(16)} in its page would run past the page (${SEV_HASH_TABLE_SIZE} bytes)`, { field: 'ovmf.footerTable.sevHashTable.gpa', expected: `<= 0x${(PAGE_SIZE - SEV_HASH_TABLE_SIZE).toString(16)}`, actual: `0x${offsetInPage.toString(16)}` });
  }
  const page = new Uint8Array(PAGE_SIZE);
  page.set(serializeSevHashTable(h), offsetInPage);
  return page;
}

/** A key naming the hashes, for caches. */
export const sevHashesKey = (h: SevHashes | undefined): string => (h === undefined ? 'none' : toHex(serializeSevHashTable(h)));
