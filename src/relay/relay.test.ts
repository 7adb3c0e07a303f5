// The relay between loopback clients and a fake gateway (node:https, self-signed certificate) that
// records every header, body and connection it sees: what crosses, what does not, pooling, caching,
// every error answer, and what the log may hold.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { FLEET_DIRECTORY_PATH } from '../../attestation/fleet/fleetDirectory.js';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { selfSignedCertificate } from '../testing/selfSignedCertificate.js';
import { cacheLifetimeSeconds, cacheRequestOf, forwardedCacheControl, PublicCache } from './cache.js';
import { sizeClass } from '../base/log.js';
import { createRelayLogger } from './relayLog.js';
import { DEFAULT_MAX_BODY_BYTES, startRelay, type Relay, type RelayOptions } from './relay.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  /** The gateway's view of the connection: the relay's local port. */
  readonly remotePort: number;
}

/** How the fake gateway answers the next requests. */
type Mode = 'normal' | 'hang' | 'huge' | 'huge-chunked' | 'drop-reused' | 'keys-unavailable';

interface FakeGateway {
  readonly origin: string;
  readonly seen: Seen[];
  mode: Mode;
  attestationCacheControl: string | undefined;
  /** Requests the gateway saw close before it answered (aborted by the relay). */
  aborted: number;
  readonly cert: { cert: string; key: string };
  close(): Promise<void>;
}

const KEYS = Buffer.from([0x00, 0x29, 0x01, 0x00, 0x20, ...randomBytes(32), 0x00, 0x04, 0x00, 0x01, 0x00, 0x01]);
const CERT_DER = randomBytes(300);
const FLEET_DIRECTORY = Buffer.from(`{"schema":"cloister-fleet/v1","issued":"2026-12-07T22:00:00.000Z","nodes":[],"marker":"${randomBytes(8).toString('hex')}"}`);
const RESPONSE_BODY = Buffer.concat([Buffer.from('RESPONSE-MARKER-'), randomBytes(700)]);

async function startFakeGateway(): Promise<FakeGateway> {
  const cert = await selfSignedCertificate();
  const sockets = new Set<Socket>();
  const gateway: FakeGateway = {
    origin: '',
    seen: [],
    mode: 'normal',
    attestationCacheControl: 'max-age=30',
    aborted: 0,
    cert,
    close: () => Promise.resolve(),
  };
  const server = https.createServer(cert, (req, res) => {
    const socket = req.socket;
    const reused = sockets.has(socket);
    sockets.add(socket);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      gateway.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks), remotePort: socket.remotePort ?? 0 });
      res.on('close', () => {
        if (!res.writableFinished) gateway.aborted += 1;
      });
      // Headers a careless relay would pass back to the client.
      const noise = { 'set-cookie': 'gw=tracker', server: 'fake-gateway', 'x-gateway-secret': 'gateway-internal', via: '1.1 gateway' };
      switch (gateway.mode) {
        case 'hang':
          return;
        case 'huge':
          res.writeHead(200, { 'content-type': 'message/ohttp-res' });
          res.end(Buffer.alloc(4096));
          return;
        case 'huge-chunked':
          res.writeHead(200, { 'content-type': 'message/ohttp-res' });
          for (let i = 0; i < 8; i += 1) res.write(Buffer.alloc(512));
          res.end();
          return;
        case 'drop-reused':
          if (reused) {
            socket.destroy();
            return;
          }
          break;
        case 'keys-unavailable':
          if (req.method === 'GET' && req.url === OHTTP_GATEWAY_PATH) {
            res.writeHead(503, { 'content-type': 'application/problem+json', 'cache-control': 'max-age=100', ...noise });
            res.end('{"code":"EVIDENCE_UNAVAILABLE"}');
            return;
          }
          break;
        case 'normal':
          break;
      }
      if (req.method === 'POST' && req.url === OHTTP_GATEWAY_PATH) {
        res.writeHead(200, { 'content-type': 'message/ohttp-res', 'cache-control': 'no-store', ...noise });
        res.end(RESPONSE_BODY);
      } else if (req.method === 'GET' && req.url === OHTTP_GATEWAY_PATH) {
        res.writeHead(200, { 'content-type': 'application/ohttp-keys', 'cache-control': 'public, max-age=1000', ...noise });
        res.end(KEYS);
      } else if (req.method === 'GET' && req.url === ATTESTATION_CERTIFICATE_PATH) {
        res.writeHead(200, { 'content-type': 'application/pkix-cert', ...(gateway.attestationCacheControl === undefined ? {} : { 'cache-control': gateway.attestationCacheControl }), ...noise });
        res.end(CERT_DER);
      } else if (req.method === 'GET' && req.url === FLEET_DIRECTORY_PATH) {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=10', ...noise });
        res.end(FLEET_DIRECTORY);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(gateway, {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  });
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The client's own port: what a careless relay would log or forward. */
  readonly clientPort: number;
}

