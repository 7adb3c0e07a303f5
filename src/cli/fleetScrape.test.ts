// Issue 6's memory scrape and log checks on every node of a fleet (docs/fleet.md "Proof"): `cloister fleet local`
// with the OCR pack (three nodes with npm start's memory hygiene, HAProxy, the directory service, a relay), OCR
// requests sent with FleetClient through the relay and HAProxy, each image with a fresh random canary, first one
// at a time, then in bursts. 2 s after the last answer, every node's memory is scanned for every image (bytes of
// the PNG, rows of its decoded pixels) and every recognised text (ASCII and UTF-16LE): none of them on any node,
// while a positive control (model bytes) shows each scan sees that node's memory, and every node served requests;
// the same scan of this process, which holds the images and the answers, finds every one of them.
// No canary is in any process's log, and HAProxy's log holds only lines of the shapes it is configured to write:
// its request log names method and path (where the gateway serves them), node, timers, status and bytes, nothing of
// what a request carries (checked with requests straight to HAProxy that carry a marker elsewhere). Skipped
// without HAProxy (unless CLOISTER_REQUIRE_HAPROXY=1) or without Chromium (it renders the images).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FleetClient } from '../../attestation/client/fleetClient.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { scanProcessMemory } from '../testing/memoryScan.js';
import { CHROMIUM, renderTextImages } from '../testing/renderText.js';
import { assertNoResidue, inkRowPatterns, randomCanary, textPatterns } from '../testing/residue.js';
import { packDirectory } from '../testing/serverProcess.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import { fleetLocalCommand, type LocalFleet } from './fleetLocalCommand.js';
import { findHaproxy } from './haproxyChild.js';
import { processIo } from './io.js';
import { availableSimulatedRoots } from './trustSimulated.js';

const state = mkdtempSync(join(tmpdir(), 'cloister-fleet-scrape-'));
process.env.CLOISTER_STATE_DIR = state;

