// The report of a verifier suite: rows raw limit, cold, cached, cached on WebCrypto, measured side by side, with
// the cached / raw ratio and the cold median against their targets.
import type { Measurement, SuiteReport } from './measure.js';

export interface VerifierTargets {
  readonly cachedRatio: number;
  readonly coldMs: number;
}

export function verifierReport(title: string, rows: Measurement[], targets: VerifierTargets): SuiteReport {
  const [rawRow, coldRow, cachedRow, webRow] = rows;
  if (rawRow === undefined || coldRow === undefined || cachedRow === undefined || webRow === undefined) throw new Error('missing rows');
  const ratio = rawRow.medianUs / cachedRow.medianUs;
  const webRatio = rawRow.medianUs / webRow.medianUs;
  const coldMs = coldRow.medianUs / 1e3;
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  return {
    title,
    rows,
    baseline: rawRow.name,
    notes: [
      `cached / raw = ${(100 * ratio).toFixed(1)}% (target >= ${100 * targets.cachedRatio}%) ${verdict(ratio >= targets.cachedRatio)}`,
      `cached, WebCrypto / raw = ${(100 * webRatio).toFixed(1)}% (browser path; WebCrypto's own verify is its ceiling) ${verdict(webRatio >= targets.cachedRatio)}`,
      `cold median = ${coldMs.toFixed(2)} ms (target < ${targets.coldMs} ms) ${verdict(coldMs < targets.coldMs)}`,
    ],
  };
}