const clientPorts: number[] = [];

/** One client: a new connection (its own source port) for each request. */
function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).request(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), clientPort: req.socket?.localPort ?? 0 });
      });
    });
    req.on('socket', (s) => {
      s.on('connect', () => clientPorts.push(s.localPort ?? 0));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const IDENTIFYING = {
  cookie: 'session=secret-cookie-value',
  authorization: 'Bearer secret-token-value',
  'user-agent': 'IdentifyingBrowser/1.0 (client-fingerprint)',
  'x-forwarded-for': '203.0.113.7',
  forwarded: 'for=203.0.113.7;proto=https',
  via: '1.1 client-proxy',
  'accept-language': 'fr-CH, de;q=0.8',
  'x-client-id': 'client-identifier-42',
  'x-real-ip': '198.51.100.9',
  referer: 'https://client.example/page',
} as const;

const requestBody = (n = 1000): Buffer => Buffer.concat([Buffer.from('BODY-MARKER-'), randomBytes(n - 12)]);

const post = (relay: Relay, body: Uint8Array, headers: Record<string, string> = {}, name = 'default'): Promise<Reply> =>
  send(`${relay.url}/${name}${OHTTP_GATEWAY_PATH}`, { method: 'POST', headers: { 'content-type': 'message/ohttp-req', ...IDENTIFYING, ...headers }, body });

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const logText: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logText.push(chunk.toString());
    done();
  },
});

let gateway: FakeGateway;
let relay: Relay;
let clock = 1_000_000;
const relays: Relay[] = [];

async function relayFor(options: Partial<RelayOptions> = {}): Promise<Relay> {
  const r = await startRelay({ gateways: [{ name: 'default', origin: gateway.origin }], port: 0, logger: createRelayLogger({ destination: logSink }), now: () => clock, ...options });
  relays.push(r);
  return r;
}

before(async () => {
  gateway = await startFakeGateway();
  relay = await relayFor({ gateways: [{ name: 'default', origin: gateway.origin }, { name: 'other-1', origin: gateway.origin }] });
});

after(async () => {
  for (const r of relays) await r.close();
  await gateway.close();
});

const problemOf = (r: Reply): { code: string; status: number } => {
  assert.equal(r.headers['content-type'], 'application/problem+json');
  return JSON.parse(r.body.toString()) as { code: string; status: number };
};

async function assertServing(r: Relay = relay): Promise<void> {
  gateway.mode = 'normal';
  const ok = await post(r, requestBody());
  assert.equal(ok.status, 200);
}

describe('relay: what crosses to the gateway', () => {
  it('forwards a request with only its body and media type; the body is byte-identical both ways', async () => {
    gateway.seen.length = 0;
    const body = requestBody(1000);
    const r = await post(relay, body);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(RESPONSE_BODY));
    const [seen] = gateway.seen;
    assert.ok(seen);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, OHTTP_GATEWAY_PATH);
    assert.ok(seen.body.equals(body));
    assert.deepEqual(Object.keys(seen.headers).sort(), ['connection', 'content-length', 'content-type', 'host']);
    assert.equal(seen.headers['content-type'], 'message/ohttp-req');
    assert.equal(seen.headers['content-length'], '1000');
    assert.equal(seen.headers.host, new URL(gateway.origin).host);
    assert.equal(seen.headers.connection, 'keep-alive');
    const raw = seen.rawHeaders.join('\n').toLowerCase();
    for (const [name, value] of Object.entries(IDENTIFYING)) {
      assert.ok(!raw.includes(name), `the gateway saw ${name}`);
      assert.ok(!raw.includes(value.toLowerCase()), `the gateway saw the value of ${name}`);
    }
    for (const name of ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'via', 'x-real-ip']) assert.equal(seen.headers[name], undefined);
    assert.ok(!raw.includes(String(r.clientPort)), 'the gateway saw the client port');
  });

  it('passes back the status, body and content-type only; every other gateway header is dropped (the relay adds only its CORS header)', async () => {
    const r = await post(relay, requestBody());
    assert.equal(r.headers['content-type'], 'message/ohttp-res');
    assert.equal(r.headers['content-length'], String(RESPONSE_BODY.length));
    for (const name of Object.keys(r.headers)) assert.ok(['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'access-control-allow-origin'].includes(name), `unexpected header ${name}`);
  });

  it('relays for each configured name, and accepts parameters on the media type', async () => {
    gateway.seen.length = 0;
    const r = await post(relay, requestBody(), { 'content-type': 'Message/OHTTP-req; x=1' }, 'other-1');
    assert.equal(r.status, 200);
    assert.equal(gateway.seen[0]?.headers['content-type'], 'message/ohttp-req');
  });

  it('sends the requests of different clients over one pooled gateway connection', async () => {
    gateway.seen.length = 0;
    const a = await post(relay, requestBody(), { 'x-client-id': 'alice' });
    const b = await post(relay, requestBody(), { 'x-client-id': 'bob' });
    assert.notEqual(a.clientPort, b.clientPort, 'two clients, two connections to the relay');
    const [first, second] = gateway.seen;
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(first.remotePort, second.remotePort, 'one connection to the gateway');
  });

  it('sends a GET again once when a pooled connection turns out closed; a POST becomes 502', async () => {
    const g = await startFakeGateway();
    const r = await relayFor({ gateways: [{ name: 'default', origin: g.origin }] });
    assert.equal((await post(r, requestBody())).status, 200);
    g.mode = 'drop-reused';
    const keys = await send(`${r.url}/default${OHTTP_GATEWAY_PATH}`);
    assert.equal(keys.status, 200);
    assert.ok(keys.body.equals(KEYS));
    assert.equal(g.seen.filter((x) => x.method === 'GET').length, 2, 'dropped, then sent again');
    const failed = await post(r, requestBody());
    assert.equal(failed.status, 502);
    assert.equal(problemOf(failed).code, 'BAD_GATEWAY');
    assert.equal(g.seen.filter((x) => x.method === 'POST').length, 2, 'a POST is not sent twice');
    await g.close();
  });
});

