// image/firmware.json: the pin of the edk2 source package the firmware is built from, and the build recipe.
// parseFirmwarePin checks the shape (every bad field listed, as sigstore-js assertBundle does) and returns a frozen
// object; recipeDigest names a build: the same digest means the same sources, flags, toolchain and build logic.
import { createHash } from 'node:crypto';
import { CloisterError } from '../../attestation/errors.js';

/** Bumped whenever buildFirmware changes how it turns the pin into bytes (so cached outputs are not reused). */
export const RECIPE_VERSION = 2;

export const SOURCE_ROLES = ['dsc', 'orig', 'debian'] as const;
export type SourceRole = (typeof SOURCE_ROLES)[number];

export interface SourceFile {
  readonly role: SourceRole;
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface FirmwarePlatform {
  /** The edk2 platform, e.g. AmdSevX64. */
  readonly name: string;
  readonly tee: 'sev-snp' | 'tdx';
  /** The platform description, relative to the source tree. */
  readonly dsc: string;
  /** The dsc's OUTPUT_DIRECTORY, relative to the source tree. */
  readonly buildDirectory: string;
  /** The flash device image under <buildDirectory>/<target>_<toolchain>/FV/. */
  readonly fv: string;
  /** Its name under the output directory. */
  readonly output: string;
  /** The platform's PREBUILD wants a GRUB binary (AmdSev): an empty grub.efi stands in (direct boot needs none). */
  readonly emptyGrub: boolean;
}

export interface FirmwarePin {
  readonly schema: 'cloister-firmware-pin/v1';
  readonly source: {
    readonly package: string;
    readonly version: string;
    readonly suite: string;
    readonly pool: string;
    readonly files: readonly SourceFile[];
    readonly topDirectory: string;
  };
  readonly sourceDateEpoch: number;
  readonly build: {
    readonly arch: string;
    readonly toolchain: string;
    readonly target: string;
    readonly flags: readonly string[];
    /** The length of the edk2 WORKSPACE path every build uses (padded to it): see workspaceDirectory. */
    readonly workspacePathLength: number;
  };
  readonly platforms: readonly FirmwarePlatform[];
  readonly toolchain: { readonly packages: Readonly<Record<string, string>>; readonly gccVersion: string; readonly python: string };
}

const HEX64 = /^[0-9a-f]{64}$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;
const RELATIVE_PATH = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]+$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks image/firmware.json's shape; throws MALFORMED_FIELD naming every bad field path. */
export function parseFirmwarePin(input: unknown): FirmwarePin {
  const bad: string[] = [];
  const str = (o: Json, key: string, path: string, re?: RegExp): string => {
    const v = o[key];
    if (typeof v !== 'string' || v === '' || (re !== undefined && !re.test(v))) bad.push(`${path}.${key}`);
    return typeof v === 'string' ? v : '';
  };
  const obj = (o: Json, key: string, path: string): Json => {
    const v = o[key];
    if (!isObject(v)) {
      bad.push(`${path}.${key}`);
      return {};
    }
    return v;
  };
  const arr = (o: Json, key: string, path: string): unknown[] => {
    const v = o[key];
    if (!Array.isArray(v)) {
      bad.push(`${path}.${key}`);
      return [];
    }
    return v as unknown[];
  };
  if (!isObject(input)) throw new CloisterError('MALFORMED_FIELD', 'the firmware pin is not a JSON object', { field: '$' });
  if (input.schema !== 'cloister-firmware-pin/v1') bad.push('$.schema');

  const source = obj(input, 'source', '$');
  str(source, 'package', '$.source');
  str(source, 'version', '$.source', /^[0-9A-Za-z.+~:-]+$/);
  str(source, 'suite', '$.source');
  str(source, 'pool', '$.source', /^https?:\/\/[^\s]+\/$/);
  str(source, 'topDirectory', '$.source', FILE_NAME);
  const files = arr(source, 'files', '$.source');
  files.forEach((f, i) => {
    const p = `$.source.files[${i}]`;
    if (!isObject(f)) return bad.push(p);
    if (!SOURCE_ROLES.includes(f.role as SourceRole)) bad.push(`${p}.role`);
    str(f, 'name', p, FILE_NAME);
    str(f, 'sha256', p, HEX64);
    if (!Number.isSafeInteger(f.bytes) || (f.bytes as number) <= 0) bad.push(`${p}.bytes`);
    return undefined;
  });
  for (const role of SOURCE_ROLES) {
    const n = files.filter((f) => isObject(f) && f.role === role).length;
    if (n !== 1) bad.push(`$.source.files (${n} files with role ${role}, expected 1)`);
  }

  const epoch = input.sourceDateEpoch;
  if (!Number.isSafeInteger(epoch) || (epoch as number) <= 0) bad.push('$.sourceDateEpoch');

  const build = obj(input, 'build', '$');
  str(build, 'arch', '$.build', /^X64$/);
  str(build, 'toolchain', '$.build', /^[A-Z0-9]+$/);
  str(build, 'target', '$.build', /^(?:RELEASE|DEBUG|NOOPT)$/);
  const flags = arr(build, 'flags', '$.build');
  flags.forEach((f, i) => {
    // Only -D NAME=VALUE and --pcd NAME=VALUE: anything else could change where outputs land or which platform builds.
    if (typeof f !== 'string' || !/^(?:-D[A-Za-z_][A-Za-z0-9_]*=\S+|--pcd=[A-Za-z_.][A-Za-z0-9_.]*=\S+)$/.test(f)) bad.push(`$.build.flags[${i}]`);
  });

  const wpl = build.workspacePathLength;
  if (!Number.isSafeInteger(wpl) || (wpl as number) < 64 || (wpl as number) > 1024) bad.push('$.build.workspacePathLength');

  const platforms = arr(input, 'platforms', '$');
  if (platforms.length === 0) bad.push('$.platforms (empty)');
  const outputs = new Set<string>();
  platforms.forEach((pl, i) => {
    const p = `$.platforms[${i}]`;
    if (!isObject(pl)) return bad.push(p);
    str(pl, 'name', p, /^[A-Za-z0-9]+$/);
    if (pl.tee !== 'sev-snp' && pl.tee !== 'tdx') bad.push(`${p}.tee`);
    str(pl, 'dsc', p, RELATIVE_PATH);
    str(pl, 'buildDirectory', p, RELATIVE_PATH);
    str(pl, 'fv', p, FILE_NAME);
    const out = str(pl, 'output', p, FILE_NAME);
    if (outputs.has(out)) bad.push(`${p}.output (repeated)`);
    outputs.add(out);
    if (typeof pl.emptyGrub !== 'boolean') bad.push(`${p}.emptyGrub`);
    return undefined;
  });

  const toolchain = obj(input, 'toolchain', '$');
  const packages = obj(toolchain, 'packages', '$.toolchain');
  for (const [name, version] of Object.entries(packages)) {
    if (!/^[a-z0-9][a-z0-9.+-]*$/.test(name) || typeof version !== 'string' || version === '') bad.push(`$.toolchain.packages.${name}`);
  }
  str(toolchain, 'gccVersion', '$.toolchain', /^\d+\.\d+\.\d+$/);
  str(toolchain, 'python', '$.toolchain', /^\/\S+$/);

  if (bad.length > 0) throw new CloisterError('MALFORMED_FIELD', `the firmware pin has bad fields: ${bad.join(', ')}`, { field: bad.join(',') });
  return deepFreeze(input) as unknown as FirmwarePin;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** JSON with object keys sorted at every level, so the digest does not depend on key order or whitespace. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/**
 * The build's identity: sha256 over the recipe version and every pin field that reaches the bytes (comments are
 * left out). Outputs cached under this digest are reused; any change of sources, flags, platforms or toolchain
 * expectation gives a new digest and a fresh build.
 */
export function recipeDigest(pin: FirmwarePin): string {
  const { source, sourceDateEpoch, build, platforms, toolchain } = pin;
  const recipe = {
    recipeVersion: RECIPE_VERSION,
    source: { ...source, files: source.files.map(({ role, name, sha256 }) => ({ role, name, sha256 })) },
    sourceDateEpoch,
    build,
    platforms,
    toolchain: { packages: toolchain.packages, gccVersion: toolchain.gccVersion, python: toolchain.python },
  };
  return createHash('sha256').update(canonicalJson(recipe)).digest('hex');
}
