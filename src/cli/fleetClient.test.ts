// FleetClient's logic against real simulated nodes (createServer, as `cloister serve --simulated --ohttp-key-ids`
// runs it) behind a real relay. In place of HAProxy, a small in-test router sends each encapsulated request to the
// node whose key ID range holds its first byte, and can make a node busy (an encapsulated 503, sealed with the
// node's own key), fail (an outer status) or not answer; it also serves the directory the relay mirrors. The
// directory fetched directly comes from a path of the same router whose bytes the test chooses. The end-to-end
// suite with HAProxy is src/cli/fleetStack.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { FleetClient, type FleetClientOptions } from '../../attestation/client/fleetClient.js';
import type { FetchLike } from '../../attestation/client/httpFetch.js';
import { CloisterError } from '../../attestation/errors.js';
import { FLEET_DIRECTORY_PATH, serializeFleetDirectory, type FleetDirectory, type FleetNode } from '../../attestation/fleet/fleetDirectory.js';
import { decodeKeyConfig, decodeOhttpKeys, encodeKeyConfig, encodeOhttpKeys } from '../../attestation/protocols/ohttp/keyConfig.js';
import { OHTTP_GATEWAY_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { assembleDirectory, type FleetNodeSource } from '../fleet/assembleDirectory.js';
import { OhttpGateway, textResponse } from '../ohttp/index.js';
import { startRelay, type Relay } from '../relay/relay.js';
import { createRelayLogger } from '../relay/relayLog.js';
import { createServer, type CloisterServer } from '../server/createServer.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { unauthenticatedFetch } from '../testing/unauthenticatedFetch.js';
import { availableSimulatedRoots } from './trustSimulated.js';

const work = temporaryDirectories('cloister-fleet-client-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');

const silent = (): Writable =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

/** What the router does with the next encapsulated request for a node (once each). */
type Behaviour = { readonly kind: 'busy' } | { readonly kind: 'status'; readonly status: number } | { readonly kind: 'drop' };

interface Node {
  readonly source: FleetNodeSource;
  readonly server: CloisterServer;
}

const nodes: Node[] = [];
const behaviours = new Map<string, Behaviour[]>();
/** Every encapsulated request the router saw: the node it was for and its bytes. */
const posts: { node: string; body: Buffer }[] = [];
/** The directory bytes the relay gets (the fleet gateway's copy), and what the direct URL serves. */
let gatewayDirectory: Uint8Array = new Uint8Array(0);
let directDirectory: (noCache: boolean) => Uint8Array = () => gatewayDirectory;
let router: http.Server;
let routerOrigin = '';
let relay: Relay;
let clock = 1_000_000;
let roots: Uint8Array[];
let full: FleetDirectory;

const GOOD = ['node-0', 'node-1', 'node-2'];

async function startNode(name: string, first: number, launch?: { snpMeasurement: Uint8Array }): Promise<Node> {
  const server = await createServer({ tee: { kind: 'simulated', platform: 'sev-snp', ...(launch === undefined ? {} : { launch }) }, models: null, ohttp: { keyIds: { first, last: first + 3 } }, logDestination: silent() });
  const origin = await server.listen('127.0.0.1', 0);
  return { source: { name, origin, keyIds: { first, last: first + 3 } }, server };
}

const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });

async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readBody(req);
  if (req.method === 'GET' && (req.url === FLEET_DIRECTORY_PATH || req.url === '/direct/fleet')) {
    const bytes = req.url === FLEET_DIRECTORY_PATH ? gatewayDirectory : directDirectory(req.headers['cache-control'] === 'no-cache');
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=1' });
    res.end(bytes);
    return;
  }
  const node = nodes.find((n) => body.length > 0 && (body[0] as number) >= n.source.keyIds.first && (body[0] as number) <= n.source.keyIds.last);
  if (req.method !== 'POST' || req.url !== OHTTP_GATEWAY_PATH || node === undefined) {
    res.writeHead(422, { 'content-type': 'application/problem+json' });
    res.end('{"code":"OHTTP_KEY"}');
    return;
  }
  posts.push({ node: node.source.name, body });
  const behaviour = behaviours.get(node.source.name)?.shift();
  if (behaviour?.kind === 'drop') {
    req.socket.destroy();
    return;
  }
  if (behaviour?.kind === 'status') {
    res.writeHead(behaviour.status, { 'content-type': 'application/problem+json' });
    res.end(`{"code":"ROUTER_${behaviour.status}"}`);
    return;
  }
  if (behaviour?.kind === 'busy') {
    // The node's own key seals the 503, as its gateway would: the relay and client see an ordinary answer.
    const outcome = await new OhttpGateway({ keys: (id) => node.server.keyStore.lookup(id), target: () => Promise.resolve(textResponse(503, 'busy')) }).handle(body);
    assert.equal(outcome.kind, 'encapsulated');
    res.writeHead(200, { 'content-type': 'message/ohttp-res' });
    res.end(Buffer.concat(outcome.body));
    return;
  }
  const r = await unauthenticatedFetch(`${node.source.origin}${OHTTP_GATEWAY_PATH}`, { method: 'POST', headers: { 'content-type': 'message/ohttp-req' }, body });
  res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream' });
  res.end(Buffer.from(await r.arrayBuffer()));
}

