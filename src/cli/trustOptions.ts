// What `cloister verify` and `cloister request` share: the caller's policy from --policy and
// --measurement, and verifiers on the node:crypto backend, trusting the simulated TEE's development
// roots with --trust-simulated.
import { UsageError } from '../../attestation/errors.js';
import type { RaTlsPolicy } from '../../attestation/ratls/verifyCertificate.js';
import { parseSnpPolicyJson } from '../../attestation/snp/policy.js';
import type { SnpPolicy } from '../../attestation/snp/validate.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { TdxVerifier } from '../../attestation/tdx/verify.js';
import { nodeEcdsa } from '../base/crypto/nodeEcdsa.js';
import { availableSimulatedRoots } from './devRoots.js';
import { readInput, usageError, type CliIo } from './io.js';

export interface TrustValues {
  readonly policy?: string | undefined;
  readonly measurement?: string[] | undefined;
  readonly 'trust-simulated'?: boolean | undefined;
}

export interface Trust {
  readonly policy: RaTlsPolicy;
  readonly snpVerifier: SnpVerifier;
  readonly tdxVerifier: TdxVerifier;
}

export async function trustFromOptions(values: TrustValues, io: CliIo, command: string, noRootHint: string): Promise<Trust> {
  const usage = (message: string): UsageError => usageError(message, command);
  const measurements = values.measurement?.map((m) => {
    const clean = m.replace(/^0x/i, '').toLowerCase();
    if (!/^[0-9a-f]{96}$/.test(clean)) throw usage(`--measurement must be 48 bytes of hex (96 digits), got "${m}"`);
    return clean;
  });
  let snp: SnpPolicy = {};
  if (values.policy !== undefined) snp = parseSnpPolicyJson(new TextDecoder().decode(await readInput(io, values.policy, 'policy')));
  const snpRoots: Uint8Array[] = [];
  const tdxRoots: Uint8Array[] = [];
  if (values['trust-simulated'] === true) {
    const dev = await availableSimulatedRoots();
    if (dev.snp.length === 0 && dev.tdx === undefined) throw usage(`--trust-simulated: no development root in ${dev.dir} (${noRootHint})`);
    snpRoots.push(...dev.snp);
    if (dev.tdx !== undefined) tdxRoots.push(dev.tdx);
  }
  return {
    policy: { snp: { ...snp, ...(measurements === undefined ? {} : { measurements }) }, tdx: measurements === undefined ? {} : { mrtds: measurements } },
    snpVerifier: new SnpVerifier({ ecdsa: nodeEcdsa, additionalRoots: snpRoots }),
    tdxVerifier: new TdxVerifier({ ecdsa: nodeEcdsa, additionalRoots: tdxRoots }),
  };
}
