// A client that sends data fails closed on the launch measurement (docs/policy.md "Clients fail closed on the
// measurement"): it accepts evidence only of a platform whose acceptable measurements its caller named, in the
// policy or a measurements file, unless the caller sets anyMeasurement (debugging), and then the verdict says so.
// OhttpClient and the Node attested agent apply it; verifyAttestedCertificate itself checks what the policy sets.
import type { VerdictError } from '../checks.js';
import { PolicyError } from '../errors.js';
import { PLATFORM_LIST, PLATFORMS, type PlatformEntry, type PlatformName } from '../evidence/platforms.js';
import { policyWithMeasurements, type MeasurementsFile } from '../measure/measurementsFile.js';
import type { RaTlsPolicy, RaTlsVerdict } from '../ratls/verifyCertificate.js';
import type { HardwarePolicyVersions } from './hardwarePolicy.js';
import type { TransparencyTrust } from './loggedMeasurements.js';

export interface MeasurementSource {
  readonly policy?: RaTlsPolicy;
  /** A parsed measurements file: its measurements are allowed besides the policy's, and it lists (maybe none) for every platform. */
  readonly measurements?: MeasurementsFile;
  /** Accept evidence whose platform's policy lists no measurement, for debugging; the verdict then has `anyMeasurement: true`. */
  readonly anyMeasurement?: boolean;
  /**
   * A transparency log the launch measurement must be published to (loggedMeasurements.ts): it is a measurement
   * source of its own, judged after the evidence verified (judgeMeasurement), and any list the policy gives must
   * hold too.
   */
  readonly transparency?: TransparencyTrust;
  /** With `transparency`: where the newest logged hardware policy version accepted is kept (rollback protection). */
  readonly hardwarePolicyVersions?: HardwarePolicyVersions;
  /** With `transparency`: refuse when the log publishes no hardware policy (HARDWARE_POLICY_NOT_LOGGED) instead of going on with the caller's policy alone. */
  readonly requireHardwarePolicy?: boolean;
}

/** What outputs say of a verdict with `anyMeasurement`. */
export const ANY_MEASUREMENT_NOTE = 'ANY MEASUREMENT accepted (debugging)';

/** The verdict's check that records this rule. */
export const MEASUREMENT_SOURCE_CHECK = 'client.measurement-source';

/** The policy field that lists a platform's acceptable launch measurements, as a path: snp.measurements, tdx.mrtds. */
const listPath = (platform: PlatformEntry<PlatformName>): string => `${platform.key}.${platform.policyOptions.measurements}`;

/** Whether `policy` sets `platform`'s list of acceptable launch measurements (an empty list too: it accepts none). */
function listed(policy: RaTlsPolicy, platform: PlatformEntry<PlatformName>): boolean {
  // RaTlsPolicy is keyed by `platform.key`, which TypeScript cannot follow through the key remapping.
  const own = (policy as Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>)[platform.key];
  return own?.[platform.policyOptions.measurements] !== undefined;
}

/**
 * The policy a client verifies with: `policy` with the file's measurements merged in. Throws PolicyError
 * MEASUREMENT_SOURCE_MISSING when it lists no measurement for any platform, unless `anyMeasurement`.
 */
export function clientPolicy(source: MeasurementSource): RaTlsPolicy {
  const policy = source.measurements === undefined ? (source.policy ?? {}) : policyWithMeasurements(source.policy ?? {}, source.measurements);
  if (source.anyMeasurement !== true && source.transparency === undefined && !PLATFORM_LIST.some((p) => listed(policy, p))) {
    const lists = PLATFORM_LIST.map(listPath).join(' or ');
    throw new PolicyError('MEASUREMENT_SOURCE_MISSING', `no launch measurement to accept: give the policy's ${lists}, or measurements (a measurements file); anyMeasurement: true accepts any (debugging only)`, {
      field: 'policy',
      expected: `${lists}, or measurements`,
      actual: 'none',
    });
  }
  return policy;
}

/**
 * `verdict` under this rule for its platform: when `policy` lists no measurement for it, an accepted verdict is
 * refused with MEASUREMENT_SOURCE_MISSING, or, with `anyMeasurement`, any verdict is marked `anyMeasurement: true`.
 */
export function withMeasurementSource(verdict: RaTlsVerdict, policy: RaTlsPolicy, anyMeasurement: boolean): RaTlsVerdict {
  if (verdict.platform === 'unknown') return verdict;
  const platform: PlatformEntry<PlatformName> = PLATFORMS[verdict.platform];
  if (listed(policy, platform)) return verdict;
  const unlisted = `the policy lists no acceptable ${platform.label} launch measurement (${listPath(platform)})`;
  if (anyMeasurement) {
    return { ...verdict, anyMeasurement: true, checks: [...verdict.checks, { id: MEASUREMENT_SOURCE_CHECK, status: 'skipped', detail: `${ANY_MEASUREMENT_NOTE}: ${unlisted}` }] };
  }
  if (!verdict.accepted) return verdict;
  const e = new PolicyError('MEASUREMENT_SOURCE_MISSING', `${unlisted} and no measurements file was given; anyMeasurement: true accepts any (debugging only)`, { field: listPath(platform), actual: 'none' });
  return { ...verdict, accepted: false, error: e.toJSON() as unknown as VerdictError, checks: [...verdict.checks, { id: MEASUREMENT_SOURCE_CHECK, status: 'fail', detail: e.message }] };
}
