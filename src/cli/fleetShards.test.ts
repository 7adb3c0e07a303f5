// A sharded fleet (docs/fleet.md "Limits"): two gateway URLs, each its own HAProxy (Debian's package) routing the
// same key ID range to a different node, one directory naming each node's gateway, one relay with a resource per
// gateway. Key IDs repeat across shards, so a request reaches the right node only if the client sends it through
// its node's shard: FleetClient with `relays`, and `cloister request --fleet --shard-relay`. Without the shard's
// relay, a request to a node of shard B reaches shard A's node of the same key ID, which cannot decrypt it.
// Skipped when there is no haproxy, unless CLOISTER_REQUIRE_HAPROXY=1 (CI).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { FleetClient } from '../../attestation/client/fleetClient.js';
import { globalFetch, type FetchLike } from '../../attestation/client/httpFetch.js';
import { FLEET_DIRECTORY_PATH } from '../../attestation/fleet/fleetDirectory.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { createDirectoryServer, type DirectoryServer } from '../fleet/directoryServer.js';
import { startRelay, type Relay } from '../relay/relay.js';
import { createRelayLogger } from '../relay/relayLog.js';
import { createServer, type CloisterServer } from '../server/createServer.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import { cli } from '../testing/cliRun.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { findHaproxy, freePort, HaproxyChild } from './haproxyChild.js';
import { availableSimulatedRoots } from './trustSimulated.js';

const work = temporaryDirectories('cloister-fleet-shards-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');

const REQUIRED = process.env.CLOISTER_REQUIRE_HAPROXY === '1';
const SKIP = findHaproxy() === undefined && !REQUIRED ? 'no haproxy on PATH or in /usr/sbin (Debian\'s package "haproxy"); CLOISTER_REQUIRE_HAPROXY=1 makes that a failure' : false;

const silent = (): Writable =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

interface ShardNode {
  readonly name: string;
  readonly shard: 'a' | 'b';
  readonly first: number;
}

/** Shard a: node-a0 0-3, node-a1 4-7; shard b: node-b0 0-3, the same IDs as node-a0. */
const LAYOUT: readonly ShardNode[] = [
  { name: 'node-a0', shard: 'a', first: 0 },
  { name: 'node-a1', shard: 'a', first: 4 },
  { name: 'node-b0', shard: 'b', first: 0 },
];

