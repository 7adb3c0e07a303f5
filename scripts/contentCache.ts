// The content-addressed cache of pinned build inputs, shared by the firmware and image builds (docs/image.md):
// <root>/sha256/<hex> holds a file whose SHA-256 is <hex>. Root: $CLOISTER_CACHE_DIR, else
// ${XDG_CACHE_HOME:-~/.cache}/cloister. A download is renamed into place only after its digest (and, for npm, its
// integrity) matched the pin, so the cache never holds a file under a wrong name; a cached copy is still re-hashed
// before use, because the cache is writable by the user.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { RuntimeError } from '../src/base/runtimeErrors.js';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const own = env['CLOISTER_CACHE_DIR'];
  if (own !== undefined && own !== '') return own;
  const xdg = env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'cloister');
}

export const cachedPath = (root: string, sha256: string): string => join(root, 'sha256', sha256);

export interface Digests {
  readonly sha256: string;
  /** SHA-512, base64, as npm's integrity "sha512-..." carries it. */
  readonly sha512: string;
  readonly bytes: number;
}

export async function digestFile(path: string): Promise<Digests> {
  const a = createHash('sha256');
  const b = createHash('sha512');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    a.update(chunk);
    b.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: a.digest('hex'), sha512: b.digest('base64'), bytes };
}

export const sha256File = async (path: string): Promise<string> => (await digestFile(path)).sha256;

export interface PinnedFile {
  /** What an error line calls it: "linux-image-6.12.117+deb13-cloud-amd64 6.12.117-1". */
  readonly name: string;
  readonly url: string;
  readonly sha256: string;
  /** npm's integrity string, checked too when present. */
  readonly integrity?: string;
}

export type Fetcher = (url: string) => Promise<Response>;

export interface FetchOptions {
  /** The cache root (default cacheRoot()). */
  readonly root?: string;
  readonly fetcher?: Fetcher;
  readonly log?: (line: string) => void;
  /** How to re-pin on purpose, for the error lines: 'run "cloister image pin"'. */
  readonly repin: string;
}

const isFile = (path: string): Promise<boolean> => stat(path).then((s) => s.isFile(), () => false);

function checkDigests(file: PinnedFile, d: Digests, repin: string): void {
  const from = `${file.name} from ${file.url}`;
  if (d.sha256 !== file.sha256) {
    throw new RuntimeError('PINNED_INPUT_MISMATCH', `${from} has sha256 ${d.sha256}, the pin says ${file.sha256}; if the change is intended, ${repin}`, { field: file.name, expected: file.sha256, actual: d.sha256 });
  }
  const integrity = `sha512-${d.sha512}`;
  if (file.integrity !== undefined && file.integrity !== integrity) {
    throw new RuntimeError('PINNED_INPUT_MISMATCH', `${from} has integrity ${integrity}, the pin says ${file.integrity}; if the change is intended, ${repin}`, { field: file.name, expected: file.integrity, actual: integrity });
  }
}

/** The pinned file's path in the cache, downloading it on a miss; every byte checked against the pin. */
export async function fetchPinned(file: PinnedFile, options: FetchOptions): Promise<string> {
  const root = options.root ?? cacheRoot();
  const log = options.log ?? ((): void => {});
  const path = cachedPath(root, file.sha256);
  if (await isFile(path)) {
    const d = await digestFile(path);
    if (d.sha256 === file.sha256) return path;
    log(`${file.name}: cached copy ${path} is corrupt (sha256 ${d.sha256}); downloading it again`);
    await rm(path, { force: true });
  }
  await mkdir(join(root, 'sha256'), { recursive: true });
  const part = `${path}.${process.pid}.part`;
  const unavailable = (why: string, cause?: unknown): RuntimeError =>
    new RuntimeError('PINNED_INPUT_UNAVAILABLE', `cannot download ${file.name}: ${why}; ${options.repin}, or place the file with sha256 ${file.sha256} at ${path}`, { field: file.name, ...(cause === undefined ? {} : { cause }) });
  log(`${file.name}: downloading ${file.url}`);
  let response: Response;
  try {
    response = await (options.fetcher ?? fetch)(file.url);
  } catch (cause) {
    throw unavailable(`${file.url} is unreachable (${(cause as Error).message}); check the network`, cause);
  }
  if (!response.ok || response.body === null) throw unavailable(`${file.url} answered ${response.status} (the archive may have dropped this version)`);
  try {
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(part));
    } catch (cause) {
      throw unavailable(`the download from ${file.url} broke off (${(cause as Error).message}); run again`, cause);
    }
    checkDigests(file, await digestFile(part), options.repin);
    await rename(part, path);
  } finally {
    await rm(part, { force: true });
  }
  return path;
}
