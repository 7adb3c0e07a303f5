// The content-addressed cache of build inputs (docs/image.md): ${XDG_CACHE_HOME:-~/.cache}/cloister/sha256/<hex>.
// A file is stored under its SHA-256 only after its digest (and, for npm, its integrity) matched the pin, so a
// cached file is trusted by its name; it is still re-hashed before use, because the cache is writable by the user.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Log } from './progress.js';
import { ImageInputError } from '../../src/base/runtimeErrors.js';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CACHE_HOME'] !== undefined && env['XDG_CACHE_HOME'] !== '' ? env['XDG_CACHE_HOME'] : join(homedir(), '.cache');
  return join(base, 'cloister');
}

export const cachedPath = (sha256: string, dir = cacheDir()): string => join(dir, 'sha256', sha256);

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

export interface PinnedFile {
  /** What the error line calls it: "linux-image-6.12.117+deb13-cloud-amd64 6.12.117-1". */
  readonly name: string;
  readonly url: string;
  readonly sha256: string;
  /** npm's integrity string, checked too when present. */
  readonly integrity?: string;
}

export type Fetcher = (url: string) => Promise<Response>;

function checkDigests(file: PinnedFile, d: Digests, where: string): void {
  if (d.sha256 !== file.sha256) throw new ImageInputError(`${file.name}: ${where} has sha256 ${d.sha256}, the pin says ${file.sha256}; if the change is intended run "cloister image pin"`, file.name);
  if (file.integrity !== undefined && file.integrity !== `sha512-${d.sha512}`) throw new ImageInputError(`${file.name}: ${where} has integrity sha512-${d.sha512}, the pin says ${file.integrity}; run "cloister image pin" if intended`, file.name);
}

/** The pinned file's path in the cache, downloading it on a miss; every byte checked against the pin. */
export async function fetchPinned(file: PinnedFile, options: { log: Log; fetcher?: Fetcher; dir?: string }): Promise<string> {
  const dir = options.dir ?? cacheDir();
  const path = cachedPath(file.sha256, dir);
  if (await stat(path).then((s) => s.isFile(), () => false)) {
    const d = await digestFile(path);
    if (d.sha256 === file.sha256) return path;
    options.log(`${file.name}: cached copy ${path} is corrupt (sha256 ${d.sha256}); downloading it again`);
    await rm(path, { force: true });
  }
  await mkdir(join(dir, 'sha256'), { recursive: true });
  const part = `${path}.${process.pid}.part`;
  options.log(`${file.name}: downloading ${file.url}`);
  let response: Response;
  try {
    response = await (options.fetcher ?? fetch)(file.url);
  } catch (cause) {
    throw new ImageInputError(`${file.name}: cannot download ${file.url} (${(cause as Error).message}); check the network, or place the file with sha256 ${file.sha256} at ${path}`, file.name, cause);
  }
  if (!response.ok || response.body === null) {
    throw new ImageInputError(`${file.name}: ${file.url} answered ${response.status}; the archive may have dropped this version: run "cloister image pin" to pin the current one (or place the file with sha256 ${file.sha256} at ${path})`, file.name);
  }
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(part));
    checkDigests(file, await digestFile(part), `the download from ${file.url}`);
    await rename(part, path);
  } finally {
    await rm(part, { force: true });
  }
  return path;
}