describe('relay: key configurations and attestation, the same for everyone', () => {
  it('fetches the key configurations once for many clients, with only accept, and copies content-type, and cache-control with max-age capped at 300 s', async () => {
    const r = await relayFor();
    gateway.seen.length = 0;
    const url = `${r.url}/default${OHTTP_GATEWAY_PATH}`;
    const [a, b] = await Promise.all([send(url, { headers: IDENTIFYING }), send(url, { headers: { 'user-agent': 'other' } })]);
    const c = await send(url);
    for (const x of [a, b, c]) {
      assert.equal(x.status, 200);
      assert.ok(x.body.equals(KEYS));
      assert.equal(x.headers['content-type'], 'application/ohttp-keys');
      assert.equal(x.headers['cache-control'], 'public, max-age=300', 'the gateway said 1000');
      assert.equal(x.headers['set-cookie'], undefined);
      assert.equal(x.headers.server, undefined);
    }
    assert.equal(gateway.seen.length, 1);
    const [seen] = gateway.seen;
    assert.ok(seen);
    assert.equal(seen.method, 'GET');
    assert.deepEqual(Object.keys(seen.headers).sort(), ['accept', 'connection', 'host']);
    assert.equal(seen.headers.accept, 'application/ohttp-keys');
  });

  it('keeps them for max-age capped at 300 s', async () => {
    const r = await relayFor();
    gateway.seen.length = 0;
    const url = `${r.url}/default${OHTTP_GATEWAY_PATH}`;
    await send(url);
    clock += 299_000;
    await send(url);
    assert.equal(gateway.seen.length, 1);
    clock += 2_000;
    await send(url);
    assert.equal(gateway.seen.length, 2);
  });

  it('passes on the max-age its copy has left, so no cache after it keeps the answer longer than the gateway meant', async () => {
    const r = await relayFor();
    const url = `${r.url}/default${OHTTP_GATEWAY_PATH}`;
    assert.equal((await send(url)).headers['cache-control'], 'public, max-age=300');
    clock += 100_999;
    assert.equal((await send(url)).headers['cache-control'], 'public, max-age=200');
    gateway.attestationCacheControl = 'public, max-age=30, s-maxage=600';
    try {
      const certificate = `${r.url}/default${ATTESTATION_CERTIFICATE_PATH}`;
      await send(certificate);
      clock += 40_000;
      assert.equal((await send(certificate)).headers['cache-control'], 'public, max-age=0, s-maxage=260');
    } finally {
      gateway.attestationCacheControl = 'max-age=30';
    }
  });

  it('goes to the gateway for a client that says no-cache, no-store or max-age=0, and keeps the fresh answer unless no-store', async () => {
    const r = await relayFor();
    gateway.seen.length = 0;
    const url = `${r.url}/default${OHTTP_GATEWAY_PATH}`;
    await send(url);
    clock += 100_000;
    const reloaded = await send(url, { headers: { 'cache-control': 'no-cache' } });
    assert.equal(reloaded.status, 200);
    assert.ok(reloaded.body.equals(KEYS));
    assert.equal(gateway.seen.length, 2);
    assert.deepEqual(Object.keys(gateway.seen[1]?.headers ?? {}).sort(), ['accept', 'connection', 'host'], 'the client header goes no further');
    assert.equal((await send(url)).headers['cache-control'], 'public, max-age=300', 'the fresh answer replaced the stored one');
    clock += 10_000;
    await send(url, { headers: { 'cache-control': 'no-store' } });
    assert.equal(gateway.seen.length, 3);
    assert.equal((await send(url)).headers['cache-control'], 'public, max-age=290', 'no-store: the stored copy stays');
    await send(url, { headers: { 'cache-control': 'max-age=0' } });
    assert.equal(gateway.seen.length, 4);
    await send(url, { headers: { 'cache-control': 'max-age=10' } });
    assert.equal(gateway.seen.length, 4);
  });

  it('serves the attestation certificate the same way, for the default 60 s without cache-control, not at all with no-store', async () => {
    const r = await relayFor();
    gateway.seen.length = 0;
    const url = `${r.url}/default${ATTESTATION_CERTIFICATE_PATH}`;
    gateway.attestationCacheControl = undefined;
    const a = await send(url, { headers: IDENTIFYING });
    assert.equal(a.status, 200);
    assert.ok(a.body.equals(CERT_DER));
    assert.equal(a.headers['content-type'], 'application/pkix-cert');
    assert.equal(a.headers['cache-control'], undefined);
    assert.deepEqual(Object.keys(gateway.seen[0]?.headers ?? {}).sort(), ['connection', 'host']);
    clock += 59_000;
    await send(url);
    assert.equal(gateway.seen.length, 1);
    clock += 2_000;
    gateway.attestationCacheControl = 'no-store';
    await send(url);
    const last = await send(url);
    assert.equal(last.headers['cache-control'], 'no-store');
    assert.equal(gateway.seen.length, 3);
    gateway.attestationCacheControl = 'max-age=30';
  });

  it('mirrors a fleet gateway\'s directory: asked for with only accept: application/json, one copy per max-age for every client, no-cache included', async () => {
    const r = await relayFor();
    gateway.seen.length = 0;
    const url = `${r.url}/default${FLEET_DIRECTORY_PATH}`;
    const a = await send(url, { headers: IDENTIFYING });
    assert.equal(a.status, 200);
    assert.ok(a.body.equals(FLEET_DIRECTORY));
    assert.equal(a.headers['content-type'], 'application/json');
    assert.equal(a.headers['cache-control'], 'public, max-age=10');
    assert.equal(a.headers['set-cookie'], undefined);
    assert.deepEqual(gateway.seen.map((s) => [s.method, s.url]), [['GET', FLEET_DIRECTORY_PATH]]);
    assert.deepEqual(Object.keys(gateway.seen[0]?.headers ?? {}).sort(), ['accept', 'connection', 'host']);
    assert.equal(gateway.seen[0]?.headers.accept, 'application/json');
    clock += 4_000;
    const b = await send(url, { headers: IDENTIFYING });
    assert.ok(b.body.equals(FLEET_DIRECTORY));
    assert.equal(b.headers['cache-control'], 'public, max-age=6', 'the max-age its copy has left');
    assert.equal(gateway.seen.length, 1, 'one fetch for both clients');
    const c = await send(url, { headers: { 'cache-control': 'no-cache' } });
    assert.ok(c.body.equals(FLEET_DIRECTORY));
    assert.equal(gateway.seen.length, 1, 'no-cache does not reach the gateway: one client cannot make the relay take a copy meant for it');
    clock += 7_000;
    await send(url);
    assert.equal(gateway.seen.length, 2, 'refetched once max-age passed');
    // The key configurations are cached apart: the directory's copy is not served for them.
    const keys = await send(`${r.url}/default${OHTTP_GATEWAY_PATH}`);
    assert.ok(keys.body.equals(KEYS));
  });

  it('passes a gateway error on without keeping it', async () => {
    const r = await relayFor();
    gateway.mode = 'keys-unavailable';
    gateway.seen.length = 0;
    const url = `${r.url}/default${OHTTP_GATEWAY_PATH}`;
    const a = await send(url);
    assert.equal(a.status, 503);
    assert.equal(a.headers['content-type'], 'application/problem+json');
    assert.equal(a.headers['set-cookie'], undefined);
    gateway.mode = 'normal';
    const b = await send(url);
    assert.equal(b.status, 200);
    assert.equal(gateway.seen.length, 2);
  });
});

