// The certificate table that SNP_GET_EXT_REPORT and configfs-tsm `auxblob` return (GHCB spec
// rev. 2.03, section 4.1.8.1): 24-byte entries { GUID[16], offset u32 LE, length u32 LE }, ended by
// an all-zero entry; offsets count from the start of the table.
import { dataView, fromHex, isAllZero, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';

export const CERT_GUID = {
  vcek: '63da758d-e664-4564-adc5-f4b93be8accd',
  vlek: 'a8074bc2-a25a-483e-aae6-39c045a0b8a1',
  ask: '4ab7b379-bbac-4fe4-a02f-05aef327c782',
  ark: 'c0b406a4-a803-4952-9743-3fb6014cd0ae',
  crl: '92f81bc3-5811-4d3d-97ff-d19f88dc67ea',
} as const;

const ENTRY_SIZE = 24;

export interface CertTableEntry {
  readonly guid: string;
  readonly data: Uint8Array;
}

function guidString(bytes: Uint8Array): string {
  const h = toHex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function fail(message: string, offset: number): never {
  throw new ParseError('MALFORMED_CERT_TABLE', message, { field: 'certificate table', offset });
}

/** Parses a certificate table. Bytes after the last certificate are padding and must be zero. */
export function parseCertTable(bytes: Uint8Array): CertTableEntry[] {
  const v = dataView(bytes);
  const entries: CertTableEntry[] = [];
  let end = 0;
  for (let at = 0; ; at += ENTRY_SIZE) {
    if (at + ENTRY_SIZE > bytes.length) fail(`certificate table has no terminating zero entry within ${bytes.length} bytes`, at);
    const header = bytes.subarray(at, at + ENTRY_SIZE);
    if (isAllZero(header)) {
      end = Math.max(end, at + ENTRY_SIZE);
      break;
    }
    const offset = v.getUint32(at + 16, true);
    const length = v.getUint32(at + 20, true);
    const guid = guidString(header.subarray(0, 16));
    if (length === 0 || offset + length > bytes.length) fail(`entry ${guid} points at ${offset}+${length}, outside the ${bytes.length}-byte table`, at);
    if (entries.some((e) => e.guid === guid)) fail(`entry ${guid} appears twice`, at);
    entries.push({ guid, data: bytes.slice(offset, offset + length) });
    end = Math.max(end, offset + length);
  }
  if (!isAllZero(bytes.subarray(end))) fail(`non-zero bytes after the last certificate at offset ${end}`, end);
  return entries;
}

export function serializeCertTable(entries: readonly CertTableEntry[]): Uint8Array {
  const headerSize = (entries.length + 1) * ENTRY_SIZE;
  const out = new Uint8Array(headerSize + entries.reduce((n, e) => n + e.data.length, 0));
  const v = dataView(out);
  let offset = headerSize;
  entries.forEach((e, i) => {
    out.set(fromHex(e.guid.replace(/-/g, '')), i * ENTRY_SIZE);
    v.setUint32(i * ENTRY_SIZE + 16, offset, true);
    v.setUint32(i * ENTRY_SIZE + 20, e.data.length, true);
    out.set(e.data, offset);
    offset += e.data.length;
  });
  return out;
}
