// The simulated SEV-SNP TEE behind an emulated configfs-tsm tree, so that simulated runs go through
// the same acquisition code (ConfigfsTsmProvider) as a real guest.
import { ConfigfsTsmProvider } from '../configfsTsm.js';
import { EmulatedTsm } from '../emulatedTsm.js';
import type { SimulatedSnp } from './snpSimulator.js';
import type { SimulatedTdx } from './tdxSimulator.js';

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

/** The simulated TDX TEE behind an emulated tree whose provider is tdx_guest (outblob is the quote). */
export function simulatedTdxTree(sim: SimulatedTdx): EmulatedTsm {
  return new EmulatedTsm({ provider: 'tdx_guest', generate: async (reportData) => ({ outblob: await sim.quote(reportData) }) });
}

export async function openSimulatedTdxConfigfsProvider(sim: SimulatedTdx): Promise<ConfigfsTsmProvider> {
  const tree = simulatedTdxTree(sim);
  return ConfigfsTsmProvider.open({ fs: tree, root: tree.root, simulated: true });
}