const REQUIRED = process.env.CLOISTER_REQUIRE_HAPROXY === '1';
const SKIP = findHaproxy() === undefined && !REQUIRED
  ? 'no haproxy on PATH or in /usr/sbin (Debian\'s package "haproxy"); CLOISTER_REQUIRE_HAPROXY=1 makes that a failure'
  : existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CLOISTER_CHROMIUM)`;

const SEQUENTIAL = 6;
/** Three nodes on two cores answer 30 concurrent OCR requests well inside the gateway's 25 s deadline. */
const BURST = 30;
const ROUNDS = 2;
const CANARY_LENGTH = 15;
/** As many characters of a canary as the checks look for (OCR may misread one near the end). */
const CANARY_PREFIX = 10;

interface Sent {
  readonly canary: string;
  readonly png: Uint8Array;
  readonly text: Uint8Array;
  readonly node: string;
}

/** The request log line of src/fleet/haproxyConfig.ts: httplog's fields, and a request line of method and path only where the gateway serves them. */
const REQUEST_LOG = /^127\.0\.0\.1:\d+ \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] gateway (?<backend>[a-z_]+)\/(?<server>[a-z0-9-]+|<NOSRV>) -?\d+\/-?\d+\/-?\d+\/-?\d+\/\d+ (?<status>\d{3}) \d+ [-A-Za-z]{4} \d+\/\d+\/\d+\/\d+\/\+?\d+ \d+\/\d+ "(?<method>GET|HEAD|POST|-) (?<path>\/\.well-known\/ohttp-gateway|\/\.well-known\/cloister\/attestation|\/\.well-known\/cloister\/fleet|\/status|-) HTTP\/1\.1"$/;
/** HAProxy's own messages, about its start and its servers' health (none seen in the runs so far). */
const HAPROXY_MESSAGE = /^(\[(NOTICE|WARNING|ALERT)\] +\(\d+\) : )?((Server|Health check for server) (nodes_by_key|any_node|directory)\/[a-z0-9-]+ .*|backend '?[a-z_]+'? has no server available!|Proxy [a-z_]+ started\.|haproxy version is .*|path to executable is .*|New worker .*|Loading success\.)$/;

describe('memory scrape and log checks on every node of a local fleet', { skip: SKIP }, () => {
  let fleet: LocalFleet;
  let stop: (() => Promise<void>) | undefined;
  let packs = '';
  const logs = new Map<string, string[]>();
  const sent: Sent[] = [];

  before(async () => {
    packs = packDirectory(['ocr']);
    fleet = await new Promise<LocalFleet>((resolve, reject) => {
      const argv = ['--models', packs, '--gateway-port', '0', '--fleet-port', '0', '--relay-port', '0'];
      const quiet = { ...processIo, stdout: () => undefined, stderr: () => undefined };
      const output = (name: string, line: string): void => {
        const lines = logs.get(name) ?? [];
        lines.push(line);
        logs.set(name, lines);
      };
      fleetLocalCommand(argv, quiet, { stopSignal: (fn) => (stop = fn), onReady: resolve, output }).then((code) => {
        reject(new Error(`cloister fleet local exited with ${code} before it was ready: ${JSON.stringify(Object.fromEntries(logs))}`));
      }, reject);
    });
  });

  after(async () => {
    await stop?.();
    rmSync(packs, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it(`leaves no image and no recognised text on any node, after ${SEQUENTIAL} requests one at a time and ${ROUNDS} bursts of ${BURST}`, async () => {
    const client = new FleetClient({ directory: fleet.directory, relay: fleet.relay, policy: await simulatedMeasurementPolicy(), snpVerifier: new SnpVerifier({ additionalRoots: (await availableSimulatedRoots()).snp }), timeoutMs: 120_000 });
    const canaries = Array.from({ length: SEQUENTIAL + ROUNDS * BURST }, () => randomCanary(CANARY_LENGTH));
    const images = await renderTextImages(canaries.map((c) => [c]));
    const ocr = async (i: number): Promise<void> => {
      const png = images[i] as Uint8Array;
      const r = await client.fetch({ url: 'https://cloister/v1/ocr', headers: [['content-type', 'image/png']], body: png.slice() });
      assert.equal(r.status, 200, `request ${i} answered ${r.status}`);
      sent.push({ canary: canaries[i] as string, png, text: r.content, node: r.node });
    };
    const started = Date.now();
    for (let i = 0; i < SEQUENTIAL; i++) await ocr(i);
    const bursts: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const t = Date.now();
      const first = SEQUENTIAL + round * BURST;
      await Promise.all(Array.from({ length: BURST }, (_, j) => ocr(first + j)));
      bursts.push((Date.now() - t) / 1000);
    }
    const seconds = (Date.now() - started) / 1000;
    const recognised = sent.filter((s) => new TextDecoder().decode(s.text).includes(s.canary.slice(0, CANARY_PREFIX))).length;
    assert.ok(recognised >= sent.length * 0.9, `${recognised} of ${sent.length} canaries recognised`);
    const served = Object.fromEntries(fleet.nodes.map((n) => [n.name, sent.filter((s) => s.node === n.name).length]));
    for (const n of fleet.nodes) assert.ok((served[n.name] ?? 0) >= 5, `${n.name} served ${served[n.name] ?? 0} requests: ${JSON.stringify(served)}`);

    await new Promise((r) => setTimeout(r, 2000));
    const patterns: Record<string, Uint8Array> = {};
    for (const [i, s] of sent.entries()) {
      for (const at of [64, Math.floor(s.png.length / 2), s.png.length - 96]) patterns[`request ${i} PNG bytes @${at}`] = s.png.slice(at, at + 32);
      Object.assign(patterns, inkRowPatterns(s.png, `request ${i} decoded pixels`));
      if (s.text.length >= 8) Object.assign(patterns, textPatterns(`request ${i}`, s.text, s.canary));
    }
    const count = Object.keys(patterns).length;
    assert.ok(count >= sent.length * 7, `${count} patterns for ${sent.length} requests`);
    const controls: Record<string, number> = {};
    const scanning = Date.now();
    for (const n of fleet.nodes) controls[n.name] = assertNoResidue(n.pid, patterns, n.name);
    const scanSeconds = (Date.now() - scanning) / 1000;
    // The other control: this process holds every image and every answer, and the same scan finds them here.
    const own = scanProcessMemory(process.pid, patterns);
    const held = Object.keys(patterns).filter((k) => / PNG bytes | text, ASCII$/.test(k));
    const missed = held.filter((k) => (own[k]?.hits ?? 0) === 0);
    assert.deepEqual(missed, [], 'the scan finds in this process the images and answers it holds');
    console.log(`fleet scrape: ${sent.length} OCR requests in ${seconds.toFixed(1)} s (bursts of ${BURST}: ${bursts.map((b) => `${b.toFixed(1)} s`).join(', ')}), per node ${JSON.stringify(served)}, ${recognised} canaries recognised; ${count} patterns scanned on each of ${fleet.nodes.length} nodes in ${scanSeconds.toFixed(1)} s: 0 hits; positive control hits ${JSON.stringify(controls)}; in this process ${held.length - missed.length} of the ${held.length} PNG windows and texts it holds found`);
  });

  it('writes no canary to the log of any node, the directory service, HAProxy or the relay', () => {
    assert.ok(sent.length > 0, 'the requests were sent');
    const names = [...fleet.nodes.map((n) => n.name), 'fleet', 'haproxy', 'relay'];
    for (const name of names) {
      const text = (logs.get(name) ?? []).join('\n');
      assert.ok(text.length > 0, `${name} logged nothing: its output was not captured`);
      for (const s of sent) assert.ok(!text.includes(s.canary.slice(0, CANARY_PREFIX)), `${name}'s log holds the canary of a request: ${s.canary}`);
    }
    for (const n of fleet.nodes) {
      const logged = (logs.get(n.name) ?? []).filter((l) => /"model":"ocr","status":200,.*"msg":"private request"/.test(l)).length;
      assert.equal(logged, sent.filter((s) => s.node === n.name).length, `${n.name} logs each request it served`);
    }
  });

  it('has HAProxy log method, path, node, timers, status and bytes of each request, nothing of what a request carries', async () => {
    // Straight to HAProxy, as anyone on its network could: a query string, unknown paths and methods, headers,
    // a body of the wrong media type. None of it may reach the log.
    const marker = randomCanary(CANARY_LENGTH);
    const direct = async (path: string, init: RequestInit = {}): Promise<number> => {
      const r = await fetch(`${fleet.gateway}${path}`, { ...init, headers: { 'x-marker': marker, cookie: `c=${marker}`, ...(init.headers as Record<string, string> | undefined) } });
      await r.body?.cancel();
      return r.status;
    };
    assert.equal(await direct(`/${marker}?q=${marker}`), 404);
    assert.equal(await direct(`/status?q=${marker}`), 200);
    assert.equal(await direct(`/.well-known/ohttp-gateway?q=${marker}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: marker }), 415);
    assert.equal(await direct('/.well-known/ohttp-gateway', { method: `X${marker}` }), 405);
    await new Promise((r) => setTimeout(r, 500));

    const lines = (logs.get('haproxy') ?? []).map((l) => l.replace(/^haproxy\s*\| /, ''));
    assert.ok(!lines.join('\n').includes(marker), 'HAProxy logs no query string, unknown path or method, header or body');
    const requests = lines.map((l) => REQUEST_LOG.exec(l)?.groups).filter((g) => g !== undefined);
    const other = lines.filter((l) => !REQUEST_LOG.test(l) && !HAPROXY_MESSAGE.test(l));
    assert.deepEqual(other, [], 'every line is a request log line or a message of HAProxy');
    const served = Object.fromEntries(fleet.nodes.map((n) => [n.name, sent.filter((s) => s.node === n.name).length]));
    const routed = Object.fromEntries(fleet.nodes.map((n) => [n.name, requests.filter((g) => g.method === 'POST' && g.backend === 'nodes_by_key' && g.server === n.name && g.status === '200').length]));
    assert.deepEqual(routed, served, 'HAProxy logs each answered request, routed to the node that answered it');
    const shapes = new Map<string, number>();
    for (const g of requests) {
      const shape = `${g.method ?? ''} ${g.path ?? ''} ${g.status ?? ''}`;
      shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
    }
    console.log(`HAProxy: ${lines.length} lines, ${requests.length} of them requests (${JSON.stringify(Object.fromEntries(shapes))}), e.g. ${lines.find((l) => l.includes('"POST /.well-known/ohttp-gateway') && l.includes(' 200 ')) ?? ''}`);
  });
});
