// Benchmark entry (npm run bench): runs every suite sequentially, one after another, and prints a
// table per suite. Suites never run concurrently, so they do not compete for the CPU.
import { cpus } from 'node:os';
import { formatTable, type SuiteReport } from './measure.js';
import { evidenceSuite } from './evidence.js';
import { ratlsHandshakeSuite } from './ratlsHandshake.js';
import { snpVerifySuite } from './snpVerify.js';

const SUITES: readonly (() => Promise<SuiteReport>)[] = [snpVerifySuite, evidenceSuite, ratlsHandshakeSuite];

console.log(`node ${process.version} | ${cpus()[0]?.model ?? 'unknown CPU'} | ${cpus().length} CPUs | ${process.platform}-${process.arch}`);
for (const suite of SUITES) {
  const report = await suite();
  console.log(`\n${report.title}\n`);
  console.log(formatTable(report.rows, report.baseline));
  console.log('');
  for (const note of report.notes) console.log(note);
}
