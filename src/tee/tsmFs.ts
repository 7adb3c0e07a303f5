// The few filesystem operations the configfs-tsm client and TEE detection need, behind an interface
// so tests can substitute an emulated configfs tree (emulatedTsm.ts). The default implementation is
// node:fs/promises, used the way configfs wants (fs/configfs/file.c):
// - attributes are opened O_WRONLY without O_CREAT/O_TRUNC: configfs creates no files, and a
//   missing attribute should fail with ENOENT rather than create a plain file in a wrong tree;
// - binary attributes (inblob) buffer every write() and hand the whole buffer to the driver on
//   close(), whose result the kernel ignores, so a write that "succeeds" may not have happened;
//   the client detects that through `generation`;
// - files are read until EOF, never up to st_size: configfs reports 0 for binary attributes and
//   4096 for text ones, neither of which is the length of the content.
import { constants } from 'node:fs';
import { access, mkdir, open, rmdir } from 'node:fs/promises';

/** Where configfs-tsm report entries are created (Documentation/ABI/testing/configfs-tsm-report). */
export const DEFAULT_TSM_REPORT_ROOT = '/sys/kernel/config/tsm/report';

/** What `access` checks: existence only, read permission, or read and write permission. */
export type TsmAccessMode = 'exists' | 'read' | 'read-write';

/** Errors are `NodeJS.ErrnoException`s whose `code` is the errno name ("ENOENT", "EACCES", ...). */
export interface TsmFs {
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  /** Writes into an existing file; never creates one. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** Resolves when `path` exists and the caller may open it as `mode` says; rejects with the errno otherwise. */
  access(path: string, mode: TsmAccessMode): Promise<void>;
}

const READ_CHUNK = 16 * 1024;

const ACCESS_MODE: Readonly<Record<TsmAccessMode, number>> = {
  exists: constants.F_OK,
  read: constants.R_OK,
  'read-write': constants.R_OK | constants.W_OK,
};

/** node:fs/promises, with the configfs rules in the header. */
export const nodeTsmFs: TsmFs = {
  async mkdir(path) {
    await mkdir(path);
  },
  async rmdir(path) {
    await rmdir(path);
  },
  async readFile(path) {
    const handle = await open(path, constants.O_RDONLY);
    try {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const chunk = new Uint8Array(READ_CHUNK);
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        chunks.push(chunk.subarray(0, bytesRead));
        total += bytesRead;
      }
      const out = new Uint8Array(total);
      let offset = 0;
      for (const c of chunks) {
        out.set(c, offset);
        offset += c.length;
      }
      return out;
    } finally {
      await handle.close();
    }
  },
  async writeFile(path, data) {
    const handle = await open(path, constants.O_WRONLY);
    try {
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
        offset += bytesWritten;
      }
    } finally {
      // For a configfs binary attribute this close() is the moment the driver receives the data.
      await handle.close();
    }
  },
  async access(path, mode) {
    await access(path, ACCESS_MODE[mode]);
  },
};

/** The errno name of a filesystem error, or undefined for anything else. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' && /^E[A-Z0-9]+$/.test(error.code)) return error.code;
  return undefined;
}

/** True when `path` exists; false on ENOENT/ENOTDIR; any other error is thrown. */
export async function pathExists(fs: TsmFs, path: string): Promise<boolean> {
  try {
    await fs.access(path, 'exists');
    return true;
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return false;
    throw e;
  }
}