describe('relay: error answers, all application/problem+json', () => {
  const cases: readonly [string, () => Promise<Reply>, number, string][] = [
    ['an unknown gateway name', () => post(relay, requestBody(), {}, 'nobody'), 404, 'NOT_FOUND'],
    ['an unknown path', () => send(`${relay.url}/default/.well-known/other`), 404, 'NOT_FOUND'],
    ['a query string', () => send(`${relay.url}/default${OHTTP_GATEWAY_PATH}?x=1`), 404, 'NOT_FOUND'],
    ['a trailing slash', () => send(`${relay.url}/default${OHTTP_GATEWAY_PATH}/`), 404, 'NOT_FOUND'],
    ['the root', () => send(`${relay.url}/`), 404, 'NOT_FOUND'],
    ['a name alone', () => send(`${relay.url}/default`), 404, 'NOT_FOUND'],
    ['an inherited property name', () => send(`${relay.url}/__proto__${OHTTP_GATEWAY_PATH}`), 404, 'NOT_FOUND'],
    ['PUT on the gateway resource', () => send(`${relay.url}/default${OHTTP_GATEWAY_PATH}`, { method: 'PUT', body: requestBody() }), 405, 'METHOD_NOT_ALLOWED'],
    ['POST on the fleet directory', () => send(`${relay.url}/default${FLEET_DIRECTORY_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') }), 405, 'METHOD_NOT_ALLOWED'],
    ['POST on the attestation resource', () => send(`${relay.url}/default${ATTESTATION_CERTIFICATE_PATH}`, { method: 'POST', headers: { 'content-type': 'message/ohttp-req' }, body: requestBody() }), 405, 'METHOD_NOT_ALLOWED'],
    ['POST without message/ohttp-req', () => post(relay, requestBody(), { 'content-type': 'application/json' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['POST without content-type', () => send(`${relay.url}/default${OHTTP_GATEWAY_PATH}`, { method: 'POST', body: requestBody() }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ];
  for (const [what, request, status, code] of cases) {
    it(`answers ${status} ${code} to ${what} and keeps serving`, async () => {
      gateway.seen.length = 0;
      const r = await request();
      assert.equal(r.status, status);
      const p = problemOf(r);
      assert.equal(p.code, code);
      assert.equal(p.status, status);
      assert.equal(gateway.seen.length, 0, 'nothing reached the gateway');
      await assertServing();
    });
  }

  it('lets browsers call it: CORS preflight for its resources, and access-control-allow-origin on every answer', async () => {
    const pre = await send(`${relay.url}/default${OHTTP_GATEWAY_PATH}`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET, POST');
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type, cache-control', 'a client refetching keys says no-cache');
    const r = await post(relay, requestBody(), { origin: 'https://app.example' });
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal((await send(`${relay.url}/nowhere`)).headers['access-control-allow-origin'], '*');
  });

  it('names the allowed methods in 405', async () => {
    const a = await send(`${relay.url}/default${OHTTP_GATEWAY_PATH}`, { method: 'DELETE' });
    assert.equal(a.status, 405);
    assert.equal(a.headers.allow, 'GET, POST');
    const b = await send(`${relay.url}/default${ATTESTATION_CERTIFICATE_PATH}`, { method: 'PUT' });
    assert.equal(b.headers.allow, 'GET');
    const c = await send(`${relay.url}/default${FLEET_DIRECTORY_PATH}`, { method: 'POST' });
    assert.equal(c.status, 405);
    assert.equal(c.headers.allow, 'GET');
    assert.equal(problemOf(c).code, 'METHOD_NOT_ALLOWED');
  });

  it('answers 413 to a declared length over --max-body without waiting for it, and closes when the client stays silent', async () => {
    const r = await relayFor({ maxBodyBytes: 1000, lingerMs: 200 });
    gateway.seen.length = 0;
    const req = http.request(`${r.url}/default${OHTTP_GATEWAY_PATH}`, { method: 'POST', agent: false, headers: { 'content-type': 'message/ohttp-req', 'content-length': String(10 << 20) } });
    const closed = new Promise<void>((done) => {
      req.on('socket', (socket) => {
        socket.once('close', () => {
          done();
        });
      });
    });
    const reply = await new Promise<Reply>((resolve, reject) => {
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), clientPort: 0 });
        });
      });
      // Only the headers go out: the body the relay refuses is never sent.
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(reply.status, 413);
    assert.equal(problemOf(reply).code, 'PAYLOAD_TOO_LARGE');
    assert.equal(reply.headers.connection, 'close');
    await closed;
    assert.equal(gateway.seen.length, 0);
    await assertServing(r);
  });

  it('keeps reading an oversized body after its 413, so a client still sending sees no reset (the lingering close)', async () => {
    const r = await relayFor({ maxBodyBytes: 1000 });
    gateway.seen.length = 0;
    const size = 8 << 20;
    // Half-open, as a client that keeps sending after the relay's FIN (undici does): only a reset stops it.
    const socket = net.connect({ port: Number(new URL(r.url).port), host: '127.0.0.1', allowHalfOpen: true });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let answer = '';
    let failure: Error | undefined;
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.on('error', (e) => (failure = e));
    const closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        resolve();
      });
    });
    socket.write(`POST /default${OHTTP_GATEWAY_PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: message/ohttp-req\r\ncontent-length: ${size}\r\n\r\n`);
    // The relay answers from the headers alone; the body goes out only after the answer has come back,
    // as from a client that does not look at the answer before it has sent everything.
    while (!answer.includes('\r\n\r\n') && failure === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    const chunk = Buffer.alloc(1 << 20);
    for (let sent = 0; sent < size && failure === undefined && !socket.destroyed; sent += chunk.length) {
      if (!socket.write(chunk)) await new Promise<void>((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); });
    }
    socket.end();
    await closed;
    assert.equal(failure, undefined, `the relay reset the connection under the client's body: ${failure?.message ?? ''}`);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.equal(gateway.seen.length, 0);
    await assertServing(r);
  });

  it('does not read a lingering client for ever: one that keeps sending after the 413 is cut off', async () => {
    const r = await relayFor({ maxBodyBytes: 1000, lingerMs: 60_000 });
    const socket = net.connect({ port: Number(new URL(r.url).port), host: '127.0.0.1', allowHalfOpen: true });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`POST /default${OHTTP_GATEWAY_PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: message/ohttp-req\r\ntransfer-encoding: chunked\r\n\r\n`);
    socket.on('error', () => undefined);
    socket.resume();
    const closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        resolve();
      });
    });
    const chunk = Buffer.alloc(1 << 20, 0x61);
    let sent = 0;
    while (!socket.destroyed && sent < 64 << 20) {
      const ok = socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n');
      sent += chunk.length;
      if (!ok) await new Promise<void>((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); });
    }
    await closed;
    assert.ok(sent < 64 << 20, `the relay read ${sent} bytes without cutting the connection`);
    await assertServing(r);
  });

  it('answers 413 to a chunked body that grows over --max-body, at exactly one byte over', async () => {
    const r = await relayFor({ maxBodyBytes: 1000 });
    assert.equal((await post(r, requestBody(1000), { 'transfer-encoding': 'chunked' })).status, 200);
    gateway.seen.length = 0;
    const reply = await post(r, requestBody(1001), { 'transfer-encoding': 'chunked' });
    assert.equal(reply.status, 413);
    assert.equal(problemOf(reply).code, 'PAYLOAD_TOO_LARGE');
    assert.equal(gateway.seen.length, 0);
    assert.equal((await post(r, requestBody(1001))).status, 413);
    await assertServing(r);
    assert.equal(DEFAULT_MAX_BODY_BYTES, 1_114_112);
  });

  it('answers 502 when the gateway cannot be reached, for requests and key configurations', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => {
      resolve();
    }));
    const r = await relayFor({ gateways: [{ name: 'gone', origin: `http://127.0.0.1:${port}` }, { name: 'default', origin: gateway.origin }] });
    const a = await post(r, requestBody(), {}, 'gone');
    assert.equal(a.status, 502);
    assert.equal(problemOf(a).code, 'BAD_GATEWAY');
    const b = await send(`${r.url}/gone${OHTTP_GATEWAY_PATH}`);
    assert.equal(b.status, 502);
    assert.doesNotMatch(b.body.toString(), /ECONNREFUSED/, 'the client learns nothing about the relay side');
    await assertServing(r);
  });

  it('answers 502 when the gateway answer is larger than the relay passes on', async () => {
    const r = await relayFor({ maxResponseBytes: 1024 });
    for (const mode of ['huge', 'huge-chunked'] as const) {
      gateway.mode = mode;
      const a = await post(r, requestBody());
      assert.equal(a.status, 502, mode);
      assert.equal(problemOf(a).code, 'BAD_GATEWAY');
    }
    await assertServing(r);
  });

  it('answers 504 when the gateway does not answer in time, and closes that gateway request', async () => {
    const r = await relayFor({ timeoutMs: 150 });
    gateway.mode = 'hang';
    const abortedBefore = gateway.aborted;
    const a = await post(r, requestBody());
    assert.equal(a.status, 504);
    assert.equal(problemOf(a).code, 'GATEWAY_TIMEOUT');
    assert.match((JSON.parse(a.body.toString()) as { detail: string }).detail, /within 0\.15 s/);
    await eventually(() => gateway.aborted > abortedBefore, 'the gateway request to close');
    const b = await send(`${r.url}/default${ATTESTATION_CERTIFICATE_PATH}`);
    assert.equal(b.status, 504);
    await assertServing(r);
  });
});