describe('a fleet of two shards whose key ID ranges repeat', { skip: SKIP }, () => {
  const servers: CloisterServer[] = [];
  const haproxies: HaproxyChild[] = [];
  let directory: DirectoryServer;
  let relay: Relay;
  const gateway = { a: '', b: '' };

  before(async () => {
    const nodes = [];
    for (const n of LAYOUT) {
      const keyIds = { first: n.first, last: n.first + 3 };
      const server = await createServer({ tee: { kind: 'simulated', platform: 'sev-snp' }, models: null, ohttp: { keyIds }, logDestination: silent() });
      servers.push(server);
      nodes.push({ ...n, keyIds, origin: await server.listen('127.0.0.1', 0) });
    }
    gateway.a = `http://127.0.0.1:${await freePort()}`;
    gateway.b = `http://127.0.0.1:${await freePort()}`;
    // No judge: the client verifies every entry itself.
    directory = createDirectoryServer({ nodes: nodes.map((n) => ({ name: n.name, origin: n.origin, keyIds: n.keyIds, gateway: gateway[n.shard] })), gateway: gateway.a, refreshSeconds: 60, maxAgeSeconds: 1, logger: pino({ level: 'silent' }, silent()) });
    const directoryOrigin = await directory.listen('127.0.0.1', 0);
    for (const shard of ['a', 'b'] as const) {
      const haproxy = await HaproxyChild.start({ executable: findHaproxy() ?? 'haproxy', nodes: nodes.filter((n) => n.shard === shard).map((n) => ({ name: n.name, origin: n.origin, keyIds: n.keyIds })), directory: directoryOrigin, port: Number(new URL(gateway[shard]).port), output: () => undefined });
      haproxies.push(haproxy);
      await haproxy.ready;
    }
    relay = await startRelay({ gateways: [{ name: 'a', origin: gateway.a }, { name: 'b', origin: gateway.b }], port: 0, logger: createRelayLogger({ destination: silent() }) });
  });

  after(async () => {
    await relay.close();
    for (const h of haproxies) await h.stop();
    await directory.close();
    for (const s of servers) await s.close();
  });

  const client = async (relays?: Record<string, string>, fetch?: FetchLike): Promise<FleetClient> =>
    new FleetClient({
      ...(fetch === undefined ? {} : { fetch }),
      directory: `${gateway.a}${FLEET_DIRECTORY_PATH}`,
      relay: `${relay.url}/a`,
      ...(relays === undefined ? {} : { relays }),
      policy: await simulatedMeasurementPolicy(),
      snpVerifier: new SnpVerifier({ additionalRoots: (await availableSimulatedRoots()).snp }),
      primitives: nodeHpke,
    });

  it('sends each request through its node\'s shard: every node serves, every request is answered', async () => {
    const fleet = await client({ [gateway.b]: `${relay.url}/b` });
    const served = new Map<string, number>();
    for (let i = 0; i < 45; i++) {
      const r = await fleet.fetch({ url: 'https://cloister/v1/echo', method: 'POST', headers: [['content-type', 'text/plain']], body: new TextEncoder().encode(`shard ${i}`) });
      assert.equal(r.status, 200);
      assert.equal(new TextDecoder().decode(r.content), `shard ${i}`);
      served.set(r.node, (served.get(r.node) ?? 0) + 1);
    }
    assert.deepEqual([...served.keys()].sort(), LAYOUT.map((n) => n.name).sort(), `every node served: ${JSON.stringify([...served])}`);
  });

  it('cloister request --fleet --shard-relay reaches a node of either shard', async () => {
    const file = join(work, 'hello.txt');
    writeFileSync(file, 'hello shards');
    const seen = new Set<string>();
    for (let i = 0; i < 12 && seen.size < 3; i++) {
      const r = await cli('request', file, '--type', 'text/plain', '--path', '/v1/echo', '--fleet', `${gateway.a}${FLEET_DIRECTORY_PATH}`, '--relay', `${relay.url}/a`, '--shard-relay', `${gateway.b}=${relay.url}/b`, '--trust-simulated');
      assert.equal(r.code, 0, r.stderr);
      const node = /fleet node (node-[a-z0-9]+); through (\S+)\)/.exec(r.stderr);
      assert.ok(node?.[1] !== undefined, r.stderr);
      assert.equal(node[2], `${relay.url}/${node[1] === 'node-b0' ? 'b' : 'a'}`, 'each node through its shard\'s relay resource');
      seen.add(node[1]);
    }
    assert.ok(seen.has('node-b0') && (seen.has('node-a0') || seen.has('node-a1')), `both shards reached: ${[...seen].join(', ')}`);
  });

  it("without the shard's relay, requests for node-b0 go to shard a, where node-a0 holds the same key IDs but not the key", async () => {
    const posts: { url: string; status: number }[] = [];
    const counting: FetchLike = async (url, init) => {
      const r = await globalFetch(url, init);
      if (init.method === 'POST') posts.push({ url, status: r.status });
      return r;
    };
    const fleet = await client(undefined, counting);
    const answered = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = await fleet.fetch({ url: 'https://cloister/v1/echo', method: 'POST', headers: [['content-type', 'text/plain']], body: new TextEncoder().encode('x') });
      answered.add(r.node);
    }
    assert.equal(answered.has('node-b0'), false, 'node-b0 is reachable only through its shard');
    const refused = posts.filter((p) => p.status !== 200);
    assert.ok(refused.length > 0, 'some requests were meant for node-b0');
    assert.deepEqual(new Set(refused.map((p) => `${p.url} ${p.status}`)), new Set([`${relay.url}/a/.well-known/ohttp-gateway 422`]), "shard a's HAProxy and node-a0 refuse node-b0's key IDs: 422, and the client sent again elsewhere");
  });
});
