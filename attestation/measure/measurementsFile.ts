// The allowed-measurements file (schema "cloister-measurements/v1", docs/measure.md "Measurements file"): what
// the image build publishes (scripts/measurements/writeMeasurements.ts) and what a client accepts with
// `--measurements FILE` or OhttpClientOptions.measurements. Untrusted JSON: every bad field is reported at
// once, by path (sigstore-js assertBundle). Browser-safe: no I/O.
//
//   { "schema": "cloister-measurements/v1",
//     "image": { "manifest": "<sha256 of image-manifest.json>", "variant": "production" | "test" },
//     "notes": [ "..." ],                                             optional: what was skipped, and why
//     "sev-snp": [ { "measurement": <96 hex>, "vcpus": N, "vcpuType": "EPYC-v4", "vmmType": "qemu",
//                    "guestFeatures": "0x1", "inputs": { ... } } ],
//     "tdx": [ { "mrTd": <96 hex>, "rtmr1": <96 hex>, "rtmr2": <96 hex>, "memory": "2G", "qemu": ">=10.2",
//                "inputs": { ... } } ] }
//
// Members beyond these (an entry's `inputs`, say) are kept and not checked: they document an entry, the
// verifier compares only the digests.
import { ParseError, PolicyError } from '../errors.js';
import type { RaTlsPolicy } from '../ratls/verifyCertificate.js';

export const MEASUREMENTS_SCHEMA = 'cloister-measurements/v1';

export interface SnpMeasurementEntry {
  readonly measurement: string;
  readonly vcpus: number;
  readonly vcpuType: string;
  readonly vmmType: string;
  readonly guestFeatures: string;
  readonly inputs?: Readonly<Record<string, unknown>>;
}

export interface TdxMeasurementEntry {
  readonly mrTd: string;
  readonly rtmr1?: string;
  readonly rtmr2?: string;
  readonly memory?: string;
  readonly qemu?: string;
  readonly inputs?: Readonly<Record<string, unknown>>;
}

export interface MeasurementsFile {
  readonly schema: typeof MEASUREMENTS_SCHEMA;
  readonly image: { readonly manifest: string; readonly variant: string };
  readonly notes?: readonly string[];
  readonly 'sev-snp'?: readonly SnpMeasurementEntry[];
  readonly tdx?: readonly TdxMeasurementEntry[];
}

/** What a measurements file allows, as the policy fields of each platform. */
export interface AllowedMeasurements {
  /** SEV-SNP: SnpPolicy.measurements. */
  readonly 'sev-snp': { readonly measurements: readonly string[] };
  /** TDX: TdxPolicy.mrtds, and TdxPolicy.rtmrs (RTMR1 and RTMR2 checked) when every entry predicts them. */
  readonly tdx: { readonly mrtds: readonly string[]; readonly rtmrs?: readonly (string | null)[] };
}

const isHex = (v: unknown, bytes: number): v is string => typeof v === 'string' && new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`).test(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const HEX48 = 'must be 48 bytes of hex (96 digits)';

function checkEntries(o: Record<string, unknown>, key: 'sev-snp' | 'tdx', problems: string[], check: (e: Record<string, unknown>, at: string) => void): void {
  if (!(key in o)) return;
  const list = o[key];
  if (!Array.isArray(list)) {
    problems.push(`$.${key}: must be an array of entries`);
    return;
  }
  list.forEach((e: unknown, i) => {
    const at = `$.${key}[${i}]`;
    if (!isObject(e)) problems.push(`${at}: must be an object`);
    else {
      check(e, at);
      if ('inputs' in e && !isObject(e.inputs)) problems.push(`${at}.inputs: must be an object`);
    }
  });
}

function checkSnpEntry(e: Record<string, unknown>, at: string, problems: string[]): void {
  if (!isHex(e.measurement, 48)) problems.push(`${at}.measurement: ${HEX48}`);
  if (typeof e.vcpus !== 'number' || !Number.isInteger(e.vcpus) || e.vcpus < 1) problems.push(`${at}.vcpus: must be a positive integer`);
  if (typeof e.vcpuType !== 'string' || e.vcpuType === '') problems.push(`${at}.vcpuType: must be a vCPU type name`);
  if (typeof e.vmmType !== 'string' || e.vmmType === '') problems.push(`${at}.vmmType: must be a VMM type name`);
  if (typeof e.guestFeatures !== 'string' || !/^0x[0-9a-fA-F]{1,16}$/.test(e.guestFeatures)) problems.push(`${at}.guestFeatures: must be a 0x-prefixed hex string`);
}

function checkTdxEntry(e: Record<string, unknown>, at: string, problems: string[]): void {
  if (!isHex(e.mrTd, 48)) problems.push(`${at}.mrTd: ${HEX48}`);
  for (const k of ['rtmr1', 'rtmr2'] as const) if (k in e && !isHex(e[k], 48)) problems.push(`${at}.${k}: ${HEX48}`);
  for (const k of ['memory', 'qemu'] as const) if (k in e && typeof e[k] !== 'string') problems.push(`${at}.${k}: must be a string`);
}

/** Throws a PolicyError (MALFORMED_POLICY) naming every invalid field path. */
export function assertMeasurementsFile(value: unknown): MeasurementsFile {
  if (!isObject(value)) throw new PolicyError('MALFORMED_POLICY', 'measurements file must be a JSON object', { field: '$' });
  const problems: string[] = [];
  if (value.schema !== MEASUREMENTS_SCHEMA) problems.push(`$.schema: must be "${MEASUREMENTS_SCHEMA}"`);
  const image = value.image;
  if (!isObject(image)) problems.push('$.image: must be an object with manifest and variant');
  else {
    if (!isHex(image.manifest, 32)) problems.push('$.image.manifest: must be a SHA-256 in hex (64 digits)');
    if (typeof image.variant !== 'string' || image.variant === '') problems.push('$.image.variant: must be a variant name');
  }
  if ('notes' in value && (!Array.isArray(value.notes) || !value.notes.every((n) => typeof n === 'string'))) problems.push('$.notes: must be an array of strings');
  checkEntries(value, 'sev-snp', problems, (e, at) => {
    checkSnpEntry(e, at, problems);
  });
  checkEntries(value, 'tdx', problems, (e, at) => {
    checkTdxEntry(e, at, problems);
  });
  if (problems.length > 0) {
    throw new PolicyError('MALFORMED_POLICY', `invalid measurements file: ${problems.join('; ')}`, { field: problems.map((p) => p.split(':')[0]).join(',') });
  }
  return deepFreeze(value) as unknown as MeasurementsFile;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** The measurements file in `text`: ParseError for JSON that does not parse, PolicyError for bad fields (both MALFORMED_POLICY). */
export function parseMeasurementsFile(text: string): MeasurementsFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ParseError('MALFORMED_POLICY', `measurements file is not valid JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
  return assertMeasurementsFile(value);
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs.map((x) => x.toLowerCase()))];

