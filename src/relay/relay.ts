// The Oblivious HTTP relay (RFC 9458 sections 4 and 6.2): it sees who the clients are but not what they
// ask; the gateway sees what is asked but not by whom. For each allowed gateway NAME it mirrors the
// gateway's resources under /NAME:
//
//   POST /NAME/.well-known/ohttp-gateway       message/ohttp-req -> the gateway, answer back
//   GET  /NAME/.well-known/ohttp-gateway       key configurations (application/ohttp-keys), cached
//   GET  /NAME/.well-known/cloister/attestation RA-TLS certificate (application/pkix-cert), cached
//   GET  /NAME/.well-known/cloister/fleet       a fleet's directory (application/json), cached: clients compare it
//                                               with the one they fetch directly (docs/fleet.md)
//
// Nothing from the client crosses to the gateway but the body and its media type, and nothing from the
// gateway comes back but status, body, content-type (and, for the cached resources, cache-control with
// its lifetimes capped and reduced by the age of the relay's copy). A client's no-cache on a cached
// resource sends the relay to the gateway: it costs the gateway no more than a request does.
// node:http directly, not fastify: no framework logs requests, addresses or headers on its own.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { mediaType } from '../../attestation/protocols/httpText.js';
import { FLEET_DIRECTORY_MEDIA_TYPE, FLEET_DIRECTORY_PATH } from '../../attestation/fleet/fleetDirectory.js';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH, OHTTP_KEYS_MEDIA_TYPE, OHTTP_REQUEST_MEDIA_TYPE } from '../../attestation/protocols/ohttp/paths.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { PROBLEMS, writeProblem } from '../base/problems.js';
import { cacheLifetimeSeconds, cacheRequestOf, forwardedCacheControl, PublicCache, type CacheRequest, type Cached } from './cache.js';
import { createGatewayPool, forward, GatewayError, type GatewayResponse } from './forward.js';
import { errorFields, sizeClass } from '../base/log.js';
import { createRelayLogger, logExchange, type RelayKind, type RelayLogEntry } from './relayLog.js';

/** 1 MiB of payload plus 64 KiB for the encapsulation and Binary HTTP framing around it. */
export const DEFAULT_MAX_BODY_BYTES = 1_114_112;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_PORT = 8081;
export const DEFAULT_MAX_RESPONSE_BYTES = 16 << 20;
export const GATEWAY_NAME = /^[a-z0-9-]+$/;

export interface RelayGateway {
  /** The path segment clients use: [a-z0-9-]+. */
  readonly name: string;
  /** http(s)://HOST[:PORT], no path. */
  readonly origin: string;
}

export interface RelayOptions {
  readonly gateways: readonly RelayGateway[];
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8081; 0 picks a free port. */
  readonly port?: number;
  readonly maxBodyBytes?: number;
  /** After a 413, how long the relay keeps reading what the client still sends before closing (default 5000). */
  readonly lingerMs?: number;
  /** For the whole gateway exchange, from connecting to the last byte of the answer. */
  readonly timeoutMs?: number;
  /** The largest gateway answer passed on; larger ones are 502. */
  readonly maxResponseBytes?: number;
  /** PEM; serve HTTPS instead of HTTP. */
  readonly tls?: { readonly cert: string | Uint8Array; readonly key: string | Uint8Array };
  readonly logger?: Logger;
  /** Milliseconds, for the cache lifetimes. */
  readonly now?: () => number;
}

export interface Relay {
  readonly url: string;
  close(): Promise<void>;
}

type Resource = 'gateway' | 'attestation' | 'fleet';

const ALLOWED_METHODS: Readonly<Record<Resource, string>> = { gateway: 'GET, POST', attestation: 'GET', fleet: 'GET' };

/** What the relay fetches for each cached resource. */
const PUBLIC_RESOURCES: Readonly<Record<Exclude<RelayKind, 'request'>, { readonly path: string; readonly headers: Readonly<Record<string, string>> }>> = {
  keys: { path: OHTTP_GATEWAY_PATH, headers: { accept: OHTTP_KEYS_MEDIA_TYPE } },
  attestation: { path: ATTESTATION_CERTIFICATE_PATH, headers: {} },
  fleet: { path: FLEET_DIRECTORY_PATH, headers: { accept: FLEET_DIRECTORY_MEDIA_TYPE } },
};

