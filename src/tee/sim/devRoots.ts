// The simulated TEE's development roots in the state directory ($CLOISTER_STATE_DIR or
// ~/.local/state/cloister): what a verifier told to trust the simulated TEE adds to its roots.
import { PRODUCTS } from '../../../attestation/snp/product.js';
import { defaultStateDir, readDevRoot } from './devChain.js';
import { readTdxDevRoot } from './tdxSimulator.js';

/** Whichever development roots exist (SEV-SNP ARKs, TDX root); none is not an error here. */
export async function availableSimulatedRoots(): Promise<{ readonly snp: Uint8Array[]; readonly tdx: Uint8Array | undefined; readonly dir: string }> {
  const dir = defaultStateDir();
  const snp = (await Promise.all(PRODUCTS.map((p) => readDevRoot(dir, p)))).filter((r) => r !== undefined);
  return { snp, tdx: await readTdxDevRoot(dir), dir };
}
