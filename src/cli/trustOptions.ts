// What `cloister verify` and `cloister request` share: the caller's policy from --policy, --measurement and
// --measurements, and verifiers on the node:crypto backend, trusting the simulated TEE's development
// roots with --trust-simulated. They fail closed on the launch measurement (docs/policy.md "Clients fail
// closed on the measurement"): without a measurement to accept they refuse, except that --trust-simulated
// alone accepts the simulated TEE's, and --any-measurement accepts any, for debugging.
import type { UsageError } from '../base/runtimeErrors.js';
import { PLATFORM_LIST, PLATFORMS, type PlatformEntry, type PlatformName, type PolicyOf } from '../../attestation/evidence/platforms.js';
import type { PlatformVerifiers, RaTlsPolicy, RaTlsVerdict } from '../../attestation/ratls/verifyCertificate.js';
import type { SnpVerifier } from '../../attestation/snp/verify.js';
import type { TdxVerifier } from '../../attestation/tdx/verify.js';
import { ANY_MEASUREMENT_NOTE } from '../../attestation/client/measurementSource.js';
import { join } from 'node:path';
import { httpLogFetcher, type TransparencyTrust } from '../../attestation/client/loggedMeasurements.js';
import { directoryLogFetcher } from '../transparency/publish.js';
import { publicKeyFromPem } from '../../attestation/sigstore/sigstoreKeys.js';
import { defaultStateDir } from '../tee/sim/devChain.js';
import { FileCheckpointStore } from '../transparency/fileCheckpointStore.js';
import { FileHardwarePolicyVersions } from '../transparency/fileHardwarePolicyVersions.js';
import type { HardwarePolicyVersions } from '../../attestation/client/hardwarePolicy.js';
import { LOG_VKEY_FILE } from '../transparency/publish.js';
import { nodeEcdsa } from '../base/crypto/nodeEcdsa.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { simulatedRootsByPlatform } from './trustSimulated.js';
import { readInput, usageError, type CliIo } from './io.js';
import { policyWithMeasurements } from '../../attestation/measure/measurementsFile.js';
import { policyWithOptions, readMeasurementsOption, readPolicyOptions, type PolicyOptions } from './policyOptions.js';

export interface TrustValues {
  readonly policy?: string | undefined;
  readonly measurement?: string[] | undefined;
  readonly measurements?: string | undefined;
  readonly 'any-measurement'?: boolean | undefined;
  readonly 'trust-simulated'?: boolean | undefined;
  readonly log?: string | undefined;
  readonly 'publisher-key'?: string[] | undefined;
  readonly 'log-key'?: string | undefined;
  readonly witness?: string[] | undefined;
  readonly 'witnesses-required'?: string | undefined;
  readonly 'require-hardware-policy'?: boolean | undefined;
}

/** The options' parseArgs configuration beside MEASUREMENT_OPTIONS. */
export const TRUST_OPTIONS = {
  'any-measurement': { type: 'boolean' },
  'trust-simulated': { type: 'boolean' },
  log: { type: 'string' },
  'publisher-key': { type: 'string', multiple: true },
  'log-key': { type: 'string' },
  witness: { type: 'string', multiple: true },
  'witnesses-required': { type: 'string' },
  'require-hardware-policy': { type: 'boolean' },
} as const;

/** Their help lines, aligned to column 28 as the commands' other options. */
export const TRUST_HELP = `  --any-measurement         accept any launch measurement, for debugging: every output then says
                            "${ANY_MEASUREMENT_NOTE}"; without it, and without --measurement or
                            --measurements, the command refuses (exit 2)
  --trust-simulated         also trust the simulated TEE's development roots (from the state directory,
                            $CLOISTER_STATE_DIR or ~/.local/state/cloister), and, without --measurement or
                            --measurements, accept the simulated TEE's launch measurement; never in production
  --log URL                 accept the launch measurements published to this transparency log (cloister
                            publish; http(s):// or a directory): the server's measurement (TDX: MRTD, and
                            RTMR1/RTMR2 where the logged entry gives them) must be listed by a statement
                            signed with a --publisher-key, included in a checkpoint signed by the
                            log (and the witnesses), consistent with the newest one seen (kept in the state
                            directory's checkpoints/); else MEASUREMENT_NOT_LOGGED. Each file of an
                            http(s) log must come whole within 10 s, else TLOG_UNAVAILABLE
  --publisher-key FILE      the publisher's public key (PEM, publisher.pub), repeatable; needed with --log
  --log-key VKEY|FILE       the log's note verifier key (log.vkey); default: LOG/log.vkey, fetched from the
                            log itself, which then vouches for its own checkpoints: pin it in production
  --witness VKEY|FILE       a witness whose cosignature the log's checkpoint must carry, repeatable
  --witnesses-required K    how many of the --witness keys must have cosigned (default: all)
  --require-hardware-policy refuse a server when the --log publishes no hardware policy
                            (HARDWARE_POLICY_NOT_LOGGED); without it, the caller's policy alone then decides`;