// Control flow inside this module: the client went away (nothing more to answer), or its body is over the limit.
class ClientGone extends RuntimeError {
  constructor(what: string, cause?: unknown) {
    super('CLIENT_GONE', `the client went away ${what}`, cause === undefined ? {} : { cause });
  }
}
class BodyTooLarge extends RuntimeError {
  constructor(max: number, size: number) {
    super('REQUEST_TOO_LARGE', `the request body of ${size} bytes or more exceeds ${max} bytes`, { expected: `at most ${max} bytes`, actual: String(size) });
  }
}

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const gateways = new Map<string, URL>();
  for (const g of options.gateways) {
    if (!GATEWAY_NAME.test(g.name)) throw new RangeError(`gateway name "${g.name}" is not [a-z0-9-]+`);
    if (gateways.has(g.name)) throw new RangeError(`gateway name "${g.name}" is given twice`);
    gateways.set(g.name, new URL(g.origin));
  }
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const logger = options.logger ?? createRelayLogger();
  const pool = createGatewayPool();
  const cache = new PublicCache<GatewayResponse>(options.now ?? Date.now, (r) => (r.status === 200 ? cacheLifetimeSeconds(r.cacheControl) * 1000 : 0));

  const fetchPublic = (name: string, origin: URL, kind: Exclude<RelayKind, 'request'>, request: CacheRequest): Promise<Cached<GatewayResponse>> =>
    cache.get(
      `${name} ${kind}`,
      () =>
        forward(pool, {
          method: 'GET',
          url: new URL(PUBLIC_RESOURCES[kind].path, origin),
          headers: PUBLIC_RESOURCES[kind].headers,
          timeoutMs,
          maxResponseBytes,
        }),
      request,
    );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const log = (entry: Omit<RelayLogEntry, 'ms'>): void => {
      logExchange(logger, { ...entry, ms: Math.round(performance.now() - started) });
    };
    // Browsers may call the relay from any page (CORS); nothing is credentialed, and the Origin header,
    // like every other client header, goes no further.
    res.setHeader('access-control-allow-origin', '*');
    const route = routeOf(req.url ?? '');
    const origin = route === undefined ? undefined : gateways.get(route.name);
    if (route === undefined || origin === undefined) {
      writeProblem(res, 'NOT_FOUND', 'the relay serves /NAME/.well-known/ohttp-gateway, /NAME/.well-known/cloister/attestation and /NAME/.well-known/cloister/fleet for the gateways it allows');
      log({ status: 404 });
      return;
    }
    const { name, resource } = route;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': ALLOWED_METHODS[resource], 'access-control-allow-headers': 'content-type, cache-control', 'access-control-max-age': '600' });
      res.end();
      log({ gateway: name, status: 204 });
      return;
    }
    const kind = kindOf(resource, req.method);
    if (kind === undefined) {
      writeProblem(res, 'METHOD_NOT_ALLOWED', resource === 'gateway' ? 'POST an encapsulated request, or GET the key configurations' : resource === 'fleet' ? 'GET the fleet directory' : 'GET the attestation certificate', { allow: ALLOWED_METHODS[resource] });
      log({ gateway: name, status: 405 });
      return;
    }
    let outcome: { status: number; bytes?: number; cached?: boolean };
    try {
      if (kind === 'request') outcome = await relayRequest(origin, req, res);
      else {
        // The fleet directory is what every client of this relay must see alike: a client's no-cache does not
        // fetch it again, so the gateway hands the relay one copy per lifetime, not one per client asking.
        const request = kind === 'fleet' ? { reload: false, store: true } : cacheRequestOf(req.headers['cache-control']);
        const { value, cached, ageMs } = await fetchPublic(name, origin, kind, request);
        answer(res, value, Math.floor(ageMs / 1000));
        outcome = { status: value.status, cached };
      }
    } catch (e) {
      if (e instanceof ClientGone) {
        log({ gateway: name, kind, aborted: true });
        return;
      }
      if (!(e instanceof GatewayError)) throw e;
      writeProblem(res, e.problem, e.problem === 'GATEWAY_TIMEOUT' ? `gateway "${name}" did not answer within ${timeoutMs / 1000} s` : `gateway "${name}" could not be reached`);
      log({ gateway: name, kind, status: PROBLEMS[e.problem].status, error: e.reason });
      return;
    }
    log({ gateway: name, kind, ...outcome });
  }

  /** The POST; throws ClientGone when the client went away, GatewayError when the gateway failed. */
  async function relayRequest(origin: URL, req: IncomingMessage, res: ServerResponse): Promise<{ status: number; bytes?: number }> {
    if (mediaType(req.headers['content-type']) !== OHTTP_REQUEST_MEDIA_TYPE) {
      writeProblem(res, 'UNSUPPORTED_MEDIA_TYPE', `the body must be ${OHTTP_REQUEST_MEDIA_TYPE}`);
      return { status: 415 };
    }
    let body: Buffer;
    try {
      body = await readBody(req, maxBody);
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      // Stop storing: the connection closes once the answer is written and the client has stopped sending.
      lingerAfterAnswer(req, lingerMs);
      writeProblem(res, 'PAYLOAD_TOO_LARGE', `the body exceeds ${maxBody} bytes`, { connection: 'close' });
      return { status: 413 };
    }
    if (res.destroyed) throw new ClientGone('after sending its body');
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    let response: GatewayResponse;
    try {
      response = await forward(pool, {
        method: 'POST',
        url: new URL(OHTTP_GATEWAY_PATH, origin),
        headers: { 'content-type': OHTTP_REQUEST_MEDIA_TYPE, 'content-length': String(body.length) },
        body,
        timeoutMs,
        maxResponseBytes,
        signal: gone.signal,
      });
    } catch (e) {
      if (gone.signal.aborted) throw new ClientGone('while the gateway answered', e);
      throw e;
    }
    answer(res, response);
    return { status: response.status, bytes: sizeClass(body.length) };
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((e: unknown) => {
      logger.error(errorFields(e), 'relay failure');
      if (!res.headersSent) writeProblem(res, 'INTERNAL');
      else res.destroy();
    });
  };
  const server = options.tls === undefined ? http.createServer(onRequest) : https.createServer({ cert: Buffer.from(options.tls.cert), key: Buffer.from(options.tls.key) }, onRequest);
  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? DEFAULT_PORT, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    pool.destroy();
    throw e;
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          pool.destroy();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function kindOf(resource: Resource, method: string | undefined): RelayKind | undefined {
  if (resource === 'attestation' || resource === 'fleet') return method === 'GET' ? resource : undefined;
  return method === 'POST' ? 'request' : method === 'GET' ? 'keys' : undefined;
}

