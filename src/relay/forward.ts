// One exchange between the relay and a gateway, over the relay's shared keep-alive pool: requests from
// different clients travel on the same connections, so the gateway cannot group them by connection
// (RFC 9458 section 6.1). The request carries exactly the headers the caller lists, plus the host,
// connection and content-length fields Node's client writes.
//
// The gateway's certificate is not checked: a Cloister gateway presents a self-signed RA-TLS
// certificate, and the OHTTP payload is encrypted end to end to keys the client verifies through
// attestation. The relay only carries opaque bytes; clients authenticate the gateway.
import http from 'node:http';
import https from 'node:https';
import { RuntimeError } from '../base/runtimeErrors.js';

/** Connections a relay keeps to one gateway origin; more requests wait for a free one. */
const MAX_SOCKETS_PER_GATEWAY = 128;

export interface GatewayPool {
  readonly http: http.Agent;
  readonly https: https.Agent;
  destroy(): void;
}

export function createGatewayPool(): GatewayPool {
  // lifo: the most recently used connection serves the next request, so idle ones time out and close.
  const common = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_GATEWAY, scheduling: 'lifo' } as const;
  const pool = { http: new http.Agent(common), https: new https.Agent({ ...common, rejectUnauthorized: false }) };
  return {
    ...pool,
    destroy: () => {
      pool.http.destroy();
      pool.https.destroy();
    },
  };
}

export interface GatewayRequest {
  readonly method: 'GET' | 'POST';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  /** Aborts the exchange (the client went away). */
  readonly signal?: AbortSignal;
}

export interface GatewayResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly cacheControl: string | undefined;
  readonly body: Buffer;
}

export type GatewayProblem = 'BAD_GATEWAY' | 'GATEWAY_TIMEOUT';

export class GatewayError extends RuntimeError {
  constructor(
    readonly problem: GatewayProblem,
    /** For the relay's log: an errno or TLS error code, "timeout", "too-large" or "aborted". */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('GATEWAY_FAILED', `gateway exchange failed: ${reason}`, { actual: reason, ...(options?.cause === undefined ? {} : { cause: options.cause }) });
  }
}

/** A connection the gateway closed while idle in the pool fails only when reused: such a GET is sent again once. */
export async function forward(pool: GatewayPool, request: GatewayRequest): Promise<GatewayResponse> {
  try {
    return await exchange(pool, request);
  } catch (e) {
    if (!(e instanceof StaleConnection)) throw e;
    if (request.method !== 'GET') throw e.error;
    return exchange(pool, request).catch((again: unknown) => {
      throw again instanceof StaleConnection ? again.error : again;
    });
  }
}

/** Control flow inside this module: a pooled connection the gateway had closed; `error` is the failure to report if no retry is made. */
class StaleConnection extends RuntimeError {
  constructor(readonly error: GatewayError) {
    super('GATEWAY_FAILED', `a reused connection to the gateway was reset: ${error.reason}`, { cause: error });
  }
}

function exchange(pool: GatewayPool, r: GatewayRequest): Promise<GatewayResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let responded = false;
    const finish = (result: GatewayResponse | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (result instanceof Error) {
        req.destroy();
        reject(result);
      } else resolve(result);
    };
    const secure = r.url.protocol === 'https:';
    const options: http.RequestOptions = { method: r.method, headers: r.headers, agent: secure ? pool.https : pool.http, ...(r.signal === undefined ? {} : { signal: r.signal }) };
    const req = (secure ? https.request : http.request)(r.url, options, (res) => {
      responded = true;
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > r.maxResponseBytes) {
        finish(new GatewayError('BAD_GATEWAY', 'too-large'));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > r.maxResponseBytes) finish(new GatewayError('BAD_GATEWAY', 'too-large'));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        finish({ status: res.statusCode ?? 502, contentType: res.headers['content-type'], cacheControl: res.headers['cache-control'], body: Buffer.concat(chunks, size) });
      });
      res.on('error', (cause) => {
        finish(failure(cause));
      });
    });
    const timer = setTimeout(() => {
      finish(new GatewayError('GATEWAY_TIMEOUT', 'timeout'));
    }, r.timeoutMs);
    req.on('error', (cause: NodeJS.ErrnoException) => {
      const error = failure(cause);
      finish(!responded && req.reusedSocket && cause.code === 'ECONNRESET' ? new StaleConnection(error) : error);
    });
    req.end(r.body === undefined ? undefined : Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength));
  });
}

function failure(cause: unknown): GatewayError {
  if (cause instanceof GatewayError) return cause;
  const code = (cause as NodeJS.ErrnoException).code;
  return new GatewayError('BAD_GATEWAY', code === 'ABORT_ERR' ? 'aborted' : (code ?? 'error'), { cause });
}
