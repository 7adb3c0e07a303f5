// The initramfs: the root file system in RAM (there is no disk), one gzip-compressed newc archive.
// Layout: /init (ours), /dev/console (the one device node: the kernel opens it for init's stdio before
// devtmpfs is mounted), empty mount points /proc /sys /tmp, merged /usr (/lib and /lib64 are symlinks, as in
// Debian), the C/C++ runtime, the kernel modules and their load list, and the app under /app.
import { promisify } from 'node:util';
import { gzip as gzipCb, constants } from 'node:zlib';
import { writeCpio, type CpioEntry } from './cpio.js';

const gzip = promisify(gzipCb);

/** zlib level 9: the initrd is measured and loaded once per boot, so bytes matter more than the seconds to pack. */
export const GZIP_LEVEL = 9;

export const BASE_ENTRIES: readonly CpioEntry[] = [
  { path: 'dev', type: 'dir', mode: 0o755 },
  { path: 'dev/console', type: 'char', mode: 0o600, rdev: { major: 5, minor: 1 } },
  { path: 'proc', type: 'dir', mode: 0o555 },
  { path: 'sys', type: 'dir', mode: 0o555 },
  { path: 'tmp', type: 'dir', mode: 0o755 }, // a mount point: init mounts a tmpfs (mode 1777) over it
  { path: 'lib', type: 'symlink', mode: 0o777, data: Buffer.from('usr/lib') },
  { path: 'lib64', type: 'symlink', mode: 0o777, data: Buffer.from('usr/lib64') },
];

/**
 * The compressed archive. Node's zlib writes a gzip header with MTIME 0, no file name and OS 3 (unix), so the
 * bytes depend only on the input, the level, the strategy and the zlib version (process.versions.zlib).
 */
export async function packInitramfs(entries: readonly CpioEntry[], mtime: number): Promise<Buffer> {
  const raw = Buffer.concat(writeCpio(entries, { mtime }));
  return gzip(raw, { level: GZIP_LEVEL, memLevel: 8, windowBits: 15, strategy: constants.Z_DEFAULT_STRATEGY });
}
