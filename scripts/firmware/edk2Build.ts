// Runs the edk2 build: unpack Debian's source package (orig tarball, then the debian/ tarball, then
// debian/patches in series order: BaseTools needs them), build BaseTools, then `build` once per platform. Every
// command runs with a fixed environment (PATH, locale, time zone, SOURCE_DATE_EPOCH, Debian's python3) so two
// machines with the pinned toolchain produce the same bytes; its output goes to a log file under the work
// directory, and a failure is one line naming the step and that log.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from '../../src/base/runtimeErrors.js';
import type { FirmwarePin, FirmwarePlatform } from './firmwarePin.js';

export type Log = (line: string) => void;

/**
 * The environment of every build command: nothing inherited but what a build needs. Left out on purpose:
 * the caller's PATH (a pyenv or ccache shim would change the interpreter or compiler), WORKSPACE, EDK_TOOLS_PATH,
 * CONF_PATH (edksetup.sh derives them from the tree), ELF_PACKAGE_METADATA (dpkg's .note.package, LP #2078252),
 * and the language (tool messages and sort order).
 */
export function buildEnvironment(pin: FirmwarePin, home: string): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    TZ: 'UTC',
    SOURCE_DATE_EPOCH: String(pin.sourceDateEpoch),
    PYTHON_COMMAND: pin.toolchain.python,
    // Python writes no .pyc next to BaseTools' sources and hashes strings the same way every run.
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONHASHSEED: '0',
  };
}

/** Runs `bash -c script` in `cwd` with `env`, appending its output to `logPath`; rejects with FIRMWARE_BUILD_FAILED. */
export async function runLogged(step: string, script: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, logPath: string): Promise<void> {
  const out = createWriteStream(logPath, { flags: 'a' });
  await new Promise<void>((resolve) => out.once('open', () => { resolve(); }));
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', ['-c', script, step, ...args], { cwd, env, stdio: ['ignore', out, out] });
    child.once('error', reject);
    child.once('exit', (c) => { resolve(c); });
  }).finally(() => new Promise<void>((resolve) => { out.end(resolve); }));
  if (code === 0) return;
  const tail = (await readFile(logPath, 'utf8').catch(() => '')).trimEnd().split('\n').filter((l) => l.trim() !== '').slice(-1)[0] ?? '(no output)';
  throw new RuntimeError('FIRMWARE_BUILD_FAILED', `${step} failed (exit ${code ?? 'signal'}): ${tail.trim().slice(0, 300)}; full output in ${logPath}`, { field: step });
}

/** The work tree: `<workDir>/<topDirectory>` holding the patched source; logs beside it. */
export interface Edk2Tree {
  readonly root: string;
  readonly logs: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The work directory under `buildRoot` whose source tree `<dir>/<topDirectory>` (edk2's WORKSPACE) has exactly
 * `length` characters. GenFw reserves room in each PE image for a CodeView entry naming the module's .dll by its
 * absolute path (Elf64Convert.c: mCoffOffset grows by strlen(mInImageName) + 1, then the section is aligned);
 * `--zero` (RELEASE_*_*_GENFW_FLAGS in both dscs) clears the bytes but not the room, so the path's *length* moves
 * the following sections of some modules. Padding WORKSPACE to one length makes the layout independent of where
 * the cache is; the bytes of the path never reach the image.
 */
export function workspaceDirectory(buildRoot: string, topDirectory: string, length: number): string {
  const base = join(buildRoot, 'w');
  const pad = length - base.length - 1 - topDirectory.length;
  if (pad < 0) {
    throw new RuntimeError('FIRMWARE_BUILD_FAILED', `the build directory ${buildRoot} is too long for the pinned workspace path length ${length}; set CLOISTER_CACHE_DIR to a shorter path`, { field: 'build.workspacePathLength' });
  }
  return base + '_'.repeat(pad);
}

/** Unpacks orig + debian tarballs and applies debian/patches/series in order (patch -p1, as quilt does). */
export async function unpackSource(pin: FirmwarePin, workDir: string, orig: string, debian: string): Promise<Edk2Tree> {
  const logs = join(workDir, 'logs');
  await mkdir(logs, { recursive: true });
  const root = join(workDir, pin.source.topDirectory);
  const env = buildEnvironment(pin, workDir);
  const log = join(logs, 'unpack.log');
  // --no-same-owner: the tree belongs to the builder, whoever packed the tarball (root builds would keep uids).
  await runLogged('unpack', 'tar -xJf "$1" --no-same-owner -C "$3" && tar -xJf "$2" --no-same-owner -C "$3/$4"', [orig, debian, workDir, pin.source.topDirectory], workDir, env, log);
  const series = (await readFile(join(root, 'debian/patches/series'), 'utf8'))
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '');
  for (const patch of series) {
    const [name, ...opts] = patch.split(/\s+/);
    const level = opts.find((o) => /^-p\d$/.test(o)) ?? '-p1';
    await runLogged(`patch ${name ?? ''}`, 'patch "$1" -s -f --no-backup-if-mismatch -i "$2"', [level, `debian/patches/${name ?? ''}`], root, env, log);
  }
  return { root, logs, env };
}

/**
 * AmdSevX64.dsc's PREBUILD runs OvmfPkg/AmdSev/Grub/grub.sh, which builds a GRUB with LUKS and the SEV secret
 * module unless grub.efi exists and is newer than grub.sh and grub.cfg. Direct boot (-kernel/-initrd/-append with
 * kernel-hashes=on) never runs GRUB, so an empty file stands in: the firmware then carries an empty GRUB file and
 * no GRUB build (host grub-mkimage, its version and modules) enters the bytes. Its mtime is set one second past
 * both scripts, so the check holds whatever the unpack times were.
 */
export async function placeEmptyGrub(tree: Edk2Tree): Promise<void> {
  const dir = join(tree.root, 'OvmfPkg/AmdSev/Grub');
  const newest = Math.max((await stat(join(dir, 'grub.sh'))).mtimeMs, (await stat(join(dir, 'grub.cfg'))).mtimeMs);
  const grub = join(dir, 'grub.efi');
  await writeFile(grub, new Uint8Array(0));
  const t = new Date(Math.floor(newest / 1000) * 1000 + 1000);
  await utimes(grub, t, t);
}

// edksetup.sh is sourced and reads the positional parameters as its own options: move them aside first.
const EDKSETUP = 'a=("$@"); set --; . ./edksetup.sh >/dev/null';

export async function buildBaseTools(tree: Edk2Tree, jobs: number): Promise<void> {
  await runLogged('BaseTools', `${EDKSETUP} && make -C BaseTools ARCH=X64 -j "\${a[0]}"`, [String(jobs)], tree.root, tree.env, join(tree.logs, 'basetools.log'));
}

/** Builds one platform; returns the path of its flash device image. */
export async function buildPlatform(pin: FirmwarePin, tree: Edk2Tree, platform: FirmwarePlatform, jobs: number): Promise<string> {
  const { arch, toolchain, target, flags } = pin.build;
  await runLogged(
    `build ${platform.name}`,
    `${EDKSETUP} && build -a "\${a[0]}" -t "\${a[1]}" -b "\${a[2]}" -p "\${a[3]}" -n "\${a[4]}" "\${a[@]:5}"`,
    [arch, toolchain, target, platform.dsc, String(jobs), ...flags],
    tree.root,
    tree.env,
    join(tree.logs, `${platform.name}.log`),
  );
  return join(tree.root, platform.buildDirectory, `${target}_${toolchain}`, 'FV', platform.fv);
}
