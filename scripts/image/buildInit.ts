// Builds the guest's init (image/init/init.c) as a static binary with the system gcc, reproducibly: the
// source is compiled twice, in two different temporary directories, with the build path mapped away
// (-ffile-prefix-map), no build ID, no __DATE__/__TIME__ in the source and a fixed locale; the two results
// must be byte-identical. The binary goes to outDir/init, and outDir/init.json records the compiler
// (`gcc --version`), the flags and both digests, for the image manifest.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (this file compiles to dist/scripts/image/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const INIT_SOURCE = join(REPO_ROOT, 'image', 'init', 'init.c');
export const GCC = 'gcc';
const COMPILE_TIMEOUT_MS = 120_000;

/** The compiler flags, before the per-directory -ffile-prefix-map. */
export const INIT_CFLAGS = ['-static', '-Os', '-s', '-std=gnu11', '-Wall', '-Wextra', '-Werror', '-fno-ident', '-Wl,--build-id=none'] as const;

export class InitBuildError extends Error {
  readonly code = 'INIT_BUILD_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface BuildInitOptions {
  readonly outDir: string;
  readonly log: (line: string) => void;
  /** The C source (default image/init/init.c). */
  readonly source?: string;
}

/** What outDir/init.json records. */
export interface InitBuildInfo {
  readonly schema: 'cloister-init-build/v1';
  readonly source: { readonly file: 'image/init/init.c'; readonly sha256: string };
  readonly compiler: { readonly command: string; readonly version: string };
  readonly flags: readonly string[];
  readonly output: { readonly file: 'init'; readonly sha256: string; readonly bytes: number };
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const COMPILE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', TZ: 'UTC', SOURCE_DATE_EPOCH: '0' };

async function compileIn(dir: string, source: Uint8Array): Promise<Uint8Array> {
  await writeFile(join(dir, 'init.c'), source);
  try {
    await run(GCC, [...INIT_CFLAGS, `-ffile-prefix-map=${dir}=.`, '-o', 'init', 'init.c'], { cwd: dir, env: COMPILE_ENV, timeout: COMPILE_TIMEOUT_MS });
  } catch (e) {
    const raw = (e as { stderr?: unknown }).stderr;
    const stderr = (typeof raw === 'string' ? raw : '').trim().split('\n').slice(0, 5).join(' | ');
    throw new InitBuildError(`gcc failed to build image/init/init.c: ${stderr || (e as Error).message}`, { cause: e });
  }
  return readFile(join(dir, 'init'));
}

/** The first line of `gcc --version`, e.g. "gcc (Debian 12.2.0-14+deb12u1) 12.2.0". */
export async function gccVersion(): Promise<string> {
  try {
    const { stdout } = await run(GCC, ['--version'], { env: COMPILE_ENV, timeout: 10_000 });
    return stdout.split('\n')[0]?.trim() ?? '';
  } catch (e) {
    throw new InitBuildError(`no usable gcc (apt-get install gcc libc6-dev): ${(e as Error).message}`, { cause: e });
  }
}

/** Builds init twice, checks the two are identical, writes outDir/init and outDir/init.json; returns the binary's path. */
export async function buildInit({ outDir, log, source = INIT_SOURCE }: BuildInitOptions): Promise<string> {
  const version = await gccVersion();
  const text = await readFile(source);
  if (/__(DATE|TIME|TIMESTAMP)__/.test(text.toString('latin1'))) throw new InitBuildError(`${source} uses __DATE__/__TIME__/__TIMESTAMP__, which would make the build irreproducible`);
  log(`init: building with ${version}`);
  const scratch = await mkdtemp(join(tmpdir(), 'cloister-init-'));
  try {
    const [a, b] = [join(scratch, 'a'), join(scratch, 'second-build')];
    await Promise.all([mkdir(a), mkdir(b)]);
    const first = await compileIn(a, text);
    const second = await compileIn(b, text);
    if (sha256(first) !== sha256(second)) throw new InitBuildError(`two builds of image/init/init.c differ (${sha256(first)} vs ${sha256(second)}): the init build is not reproducible`);
    await mkdir(outDir, { recursive: true });
    const out = join(outDir, 'init');
    await copyFile(join(a, 'init'), out);
    const info: InitBuildInfo = {
      schema: 'cloister-init-build/v1',
      source: { file: 'image/init/init.c', sha256: sha256(text) },
      compiler: { command: GCC, version },
      flags: [...INIT_CFLAGS, '-ffile-prefix-map=<build dir>=.'],
      output: { file: 'init', sha256: sha256(first), bytes: first.length },
    };
    await writeFile(join(outDir, 'init.json'), `${JSON.stringify(info, null, 2)}\n`);
    log(`init: ${first.length} bytes, sha256 ${sha256(first)} (two builds identical)`);
    return out;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write('Usage: node dist/scripts/image/buildInit.js [--out DIR]\n\nBuilds image/init/init.c statically, twice, and checks the two builds are identical;\nwrites DIR/init and DIR/init.json (default build/init).\n');
    return;
  }
  const at = argv.indexOf('--out');
  const outDir = at >= 0 && argv[at + 1] !== undefined ? resolve(argv[at + 1] as string) : join(REPO_ROOT, 'build', 'init');
  process.stdout.write(`${await buildInit({ outDir, log: (line) => process.stderr.write(`${line}\n`) })}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`buildInit: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
