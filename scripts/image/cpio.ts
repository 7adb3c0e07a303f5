// A deterministic cpio "newc" (SVR4, no CRC) writer and reader: the initramfs format the Linux kernel unpacks
// (Documentation/driver-api/early-userspace/buffer-format.rst). Same entries in any order give the same bytes:
// paths sorted bytewise, missing parent directories added, owners 0, one mtime for all, inodes numbered in order.
//
// Each entry: a 110-byte ASCII header, the NUL-terminated name, padding to 4 bytes, the data, padding to 4 bytes.
//   c_magic "070701" | c_ino | c_mode | c_uid | c_gid | c_nlink | c_mtime | c_filesize | c_devmajor | c_devminor
//   | c_rdevmajor | c_rdevminor | c_namesize (with the NUL) | c_check (0)   -- each an 8-digit hex number
// The archive ends with an entry named "TRAILER!!!".
import { ParseError } from '../../attestation/errors.js';

export const CPIO_MAGIC = '070701';
export const CPIO_HEADER_SIZE = 110;
export const CPIO_TRAILER = 'TRAILER!!!';

/** File type bits of c_mode (stat.h). */
export const S_IF = { dir: 0o040000, file: 0o100000, symlink: 0o120000, char: 0o020000 } as const;
export type CpioType = keyof typeof S_IF;

export interface CpioEntry {
  /** Path inside the archive, without a leading "/" ("app/node"). */
  readonly path: string;
  readonly type: CpioType;
  /** Permission bits (0o755); the type bits come from `type`. */
  readonly mode: number;
  /** A file's contents, or a symlink's target as UTF-8 bytes. */
  readonly data?: Uint8Array;
  /** A character device's number (only `char`). */
  readonly rdev?: { readonly major: number; readonly minor: number };
}

export interface CpioOptions {
  /** Every entry's c_mtime (SOURCE_DATE_EPOCH). */
  readonly mtime: number;
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;
const hex8 = (n: number): string => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
};

function checkPath(path: string): void {
  if (path === '' || path.startsWith('/') || path.endsWith('/') || path.split('/').some((p) => p === '' || p === '.' || p === '..') || path.includes('\0')) {
    throw new RangeError(`cpio path "${path}" must be relative, normalized and non-empty`);
  }
}

const byPath = (a: CpioEntry, b: CpioEntry): number => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));

/** The entries as the archive will hold them: sorted, parents added (0755 directories), duplicates refused. */
export function normalizeEntries(entries: readonly CpioEntry[]): CpioEntry[] {
  const all = new Map<string, CpioEntry>();
  for (const e of entries) {
    checkPath(e.path);
    if (all.has(e.path)) throw new RangeError(`cpio path "${e.path}" given twice`);
    all.set(e.path, e);
  }
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const existing = all.get(dir);
      if (existing === undefined) all.set(dir, { path: dir, type: 'dir', mode: 0o755 });
      else if (existing.type !== 'dir') throw new RangeError(`cpio path "${e.path}" is under "${dir}", which is not a directory`);
    }
  }
  return [...all.values()].sort(byPath);
}

function header(ino: number, e: CpioEntry, size: number, mtime: number): Buffer {
  const name = Buffer.from(`${e.path}\0`);
  const fields = [ino, S_IF[e.type] | (e.mode & 0o7777), 0, 0, e.type === 'dir' ? 2 : 1, mtime, size, 0, 0, e.rdev?.major ?? 0, e.rdev?.minor ?? 0, name.length, 0];
  const head = Buffer.from(CPIO_MAGIC + fields.map(hex8).join(''), 'ascii');
  return Buffer.concat([head, name, Buffer.alloc(pad4(head.length + name.length))]);
}

/** The archive as a list of chunks (headers and the entries' own data, not copied), ending with the trailer. */
export function writeCpio(entries: readonly CpioEntry[], options: CpioOptions): Uint8Array[] {
  const out: Uint8Array[] = [];
  normalizeEntries(entries).forEach((e, i) => {
    if (e.type === 'char' && e.rdev === undefined) throw new RangeError(`cpio device "${e.path}" has no rdev`);
    const data = e.type === 'file' || e.type === 'symlink' ? (e.data ?? new Uint8Array(0)) : new Uint8Array(0);
    out.push(header(i + 1, e, data.length, options.mtime));
    if (data.length > 0) out.push(data, Buffer.alloc(pad4(data.length)));
  });
  out.push(header(0, { path: CPIO_TRAILER, type: 'file', mode: 0 }, 0, 0));
  return out;
}

/** The header fields of an entry read back. */
export interface CpioRecord extends CpioEntry {
  readonly ino: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
}

const TYPE_OF = new Map<number, CpioType>(Object.entries(S_IF).map(([k, v]) => [v, k as CpioType]));

/** Reads a newc archive (uncompressed) back into its entries, up to the trailer; bytes after it must be zero. */
export function readCpio(bytes: Uint8Array): CpioRecord[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: CpioRecord[] = [];
  let at = 0;
  for (;;) {
    if (at + CPIO_HEADER_SIZE > buf.length) throw new ParseError('TRUNCATED', `cpio header at ${at} runs past the end (${buf.length} bytes)`, { offset: at });
    const head = buf.toString('ascii', at, at + CPIO_HEADER_SIZE);
    if (!head.startsWith(CPIO_MAGIC)) throw new ParseError('MALFORMED_FIELD', `cpio magic at ${at} is "${head.slice(0, 6)}", not ${CPIO_MAGIC}`, { offset: at, field: 'c_magic' });
    const f = Array.from({ length: 13 }, (_, i) => {
      const s = head.slice(6 + 8 * i, 14 + 8 * i);
      if (!/^[0-9a-fA-F]{8}$/.test(s)) throw new ParseError('MALFORMED_FIELD', `cpio header field ${i} at ${at} is not hex: "${s}"`, { offset: at });
      return parseInt(s, 16);
    });
    const [ino, mode, uid, gid, nlink, mtime, size, , , rmaj, rmin, namesize] = f as [number, number, number, number, number, number, number, number, number, number, number, number];
    const nameAt = at + CPIO_HEADER_SIZE;
    if (namesize < 1 || nameAt + namesize > buf.length) throw new ParseError('TRUNCATED', `cpio name at ${nameAt} runs past the end`, { offset: nameAt });
    const path = buf.toString('utf8', nameAt, nameAt + namesize - 1);
    const dataAt = nameAt + namesize + pad4(CPIO_HEADER_SIZE + namesize);
    if (path === CPIO_TRAILER) {
      const rest = buf.subarray(dataAt);
      if (rest.some((b) => b !== 0)) throw new ParseError('TRAILING_BYTES', `non-zero bytes after the cpio trailer at ${dataAt}`, { offset: dataAt });
      return out;
    }
    if (dataAt + size > buf.length) throw new ParseError('TRUNCATED', `cpio data of "${path}" runs past the end`, { offset: dataAt });
    const type = TYPE_OF.get(mode & 0o170000);
    if (type === undefined) throw new ParseError('MALFORMED_FIELD', `cpio entry "${path}" has an unsupported file type 0o${(mode & 0o170000).toString(8)}`, { offset: at, field: 'c_mode' });
    const data = buf.subarray(dataAt, dataAt + size);
    out.push({ path, type, mode: mode & 0o7777, ino, uid, gid, nlink, mtime, ...(type === 'file' || type === 'symlink' ? { data } : {}), ...(type === 'char' ? { rdev: { major: rmaj, minor: rmin } } : {}) });
    at = dataAt + size + pad4(size);
  }
}
