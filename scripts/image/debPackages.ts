// What the image takes from the pinned Debian packages: the kernel (vmlinuz, and the modules the guest needs
// that the package builds as modules, with their dependencies, uncompressed) and the C/C++ runtime node and
// onnxruntime link against. Packages are unpacked with `dpkg-deb -x` into a temporary directory.
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageBuildError } from '../../src/base/runtimeErrors.js';
import type { CpioEntry } from './cpio.js';
import type { DebRole } from './inputs.js';
import { runTool, unxz } from './tools.js';

/**
 * The kernel features the guest needs, and the module each is when the package builds it as one (=m). A
 * feature built in (=y) needs nothing; one not built at all is an error. Read from the package's config-*.
 */
export const GUEST_FEATURES: readonly { config: string; module: string; why: string }[] = [
  { config: 'CONFIG_CONFIGFS_FS', module: 'configfs', why: 'configfs-tsm lives under /sys/kernel/config' },
  { config: 'CONFIG_TSM_REPORTS', module: 'tsm', why: 'configfs-tsm attestation reports' },
  { config: 'CONFIG_SEV_GUEST', module: 'sev-guest', why: 'SEV-SNP guest requests (/dev/sev-guest, the tsm provider)' },
  { config: 'CONFIG_TDX_GUEST_DRIVER', module: 'tdx-guest', why: 'TDX reports and quotes (/dev/tdx_guest, the tsm provider)' },
  { config: 'CONFIG_VIRTIO_NET', module: 'virtio_net', why: 'the network (QEMU virtio-net, cloud NICs)' },
  { config: 'CONFIG_HW_RANDOM_VIRTIO', module: 'virtio-rng', why: 'entropy from the host early in boot (optional to the guest, used when present)' },
];

/** The runtime libraries, by package: the dynamic loader and what node, onnxruntime and our addon link (ldd). */
export const RUNTIME_FILES: Readonly<Record<Exclude<DebRole, 'kernel'>, readonly string[]>> = {
  libc: ['usr/lib64/ld-linux-x86-64.so.2', 'usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'usr/lib/x86_64-linux-gnu/libc.so.6', 'usr/lib/x86_64-linux-gnu/libm.so.6', 'usr/lib/x86_64-linux-gnu/libdl.so.2', 'usr/lib/x86_64-linux-gnu/libpthread.so.0', 'usr/lib/x86_64-linux-gnu/librt.so.1'],
  'libstdc++': ['usr/lib/x86_64-linux-gnu/libstdc++.so.6'],
  libgcc: ['usr/lib/x86_64-linux-gnu/libgcc_s.so.1'],
};

/** Unpacks a .deb into a fresh temporary directory, runs `use` on it, and removes it. */
export async function withUnpackedDeb<T>(deb: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'cloister-deb-'));
  try {
    await runTool('dpkg-deb', ['-x', deb, dir]);
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A file of the package as an archive entry: symlinks stay symlinks (and their targets are taken too). */
async function entryOf(root: string, rel: string, seen: Map<string, CpioEntry>): Promise<void> {
  if (seen.has(rel)) return;
  const path = join(root, rel);
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) throw new ImageBuildError(`the package has no ${rel}: the pinned package changed its layout; update RUNTIME_FILES in scripts/image/debPackages.ts`);
  if (st.isSymbolicLink()) {
    const target = await readlink(path);
    seen.set(rel, { path: rel, type: 'symlink', mode: 0o777, data: Buffer.from(target) });
    const resolved = target.startsWith('/') ? target.slice(1) : join(rel, '..', target);
    await entryOf(root, resolved, seen);
  } else {
    seen.set(rel, { path: rel, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, data: await readFile(path) });
  }
}

export async function runtimeLibraries(deb: string, files: readonly string[]): Promise<CpioEntry[]> {
  return withUnpackedDeb(deb, async (dir) => {
    const seen = new Map<string, CpioEntry>();
    for (const f of files) await entryOf(dir, f, seen);
    return [...seen.values()];
  });
}

