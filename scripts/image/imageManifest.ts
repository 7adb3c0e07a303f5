// image-manifest.json, schema "cloister-image/v1" (the shared contract, docs/image.md): every input of the
// image with its digest and where it came from, and every output's digest. No build path, time or host
// name goes in, so two builds of the same inputs write the same manifest.
export const IMAGE_SCHEMA = 'cloister-image/v1';
export const VARIANTS = ['production', 'test'] as const;
export type Variant = (typeof VARIANTS)[number];
export const INPUT_KINDS = ['deb', 'npm', 'app', 'model', 'firmware-source', 'tool'] as const;
export type InputKind = (typeof INPUT_KINDS)[number];

export interface ManifestInput {
  readonly name: string;
  readonly kind: InputKind;
  readonly version: string;
  readonly sha256: string;
  readonly source: string;
}

export interface FileDigest {
  readonly file: string;
  readonly sha256: string;
}

export interface ImageManifest {
  readonly schema: typeof IMAGE_SCHEMA;
  readonly variant: Variant;
  readonly inputs: readonly ManifestInput[];
  readonly outputs: {
    readonly kernel: FileDigest & { readonly bytes: number };
    readonly initrd: FileDigest & { readonly bytes: number };
    readonly cmdline: string;
    readonly firmware?: { readonly 'sev-snp'?: FileDigest; readonly tdx?: FileDigest };
  };
}

const HEX64 = /^[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fileProblems(v: unknown, at: string, withBytes: boolean): string[] {
  if (!isObject(v)) return [`${at}: not an object`];
  const bad: string[] = [];
  if (typeof v['file'] !== 'string' || v['file'] === '') bad.push(`${at}.file: not a file name`);
  if (typeof v['sha256'] !== 'string' || !HEX64.test(v['sha256'])) bad.push(`${at}.sha256: not 64 lowercase hex digits`);
  if (withBytes && (typeof v['bytes'] !== 'number' || !Number.isSafeInteger(v['bytes']) || v['bytes'] <= 0)) bad.push(`${at}.bytes: not a positive integer`);
  return bad;
}

/** Every bad field path of a manifest (empty when it has the contract's shape). */
export function manifestProblems(json: unknown): string[] {
  if (!isObject(json)) return ['$: not an object'];
  const bad: string[] = [];
  if (json['schema'] !== IMAGE_SCHEMA) bad.push(`$.schema: not "${IMAGE_SCHEMA}"`);
  if (!(VARIANTS as readonly unknown[]).includes(json['variant'])) bad.push(`$.variant: not one of ${VARIANTS.join(', ')}`);
  const inputs = json['inputs'];
  if (!Array.isArray(inputs) || inputs.length === 0) bad.push('$.inputs: not a non-empty array');
  else {
    inputs.forEach((i: unknown, n) => {
      const at = `$.inputs[${n}]`;
      if (!isObject(i)) return void bad.push(`${at}: not an object`);
      for (const k of ['name', 'version', 'source'] as const) if (typeof i[k] !== 'string' || i[k] === '') bad.push(`${at}.${k}: not a non-empty string`);
      if (!(INPUT_KINDS as readonly unknown[]).includes(i['kind'])) bad.push(`${at}.kind: not one of ${INPUT_KINDS.join(', ')}`);
      if (typeof i['sha256'] !== 'string' || !HEX64.test(i['sha256'])) bad.push(`${at}.sha256: not 64 lowercase hex digits`);
    });
  }
  const out = json['outputs'];
  if (!isObject(out)) bad.push('$.outputs: not an object');
  else {
    bad.push(...fileProblems(out['kernel'], '$.outputs.kernel', true), ...fileProblems(out['initrd'], '$.outputs.initrd', true));
    if (typeof out['cmdline'] !== 'string' || out['cmdline'] === '' || out['cmdline'].includes('\n')) bad.push('$.outputs.cmdline: not a one-line string');
    const fw = out['firmware'];
    if (fw !== undefined) {
      if (!isObject(fw)) bad.push('$.outputs.firmware: not an object');
      else for (const [k, v] of Object.entries(fw)) bad.push(...(k === 'sev-snp' || k === 'tdx' ? fileProblems(v, `$.outputs.firmware.${k}`, false) : [`$.outputs.firmware.${k}: not sev-snp or tdx`]));
    }
  }
  return bad;
}

export const serializeManifest = (m: ImageManifest): string => `${JSON.stringify(m, null, 2)}\n`;