before(async () => {
  // The first node creates the development root the others share (and the client trusts).
  for (const [i, name] of GOOD.entries()) nodes.push(await startNode(name, 4 * i));
  roots = (await availableSimulatedRoots()).snp;
  // A node whose development root is another (its own state directory): the client does not trust it.
  process.env.CLOISTER_STATE_DIR = join(work, 'other-state');
  try {
    nodes.push(await startNode('untrusted', 12));
  } finally {
    process.env.CLOISTER_STATE_DIR = join(work, 'state');
  }
  // A node of another image: trusted root, another launch measurement (serve --simulated-measurement HEX).
  nodes.push(await startNode('other-image', 16, { snpMeasurement: new Uint8Array(48).fill(0x5e) }));

  router = http.createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      res.destroy(e as Error);
    });
  });
  await new Promise<void>((resolve) => router.listen(0, '127.0.0.1', resolve));
  routerOrigin = `http://127.0.0.1:${(router.address() as AddressInfo).port}`;
  relay = await startRelay({ gateways: [{ name: 'fleet', origin: routerOrigin }], port: 0, now: () => clock, logger: createRelayLogger({ destination: silent() }) });
  const assembled = await assembleDirectory({ nodes: nodes.map((n) => n.source), gateway: routerOrigin });
  assert.deepEqual(assembled.left, []);
  full = assembled.directory;
});

after(async () => {
  await relay.close();
  router.closeAllConnections();
  await new Promise<void>((resolve) => router.close(() => { resolve(); }));
  for (const n of nodes) await n.server.close();
});

/** Serves `directory` at the gateway and directly, past the relay's copy of an earlier test. */
function serve(directory: FleetDirectory): Uint8Array {
  gatewayDirectory = serializeFleetDirectory(directory);
  directDirectory = () => gatewayDirectory;
  clock += 120_000;
  return gatewayDirectory;
}

const only = (names: readonly string[]): FleetDirectory => ({ ...full, nodes: full.nodes.filter((n) => names.includes(n.name)) });

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly cacheControl: string | undefined;
}

async function clientFor(options: Partial<FleetClientOptions> = {}): Promise<{ client: FleetClient; exchanges: Recorded[] }> {
  const exchanges: Recorded[] = [];
  const fetch: FetchLike = async (url, init) => {
    exchanges.push({ method: init.method, url, cacheControl: init.headers['cache-control'] });
    return await unauthenticatedFetch(url, init);
  };
  const client = new FleetClient({ directory: `${routerOrigin}/direct/fleet`, relay: `${relay.url}/fleet`, policy: await simulatedMeasurementPolicy(), snpVerifier: new SnpVerifier({ additionalRoots: roots }), padding: 'none', fetch, ...options });
  return { client, exchanges };
}

const echo = (client: FleetClient, byte = 1): ReturnType<FleetClient['fetch']> => client.fetch({ url: 'https://cloister/v1/echo', body: new Uint8Array([byte]) });
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const nodeOfKeyId = (keyId: number): string | undefined => nodes.find((n) => keyId >= n.source.keyIds.first && keyId <= n.source.keyIds.last)?.source.name;

beforeEach(() => {
  behaviours.clear();
  posts.length = 0;
});

