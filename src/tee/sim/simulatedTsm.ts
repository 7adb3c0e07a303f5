// The simulated SEV-SNP TEE behind an emulated configfs-tsm tree, so that simulated runs go through
// the same acquisition code (ConfigfsTsmProvider) as a real guest.
import { ConfigfsTsmProvider } from '../configfsTsm.js';
import { EmulatedTsm } from '../emulatedTsm.js';
import type { SimulatedSnp } from './snpSimulator.js';

export function simulatedSnpTree(sim: SimulatedSnp): EmulatedTsm {
  return new EmulatedTsm({
    provider: 'sev_guest',
    generate: async (reportData, privlevel) => ({ outblob: await sim.report(reportData, privlevel), auxblob: sim.certTable() }),
  });
}

/** A ConfigfsTsmProvider reading the simulated TEE through its emulated tree; its evidence says simulated. */
export async function openSimulatedConfigfsProvider(sim: SimulatedSnp): Promise<ConfigfsTsmProvider> {
  const tree = simulatedSnpTree(sim);
  return ConfigfsTsmProvider.open({ fs: tree, root: tree.root, simulated: true });
}
