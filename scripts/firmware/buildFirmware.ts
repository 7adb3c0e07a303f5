#!/usr/bin/env node
// Builds the two confidential-VM firmware images from the pinned edk2 source (image/firmware.json), reproducibly:
// OVMF.amdsev.fd (OvmfPkg/AmdSev, SEV-SNP direct boot with kernel hashes) and OVMF.inteltdx.fd (OvmfPkg/IntelTdx,
// TDVF). Outputs are cached under <cache>/firmware/<recipe digest>/out and reused while the recipe is unchanged.
//   node dist/scripts/firmware/buildFirmware.js [--out DIR] [--force] [--keep-work]
// The image build calls buildFirmware({ outDir, force, log }) directly.
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CloisterError } from '../../attestation/errors.js';
import { RuntimeError, UsageError } from '../../src/base/runtimeErrors.js';
import { errorLine } from '../../src/cli/io.js';
import { cacheRoot, fetchPinned, sha256File } from '../contentCache.js';
import { buildBaseTools, buildPlatform, placeEmptyGrub, unpackSource, workspaceDirectory, type Log } from './edk2Build.js';
import { parseFirmwarePin, recipeDigest, type FirmwarePin } from './firmwarePin.js';
import { assertToolchain, installMissing, probeToolchain, type FoundToolchain } from './toolchain.js';

/** The repository root: this file is dist/scripts/firmware/buildFirmware.js. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface BuildFirmwareOptions {
  /** Where OVMF.*.fd and firmware-manifest.json go; default <repo>/build/firmware. */
  readonly outDir?: string;
  /** Rebuild even when outputs for this recipe are cached. */
  readonly force?: boolean;
  readonly log?: Log;
  /** Default <repo>/image/firmware.json. */
  readonly pinPath?: string;
  /** Default cacheRoot() ($CLOISTER_CACHE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/cloister). */
  readonly cacheDir?: string;
  /** Keep the work tree (sources, Build/, logs) after a successful build, to compare two builds module by module. */
  readonly keepWork?: boolean;
}

export interface FirmwareOutput {
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly platform: string;
  readonly dsc: string;
}

/** build/firmware/firmware-manifest.json: no times, no paths of this machine, so two builds write the same file. */
export interface FirmwareManifest {
  readonly schema: 'cloister-firmware/v1';
  readonly recipeDigest: string;
  readonly sourceDateEpoch: number;
  readonly inputs: readonly { name: string; kind: 'firmware-source'; version: string; sha256: string; source: string; fetched: boolean }[];
  readonly toolchain: FoundToolchain;
  readonly build: FirmwarePin['build'];
  readonly grub: string;
  readonly outputs: Readonly<Record<'sev-snp' | 'tdx', FirmwareOutput>>;
}

export interface BuildFirmwareResult {
  readonly outDir: string;
  readonly manifest: FirmwareManifest;
  readonly cached: boolean;
  readonly seconds: number;
}

const MANIFEST = 'firmware-manifest.json';
const EMPTY_GRUB = 'empty grub.efi (0 bytes): direct boot never runs GRUB; see docs/image.md "Firmware"';

export async function readFirmwarePin(path: string): Promise<FirmwarePin> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new CloisterError('UNREADABLE_INPUT', `cannot read the firmware pin "${path}": ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { field: 'pin', cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CloisterError('MALFORMED_FIELD', `the firmware pin "${path}" is not JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
  return parseFirmwarePin(json);
}

/** The manifest of a finished build in `dir`, when every output it lists is there with its sha256. */
async function verifiedBuild(dir: string, digest: string): Promise<FirmwareManifest | undefined> {
  let manifest: FirmwareManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as FirmwareManifest;
  } catch {
    return undefined;
  }
  if (manifest.recipeDigest !== digest) return undefined;
  for (const out of Object.values(manifest.outputs)) {
    const ok = await sha256File(join(dir, out.file)).then((h) => h === out.sha256, () => false);
    if (!ok) return undefined;
  }
  return manifest;
}

async function publish(from: string, outDir: string, manifest: FirmwareManifest): Promise<void> {
  await mkdir(outDir, { recursive: true });
  for (const out of Object.values(manifest.outputs)) await copyFile(join(from, out.file), join(outDir, out.file));
  await copyFile(join(from, MANIFEST), join(outDir, MANIFEST));
}