/** /NAME/.well-known/... exactly: no query, no trailing slash, no percent-decoding. */
function routeOf(url: string): { name: string; resource: Resource } | undefined {
  const slash = url.indexOf('/', 1);
  if (!url.startsWith('/') || slash < 0) return undefined;
  const path = url.slice(slash);
  const resource = path === OHTTP_GATEWAY_PATH ? 'gateway' : path === ATTESTATION_CERTIFICATE_PATH ? 'attestation' : path === FLEET_DIRECTORY_PATH ? 'fleet' : undefined;
  return resource === undefined ? undefined : { name: url.slice(1, slash), resource };
}

const DEFAULT_LINGER_MS = 5000;
/** What a lingering connection may still send before it is cut. */
const LINGER_LIMIT = 16 * 1024 * 1024;

/**
 * A lingering close (as nginx does after a 413): once the answer is written, the relay half-closes and reads
 * and discards what the client still sends, up to LINGER_LIMIT bytes or `lingerMs`, and closes when the
 * client does. Closing while the client is still sending would reset the connection, and the client would
 * see a network error instead of the 413.
 */
function lingerAfterAnswer(req: IncomingMessage, lingerMs: number): void {
  const socket = req.socket;
  let read = 0;
  const cut = (): void => {
    socket.destroy();
  };
  const timer = setTimeout(cut, lingerMs).unref();
  socket.once('close', () => {
    clearTimeout(timer);
  });
  req.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > LINGER_LIMIT) cut();
  });
  req.resume();
  // Node's server calls destroySoon() once a `Connection: close` answer is written: half-close instead.
  socket.destroySoon = (): void => {
    socket.end();
    socket.once('end', cut);
  };
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > max) {
      reject(new BodyTooLarge(max, Number(req.headers['content-length'])));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const settle = (result: Buffer | Error): void => {
      if (done) return;
      done = true;
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > max) settle(new BodyTooLarge(max, size));
      else chunks.push(chunk);
    });
    req.on('end', () => {
      settle(Buffer.concat(chunks, size));
    });
    req.on('error', (cause) => {
      settle(new ClientGone('while sending its body', cause));
    });
    req.on('close', () => {
      if (!req.complete) settle(new ClientGone('before the end of its body'));
    });
  });
}

/** The gateway's answer with only its status, content-type and, for a cached resource (its age given), cache-control. */
function answer(res: ServerResponse, r: GatewayResponse, ageSeconds?: number): void {
  const headers: Record<string, string | number> = { 'content-length': r.body.length };
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  const cacheControl = ageSeconds === undefined ? undefined : forwardedCacheControl(r.cacheControl, ageSeconds);
  if (cacheControl !== undefined) headers['cache-control'] = cacheControl;
  res.writeHead(r.status, headers);
  res.end(r.body);
}

