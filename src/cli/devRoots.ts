// The simulated TEE's development roots, for commands told to trust the simulated TEE
// (--trust-simulated): read from the state directory ($CLOISTER_STATE_DIR or ~/.local/state/cloister).
import type { PlatformName } from '../../attestation/evidence/platforms.js';
import { PRODUCTS } from '../../attestation/snp/product.js';
import { usageError } from './io.js';
import { defaultStateDir, readDevRoot } from '../tee/sim/devChain.js';
import { readTdxDevRoot } from '../tee/sim/tdxSimulator.js';

/** Each platform's development roots in a state directory, and what a message calls them. */
const DEV_ROOTS: { readonly [N in PlatformName]: { readonly what: string; read(dir: string): Promise<Uint8Array[]> } } = {
  'sev-snp': { what: 'development root', read: async (dir) => (await Promise.all(PRODUCTS.map((p) => readDevRoot(dir, p)))).filter((r) => r !== undefined) },
  tdx: { what: 'TDX development root', read: async (dir) => [await readTdxDevRoot(dir)].filter((r) => r !== undefined) },
};

/** `platform`'s development roots (SEV-SNP: one ARK per product); a usage error (pointing at `command --help`) when there is none. */
export async function simulatedRoots(platform: PlatformName, command: string): Promise<Uint8Array[]> {
  const dir = defaultStateDir();
  const roots = await DEV_ROOTS[platform].read(dir);
  if (roots.length === 0) throw usageError(`--trust-simulated: no ${DEV_ROOTS[platform].what} in ${dir} (the simulated TEE creates one at first use)`, command);
  return roots;
}

/** Every platform's development roots that exist; none is not an error here. */
export async function simulatedRootsByPlatform(): Promise<{ readonly roots: { readonly [N in PlatformName]: Uint8Array[] }; readonly dir: string }> {
  const dir = defaultStateDir();
  return { roots: { 'sev-snp': await DEV_ROOTS['sev-snp'].read(dir), tdx: await DEV_ROOTS.tdx.read(dir) }, dir };
}

/** Whichever development roots exist (SEV-SNP ARKs, TDX root); none is not an error here. */
export async function availableSimulatedRoots(): Promise<{ readonly snp: Uint8Array[]; readonly tdx: Uint8Array | undefined; readonly dir: string }> {
  const { roots, dir } = await simulatedRootsByPlatform();
  return { snp: roots['sev-snp'], tdx: roots.tdx[0], dir };
}
