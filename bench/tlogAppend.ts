// Appending to the tile log on disk (src/transparency/tileLog.ts), with files flushed as in production (fsync): 10,000
// entries of 200 bytes in one append, in appends of 100, and one per append made all at once (the log joins appends
// that wait into one batch, group commit); and one per append, each awaited before the next, over 1,000 entries (at a
// few ms each, 10,000 would take the whole run). A fresh log in a temporary directory for each; cases take turns.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateNoteKey, logNoteSigner, TileLog } from '../src/transparency/index.js';
import { measureInterleaved, type Measurement, type SuiteReport } from './measure.js';

const ORIGIN = 'bench.example/log';
const ENTRY_BYTES = 200;

export async function tlogAppendSuite(): Promise<SuiteReport> {
  const signer = await logNoteSigner(ORIGIN, generateNoteKey());
  const entries = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => new Uint8Array(ENTRY_BYTES).fill(i & 0xff));
  const base = mkdtempSync(join(tmpdir(), 'tlog-append-'));
  let run = 0;
  /** Opens a fresh log, appends `n` entries in appends of `batch`, sequentially or all at once; checks the size. */
  const appending = (n: number, batch: number, concurrent = false) => async (): Promise<void> => {
    const dir = join(base, String(run++));
    const log = await TileLog.open({ dir, origin: ORIGIN, signer });
    const all = entries(n);
    const batches = Array.from({ length: Math.ceil(n / batch) }, (_, i) => all.slice(i * batch, (i + 1) * batch));
    if (concurrent) await Promise.all(batches.map((b) => log.append(b)));
    else for (const b of batches) await log.append(b);
    if (log.size !== n) throw new Error(`the log has ${log.size} entries, not ${n}`);
    rmSync(dir, { recursive: true });
  };
  const cases = [
    { name: '10,000 entries, one append', n: 10_000, fn: appending(10_000, 10_000) },
    { name: '10,000 entries, appends of 100, one after the other', n: 10_000, fn: appending(10_000, 100) },
    { name: '10,000 entries, one per append, all at once (joined)', n: 10_000, fn: appending(10_000, 1, true) },
    { name: '1,000 entries, one per append, one after the other', n: 1_000, fn: appending(1_000, 1) },
  ];
  let rows: Measurement[];
  try {
    rows = await measureInterleaved(cases, { budgetMs: 20_000, minIterations: 3, warmup: 1 });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return {
    title: `Tile log on disk: appending entries of ${ENTRY_BYTES} bytes, fsync on (one run = one fresh log)`,
    rows,
    notes: rows.map((r, i) => `${r.name}: ${Math.round((cases[i]?.n ?? 0) / (r.medianUs / 1e6)).toLocaleString('en-US')} entries/s (median ${(r.medianUs / 1e6).toFixed(2)} s)`),
  };
}