describe('relay: clients that go away', () => {
  it('survives a client that disconnects in the middle of its body', async () => {
    const before = logText.length;
    const req = http.request(`${relay.url}/default${OHTTP_GATEWAY_PATH}`, { method: 'POST', agent: false, headers: { 'content-type': 'message/ohttp-req', 'content-length': '1000' } });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(100, 1));
    await new Promise((r) => setTimeout(r, 50));
    req.destroy();
    await eventually(() => logText.slice(before).some((l) => l.includes('"aborted":true')), 'the aborted request in the log');
    await assertServing();
  });

  it('abandons the gateway request of a client that disconnects while waiting for the answer', async () => {
    gateway.mode = 'hang';
    gateway.seen.length = 0;
    const abortedBefore = gateway.aborted;
    const req = http.request(`${relay.url}/default${OHTTP_GATEWAY_PATH}`, { method: 'POST', agent: false, headers: { 'content-type': 'message/ohttp-req' } });
    req.on('error', () => undefined);
    req.end(requestBody());
    await eventually(() => gateway.seen.length === 1, 'the request at the gateway');
    req.destroy();
    await eventually(() => gateway.aborted > abortedBefore, 'the gateway request to close');
    await assertServing();
  });

  it('survives a client that disconnects while the key configurations are fetched', async () => {
    const r = await relayFor({ timeoutMs: 300 });
    gateway.mode = 'hang';
    gateway.seen.length = 0;
    const req = http.request(`${r.url}/default${OHTTP_GATEWAY_PATH}`, { agent: false });
    req.on('error', () => undefined);
    req.end();
    await eventually(() => gateway.seen.length === 1, 'the fetch at the gateway');
    req.destroy();
    await eventually(() => logText.some((l) => l.includes('"kind":"keys","status":504')), 'the fetch to time out');
    await assertServing(r);
  });
});

