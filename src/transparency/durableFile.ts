// Files that are either whole or absent after a crash: written to a temporary file in the same directory, flushed
// to disk, renamed over the target, and the directory flushed so that the rename itself survives. Without `fsync`
// (tests, benchmarks) only the rename's atomicity remains: a crash may lose the file but never leaves half of it.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `data` as the whole of `path` (creating its directory), durably when `fsync`; the directory is synced by the
 * caller. `madeDirs`: directories known to exist, skipped and added to (a writer of many files in few directories
 * saves a mkdir per file; a directory removed behind its back makes the write fail, never land elsewhere).
 */
export async function writeFileAtomically(path: string, data: Uint8Array, fsync: boolean, madeDirs?: Set<string>): Promise<void> {
  const dir = dirname(path);
  if (madeDirs?.has(dir) !== true) {
    await mkdir(dir, { recursive: true });
    madeDirs?.add(dir);
  }
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    if (fsync) await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (e) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw e;
  }
}
