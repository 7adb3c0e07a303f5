// The fleet end to end (docs/fleet.md "Proof"), against real processes and a real HAProxy (Debian's package), with
// `--models none` and the /v1/echo target for speed. First the fleet `cloister fleet local` starts, its three nodes
// rotating their keys every 4 s (kept 3 s): 300 requests through it with FleetClient, in which every node serves a
// share consistent with uniform choice (a chi-square test) and every node's keys rotate mid-run without a request
// lost; a directory that differs from the relay's is refused; a standard OHTTP client that takes one key
// configuration keeps working. Then a fleet assembled here from the same pieces, whose directory (the library's
// createDirectoryServer, without `judge`) also lists a node of another launch measurement: the client never
// chooses it, and stopping one of the two good nodes mid-run loses no request. Skipped when there is no haproxy,
// unless CLOISTER_REQUIRE_HAPROXY=1 (CI), which makes a missing haproxy a failure.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { FleetClient } from '../../attestation/client/fleetClient.js';
import { globalFetch, type FetchLike } from '../../attestation/client/httpFetch.js';
import { OhttpClient } from '../../attestation/client/ohttpClient.js';
import { FLEET_DIRECTORY_MEDIA_TYPE, parseFleetDirectory, serializeFleetDirectory } from '../../attestation/fleet/fleetDirectory.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { createDirectoryServer, type DirectoryServer } from '../fleet/directoryServer.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import { ChildCommand } from './childCommand.js';
import { fleetLocalCommand, type FleetLocalHooks, type LocalFleet } from './fleetLocalCommand.js';
import { findHaproxy, freePort, HaproxyChild } from './haproxyChild.js';
import { processIo } from './io.js';
import { availableSimulatedRoots } from './trustSimulated.js';

process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-fleet-'));

const REQUIRED = process.env.CLOISTER_REQUIRE_HAPROXY === '1';
const SKIP = findHaproxy() === undefined && !REQUIRED ? 'no haproxy on PATH or in /usr/sbin (Debian\'s package "haproxy"); CLOISTER_REQUIRE_HAPROXY=1 makes that a failure' : false;

const REQUESTS = 300;
/** The chi-square distribution's upper 0.001 quantile for 2 degrees of freedom (3 nodes): -2 ln 0.001. */
const CHI_SQUARE_CRITICAL_DF2_P001 = 13.816;
const OTHER_MEASUREMENT = 'ab'.repeat(48);

const echo = { url: 'https://cloister/v1/echo', method: 'POST', headers: [['content-type', 'text/plain']] as [string, string][] };

async function trust(): Promise<{ policy: Awaited<ReturnType<typeof simulatedMeasurementPolicy>>; snpVerifier: SnpVerifier }> {
  return { policy: await simulatedMeasurementPolicy(), snpVerifier: new SnpVerifier({ additionalRoots: (await availableSimulatedRoots()).snp }) };
}