describe('relay: serving HTTPS', () => {
  it('serves HTTPS with --tls-cert/--tls-key material', async () => {
    const r = await relayFor({ tls: gateway.cert });
    assert.match(r.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await post(r, requestBody())).status, 200);
  });

  it('refuses bad gateway lists and a busy port', async () => {
    await assert.rejects(startRelay({ gateways: [{ name: 'Bad', origin: gateway.origin }] }), RangeError);
    await assert.rejects(startRelay({ gateways: [{ name: 'a', origin: gateway.origin }, { name: 'a', origin: gateway.origin }] }), RangeError);
    const port = Number(new URL(relay.url).port);
    await assert.rejects(startRelay({ gateways: [{ name: 'a', origin: gateway.origin }], port, logger: createRelayLogger({ destination: logSink }) }), /EADDRINUSE/);
  });
});

describe('relay: the log', () => {
  const ALLOWED = ['level', 'time', 'service', 'msg', 'gateway', 'kind', 'status', 'ms', 'bytes', 'cached', 'error', 'aborted'];

  it('holds only allowlisted fields: no client address or port, header value, path or body byte', () => {
    const text = logText.join('');
    assert.ok(logText.length > 20, 'the tests above logged');
    assert.doesNotMatch(text, /127\.0\.0\.1/);
    for (const value of [...Object.values(IDENTIFYING), 'BODY-MARKER', 'RESPONSE-MARKER', 'alice', 'bob', 'nobody', 'well-known', 'x=1', 'gateway-internal', 'tracker']) assert.ok(!text.includes(value), `the log holds "${value}"`);
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const ports = new Set(clientPorts);
    for (const line of lines) {
      for (const [key, value] of Object.entries(line)) {
        assert.ok(ALLOWED.includes(key), `unexpected log field ${key}`);
        if (key !== 'bytes' && key !== 'ms' && key !== 'status') assert.ok(!(typeof value === 'number' && ports.has(value)), `a client port in ${key}`);
      }
      if (line.gateway !== undefined) assert.ok(['default', 'other-1', 'gone'].includes(line.gateway as string));
      if (typeof line.bytes === 'number') assert.equal(line.bytes & (line.bytes - 1), 0, 'bytes is a power of two');
    }
    assert.ok(lines.some((l) => l.kind === 'request' && l.status === 200 && l.bytes === 1024));
    assert.ok(lines.some((l) => l.kind === 'keys' && l.cached === true));
    assert.ok(lines.some((l) => l.status === 502 && l.error === 'ECONNREFUSED'));
    assert.ok(lines.some((l) => l.status === 504 && l.error === 'timeout'));
    assert.ok(lines.some((l) => l.status === 404 && l.gateway === undefined));
  });
});