export async function buildFirmware(options: BuildFirmwareOptions = {}): Promise<BuildFirmwareResult> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => { process.stdout.write(`${line}\n`); });
  const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const pin = await readFirmwarePin(options.pinPath ?? join(REPO_ROOT, 'image/firmware.json'));
  const digest = recipeDigest(pin);
  const outDir = resolve(options.outDir ?? join(REPO_ROOT, 'build/firmware'));
  const root = options.cacheDir ?? cacheRoot();
  const buildRoot = join(root, 'firmware', digest);
  const finished = join(buildRoot, 'out');

  if (options.force !== true) {
    const manifest = await verifiedBuild(finished, digest);
    if (manifest !== undefined) {
      await publish(finished, outDir, manifest);
      log(`firmware: cached (recipe ${digest.slice(0, 16)}) -> ${outDir} [${elapsed()}]`);
      return { outDir, manifest, cached: true, seconds: (performance.now() - started) / 1000 };
    }
  }

  log(`firmware: recipe ${digest.slice(0, 16)}, edk2 ${pin.source.version}, building in ${buildRoot}`);
  installMissing(pin.toolchain, log);
  const toolchain = probeToolchain(pin.toolchain);
  assertToolchain(pin.toolchain, toolchain);

  log(`firmware: download ${pin.source.files.map((f) => f.name).join(', ')}`);
  const inputs: FirmwareManifest['inputs'][number][] = [];
  const paths: Partial<Record<string, string>> = {};
  for (const f of pin.source.files) {
    const url = new URL(encodeURIComponent(f.name), pin.source.pool).href;
    try {
      paths[f.role] = await fetchPinned({ name: f.name, url, sha256: f.sha256 }, { root, log, repin: 're-pin image/firmware.json on purpose (docs/image.md, "Firmware")' });
    } catch (e) {
      // The .dsc is provenance only (its hash is trixie's Sources index entry); the build reads the two tarballs.
      // A mirror that does not serve it is logged, a .dsc with other bytes is still an error.
      if (!(f.role === 'dsc' && e instanceof RuntimeError && e.code === 'PINNED_INPUT_UNAVAILABLE')) throw e;
      log(`firmware: ${f.name} not served (${e.message.split(';')[0] ?? ''}); the build does not read it, its pinned sha256 is recorded`);
    }
    inputs.push({ name: f.name, kind: 'firmware-source', version: pin.source.version, sha256: f.sha256, source: url, fetched: paths[f.role] !== undefined });
  }
  log(`firmware: downloaded [${elapsed()}]`);

  // A fresh work tree every build: a half-finished tree from an interrupted build must not leak into this one.
  await rm(buildRoot, { recursive: true, force: true });
  const work = workspaceDirectory(buildRoot, pin.source.topDirectory, pin.build.workspacePathLength);
  await mkdir(work, { recursive: true });
  const tree = await unpackSource(pin, work, paths.orig ?? '', paths.debian ?? '');
  log(`firmware: unpacked and patched ${pin.source.topDirectory} [${elapsed()}]`);
  const jobs = Math.max(1, availableParallelism());
  await buildBaseTools(tree, jobs);
  log(`firmware: BaseTools built [${elapsed()}]`);

  const staging = join(buildRoot, 'staging');
  await mkdir(staging, { recursive: true });
  const outputs: Partial<Record<'sev-snp' | 'tdx', FirmwareOutput>> = {};
  for (const platform of pin.platforms) {
    if (platform.emptyGrub) await placeEmptyGrub(tree);
    log(`firmware: building ${platform.name} (${platform.dsc}) ...`);
    const heartbeat = setInterval(() => { log(`firmware:   ${platform.name} still building [${elapsed()}]`); }, 30_000);
    try {
      const fd = await buildPlatform(pin, tree, platform, jobs);
      await copyFile(fd, join(staging, platform.output));
    } finally {
      clearInterval(heartbeat);
    }
    const file = join(staging, platform.output);
    outputs[platform.tee] = { file: platform.output, sha256: await sha256File(file), bytes: (await stat(file)).size, platform: platform.name, dsc: platform.dsc };
    log(`firmware: ${platform.output} sha256 ${outputs[platform.tee]?.sha256 ?? ''} [${elapsed()}]`);
  }
  if (outputs['sev-snp'] === undefined || outputs.tdx === undefined) {
    throw new CloisterError('MALFORMED_FIELD', 'the firmware pin must build one sev-snp and one tdx platform', { field: '$.platforms' });
  }
  const manifest: FirmwareManifest = {
    schema: 'cloister-firmware/v1',
    recipeDigest: digest,
    sourceDateEpoch: pin.sourceDateEpoch,
    inputs,
    toolchain,
    build: pin.build,
    grub: EMPTY_GRUB,
    outputs: { 'sev-snp': outputs['sev-snp'], tdx: outputs.tdx },
  };
  await writeFile(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  await rm(finished, { recursive: true, force: true });
  await rename(staging, finished);
  // The source tree (about 1.5 GB with Build/) is not kept unless asked: the cache keeps the inputs and the outputs.
  if (options.keepWork !== true) await rm(work, { recursive: true, force: true });
  await publish(finished, outDir, manifest);
  log(`firmware: done -> ${outDir} [${elapsed()}]`);
  return { outDir, manifest, cached: false, seconds: (performance.now() - started) / 1000 };
}

const HELP = `usage: node dist/scripts/firmware/buildFirmware.js [--out DIR] [--force] [--keep-work]

Builds OVMF.amdsev.fd (SEV-SNP) and OVMF.inteltdx.fd (TDX) from the edk2 source pinned in image/firmware.json,
writes them and firmware-manifest.json to DIR (default build/firmware). Sources and finished outputs are cached
under $CLOISTER_CACHE_DIR (default \${XDG_CACHE_HOME:-~/.cache}/cloister); a cached build for the same recipe is
reused ("cached") unless --force. Installs missing build dependencies with apt-get (needs root).

  --out DIR   output directory
  --force     rebuild even when the outputs are cached
  --keep-work keep the work tree (sources, Build/, logs) under the cache after the build
  --help      this text
`;

export async function main(argv: readonly string[]): Promise<number> {
  let values: { out?: string | undefined; force?: boolean | undefined; 'keep-work'?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { out: { type: 'string' }, force: { type: 'boolean' }, 'keep-work': { type: 'boolean' }, help: { type: 'boolean' } }, strict: true, allowPositionals: false }));
  } catch (e) {
    process.stderr.write(errorLine(new UsageError('USAGE', `${(e as Error).message.split('\n')[0] ?? ''} (see --help)`)));
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    await buildFirmware({ ...(values.out === undefined ? {} : { outDir: values.out }), force: values.force === true, keepWork: values['keep-work'] === true });
    return 0;
  } catch (e) {
    process.stderr.write(errorLine(e));
    return 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