/** The global fetch, counting the outer statuses of encapsulated requests (POSTs) by status. */
function countingFetch(statuses: Map<number, number>): FetchLike {
  return async (url, init) => {
    const r = await globalFetch(url, init);
    if (init.method === 'POST') statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    return r;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `count` echo requests, `concurrency` at a time (each worker pausing `pauseMs` between); each answer is checked; returns the node of each. */
async function sendMany(client: FleetClient, count: number, concurrency: number, each?: (done: number) => Promise<void> | void, pauseMs = 0): Promise<{ nodes: string[]; keys: Map<string, Set<number>> }> {
  const nodes: string[] = [];
  const keys = new Map<string, Set<number>>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const body = new TextEncoder().encode(`request ${i}`);
      const r = await client.fetch({ ...echo, body });
      assert.equal(r.status, 200, `request ${i} answered ${r.status}`);
      assert.equal(new TextDecoder().decode(r.content), `request ${i}`);
      nodes.push(r.node);
      if (!keys.has(r.node)) keys.set(r.node, new Set());
      keys.get(r.node)?.add(r.keyId);
      await each?.(nodes.length);
      if (pauseMs > 0) await sleep(pauseMs);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { nodes, keys };
}

const tally = (nodes: readonly string[], names: readonly string[]): Record<string, number> => Object.fromEntries(names.map((n) => [n, nodes.filter((x) => x === n).length]));

/** Pearson's statistic against equal shares. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

describe('the local fleet (cloister fleet local, HAProxy)', { skip: SKIP }, () => {
  let fleet: LocalFleet;
  let stop: (() => Promise<void>) | undefined;
  let banner = '';

  before(async () => {
    assert.ok(findHaproxy() !== undefined, 'CLOISTER_REQUIRE_HAPROXY=1 but there is no haproxy: install Debian\'s package "haproxy"');
    fleet = await new Promise<LocalFleet>((resolve, reject) => {
      const argv = ['--models', 'none', '--gateway-port', '0', '--fleet-port', '0', '--relay-port', '0', '--ohttp-rotate', '4', '--ohttp-overlap', '3', '--refresh', '1', '--max-age', '1'];
      const exited = fleetLocalCommand(argv, { ...processIo, stdout: () => undefined, stderr: (t) => (banner += t) }, { stopSignal: (fn) => (stop = fn), onReady: resolve });
      exited.then((code) => {
        reject(new Error(`cloister fleet local exited with ${code} before it was ready: ${banner}`));
      }, reject);
    });
  });

  after(async () => {
    await stop?.();
  });

  it('prints the banner with the request command', () => {
    assert.match(banner, /Local fleet ready: 3 nodes/);
    assert.ok(banner.includes(`npx cloister request FILE --path /v1/echo --type text/plain --trust-simulated --fleet ${fleet.directory} --relay ${fleet.relay}`), banner);
  });

  it(`serves ${REQUESTS} requests, every node a share consistent with uniform choice, keys rotating mid-run`, async () => {
    const statuses = new Map<number, number>();
    const client = new FleetClient({ directory: fleet.directory, relay: fleet.relay, fetch: countingFetch(statuses), ...(await trust()) });
    const names = fleet.nodes.map((n) => n.name);
    const started = Date.now();
    // Paced over about 12 s, three rotations of every node's keys: a client's directory is then older than a key's
    // life (4 s current, 3 s overlap), and its 422 has it refetch past every cache.
    const { nodes, keys } = await sendMany(client, REQUESTS, 4, undefined, 150);
    const seconds = (Date.now() - started) / 1000;
    const counts = tally(nodes, names);
    const statistic = chiSquare(Object.values(counts));
    const rotations = Object.fromEntries(names.map((n) => [n, keys.get(n)?.size ?? 0]));
    console.log(`fleet: ${REQUESTS} requests in ${seconds.toFixed(1)} s, per node ${JSON.stringify(counts)}; chi-square ${statistic.toFixed(2)} (df 2, critical ${CHI_SQUARE_CRITICAL_DF2_P001} at p = 0.001); key IDs used per node ${JSON.stringify(rotations)}; outer statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.equal(nodes.length, REQUESTS);
    assert.ok(statistic < CHI_SQUARE_CRITICAL_DF2_P001, `chi-square ${statistic} >= ${CHI_SQUARE_CRITICAL_DF2_P001}: ${JSON.stringify(counts)}`);
    // Each node rotated every 4 s: the client encapsulated to several keys of each, and no request was lost.
    assert.ok(seconds > 8, `the run took ${seconds} s, too short for rotations`);
    for (const n of names) assert.ok((keys.get(n)?.size ?? 0) >= 2, `${n} used one key in ${seconds} s: ${JSON.stringify(rotations)}`);
  });

  it('refuses a directory that differs from the one the relay serves (FLEET_DIRECTORY_INCONSISTENT)', async () => {
    const r = await fetch(fleet.directory);
    const real = parseFleetDirectory(new Uint8Array(await r.arrayBuffer()));
    // The same nodes but one: what an operator would show a user it wants to steer.
    const bytes = serializeFleetDirectory({ ...real, nodes: real.nodes.slice(0, 1) });
    const other = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': FLEET_DIRECTORY_MEDIA_TYPE });
      res.end(bytes);
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const client = new FleetClient({ directory: `http://127.0.0.1:${(other.address() as AddressInfo).port}/.well-known/cloister/fleet`, relay: fleet.relay, ...(await trust()) });
      await assert.rejects(client.fetch({ ...echo, body: new Uint8Array([1]) }), { code: 'FLEET_DIRECTORY_INCONSISTENT' });
    } finally {
      other.close();
    }
  });

  it('keeps a standard OHTTP client (one key configuration, no directory) working', async () => {
    const client = new OhttpClient({ relay: fleet.relay, ...(await trust()) });
    for (let i = 0; i < 10; i++) {
      const r = await client.fetch({ ...echo, body: new Uint8Array([i]) });
      assert.equal(r.status, 200);
      assert.deepEqual([...r.content], [i]);
    }
  });
});

describe('a fleet with a node that does not verify, and a node stopped mid-run', { skip: SKIP }, () => {
  const children: ChildCommand[] = [];
  let haproxy: HaproxyChild | undefined;
  let directory: DirectoryServer | undefined;
  let relay = '';
  let directoryUrl = '';
  const output = { stdout: () => undefined, stderr: () => undefined };

  const start = async (name: string, argv: string[]): Promise<{ url: string; child: ChildCommand }> => {
    const child = ChildCommand.start({ name, argv, ...output });
    children.push(child);
    return { url: await child.ready, child };
  };
  let nodes: { name: string; url: string; keyIds: { first: number; last: number }; child: ChildCommand }[] = [];

  before(async () => {
    const serve = (range: string, ...extra: string[]): string[] => ['serve', '--simulated', '--port', '0', '--models', 'none', '--ohttp-key-ids', range, ...extra];
    const a = await start('good-0', serve('0-3'));
    const [b, c] = await Promise.all([start('good-1', serve('4-7')), start('other-2', serve('8-11', '--simulated-measurement', OTHER_MEASUREMENT))]);
    nodes = [
      { name: 'good-0', ...a, keyIds: { first: 0, last: 3 } },
      { name: 'good-1', ...b, keyIds: { first: 4, last: 7 } },
      { name: 'other-2', ...c, keyIds: { first: 8, last: 11 } },
    ];
    const port = await freePort();
    const gateway = `http://127.0.0.1:${port}`;
    // No judge: this directory lists every node that answers, as a careless or hostile operator's would.
    directory = createDirectoryServer({ nodes: nodes.map((n) => ({ name: n.name, origin: n.url, keyIds: n.keyIds })), gateway, refreshSeconds: 1, maxAgeSeconds: 1, logger: pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => {
      done();
    } })) });
    const directoryOrigin = await directory.listen('127.0.0.1', 0);
    haproxy = await HaproxyChild.start({ executable: findHaproxy() ?? 'haproxy', nodes: nodes.map((n) => ({ name: n.name, origin: n.url, keyIds: n.keyIds })), directory: directoryOrigin, port, output: () => undefined });
    await haproxy.ready;
    relay = `${(await start('relay', ['relay', '--gateway', `default=${gateway}`, '--port', '0'])).url}/default`;
    directoryUrl = `${gateway}/.well-known/cloister/fleet`;
  });

  after(async () => {
    for (const child of [...children].reverse()) await child.stop();
    await haproxy?.stop();
    await directory?.close();
  });

  it('never chooses the node of another measurement, although the directory lists it', async () => {
    const listed = parseFleetDirectory(new Uint8Array(await (await fetch(directoryUrl)).arrayBuffer()));
    assert.deepEqual(listed.nodes.map((n) => n.name), ['good-0', 'good-1', 'other-2']);
    const client = new FleetClient({ directory: directoryUrl, relay, ...(await trust()) });
    const verdicts = await client.verdicts();
    assert.deepEqual(verdicts.map((v) => [v.name, v.error === undefined]), [['good-0', true], ['good-1', true], ['other-2', false]]);
    const { nodes: served } = await sendMany(client, 60, 4);
    const counts = tally(served, ['good-0', 'good-1', 'other-2']);
    console.log(`fleet with an unverifiable node (${verdicts[2]?.error?.code ?? ''}): 60 requests, per node ${JSON.stringify(counts)}`);
    assert.equal(counts['other-2'], 0);
    assert.ok((counts['good-0'] ?? 0) > 0 && (counts['good-1'] ?? 0) > 0);
  });

  it('loses no request when a node stops mid-run (the client retries on another node)', async () => {
    const statuses = new Map<number, number>();
    const client = new FleetClient({ directory: directoryUrl, relay, fetch: countingFetch(statuses), ...(await trust()) });
    let stopped: Promise<unknown> | undefined;
    const { nodes: served } = await sendMany(client, 90, 3, async (done) => {
      if (done === 30) {
        stopped = nodes[1]?.child.stop();
        await stopped;
      }
    });
    assert.ok(stopped !== undefined);
    const counts = tally(served, ['good-0', 'good-1', 'other-2']);
    const failed = [...statuses].filter(([status]) => status !== 200).reduce((n, [, c]) => n + c, 0);
    console.log(`fleet with good-1 stopped after 30 of 90 requests: per node ${JSON.stringify(counts)}, none lost; outer statuses ${JSON.stringify(Object.fromEntries(statuses))} (each non-200 retried on good-0)`);
    assert.ok(failed > 0, 'no request met the stopped node: the retry was not exercised');
    assert.equal(served.length, 90);
    assert.equal(counts['other-2'], 0);
    // After the stop every request ends at good-0: those picked for good-1 were sent again there.
    assert.ok(served.slice(40).every((n) => n === 'good-0'), served.slice(40).join(' '));
  });
});

describe('cloister fleet local, before anything starts', () => {
  const run = (argv: string[], hooks: FleetLocalHooks = {}): { code: Promise<number>; out: () => string } => {
    let out = '';
    const code = fleetLocalCommand(argv, { ...processIo, stdout: (t) => (out += t), stderr: (t) => (out += t) }, hooks);
    return { code, out: () => out };
  };

  it('explains itself (--help)', async () => {
    const r = run(['--help']);
    assert.equal(await r.code, 0);
    assert.match(r.out(), /Usage: cloister fleet local/);
    assert.match(r.out(), /--fleet http:\/\/127\.0\.0\.1:8443\/\.well-known\/cloister\/fleet --relay http:\/\/127\.0\.0\.1:8081\/default/);
  });

  it('refuses more key IDs than one gateway routes, and bad numbers, in one line', async () => {
    for (const [argv, pattern] of [
      [['--nodes', '65'], /needs 260 key IDs: one gateway routes at most 256/],
      [['--nodes', '0'], /--nodes must be 1\.\.256/],
      [['--gateway-port', '70000'], /--gateway-port must be 0\.\.65535/],
      [['--ohttp-rotate', 'soon'], /--ohttp-rotate must be a whole number of seconds/],
      [['--platform', 'sgx'], /--platform must be/],
    ] as const) {
      const r = run([...argv]);
      assert.equal(await r.code, 2, argv.join(' '));
      assert.match(r.out(), pattern);
      assert.equal(r.out().trim().split('\n').length, 1, r.out());
    }
  });

  it('names Debian\'s package when there is no haproxy, and starts nothing (HAPROXY_MISSING)', async () => {
    const r = run(['--models', 'none'], { findHaproxy: () => undefined });
    assert.equal(await r.code, 2);
    assert.match(r.out(), /^error \[HAPROXY_MISSING\]: haproxy is neither on PATH nor in \/usr\/sbin or \/usr\/local\/sbin: .*Debian's package "haproxy": apt-get install haproxy\)\n$/);
  });

  it('finds haproxy on PATH, or where Debian puts it', () => {
    const found = findHaproxy('/nonexistent');
    assert.ok(found === undefined || /^\/usr\/(local\/)?sbin\/haproxy$/.test(found), found);
  });
});
