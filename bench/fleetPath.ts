// What the fleet's load balancer costs (docs/fleet.md "Routing: HAProxy"): one `cloister serve --simulated` node
// process with the OCR pack and npm start's memory hygiene, and Debian's HAProxy in front of it routing by key ID
// with the configuration `cloister fleet haproxy` writes. The same node is driven two ways, in alternating windows
// of equal length: straight to its gateway, and through HAProxy, each request encapsulated to the node's key. Two
// workloads: POST /v1/ocr with a receipt PNG (what a fleet serves) and POST /v1/echo with 1 KiB (the bare exchange,
// where the extra hop is the largest share). The rows give each
// path's time per request (window length / requests completed, one sample per window), with enough requests in flight
// to saturate the node (4 OCR requests fill its inference workers; echo needs 16); the notes give the fleet
// path's throughput as a share of direct, per window pair and in total, against the target: the load balancer
// costs at most 5% of throughput. The relay is left out of both paths, so its cost does not dilute the hop's; the
// client speaks HTTPS to HAProxy (a throwaway certificate) as a relay would, and HAProxy HTTPS to the node.
import type { OhttpClient } from '../attestation/index.js';
import { startHaproxyGateway, type HaproxyGateway } from '../src/testing/haproxyGateway.js';
import { renderTextImages } from '../src/testing/renderText.js';
import { startServerProcess, type ServerProcess } from '../src/testing/serverProcess.js';
import { pairedRatio, summarize, type Measurement, type SuiteReport } from './measure.js';

const TARGET = 0.05;

interface Workload {
  readonly label: string;
  readonly request: { url: string; headers: [string, string][]; body: Uint8Array };
  readonly windowMs: number;
  readonly pairs: number;
  /** Requests kept in flight: enough to saturate the node, so the windows measure its throughput, not a client's latency. */
  readonly inFlight: number;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Keeps `workload.inFlight` requests in flight on `client` for its window; returns the requests completed and the time taken, in ns. */
async function window(client: OhttpClient, workload: Workload): Promise<{ completed: number; ns: number }> {
  const start = process.hrtime.bigint();
  const until = Date.now() + workload.windowMs;
  let completed = 0;
  await Promise.all(
    Array.from({ length: workload.inFlight }, async () => {
      while (Date.now() < until) {
        const r = await client.fetch({ ...workload.request, body: workload.request.body.slice() });
        if (r.status !== 200) throw new Error(`${workload.label} answered ${r.status}`);
        completed++;
      }
    }),
  );
  return { completed, ns: Number(process.hrtime.bigint() - start) };
}

async function compare(direct: OhttpClient, fleet: OhttpClient, workload: Workload): Promise<{ rows: Measurement[]; note: string }> {
  for (const client of [direct, fleet]) for (let i = 0; i < workload.inFlight; i++) await client.fetch({ ...workload.request, body: workload.request.body.slice() });
  const perRequest: [number[], number[]] = [[], []];
  const counts = [0, 0];
  for (let n = 0; n < workload.pairs; n++) {
    // The order turns each pair, so neither path always follows the other.
    const order = n % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) {
      const { completed, ns } = await window(i === 0 ? direct : fleet, workload);
      perRequest[i]?.push(ns / completed);
      counts[i] = (counts[i] ?? 0) + completed;
    }
  }
  const rows = [summarize(`${workload.label}, direct to the node`, perRequest[0]), summarize(`${workload.label}, through HAProxy`, perRequest[1])] as const;
  const r = pairedRatio(rows[0], rows[1]);
  const cost = 1 - Math.min(r.perRound.value, r.total.value);
  const verdict = cost <= TARGET ? 'PASS' : 'MISS';
  const costText = cost <= 0 ? 'no measurable cost (the HAProxy path was not slower)' : `costs ${pct(cost)}`;
  return {
    rows: [...rows],
    note: `${workload.label}, ${workload.inFlight} in flight: through HAProxy ${pct(r.perRound.value)} of direct throughput per window pair (95% CI ${pct(r.perRound.low)}-${pct(r.perRound.high)}), ${pct(r.total.value)} in total (${counts[1]} vs ${counts[0]} requests in ${workload.pairs} windows of ${workload.windowMs / 1000} s each); the load balancer ${costText} (target <= ${pct(TARGET)}: ${verdict})`,
  };
}

export async function fleetPathSuite(): Promise<SuiteReport> {
  const [png] = await renderTextImages([['COFFEE 3.20', 'BAGEL 2.75', 'ORANGE JUICE 4.10', 'TOTAL 10.05']]);
  if (png === undefined) throw new Error('no image');
  const keyIds = { first: 0, last: 3 };
  let node: ServerProcess | undefined;
  let haproxy: HaproxyGateway | undefined;
  try {
    node = await startServerProcess({ models: ['ocr'], args: ['--ohttp-key-ids', `${keyIds.first}-${keyIds.last}`, '--queue', '64'] });
    // HTTPS on both of HAProxy's sides, as behind a relay: the fleet path pays a second TLS hop.
    haproxy = await startHaproxyGateway([{ name: 'node-0', origin: node.url, keyIds }], { tls: true });
    const direct = await node.client();
    const fleet = await node.client({ via: haproxy.url });
    const workloads: Workload[] = [
      { label: `POST /v1/ocr (${png.length} B PNG)`, request: { url: 'https://cloister/v1/ocr', headers: [['content-type', 'image/png']], body: png }, windowMs: 3000, pairs: 16, inFlight: 4 },
      { label: 'POST /v1/echo (1 KiB)', request: { url: 'https://cloister/v1/echo', headers: [['content-type', 'application/octet-stream']], body: new Uint8Array(1024).fill(0x61) }, windowMs: 1000, pairs: 40, inFlight: 16 },
    ];
    const rows: Measurement[] = [];
    const notes: string[] = [];
    for (const w of workloads) {
      const result = await compare(direct, fleet, w);
      rows.push(...result.rows);
      notes.push(result.note);
    }
    return {
      title: `The fleet's load balancer: one node process (OCR pack, npm start's hygiene) straight and through HAProxy (${haproxy.executable}), requests kept in flight to saturate the node, alternating windows; time per request = window / requests completed`,
      rows,
      notes: [...notes, 'Both paths skip the relay. The per-pair ratio is the median over window pairs; the total is requests per second over all windows.'],
    };
  } finally {
    await haproxy?.stop();
    await node?.stop();
  }
}