/**
 * The allowed lists of one platform, for its policy. A platform the file has no entries for allows nothing
 * (an empty list: every report is refused). TDX RTMRs: TdxPolicy takes one expected value per RTMR, so RTMR1 and
 * RTMR2 are set when every entry predicts them and they agree; entries that disagree are a PolicyError (the
 * policy cannot express a set of pairs, and checking none would accept more than the file allows).
 */
export function allowedMeasurements<N extends keyof AllowedMeasurements>(file: MeasurementsFile, platform: N): AllowedMeasurements[N];
export function allowedMeasurements(file: MeasurementsFile, platform: keyof AllowedMeasurements): AllowedMeasurements[keyof AllowedMeasurements] {
  if (platform === 'sev-snp') return Object.freeze({ measurements: Object.freeze(unique((file['sev-snp'] ?? []).map((e) => e.measurement))) });
  const tdx = file.tdx ?? [];
  const mrtds = Object.freeze(unique(tdx.map((e) => e.mrTd)));
  const pairs = unique(tdx.map((e) => `${e.rtmr1 ?? ''}/${e.rtmr2 ?? ''}`));
  if (tdx.length === 0 || tdx.some((e) => e.rtmr1 === undefined || e.rtmr2 === undefined)) return Object.freeze({ mrtds });
  if (pairs.length > 1) {
    throw new PolicyError('MALFORMED_POLICY', `the measurements file predicts ${pairs.length} different RTMR1/RTMR2 pairs; a TDX policy takes one`, { field: '$.tdx', expected: 'one RTMR1/RTMR2 pair', actual: String(pairs.length) });
  }
  const [rtmr1, rtmr2] = (pairs[0] as string).split('/');
  return Object.freeze({ mrtds, rtmrs: Object.freeze([null, rtmr1 ?? null, rtmr2 ?? null, null]) });
}

const union = (given: readonly string[] | undefined, file: readonly string[]): string[] => unique([...(given ?? []), ...file]);

/**
 * `policy` allowing what `file` allows besides the measurements it already lists (--measurements merged with
 * --measurement): a platform whose policy listed none now allows exactly the file's (an empty list when the file
 * has no entries for it). TDX RTMRs the policy leaves null or unset take the file's predicted values.
 */
export function policyWithMeasurements(policy: RaTlsPolicy, file: MeasurementsFile): RaTlsPolicy {
  const snp = allowedMeasurements(file, 'sev-snp');
  const tdx = allowedMeasurements(file, 'tdx');
  const rtmrs = tdx.rtmrs === undefined ? policy.tdx?.rtmrs : [0, 1, 2, 3].map((i) => policy.tdx?.rtmrs?.[i] ?? tdx.rtmrs?.[i] ?? null);
  return {
    ...policy,
    snp: { ...policy.snp, measurements: union(policy.snp?.measurements, snp.measurements) },
    tdx: { ...policy.tdx, mrtds: union(policy.tdx?.mrtds, tdx.mrtds), ...(rtmrs === undefined ? {} : { rtmrs }) },
  };
}
