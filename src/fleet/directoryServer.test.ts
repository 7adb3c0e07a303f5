// cloister fleet's HTTP service: 503 FLEET_DIRECTORY_UNAVAILABLE with retry-after while the first round runs,
// then the directory (200, application/json, cache-control public max-age); HEAD without a body; other paths 404,
// other methods 405 with allow; one log line per change of the listed set, none when it stays the same.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { FLEET_DIRECTORY_PATH, parseFleetDirectory } from '../../attestation/fleet/fleetDirectory.js';
import { unauthenticatedFetch } from '../testing/unauthenticatedFetch.js';
import { createDirectoryServer, type DirectoryServer } from './directoryServer.js';

/** A node that answers 404 to everything, once `release` was called (until then its requests wait). */
let node: http.Server;
let nodeOrigin = '';
let release: () => void = () => undefined;
const released = new Promise<void>((resolve) => (release = resolve));

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => { resolve(); }));
  return port;
}

before(async () => {
  node = http.createServer((_req, res) => {
    void released.then(() => {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
  nodeOrigin = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
});

after(async () => {
  release();
  node.closeAllConnections();
  await new Promise<void>((resolve) => node.close(() => { resolve(); }));
});

const get = (url: string, method = 'GET'): ReturnType<typeof unauthenticatedFetch> => unauthenticatedFetch(url, { method, headers: {} });

describe('the fleet directory service', () => {
  let server: DirectoryServer;
  let url = '';
  const lines: { msg: string; nodes?: string[]; left?: { name: string; code: string }[] }[] = [];

  after(async () => {
    await server.close();
  });

  it('answers 503 FLEET_DIRECTORY_UNAVAILABLE with retry-after before the first round, then 200 with the directory', async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });
    server = createDirectoryServer({ nodes: [{ name: 'node-0', origin: nodeOrigin, keyIds: { first: 0, last: 3 } }], gateway: 'https://fleet.example', refreshSeconds: 3600, maxAgeSeconds: 7, logger, now: () => new Date('2026-12-07T22:00:00.000Z') });
    const port = await freePort();
    const listening = server.listen('127.0.0.1', port);
    url = `http://127.0.0.1:${port}`;
    // The first round waits for the node: the service already listens.
    let early = await get(`${url}${FLEET_DIRECTORY_PATH}`).catch(() => undefined);
    for (let i = 0; early === undefined && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      early = await get(`${url}${FLEET_DIRECTORY_PATH}`).catch(() => undefined);
    }
    assert.ok(early !== undefined);
    assert.equal(early.status, 503);
    assert.equal(early.headers.get('retry-after'), '1');
    assert.equal(early.headers.get('content-type'), 'application/problem+json');
    assert.equal((JSON.parse(Buffer.from(await early.arrayBuffer()).toString()) as { code: string }).code, 'FLEET_DIRECTORY_UNAVAILABLE');
    assert.equal(server.current === undefined, true, "nothing assembled yet");

    release();
    assert.equal(await listening, url);
    const r = await get(`${url}${FLEET_DIRECTORY_PATH}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.headers.get('cache-control'), 'public, max-age=7');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const body = new Uint8Array(await r.arrayBuffer());
    assert.equal(r.headers.get('content-length'), String(body.length));
    const directory = parseFleetDirectory(body);
    assert.deepEqual(directory.nodes, [], 'the node answered 404: left out');
    assert.equal(directory.issued, '2026-12-07T22:00:00.000Z');
    const assembled = server.current;
    assert.deepEqual(assembled?.left.map((l) => [l.name, l.error.code]), [['node-0', 'FLEET_NODE_UNAVAILABLE']]);
  });

  it('HEAD answers the headers of GET without a body', async () => {
    const r = await get(`${url}${FLEET_DIRECTORY_PATH}`, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'public, max-age=7');
    assert.ok(Number(r.headers.get('content-length')) > 0);
    assert.equal((await r.arrayBuffer()).byteLength, 0);
  });

  for (const [why, path, method, status, code, allow] of [
    ['another path', '/.well-known/ohttp-gateway', 'GET', 404, 'NOT_FOUND', null],
    ['the path with a query', `${FLEET_DIRECTORY_PATH}?x=1`, 'GET', 404, 'NOT_FOUND', null],
    ['POST', FLEET_DIRECTORY_PATH, 'POST', 405, 'METHOD_NOT_ALLOWED', 'GET, HEAD'],
    ['DELETE', FLEET_DIRECTORY_PATH, 'DELETE', 405, 'METHOD_NOT_ALLOWED', 'GET, HEAD'],
  ] as const) {
    it(`answers ${why} with ${status} ${code}`, async () => {
      const r = await get(`${url}${path}`, method);
      assert.equal(r.status, status);
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      assert.equal(r.headers.get('allow'), allow);
      assert.equal((JSON.parse(Buffer.from(await r.arrayBuffer()).toString()) as { code: string }).code, code);
    });
  }

  it('logs the listed set once when it changes, and not at a round that changes nothing', async () => {
    const changes = (): number => lines.filter((l) => l.msg === 'fleet directory changed').length;
    assert.equal(changes(), 1);
    assert.deepEqual(lines.find((l) => l.msg === 'fleet directory changed')?.left?.map((l) => [l.name, l.code]), [['node-0', 'FLEET_NODE_UNAVAILABLE']]);
    await server.refresh();
    await server.refresh();
    assert.equal(changes(), 1);
  });
});
