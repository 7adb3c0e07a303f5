// What `cloister verify` and `cloister request` share: the caller's policy from --policy, --measurement and
// --measurements, and verifiers on the node:crypto backend, trusting the simulated TEE's development
// roots with --trust-simulated.
import type { UsageError } from '../base/runtimeErrors.js';
import { PLATFORM_LIST, PLATFORMS, type PlatformEntry, type PlatformName, type PolicyOf } from '../../attestation/evidence/platforms.js';
import type { PlatformVerifiers, RaTlsPolicy } from '../../attestation/ratls/verifyCertificate.js';
import type { SnpVerifier } from '../../attestation/snp/verify.js';
import type { TdxVerifier } from '../../attestation/tdx/verify.js';
import { nodeEcdsa } from '../base/crypto/nodeEcdsa.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';
import { simulatedRootsByPlatform } from './trustSimulated.js';
import { readInput, usageError, type CliIo } from './io.js';
import { policyWithMeasurements } from '../../attestation/measure/measurementsFile.js';
import { policyWithOptions, readMeasurementsOption, readPolicyOptions, type PolicyOptions } from './policyOptions.js';

export interface TrustValues {
  readonly policy?: string | undefined;
  readonly measurement?: string[] | undefined;
  readonly measurements?: string | undefined;
  readonly 'trust-simulated'?: boolean | undefined;
}

export interface Trust {
  readonly policy: RaTlsPolicy;
  readonly snpVerifier: SnpVerifier;
  readonly tdxVerifier: TdxVerifier;
}

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
  const options = readPolicyOptions({ measurement: values.measurement }, usage);
  const file = values.policy === undefined ? undefined : POLICY_FILE_PLATFORM.parsePolicyJson(new TextDecoder().decode(await readInput(io, values.policy, 'policy')));
  const measurements = await readMeasurementsOption(values, io);
  const none = { 'sev-snp': [], tdx: [] };
  let roots: { readonly [N in PlatformName]: Uint8Array[] } = none;
  if (values['trust-simulated'] === true) {
    const dev = await simulatedRootsByPlatform();
    if (PLATFORM_LIST.every((p) => dev.roots[p.name].length === 0)) throw usage(`--trust-simulated: no development root in ${dev.dir} (${noRootHint})`);
    roots = dev.roots;
  }
  const trust = PLATFORM_LIST.map((p) => platformTrust(p, p.name === POLICY_FILE_PLATFORM.name ? file : undefined, options, roots[p.name]));
  // Object.fromEntries loses the keys' types; each pair was built from its platform's own entry.
  const verifiers = Object.fromEntries(trust.map((t) => t.verifier)) as Required<PlatformVerifiers>;
  const policy: RaTlsPolicy = Object.fromEntries(trust.map((t) => t.policy));
  return { policy: measurements === undefined ? policy : policyWithMeasurements(policy, measurements), ...verifiers };
}
