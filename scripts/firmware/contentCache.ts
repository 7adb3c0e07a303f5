// The content cache shared by the image builds: `<root>/sha256/<hex>` holds a file whose sha256 is <hex>.
// Root: $CLOISTER_CACHE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/cloister (the shared contract). A pinned file is
// downloaded once, verified, and renamed into place only when its digest is the pinned one, so the cache never
// holds a file under a wrong name.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { RuntimeError } from '../../src/base/runtimeErrors.js';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CLOISTER_CACHE_DIR !== undefined && env.CLOISTER_CACHE_DIR !== '') return env.CLOISTER_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(xdg, 'cloister');
}

export const cachedPath = (root: string, sha256: string): string => join(root, 'sha256', sha256);

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

const exists = async (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

/** A pinned input: where it comes from and what it must hash to. */
export interface PinnedFile {
  readonly name: string;
  readonly url: string;
  readonly sha256: string;
}

/**
 * The cached copy of `file`, downloaded when absent. A cached copy is re-hashed (a corrupted cache entry is
 * dropped and fetched again); a download that fails or hashes differently is a one-line error naming the file.
 */
export async function fetchPinned(root: string, file: PinnedFile, fetcher: typeof fetch = fetch): Promise<string> {
  const path = cachedPath(root, file.sha256);
  if (await exists(path)) {
    if ((await sha256File(path)) === file.sha256) return path;
    await rm(path, { force: true });
  }
  await mkdir(join(root, 'sha256'), { recursive: true });
  const partial = `${path}.${process.pid}.partial`;
  let response: Response;
  try {
    response = await fetcher(file.url);
  } catch (cause) {
    throw new RuntimeError('PINNED_INPUT_UNAVAILABLE', `cannot download ${file.name} from ${file.url}: ${(cause as Error).message}; check the network, or put the file (sha256 ${file.sha256}) at ${path}`, { field: file.name, cause });
  }
  if (!response.ok || response.body === null) {
    throw new RuntimeError('PINNED_INPUT_UNAVAILABLE', `cannot download ${file.name}: ${file.url} answered ${response.status}; the archive may have dropped this version: fetch it from snapshot.debian.org into ${path}, or re-pin image/firmware.json on purpose`, { field: file.name });
  }
  const hash = createHash('sha256');
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), tee, createWriteStream(partial));
  } catch (cause) {
    await rm(partial, { force: true });
    throw new RuntimeError('PINNED_INPUT_UNAVAILABLE', `download of ${file.name} from ${file.url} broke off: ${(cause as Error).message}; run again`, { field: file.name, cause });
  }
  const actual = hash.digest('hex');
  if (actual !== file.sha256) {
    await rm(partial, { force: true });
    throw new RuntimeError('PINNED_INPUT_MISMATCH', `${file.name} from ${file.url} has sha256 ${actual}, pinned ${file.sha256}; the archive serves other bytes: re-pin image/firmware.json on purpose if the change is expected`, { field: file.name, expected: file.sha256, actual });
  }
  await rename(partial, path);
  return path;
}
