// The simulated TEE's development roots, for commands told to trust the simulated TEE
// (--trust-simulated): read from the state directory ($CLOISTER_STATE_DIR or ~/.local/state/cloister).
import { usageError } from './io.js';
import { PRODUCTS } from '../../attestation/snp/product.js';
import { defaultStateDir, readDevRoot } from '../tee/sim/devChain.js';
import { readTdxDevRoot } from '../tee/sim/tdxSimulator.js';

/** Every SEV-SNP development ARK in the state directory; a usage error (pointing at `command --help`) when there is none. */
export async function simulatedSnpRoots(command: string): Promise<Uint8Array[]> {
  const dir = defaultStateDir();
  const roots = (await Promise.all(PRODUCTS.map((p) => readDevRoot(dir, p)))).filter((r) => r !== undefined);
  if (roots.length === 0) throw usageError(`--trust-simulated: no development root in ${dir} (the simulated TEE creates one at first use)`, command);
  return roots;
}

/** The TDX development root in the state directory; a usage error when there is none. */
export async function simulatedTdxRoot(command: string): Promise<Uint8Array> {
  const dir = defaultStateDir();
  const root = await readTdxDevRoot(dir);
  if (root === undefined) throw usageError(`--trust-simulated: no TDX development root in ${dir} (the simulated TEE creates one at first use)`, command);
  return root;
}

/** Whichever development roots exist (SEV-SNP ARKs, TDX root); none is not an error here. */
export async function availableSimulatedRoots(): Promise<{ readonly snp: Uint8Array[]; readonly tdx: Uint8Array | undefined; readonly dir: string }> {
  const dir = defaultStateDir();
  const snp = (await Promise.all(PRODUCTS.map((p) => readDevRoot(dir, p)))).filter((r) => r !== undefined);
  return { snp, tdx: await readTdxDevRoot(dir), dir };
}