/**
 * Where the accepted launch measurements come from: the options (--measurement, --measurements, a --policy
 * file's list), the simulated TEE's (--trust-simulated without those), or none (--any-measurement).
 */
export type MeasurementSourceKind = 'given' | 'simulated' | 'any' | 'logged';

export interface Trust {
  /** OhttpClient's and the attested agent's options. */
  readonly client: { readonly policy: RaTlsPolicy; readonly snpVerifier: SnpVerifier; readonly tdxVerifier: TdxVerifier; readonly anyMeasurement?: true; readonly transparency?: TransparencyTrust; readonly hardwarePolicyVersions?: HardwarePolicyVersions; readonly requireHardwarePolicy?: true };
  readonly measurementSource: MeasurementSourceKind;
}

const NO_MEASUREMENT =
  "no launch measurement to accept: give --measurement HEX or --measurements FILE (--trust-simulated alone accepts the simulated TEE's), or --any-measurement to accept any, for debugging";

// `verify --policy` and `request --policy` take a SEV-SNP policy file (their help says so); the other
// platforms' policies come from the options alone.
const POLICY_FILE_PLATFORM = PLATFORMS['sev-snp'];

/** One platform's members of RaTlsPolicy and PlatformVerifiers, as [key, value] pairs. */
function platformTrust<N extends PlatformName>(platform: PlatformEntry<N>, file: PolicyOf<N> | undefined, options: PolicyOptions, roots: Uint8Array[]): { policy: [string, unknown]; verifier: [string, unknown] } {
  return {
    policy: [platform.key, policyWithOptions(platform, file ?? {}, options)],
    verifier: [`${platform.key}Verifier`, platform.createVerifier({ ecdsa: nodeEcdsa, hasher: nodeHasher, additionalRoots: roots })],
  };
}

export async function trustFromOptions(values: TrustValues, io: CliIo, command: string, noRootHint: string): Promise<Trust> {
  const usage = (message: string): UsageError => usageError(message, command);
  const anyMeasurement = values['any-measurement'] === true;
  if (anyMeasurement && (values.measurement !== undefined || values.measurements !== undefined)) throw usage('--any-measurement contradicts --measurement and --measurements: give one or the other');
  const transparency = await transparencyFromOptions(values, io, usage);
  if (transparency !== undefined && (anyMeasurement || values.measurement !== undefined || values.measurements !== undefined)) throw usage('--log contradicts --measurement, --measurements and --any-measurement: the log is where the measurements come from');
  const options = readPolicyOptions({ measurement: values.measurement }, usage);
  const file = values.policy === undefined ? undefined : POLICY_FILE_PLATFORM.parsePolicyJson(new TextDecoder().decode(await readInput(io, values.policy, 'policy')));
  const measurements = await readMeasurementsOption(values, io);
  let measurementSource: MeasurementSourceKind = 'given';
  let simulated: { readonly [N in PlatformName]: string } | undefined;
  if (transparency !== undefined) measurementSource = 'logged';
  else if (options.measurements === undefined && measurements === undefined && file?.measurements === undefined) {
    if (anyMeasurement) measurementSource = 'any';
    else if (values['trust-simulated'] !== true) throw usage(NO_MEASUREMENT);
    else {
      measurementSource = 'simulated';
      simulated = await simulatedMeasurementsHex();
    }
  }
  const none = { 'sev-snp': [], tdx: [] };
  let roots: { readonly [N in PlatformName]: Uint8Array[] } = none;
  if (values['trust-simulated'] === true) {
    const dev = await simulatedRootsByPlatform();
    if (PLATFORM_LIST.every((p) => dev.roots[p.name].length === 0)) throw usage(`--trust-simulated: no development root in ${dev.dir} (${noRootHint})`);
    roots = dev.roots;
  }
  const trust = PLATFORM_LIST.map((p) =>
    platformTrust(p, p.name === POLICY_FILE_PLATFORM.name ? file : undefined, simulated === undefined ? options : { ...options, measurements: [simulated[p.name]] }, roots[p.name]),
  );
  // Object.fromEntries loses the keys' types; each pair was built from its platform's own entry.
  const verifiers = Object.fromEntries(trust.map((t) => t.verifier)) as Required<PlatformVerifiers>;
  const policy: RaTlsPolicy = Object.fromEntries(trust.map((t) => t.policy));
  return {
    client: {
      policy: measurements === undefined ? policy : policyWithMeasurements(policy, measurements),
      ...verifiers,
      ...(anyMeasurement ? { anyMeasurement: true } : {}),
      ...(transparency === undefined ? {} : { transparency, hardwarePolicyVersions: new FileHardwarePolicyVersions(join(defaultStateDir(), 'hardware-policy')) }),
      ...(values['require-hardware-policy'] === true ? { requireHardwarePolicy: true } : {}),
    },
    measurementSource,
  };
}