describe('relay: parts', () => {
  it('rounds sizes up to a power of two', () => {
    assert.deepEqual([0, 1, 2, 3, 1000, 1024, 1025].map(sizeClass), [0, 1, 2, 4, 1024, 1024, 2048]);
  });

  for (const [header, seconds] of [
    [undefined, 60],
    ['', 60],
    ['public', 60],
    ['max-age=10', 10],
    ['max-age="10"', 10],
    ['Max-Age=100000', 300],
    ['max-age=10, s-maxage=20', 20],
    ['max-age=0', 0],
    ['max-age', 0],
    ['max-age=ten', 0],
    ['no-store', 0],
    ['no-cache, max-age=10', 0],
    ['private, max-age=10', 0],
  ] as const) {
    it(`keeps an answer with cache-control ${JSON.stringify(header)} for ${seconds} s`, () => {
      assert.equal(cacheLifetimeSeconds(header), seconds);
    });
  }

  it('shares one fetch among concurrent callers and forgets a failed one', async () => {
    let now = 0;
    let fetches = 0;
    const cache = new PublicCache<number>(
      () => now,
      () => 1000,
    );
    const fetch = async (): Promise<number> => {
      fetches += 1;
      await new Promise((r) => setTimeout(r, 5));
      return fetches;
    };
    const [a, b] = await Promise.all([cache.get('k', fetch), cache.get('k', fetch)]);
    assert.deepEqual([a, b], [{ value: 1, cached: false, ageMs: 0 }, { value: 1, cached: true, ageMs: 0 }]);
    now = 1000;
    assert.deepEqual(await cache.get('k', fetch), { value: 2, cached: false, ageMs: 0 });
    await assert.rejects(cache.get('x', () => Promise.reject(new Error('down'))), /down/);
    assert.deepEqual(await cache.get('x', fetch), { value: 3, cached: false, ageMs: 0 });
    now = 1400;
    assert.deepEqual(await cache.get('k', fetch), { value: 2, cached: true, ageMs: 400 });
  });

  it('lets a reload pass a fetch in flight, keeps the newer answer whichever ends first, and drops the stored copy for a newer one it may not keep', async () => {
    const now = 0;
    const cache = new PublicCache<{ n: number; keep: boolean }>(
      () => now,
      (v) => (v.keep ? 1000 : 0),
    );
    const reload = { reload: true, store: true };
    let release = (): void => undefined;
    const slow = cache.get(
      'k',
      () =>
        new Promise((resolve) => {
          release = () => {
            resolve({ n: 1, keep: true });
          };
        }),
    );
    assert.deepEqual((await cache.get('k', () => Promise.resolve({ n: 2, keep: true }), reload)).value, { n: 2, keep: true });
    release();
    assert.equal((await slow).value.n, 1);
    assert.deepEqual(await cache.get('k', () => Promise.resolve({ n: 3, keep: true })), { value: { n: 2, keep: true }, cached: true, ageMs: 0 }, 'the older answer, arriving last, did not replace the newer');
    await cache.get('k', () => Promise.resolve({ n: 4, keep: true }), { reload: true, store: false });
    assert.equal((await cache.get('k', () => Promise.resolve({ n: 5, keep: true }))).value.n, 2, 'no-store left the stored copy alone');
    await cache.get('k', () => Promise.resolve({ n: 6, keep: false }), reload);
    assert.equal((await cache.get('k', () => Promise.resolve({ n: 7, keep: true }))).value.n, 7, 'a newer answer that may not be kept dropped the stored copy');
  });

  it('gives concurrent reloads one fetch and so one answer (the clients a key retirement sends back together), no-store ones too', async () => {
    let fetches = 0;
    const cache = new PublicCache<number>(
      () => 0,
      () => 1000,
    );
    await cache.get('k', () => Promise.resolve(0));
    const fetch = async (): Promise<number> => {
      fetches += 1;
      await new Promise((r) => setTimeout(r, 5));
      return fetches;
    };
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => cache.get('k', fetch, { reload: true, store: i % 3 !== 1 })));
    assert.equal(fetches, 1, 'one gateway fetch for ten reloads');
    assert.deepEqual(new Set(answers.map((a) => a.value)), new Set([1]));
    assert.equal((await cache.get('k', fetch)).value, 1, 'the first reload stored its answer');
  });

  for (const [header, age, forwarded] of [
    [undefined, 10, undefined],
    ['no-store', 10, 'no-store'],
    ['public, max-age=60', 0, 'public, max-age=60'],
    ['public, max-age=60', 15, 'public, max-age=45'],
    ['public, max-age=60', 90, 'public, max-age=0'],
    ['public, Max-Age=99999, immutable', 0, 'public, max-age=300, immutable'],
    ['max-age=99999, s-maxage=99999', 100, 'max-age=200, s-maxage=200'],
    ['max-age="10"', 0, 'max-age=10'],
    ['max-age=ten', 0, 'max-age=0'],
    ['public', 30, 'public'],
  ] as const) {
    it(`passes on cache-control ${JSON.stringify(header)} of a ${age} s old copy as ${JSON.stringify(forwarded)}`, () => {
      assert.equal(forwardedCacheControl(header, age), forwarded);
    });
  }

  for (const [header, reload, store] of [
    [undefined, false, true],
    ['max-age=10', false, true],
    ['no-cache', true, true],
    ['No-Cache', true, true],
    ['max-age=0', true, true],
    ['no-store', true, false],
    ['max-age=0, no-store', true, false],
  ] as const) {
    it(`reads a request's cache-control ${JSON.stringify(header)}: ${reload ? 'from the gateway' : 'a stored copy will do'}${store ? '' : ', not kept'}`, () => {
      assert.deepEqual(cacheRequestOf(header), { reload, store });
    });
  }
});
