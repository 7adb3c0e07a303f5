// The server's other routes while OCR saturates it: a `cloister serve` process (npm start's memory
// hygiene) with inference in worker threads (the default) and then in the server's thread, each under
// the same load: CLIENTS loops sending a receipt PNG to /v1/ocr through OHTTP back to back for
// LOAD_MS, while a probe asks GET /status and GET /.well-known/ohttp-gateway in turn every 25 ms.
// Rows: the probes' latencies (median, p99) in each mode, and the OCR requests' own; notes give the
// OCR throughput. The target: status and keys under 10 ms at p99 with workers.
import { renderTextImages } from '../src/testing/renderText.js';
import { startServerProcess } from '../src/testing/serverProcess.js';
import { unauthenticatedFetch } from '../src/testing/unauthenticatedFetch.js';
import { summarize, type Measurement, type SuiteReport } from './measure.js';

const CLIENTS = 4;
const LOAD_MS = 20_000;
const PROBE_EVERY_MS = 25;

async function underLoad(label: string, args: readonly string[], png: Uint8Array): Promise<{ rows: Measurement[]; note: string }> {
  const server = await startServerProcess({ models: ['ocr'], args: ['--queue', '64', ...args] });
  const url = server.url;
  try {
    const client = await server.client();
    const ocr = async (): Promise<void> => {
      const r = await client.fetch({ url: 'https://cloister/v1/ocr', headers: [['content-type', 'image/png']], body: png.slice() });
      if (r.status !== 200) throw new Error(`OCR answered ${r.status}`);
    };
    for (let i = 0; i < 3; i++) await ocr();
    const timed = async (fn: () => Promise<void>, into: number[]): Promise<void> => {
      const t0 = process.hrtime.bigint();
      await fn();
      into.push(Number(process.hrtime.bigint() - t0));
    };
    const get = (path: string) => async (): Promise<void> => {
      const r = await unauthenticatedFetch(`${url}${path}`, { method: 'GET', headers: {} });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`${path} answered ${r.status}`);
    };
    const status: number[] = [];
    const keys: number[] = [];
    const requests: number[] = [];
    const until = Date.now() + LOAD_MS;
    const loops = Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < until) await timed(ocr, requests);
    });
    const probe = (async () => {
      for (let i = 0; Date.now() < until; i++) {
        await timed(i % 2 === 0 ? get('/status') : get('/.well-known/ohttp-gateway'), i % 2 === 0 ? status : keys);
        await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
      }
    })();
    await Promise.all([...loops, probe]);
    return {
      rows: [summarize(`${label}: GET /status`, status), summarize(`${label}: GET /.well-known/ohttp-gateway`, keys), summarize(`${label}: POST /v1/ocr (${CLIENTS} clients)`, requests)],
      note: `${label}: ${(requests.length / (LOAD_MS / 1000)).toFixed(1)} OCR requests/s`,
    };
  } finally {
    await server.stop();
  }
}

export async function underLoadSuite(): Promise<SuiteReport> {
  const [png] = await renderTextImages([['COFFEE 3.20', 'BAGEL 2.75', 'ORANGE JUICE 4.10', 'TOTAL 10.05']]);
  if (png === undefined) throw new Error('no image');
  const workers = await underLoad('workers (auto)', [], png);
  const inThread = await underLoad('server thread', ['--inference-workers', '0'], png);
  return {
    title: `Status and keys while ${CLIENTS} clients saturate /v1/ocr for ${LOAD_MS / 1000} s (a separate server process with npm start's memory hygiene; probes every ${PROBE_EVERY_MS} ms)`,
    rows: [...workers.rows, ...inThread.rows],
    notes: [workers.note, inThread.note, 'Target: GET /status and the key configurations under 10 ms at p99 with inference in worker threads.'],
  };
}
