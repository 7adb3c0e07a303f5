// Benchmark entry (npm run bench [-- NAME...]): runs every suite (or the named ones) sequentially and
// prints a table per suite. Suites never run concurrently, so they do not compete for the CPU.
import { cpus } from 'node:os';
import { formatTable, type SuiteReport } from './measure.js';
import { evidenceSuite } from './evidenceIssue.js';
import { fleetPathSuite } from './fleetPath.js';
import { verifyPageLoadSuite } from './verifyPageLoad.js';
import { hardened, JSON_REPORT_ENV } from './hardened.js';
import { ocrSuite, tensorSuite, workerTensorSuite } from './inference.js';
import { launchMeasureSuite } from './launchMeasure.js';
import { ohttpSuite } from './ohttp.js';
import { paddingSuite } from './paddingCost.js';
import { privacyPassType1Suite } from './privacyPassType1.js';
import { privacyPassIssuanceSuite, privacyPassRedemptionSuite } from './privacyPassType2.js';
import { ratlsHandshakeSuite } from './ratlsHandshake.js';
import { snpVerifySuite } from './snpVerify.js';
import { tdxVerifySuite } from './tdxVerify.js';
import { tlogAppendSuite } from './tlogAppend.js';
import { transparencyVerifySuite } from './transparencyVerify.js';
import { underLoadSuite } from './underLoad.js';

const SUITES: Readonly<Record<string, () => Promise<SuiteReport>>> = { 'snp-verify': snpVerifySuite, 'tdx-verify': tdxVerifySuite, evidence: evidenceSuite, 'ratls-handshake': ratlsHandshakeSuite, 'ohttp-1k': () => ohttpSuite(1024), 'ohttp-64k': () => ohttpSuite(64 * 1024), ocr: ocrSuite, 'inference-tensors': tensorSuite, 'inference-tensors-worker': workerTensorSuite, 'inference-tensors-worker-hardened': hardened('inference-tensors-worker'), 'inference-tensors-hardened': hardened('inference-tensors'), 'ocr-hardened': hardened('ocr'), padding: paddingSuite, 'status-under-load': underLoadSuite, measure: launchMeasureSuite, 'privacypass-type1': privacyPassType1Suite, 'privacypass-issuance': privacyPassIssuanceSuite, 'privacypass-redemption': privacyPassRedemptionSuite, 'transparency-verify': transparencyVerifySuite, 'tlog-append': tlogAppendSuite, fleet: fleetPathSuite, 'verify-page': verifyPageLoadSuite };

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in SUITES));
if (unknown.length > 0) {
  console.error(`error: unknown bench suite ${unknown.join(', ')}; suites: ${Object.keys(SUITES).join(', ')}`);
  process.exit(2);
}

const json = process.env[JSON_REPORT_ENV] === '1';
if (!json) console.log(`node ${process.version} | ${cpus()[0]?.model ?? 'unknown CPU'} | ${cpus().length} CPUs | ${process.platform}-${process.arch}`);
for (const [name, suite] of Object.entries(SUITES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const report = await suite();
  if (json) {
    console.log(JSON.stringify(report));
    continue;
  }
  console.log(`\n${report.title}\n`);
  console.log(formatTable(report.rows, report.baseline));
  console.log('');
  for (const note of report.notes) console.log(note);
}