export interface KernelParts {
  readonly release: string;
  readonly vmlinuz: Buffer;
  /** The modules, uncompressed, at usr/lib/modules/RELEASE/..., and the list file /init reads. */
  readonly entries: CpioEntry[];
  /** Module names in load order (dependencies first). */
  readonly loadOrder: string[];
  /** CONFIG_* symbol -> y or m, for the features above. */
  readonly config: Record<string, string>;
}

/** The module list /init loads (image/init/init.c): one absolute path per line, dependencies first. */
export const MODULE_LIST = 'usr/lib/modules/cloister.modules';

const normalName = (n: string): string => n.replace(/-/g, '_');

/** The `depends=` of a module's .modinfo section (NUL-separated key=value strings). */
export function moduleDepends(ko: Uint8Array): string[] {
  const text = Buffer.from(ko.buffer, ko.byteOffset, ko.byteLength).toString('latin1');
  const m = /\0depends=([^\0]*)\0/.exec(text);
  return m?.[1] === undefined || m[1] === '' ? [] : m[1].split(',');
}

async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else out.push(r);
  }
  return out;
}

export async function kernelParts(deb: string): Promise<KernelParts> {
  return withUnpackedDeb(deb, async (dir) => {
    const boot = await readdir(join(dir, 'boot'));
    const vmlinuzName = boot.find((n) => n.startsWith('vmlinuz-'));
    const configName = boot.find((n) => n.startsWith('config-'));
    if (vmlinuzName === undefined || configName === undefined) throw new ImageBuildError(`the kernel package has no boot/vmlinuz-* or boot/config-* (found: ${boot.join(', ')})`);
    const release = vmlinuzName.slice('vmlinuz-'.length);
    const configText = await readFile(join(dir, 'boot', configName), 'utf8');
    const modulesRoot = `usr/lib/modules/${release}`;
    const files = (await walk(join(dir, modulesRoot))).filter((f) => /\.ko(\.xz|\.zst|\.gz)?$/.test(f));
    const byName = new Map(files.map((f) => [normalName((f.split('/').at(-1) ?? f).replace(/\.ko(\.\w+)?$/, '')), f]));
    const config: Record<string, string> = {};
    const wanted: string[] = [];
    for (const feature of GUEST_FEATURES) {
      const m = new RegExp(`^${feature.config}=(y|m)$`, 'm').exec(configText);
      if (m?.[1] === undefined) throw new ImageBuildError(`the kernel ${release} is built without ${feature.config} (${feature.why}); pin another kernel`);
      config[feature.config] = m[1];
      if (m[1] === 'm') wanted.push(normalName(feature.module));
    }
    const loaded = new Map<string, Buffer>();
    const order: string[] = [];
    const visit = async (name: string, chain: string[]): Promise<void> => {
      if (loaded.has(name)) return;
      if (chain.includes(name)) throw new ImageBuildError(`kernel module dependency cycle: ${[...chain, name].join(' -> ')}`);
      const rel = byName.get(name);
      if (rel === undefined) throw new ImageBuildError(`the kernel package has no module ${name} (needed by ${chain.at(-1) ?? 'the guest'})`);
      const raw = await readFile(join(dir, modulesRoot, rel));
      if (rel.endsWith('.zst') || rel.endsWith('.gz')) throw new ImageBuildError(`module ${rel} uses a compression the build does not unpack (xz only)`);
      const ko = rel.endsWith('.xz') ? await unxz(raw) : raw;
      for (const dep of moduleDepends(ko)) await visit(normalName(dep), [...chain, name]);
      loaded.set(name, ko);
      order.push(name);
    };
    for (const name of wanted) await visit(name, []);
    const entries: CpioEntry[] = order.map((name) => ({ path: `${modulesRoot}/${(byName.get(name) ?? name).replace(/\.xz$/, '')}`, type: 'file', mode: 0o644, data: loaded.get(name) ?? Buffer.alloc(0) }));
    const list = `${entries.map((e) => `/${e.path.replace(/^usr\//, '')}`).join('\n')}\n`;
    entries.push({ path: MODULE_LIST, type: 'file', mode: 0o644, data: Buffer.from(list) });
    return { release, vmlinuz: await readFile(join(dir, 'boot', vmlinuzName)), entries, loadOrder: order, config };
  });
}
