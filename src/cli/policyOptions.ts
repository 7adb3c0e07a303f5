// The policy options verify-evidence, verify and request share (--allow-debug, --allow-provisional-tcb,
// --measurement, --report-data): read and checked once, then set in whichever policy fields the evidence's
// platform declares for them (Platform.policyOptions).
import type { UsageError } from '../base/runtimeErrors.js';
import type { PolicyOptionFields } from '../../attestation/evidence/platformEntry.js';
import type { PlatformEntry, PlatformName, PolicyOf } from '../../attestation/evidence/platforms.js';

export interface PolicyOptionValues {
  readonly 'allow-debug'?: boolean | undefined;
  readonly 'allow-provisional-tcb'?: boolean | undefined;
  readonly measurement?: string[] | undefined;
  readonly 'report-data'?: string | undefined;
}

type Option = keyof PolicyOptionFields<object>;

/** The options given, checked, by the policy option they set; an option not given is absent. */
export type PolicyOptions = { readonly [O in Option]?: boolean | string | readonly string[] };

const FLAGS: Readonly<Record<Option, string>> = {
  allowDebug: '--allow-debug',
  allowProvisionalFirmware: '--allow-provisional-tcb',
  measurements: '--measurement',
  reportData: '--report-data',
};

export function hexArg(value: string, bytes: number, flag: string, usage: (message: string) => UsageError): string {
  const clean = value.replace(/^0x/i, '');
  if (!new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`).test(clean)) throw usage(`${flag} must be ${bytes} bytes of hex (${2 * bytes} digits), got "${value}"`);
  return clean.toLowerCase();
}

export function readPolicyOptions(values: PolicyOptionValues, usage: (message: string) => UsageError): PolicyOptions {
  return {
    ...(values['allow-debug'] === true ? { allowDebug: true } : {}),
    ...(values['allow-provisional-tcb'] === true ? { allowProvisionalFirmware: true } : {}),
    ...(values.measurement === undefined ? {} : { measurements: values.measurement.map((m) => hexArg(m, 48, FLAGS.measurements, usage)) }),
    ...(values['report-data'] === undefined ? {} : { reportData: hexArg(values['report-data'], 64, FLAGS.reportData, usage) }),
  };
}

const GIVEN: Readonly<Record<Option, (values: PolicyOptionValues) => boolean>> = {
  allowDebug: (v) => v['allow-debug'] === true,
  allowProvisionalFirmware: (v) => v['allow-provisional-tcb'] === true,
  measurements: (v) => v.measurement !== undefined,
  reportData: (v) => v['report-data'] !== undefined,
};

/** The given options `platform`'s policy has no field for, as their flags (--allow-provisional-tcb for TDX); values are not checked. */
export function unsupportedPolicyFlags<N extends PlatformName>(platform: PlatformEntry<N>, values: PolicyOptionValues): string[] {
  return (Object.keys(GIVEN) as Option[]).filter((o) => GIVEN[o](values) && platform.policyOptions[o] === undefined).map((o) => FLAGS[o]);
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