describe('FleetClient', () => {
  it('uses the directory when the direct copy and the relay copy agree; nodes of an untrusted root or another image are never chosen', async () => {
    serve(full);
    const picks: number[] = [];
    const { client, exchanges } = await clientFor({
      randomIndex: (n) => {
        picks.push(n);
        return (picks.length - 1) % n;
      },
    });
    const verdicts = await client.verdicts();
    assert.deepEqual(verdicts.map((v) => v.name), ['node-0', 'node-1', 'node-2', 'untrusted', 'other-image'], 'in directory order');
    assert.deepEqual(verdicts.filter((v) => v.error === undefined).map((v) => v.name), GOOD);
    const codes = Object.fromEntries(verdicts.filter((v) => v.error !== undefined).map((v) => [v.name, v.error?.code]));
    assert.deepEqual(codes, { untrusted: 'UNTRUSTED_ROOT', 'other-image': 'POLICY_MEASUREMENT' });
    // The directory was fetched once each way, through the cache.
    assert.deepEqual(exchanges.filter((e) => e.method === 'GET').map((e) => [e.url, e.cacheControl]), [[`${relay.url}/fleet${FLEET_DIRECTORY_PATH}`, undefined], [`${routerOrigin}/direct/fleet`, undefined]]);
    for (let i = 0; i < 9; i++) {
      const r = await echo(client, i);
      assert.equal(r.status, 200);
      assert.deepEqual(r.content, new Uint8Array([i]));
      assert.ok(GOOD.includes(r.node));
      assert.equal(nodeOfKeyId(r.keyId), r.node, 'encapsulated to the chosen node, and routed there');
    }
    assert.deepEqual(new Set(picks), new Set([3]), 'a choice among the three verified nodes only');
    assert.deepEqual(posts.map((p) => p.node), [...GOOD, ...GOOD, ...GOOD], 'index i picks the i-th verified node');
  });

  it('picks the node randomIndex names, uniformly: each verified node under its index', async () => {
    serve(full);
    for (const [index, name] of GOOD.entries()) {
      const { client } = await clientFor({ randomIndex: () => index });
      assert.equal((await echo(client)).node, name);
    }
  });

  it('a randomIndex that names no node is refused, not read past the list', async () => {
    serve(full);
    for (const bad of [3, -1, 0.5, Number.NaN]) {
      const { client } = await clientFor({ randomIndex: () => bad });
      await assert.rejects(echo(client), (e: unknown) => e instanceof RangeError && e.message === `randomIndex(3) returned ${bad}, not a whole number from 0 to 2`);
    }
  });

  it('the default randomIndex reaches every verified node', async () => {
    serve(only(GOOD));
    const { client } = await clientFor();
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 3; i++) seen.add((await echo(client)).node);
    assert.deepEqual([...seen].sort(), GOOD);
  });

  it('a mismatch that a refetch past every cache, once the relay\'s copy was renewed, resolves is accepted (a CDN held an older copy)', async () => {
    const current = serve(only(GOOD));
    const older = serializeFleetDirectory({ ...only(GOOD), issued: '2026-12-07T21:00:00.000Z' });
    directDirectory = (noCache) => (noCache ? current : older);
    const { client, exchanges } = await clientFor({ randomIndex: () => 0 });
    assert.equal((await echo(client)).status, 200);
    assert.deepEqual(exchanges.filter((e) => e.method === 'GET').map((e) => [e.url.endsWith('/direct/fleet') ? 'direct' : 'relay', e.cacheControl]), [
      ['relay', undefined],
      ['direct', undefined],
      ['relay', 'no-cache'],
      ['direct', 'no-cache'],
    ]);
  });

  it('one node listed again under another name cannot draw more of the choice: the same evidence twice is a malformed directory, and an entry unlike its certificate is FLEET_ENTRY_MISMATCH', async () => {
    const node0 = full.nodes.find((n) => n.name === 'node-0') as FleetNode;
    // Its certificate under a second name, with a range of its own and the key configurations rewritten into it.
    const rewritten = encodeOhttpKeys(decodeOhttpKeys(node0.keyConfigs).map((c) => encodeKeyConfig({ ...decodeKeyConfig(c), keyId: 104 })));
    const clone: FleetNode = { ...node0, name: 'clone', keyIds: [104, 107], keyConfigs: rewritten };
    serve({ ...only(GOOD), nodes: [...only(GOOD).nodes, clone] });
    await assert.rejects((await clientFor()).client.verdicts(), (e: unknown) => e instanceof CloisterError && e.code === 'MALFORMED_FLEET_DIRECTORY' && /"node-0" and "clone" list the same evidence/.test(e.message));
    // With another evidence digest it parses, and the client refuses it for what its certificate binds.
    serve({ ...only(GOOD), nodes: [...only(GOOD).nodes, { ...clone, evidence: `sha256:${'ab'.repeat(32)}` }] });
    const verdicts = await (await clientFor()).client.verdicts();
    const refused = verdicts.find((v) => v.name === 'clone');
    assert.equal(refused?.error?.code, 'FLEET_ENTRY_MISMATCH');
    assert.match(refused.error.message, /key configurations its certificate does not bind/);
    assert.deepEqual(verdicts.filter((v) => v.error === undefined).map((v) => v.name), GOOD);
    // The right key configurations under a range that does not hold their IDs: refused as the directory is read.
    serve({ ...only(['node-1', 'node-2']), nodes: [...only(['node-1', 'node-2']).nodes, { ...node0, name: 'moved', keyIds: [104, 107] }] });
    await assert.rejects((await clientFor()).client.verdicts(), (e: unknown) => e instanceof CloisterError && e.code === 'MALFORMED_FLEET_DIRECTORY' && /outside the node's range 104-107/.test(e.message));
  });

  it('a persistent mismatch is FLEET_DIRECTORY_INCONSISTENT, naming both digests, and nothing is sent', async () => {
    const relayed = serve(only(GOOD));
    const own = serializeFleetDirectory(only(['node-0']));
    directDirectory = () => own;
    const { client } = await clientFor();
    await assert.rejects(echo(client), (e: unknown) => {
      assert.ok(e instanceof CloisterError);
      assert.equal(e.code, 'FLEET_DIRECTORY_INCONSISTENT');
      assert.equal(e.actual, sha256(own));
      assert.equal(e.expected, sha256(relayed));
      return true;
    });
    assert.equal(posts.length, 0);
  });

  it('is FLEET_NO_NODE, listing each node\'s code, when no node verifies (and when the directory lists none)', async () => {
    serve(only(['untrusted', 'other-image']));
    const { client } = await clientFor();
    await assert.rejects(echo(client), (e: unknown) => {
      assert.ok(e instanceof CloisterError);
      assert.equal(e.code, 'FLEET_NO_NODE');
      assert.match(e.message, /\(untrusted: UNTRUSTED_ROOT, other-image: POLICY_MEASUREMENT\)/);
      return true;
    });
    serve(only([]));
    await assert.rejects(echo((await clientFor()).client), { code: 'FLEET_NO_NODE', message: /the directory lists none/ });
    assert.equal(posts.length, 0);
  });

  it('an encapsulated 503 from the chosen node is sent once more to another node, freshly encapsulated', async () => {
    serve(only(GOOD));
    behaviours.set('node-1', [{ kind: 'busy' }]);
    const indexes: number[] = [];
    const { client } = await clientFor({
      randomIndex: (n) => {
        indexes.push(n);
        return 1;
      },
    });
    const r = await echo(client, 7);
    assert.equal(r.status, 200);
    assert.equal(r.node, 'node-2', 'the second pick is among the others (node-0, node-2): index 1');
    assert.deepEqual(indexes, [3, 2]);
    assert.deepEqual(posts.map((p) => p.node), ['node-1', 'node-2']);
    assert.notDeepEqual(posts[0]?.body, posts[1]?.body);
  });

  it('an encapsulated 503 with no other node is returned as it is', async () => {
    serve(only(['node-0']));
    behaviours.set('node-0', [{ kind: 'busy' }]);
    const r = await echo((await clientFor()).client);
    assert.equal(r.status, 503);
    assert.equal(r.node, 'node-0');
    assert.equal(posts.length, 1);
  });

  for (const [why, behaviour] of [
    ['the gateway answers 502', { kind: 'status', status: 502 }],
    ['the gateway answers 504', { kind: 'status', status: 504 }],
    ['the gateway answers 503 (HAProxy: the node is down)', { kind: 'status', status: 503 }],
    ['the node does not answer (the relay\'s own 502)', { kind: 'drop' }],
  ] as const) {
    it(`retries on another node when ${why}`, async () => {
      serve(only(GOOD));
      behaviours.set('node-0', [behaviour]);
      const { client } = await clientFor({ randomIndex: () => 0 });
      const r = await echo(client, 9);
      assert.equal(r.status, 200);
      assert.equal(r.node, 'node-1');
      assert.deepEqual(posts.map((p) => p.node), ['node-0', 'node-1']);
      assert.notDeepEqual(posts[0]?.body.subarray(1), posts[1]?.body.subarray(1));
    });
  }

  it('retries once only: a second failure is thrown', async () => {
    serve(only(GOOD));
    behaviours.set('node-0', [{ kind: 'status', status: 502 }]);
    behaviours.set('node-1', [{ kind: 'status', status: 502 }]);
    await assert.rejects(echo((await clientFor({ randomIndex: () => 0 })).client), { code: 'OHTTP_REQUEST_FAILED', actual: /^502/ });
    assert.deepEqual(posts.map((p) => p.node), ['node-0', 'node-1']);
  });

  for (const status of [400, 413, 429]) {
    it(`throws an outer ${status} without retrying`, async () => {
      serve(only(GOOD));
      behaviours.set('node-0', [{ kind: 'status', status }]);
      await assert.rejects(echo((await clientFor({ randomIndex: () => 0 })).client), { code: 'OHTTP_REQUEST_FAILED', actual: new RegExp(`^${status}`) });
      assert.deepEqual(posts.map((p) => p.node), ['node-0']);
    });
  }

  it('returns an encapsulated 4xx without retrying', async () => {
    serve(only(GOOD));
    const { client } = await clientFor({ randomIndex: () => 0 });
    const r = await client.fetch({ url: 'https://cloister/no-such-path' });
    assert.equal(r.status, 404);
    assert.deepEqual(posts.map((p) => p.node), ['node-0']);
  });

  it('a 422 (the node no longer has that key) reloads the directory past every cache, then sends again', async () => {
    serve(only(GOOD));
    behaviours.set('node-2', [{ kind: 'status', status: 422 }]);
    const { client, exchanges } = await clientFor({ randomIndex: () => 2 });
    await client.verdicts();
    exchanges.length = 0;
    const r = await echo(client, 3);
    assert.equal(r.status, 200);
    assert.equal(r.node, 'node-2');
    const gets = exchanges.filter((e) => e.method === 'GET').map((e) => [e.url.endsWith('/direct/fleet') ? 'direct' : 'relay', e.cacheControl]);
    assert.deepEqual(gets, [['relay', 'no-cache'], ['direct', 'no-cache']]);
    assert.deepEqual(posts.map((p) => p.node), ['node-2', 'node-2']);
  });

  it('a 422 that the reloaded directory does not cure (its copy still names the retired key) goes once to another node', async () => {
    serve(only(GOOD));
    behaviours.set('node-2', [{ kind: 'status', status: 422 }, { kind: 'status', status: 422 }]);
    const picks = [2, 0];
    const { client } = await clientFor({ randomIndex: () => picks.shift() ?? assert.fail('a third pick') });
    const r = await echo(client, 4);
    assert.equal(r.status, 200);
    assert.equal(r.node, 'node-0');
    assert.deepEqual(posts.map((p) => p.node), ['node-2', 'node-2', 'node-0']);
  });

  it('a 422 from a node the reloaded directory no longer lists goes once to another node', async () => {
    serve(only(GOOD));
    const picks = [2, 0];
    const { client } = await clientFor({ randomIndex: () => picks.shift() ?? assert.fail('a third pick') });
    await client.verdicts();
    serve(only(['node-0', 'node-1']));
    behaviours.set('node-2', [{ kind: 'status', status: 422 }]);
    const r = await echo(client, 5);
    assert.equal(r.status, 200);
    assert.equal(r.node, 'node-0');
    assert.deepEqual(posts.map((p) => p.node), ['node-2', 'node-0']);
    assert.deepEqual((await client.verdicts()).map((v) => v.name), ['node-0', 'node-1'], 'the reloaded directory is the one in use');
  });

  it('relays are keyed by the gateway\'s origin however it is written (case, default port, a trailing slash), as the directory names it', async () => {
    serve(only(GOOD));
    const shard = await startRelay({ gateways: [{ name: 'shard', origin: routerOrigin }], port: 0, logger: createRelayLogger({ destination: silent() }) });
    try {
      const { port } = new URL(routerOrigin);
      for (const written of [`HTTP://127.0.0.1:${port}`, `http://127.0.0.1:${port}/`]) {
        const { client, exchanges } = await clientFor({ relays: { [written]: `${shard.url}/shard` }, randomIndex: () => 0 });
        const r = await echo(client);
        assert.equal(r.relay, `${shard.url}/shard`, written);
        assert.ok(exchanges.some((e) => e.method === 'POST' && e.url.startsWith(`${shard.url}/shard/`)), written);
      }
    } finally {
      await shard.close();
    }
  });
});
