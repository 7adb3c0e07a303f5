// Evidence in simulated mode: what the server pays to obtain a report (ECDSA P-384 signing by the
// simulated firmware), to assemble a bundle around it, and to answer one fresh-evidence request.
import { assembleSnpBundle, createDevChain, SimulatedSnp, SimulatedSnpProvider } from '../src/tee/index.js';
import { EvidenceService } from '../src/server/index.js';
import { measureInterleaved, type SuiteReport } from './measure.js';

const OPTIONS = { budgetMs: 4000, minIterations: 200, warmup: 50 } as const;

export async function evidenceSuite(): Promise<SuiteReport> {
  const chain = await createDevChain({ product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(1) }, 2048);
  const sim = await SimulatedSnp.create({}, { chain });
  const provider = new SimulatedSnpProvider(sim);
  const reportData = new Uint8Array(64).fill(7);
  const raw = await provider.getEvidence({ reportData });
  const service = await EvidenceService.start({ provider, freshPerSecond: 1e9, freshBurst: 1e9 });
  const nonce = new Uint8Array(32).fill(3);
  const rows = await measureInterleaved(
    [
      { name: 'acquire report (simulated)', fn: () => sim.report(reportData) },
      { name: 'assemble bundle', fn: () => assembleSnpBundle(raw) },
      { name: 'fresh evidence (acquire + bind + assemble)', fn: () => service.fresh(nonce) },
    ],
    OPTIONS,
  );
  const fresh = rows[2];
  return {
    title: 'Evidence in simulated mode (SEV-SNP, Milan; cases interleaved call by call)',
    rows,
    notes: fresh === undefined ? [] : [`fresh evidence: ${(fresh.medianUs / 1000).toFixed(2)} ms median, ${fresh.opsPerSec.toFixed(0)}/s on one core (server default budget 20/s)`],
  };
}
