// The simulated TEE's development roots, for commands told to trust the simulated TEE
// (--trust-simulated): a usage error pointing at `command --help` when there is none.
import type { PlatformName } from '../../attestation/evidence/platforms.js';
import { defaultStateDir } from '../tee/sim/devChain.js';
import { DEV_ROOTS } from '../tee/sim/devRoots.js';
import { usageError } from './io.js';

export { availableSimulatedRoots, simulatedRootsByPlatform } from '../tee/sim/devRoots.js';

/** `platform`'s development roots (SEV-SNP: one ARK per product); a usage error when there is none. */
export async function simulatedRoots(platform: PlatformName, command: string): Promise<Uint8Array[]> {
  const dir = defaultStateDir();
  const roots = await DEV_ROOTS[platform].read(dir);
  if (roots.length === 0) throw usageError(`--trust-simulated: no ${DEV_ROOTS[platform].what} in ${dir} (the simulated TEE creates one at first use)`, command);
  return roots;
}
