// The policy options verify-evidence, verify and request share (--allow-debug, --measurement, --measurements,
// --report-data, and the SEV-SNP ones: --allow-provisional-tcb, --min-tcb, --min-launch-tcb, --min-version,
// --require-smt-disabled, --require-tsme, --require-ciphertext-hiding): read and checked once, then set in
// whichever policy fields the evidence's platform declares for them (Platform.policyOptions).
import type { UsageError } from '../base/runtimeErrors.js';
import { parseMeasurementsFile, policyWithMeasurements, type MeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import type { TcbComponent } from '../../attestation/snp/tcb.js';
import { readInput, type CliIo } from './io.js';
import type { PolicyOptionFields } from '../../attestation/evidence/platformEntry.js';
import type { PlatformEntry, PlatformName, PolicyOf } from '../../attestation/evidence/platforms.js';
import { TDX_TCB_STATUSES } from '../../attestation/tdx/tcbEvaluation.js';
import { DEFAULT_ACCEPTED_TCB_STATUSES } from '../../attestation/tdx/validate.js';

export interface PolicyOptionValues {
  readonly 'allow-debug'?: boolean | undefined;
  readonly 'allow-provisional-tcb'?: boolean | undefined;
  readonly measurement?: string[] | undefined;
  readonly 'report-data'?: string | undefined;
  readonly 'allow-tcb-status'?: string[] | undefined;
  readonly 'min-tcb'?: string | undefined;
  readonly 'min-launch-tcb'?: string | undefined;
  readonly 'min-version'?: string | undefined;
  readonly 'require-smt-disabled'?: boolean | undefined;
  readonly 'require-tsme'?: boolean | undefined;
  readonly 'require-ciphertext-hiding'?: boolean | undefined;
}

type Option = keyof PolicyOptionFields<object>;

/** The options given, checked, by the policy option they set; an option not given is absent. */
export type PolicyOptions = { readonly [O in Option]?: boolean | string | readonly string[] | Readonly<Partial<Record<TcbComponent, number>>> };

/** Each policy option's flag, without its dashes. */
const FLAGS: Readonly<Record<Option, keyof PolicyOptionValues>> = {
  allowDebug: 'allow-debug',
  allowProvisionalFirmware: 'allow-provisional-tcb',
  measurements: 'measurement',
  reportData: 'report-data',
  minTcb: 'min-tcb',
  minLaunchTcb: 'min-launch-tcb',
  minVersion: 'min-version',
  requireSmtDisabled: 'require-smt-disabled',
  requireTsme: 'require-tsme',
  requireCiphertextHiding: 'require-ciphertext-hiding',
  acceptedTcbStatuses: 'allow-tcb-status',
};

const ACCEPTABLE_TCB = TDX_TCB_STATUSES.filter((s) => s !== 'Revoked');

/** --allow-tcb-status STATUS[,STATUS] (repeatable): UpToDate and the statuses named. */
function tcbStatuses(given: readonly string[], usage: (message: string) => UsageError): string[] {
  const named = given.flatMap((g) => g.split(',')).map((s) => s.trim());
  for (const s of named) {
    if (!(ACCEPTABLE_TCB as readonly string[]).includes(s)) throw usage(`--allow-tcb-status: "${s}" is not one of ${ACCEPTABLE_TCB.join(', ')}${s === 'Revoked' ? ' (Revoked is never accepted)' : ''}`);
  }
  return [...new Set([...DEFAULT_ACCEPTED_TCB_STATUSES, ...named])];
}

export function hexArg(value: string, bytes: number, flag: string, usage: (message: string) => UsageError): string {
  const clean = value.replace(/^0x/i, '');
  if (!new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`).test(clean)) throw usage(`${flag} must be ${bytes} bytes of hex (${2 * bytes} digits), got "${value}"`);
  return clean.toLowerCase();
}

/** The names formatTcb prints ("{fmc=0 bl=3 tee=0 snp=8 ucode=115}"), so that a value from a message can be pasted. */
const TCB_NAMES: Readonly<Record<string, TcbComponent>> = { fmc: 'fmc', bl: 'bootloader', tee: 'tee', snp: 'snp', ucode: 'microcode' };

/** "bl=3,tee=0,snp=8,ucode=115" (any of fmc, bl, tee, snp, ucode; each 0..255, once) as minimum TCB components. */
export function tcbArg(value: string, flag: string, usage: (message: string) => UsageError): Partial<Record<TcbComponent, number>> {
  const out: Partial<Record<TcbComponent, number>> = {};
  const bad = (): UsageError => usage(`${flag} must be comma-separated NAME=N with NAME one of ${Object.keys(TCB_NAMES).join(', ')} (each once) and N 0..255, e.g. bl=3,tee=0,snp=8,ucode=115; got "${value}"`);
  for (const part of value.split(',')) {
    const m = /^\s*([a-z]+)=(\d{1,3})\s*$/.exec(part);
    const component = m === null ? undefined : TCB_NAMES[m[1] as string];
    if (m === null || component === undefined || component in out || Number(m[2]) > 255) throw bad();
    out[component] = Number(m[2]);
  }
  return out;
}

function versionArg(value: string, flag: string, usage: (message: string) => UsageError): string {
  const m = /^(\d{1,3})\.(\d{1,3})$/.exec(value);
  if (m === null || Number(m[1]) > 255 || Number(m[2]) > 255) throw usage(`${flag} must be MAJOR.MINOR, each 0..255 (e.g. 1.55), got "${value}"`);
  return `${Number(m[1])}.${Number(m[2])}`;
}

export function readPolicyOptions(values: PolicyOptionValues, usage: (message: string) => UsageError): PolicyOptions {
  const flag = (o: Option): string => `--${FLAGS[o]}`;
  const text = (o: Option, read: (value: string, flag: string) => PolicyOptions[Option]): PolicyOptions => {
    const value = values[FLAGS[o]];
    return typeof value === 'string' ? { [o]: read(value, flag(o)) } : {};
  };
  const booleans = (Object.keys(FLAGS) as Option[]).filter((o) => values[FLAGS[o]] === true);
  return {
    ...Object.fromEntries(booleans.map((o) => [o, true])),
    ...(values.measurement === undefined ? {} : { measurements: values.measurement.map((m) => hexArg(m, 48, flag('measurements'), usage)) }),
    ...text('reportData', (v, f) => hexArg(v, 64, f, usage)),
    ...text('minTcb', (v, f) => tcbArg(v, f, usage)),
    ...text('minLaunchTcb', (v, f) => tcbArg(v, f, usage)),
    ...text('minVersion', (v, f) => versionArg(v, f, usage)),
    ...(values['allow-tcb-status'] === undefined ? {} : { acceptedTcbStatuses: tcbStatuses(values['allow-tcb-status'], usage) }),
  };
}

const given = (values: PolicyOptionValues, o: Option): boolean => values[FLAGS[o]] !== undefined && values[FLAGS[o]] !== false;

/** The given options `platform`'s policy has no field for, as their flags (--allow-provisional-tcb for TDX); values are not checked. */
export function unsupportedPolicyFlags<N extends PlatformName>(platform: PlatformEntry<N>, values: PolicyOptionValues): string[] {
  return (Object.keys(FLAGS) as Option[]).filter((o) => given(values, o) && platform.policyOptions[o] === undefined).map((o) => `--${FLAGS[o]}`);
}

/** `base` with every given option set in the policy field `platform` declares for it. */
export function policyWithOptions<N extends PlatformName>(platform: PlatformEntry<N>, base: PolicyOf<N>, options: PolicyOptions): PolicyOf<N> {
  const fields: Record<string, unknown> = {};
  for (const [option, value] of Object.entries(options)) {
    const field = platform.policyOptions[option as Option];
    if (field !== undefined) fields[field] = value;
  }
  return { ...base, ...fields };
}

/** The allowed-measurement options every verifying command takes, declared once (parseArgs configuration). */
export const MEASUREMENT_OPTIONS = {
  measurement: { type: 'string', multiple: true },
  measurements: { type: 'string' },
} as const;

/** Their help lines, aligned to column 28 as the commands' other options. */
export const MEASUREMENT_HELP = `  --measurement HEX         an allowed launch measurement (48 bytes; SEV-SNP MEASUREMENT, TDX MRTD); repeatable
  --measurements FILE       the allowed measurements of a measurements.json (cloister-measurements/v1, written by
                            the image build): SEV-SNP launch digests, TDX MRTDs and predicted RTMR1/RTMR2;
                            merged with --measurement; a platform the file has no entries for is refused`;

/** A cap on the file: thousands of entries are a few hundred KiB. */
const MAX_MEASUREMENTS_FILE_BYTES = 16 * 1024 * 1024;

/** The --measurements file, read and parsed (MALFORMED_POLICY naming every bad field), or undefined without the option. */
export async function readMeasurementsOption(values: { readonly measurements?: string | undefined }, io: CliIo): Promise<MeasurementsFile | undefined> {
  if (values.measurements === undefined) return undefined;
  const bytes = await readInput(io, values.measurements, 'measurements file', MAX_MEASUREMENTS_FILE_BYTES);
  return parseMeasurementsFile(new TextDecoder().decode(bytes));
}

/** One platform's policy with the file's measurements merged in (policyWithMeasurements, for a policy that is not keyed by platform). */
export function platformPolicyWithMeasurements<N extends PlatformName>(platform: PlatformEntry<N>, policy: PolicyOf<N>, file: MeasurementsFile | undefined): PolicyOf<N> {
  if (file === undefined) return policy;
  // RaTlsPolicy is keyed by `platform.key`, which TypeScript cannot follow through the key remapping.
  const merged = policyWithMeasurements({ [platform.key]: policy }, file) as Readonly<Record<string, PolicyOf<N>>>;
  return merged[platform.key] ?? policy;
}
