// The simulated TEE's development roots, for commands told to trust the simulated TEE
// (--trust-simulated): a usage error pointing at `command --help` when there is none.
import { usageError } from './io.js';
import { availableSimulatedRoots } from '../tee/sim/devRoots.js';

export { availableSimulatedRoots };

/** Every SEV-SNP development ARK in the state directory. */
export async function simulatedSnpRoots(command: string): Promise<Uint8Array[]> {
  const { snp, dir } = await availableSimulatedRoots();
  if (snp.length === 0) throw usageError(`--trust-simulated: no development root in ${dir} (the simulated TEE creates one at first use)`, command);
  return snp;
}

/** The TDX development root in the state directory. */
export async function simulatedTdxRoot(command: string): Promise<Uint8Array> {
  const { tdx, dir } = await availableSimulatedRoots();
  if (tdx === undefined) throw usageError(`--trust-simulated: no TDX development root in ${dir} (the simulated TEE creates one at first use)`, command);
  return tdx;
}