/** A note key given as its vkey text or as a file holding it. */
async function vkeyOption(value: string, io: CliIo, what: string): Promise<string> {
  return /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+={0,2}$/.test(value) ? value : new TextDecoder().decode(await readInput(io, value, what)).trim();
}

/** The --log options as the SDK's TransparencyTrust; undefined without --log. */
export async function transparencyFromOptions(values: TrustValues, io: CliIo, usage: (message: string) => UsageError): Promise<TransparencyTrust | undefined> {
  const keys = values['publisher-key'] ?? [];
  if (values.log === undefined) {
    for (const o of ['publisher-key', 'log-key', 'witness', 'witnesses-required', 'require-hardware-policy'] as const) if (values[o] !== undefined) throw usage(`--${o} needs --log URL`);
    return undefined;
  }
  if (keys.length === 0) throw usage('--log needs --publisher-key FILE (the publisher.pub of the log)');
  const log = values.log;
  const fetch = /^https?:\/\//.test(log) ? httpLogFetcher(log) : directoryLogFetcher(log);
  const publisherKeys = await Promise.all(keys.map(async (k) => publicKeyFromPem(new TextDecoder().decode(await readInput(io, k, 'publisher key')))));
  let logVkey: string;
  if (values['log-key'] !== undefined) logVkey = await vkeyOption(values['log-key'], io, 'log key');
  else {
    const fetched = await fetch(LOG_VKEY_FILE);
    if (fetched === undefined) throw usage(`--log ${log} has no ${LOG_VKEY_FILE}: give --log-key`);
    logVkey = new TextDecoder().decode(fetched).trim();
  }
  const witnesses = await Promise.all((values.witness ?? []).map((w) => vkeyOption(w, io, 'witness key')));
  const required = values['witnesses-required'];
  if (required !== undefined && (!/^[0-9]+$/.test(required) || Number(required) < 1 || Number(required) > witnesses.length)) throw usage(`--witnesses-required must be 1..${witnesses.length} (the number of --witness keys), got "${required}"`);
  return {
    publisherKeys,
    logVkey,
    ...(witnesses.length === 0 ? {} : { witnesses: { vkeys: witnesses, ...(required === undefined ? {} : { threshold: Number(required) }) } }),
    store: new FileCheckpointStore(join(defaultStateDir(), 'checkpoints')),
    fetch,
    hasher: nodeHasher,
  };
}

/** How an accepted verdict's launch measurement was judged: in an allowed list, the simulated TEE's, or not at all. */
export function measurementOutcome(verdict: RaTlsVerdict, source: MeasurementSourceKind): MeasurementSourceKind {
  return verdict.anyMeasurement === true ? 'any' : source;
}
