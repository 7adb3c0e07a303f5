// The simulated TEE's development roots in the state directory ($CLOISTER_STATE_DIR or
// ~/.local/state/cloister): what a verifier told to trust the simulated TEE adds to its roots.
import type { PlatformName } from '../../../attestation/evidence/platforms.js';
import { PRODUCTS } from '../../../attestation/snp/product.js';
import { defaultStateDir, readDevRoot } from './devChain.js';
import { readTdxDevRoot } from './tdxDevChain.js';

/** Each platform's development roots in a state directory, and what a message calls them. */
export const DEV_ROOTS: { readonly [N in PlatformName]: { readonly what: string; read(dir: string): Promise<Uint8Array[]> } } = {
  'sev-snp': { what: 'development root', read: async (dir) => (await Promise.all(PRODUCTS.map((p) => readDevRoot(dir, p)))).filter((r) => r !== undefined) },
  tdx: { what: 'TDX development root', read: async (dir) => [await readTdxDevRoot(dir)].filter((r) => r !== undefined) },
};

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
