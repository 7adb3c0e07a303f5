// The Privacy Pass issuer over HTTP (RFC 9578 sections 4 to 6, the token types of its keys through the token-type table):
//
//   GET  /.well-known/private-token-issuer-directory   the directory; max-age until the key schedule changes it
//   POST <request path> (default /token-request)      application/private-token-request -> application/private-token-response
//
// Errors are application/problem+json (src/base/problems.ts): 415 wrong media type, 413 too large, 401 no valid
// account credential, 429 rate-limited (Retry-After), 400 malformed or TOKEN_KEY_UNKNOWN. node:http directly, not
// fastify: nothing logs requests, addresses or headers on its own; each answer is one allowlisted log line.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ParseError } from '../../../attestation/errors.js';
import { mediaType } from '../../../attestation/protocols/httpText.js';
import { errorFields } from '../../base/log.js';
import { readRequestBody } from '../../base/requestBody.js';
import { RuntimeError } from '../../base/runtimeErrors.js';
import { problem, PROBLEMS, type ProblemCode } from '../../base/problems.js';
import type { IssuanceAuthorizer } from './authorizer.js';
import { DEFAULT_REQUEST_PATH, DIRECTORY_MEDIA_TYPE, DIRECTORY_PATH, issuerDirectory, TOKEN_REQUEST_MEDIA_TYPE, TOKEN_RESPONSE_MEDIA_TYPE } from './directory.js';
import type { IssuerLogEntry } from './issuerLog.js';
import type { KeyRing } from './keyRing.js';
import { issuerTokenType } from './tokenTypes.js';

export const DEFAULT_ISSUER_PORT = 8082;
/** A type 0x0002 TokenRequest is 259 bytes; a type 0x0001 one 52. */
const MAX_REQUEST_BYTES = 4096;

export interface IssuerOptions {
  readonly keys: KeyRing;
  readonly authorizer: IssuanceAuthorizer;
  readonly logger: Logger;
  /** The path requests are POSTed to; default /token-request. */
  readonly requestPath?: string;
  /** What the directory's "issuer-request-uri" says: an absolute URL behind the operator's proxy; default the path. */
  readonly requestUri?: string;
}

class Answer {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | number>,
    readonly body: Uint8Array,
    readonly problem?: ProblemCode,
  ) {}
}

function problemAnswer(code: ProblemCode, detail?: string, headers: Record<string, string | number> = {}): Answer {
  return new Answer(PROBLEMS[code].status, { ...headers, 'content-type': 'application/problem+json' }, Buffer.from(JSON.stringify(problem(code, detail))), code);
}

/** The request handler; `startIssuer` listens with it. */
export function issuerHandler(options: IssuerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const requestPath = options.requestPath ?? DEFAULT_REQUEST_PATH;
  const requestUri = options.requestUri ?? requestPath;
  const { keys, authorizer, logger } = options;

  function directory(): Answer {
    const body = JSON.stringify(issuerDirectory(requestUri, keys.listed()));
    return new Answer(200, { 'content-type': DIRECTORY_MEDIA_TYPE, 'cache-control': `public, max-age=${keys.secondsUntilChange()}` }, Buffer.from(body));
  }

  async function tokenRequest(req: IncomingMessage, entry: { account?: string; keyId?: number }): Promise<Answer> {
    if (mediaType(req.headers['content-type']) !== TOKEN_REQUEST_MEDIA_TYPE) return problemAnswer('UNSUPPORTED_MEDIA_TYPE', `send ${TOKEN_REQUEST_MEDIA_TYPE}`);
    // One credential (RFC 9110 section 11.6.2): of several Authorization headers Node keeps the first and drops the
    // rest, while a proxy in front may have read another; several are no credential.
    const authorization = req.headersDistinct.authorization;
    const decision = authorizer.authorize(authorization?.length === 1 ? authorization[0] : undefined);
    if (!decision.allowed && decision.reason === 'unauthenticated') return problemAnswer('ISSUANCE_UNAUTHORIZED', undefined, { 'www-authenticate': 'Bearer' });
    entry.account = decision.account;
    if (!decision.allowed) return problemAnswer('RATE_LIMITED', 'this account asked for tokens faster than its rate', { 'retry-after': decision.retryAfterSeconds });
    const body = await readRequestBody(req, MAX_REQUEST_BYTES, 'token request');
    if (body === undefined) return problemAnswer('PAYLOAD_TOO_LARGE', `a token request is at most ${MAX_REQUEST_BYTES} bytes`, { connection: 'close' });
    if (body.length < 2) return problemAnswer('BAD_REQUEST', `TokenRequest is ${body.length} bytes, too short for its token_type`);
    const tokenType = body.readUInt16BE(0);
    // An issuer serves the types of its keys; another type, even one the table knows, is not issued here.
    if (!keys.listed().some((k) => k.key.tokenType === tokenType)) return problemAnswer('BAD_REQUEST', `token_type 0x${tokenType.toString(16).padStart(4, '0')} is not issued here`);
    const type = issuerTokenType(tokenType);
    const keyId = type.truncatedKeyIdOf(body);
    if (keyId === undefined) return problemAnswer('BAD_REQUEST', 'TokenRequest is too short for its truncated_token_key_id');
    entry.keyId = keyId;
    // Newest first: keys are generated with distinct truncated IDs, but fixed keys given by the operator may share one.
    const key = keys.inForce().reverse().find((k) => k.key.tokenType === type.tokenType && k.key.tokenKeyId.at(-1) === keyId);
    if (key === undefined) return problemAnswer('TOKEN_KEY_UNKNOWN', `no current key of token type ${type.tokenType} has truncated_token_key_id ${keyId}; fetch ${DIRECTORY_PATH} again`);
    const response = await key.key.issue(body);
    return new Answer(200, { 'content-type': TOKEN_RESPONSE_MEDIA_TYPE, 'cache-control': 'no-store' }, response);
  }

  async function route(req: IncomingMessage, entry: { route: IssuerLogEntry['route']; account?: string; keyId?: number }): Promise<Answer> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === DIRECTORY_PATH) {
      entry.route = 'directory';
      return req.method === 'GET' || req.method === 'HEAD' ? directory() : problemAnswer('METHOD_NOT_ALLOWED', undefined, { allow: 'GET, HEAD' });
    }
    if (path === requestPath) {
      entry.route = 'token-request';
      return req.method === 'POST' ? tokenRequest(req, entry) : problemAnswer('METHOD_NOT_ALLOWED', undefined, { allow: 'POST' });
    }
    return problemAnswer('NOT_FOUND');
  }

  return (req, res) => {
    const started = performance.now();
    const entry: { route: IssuerLogEntry['route']; account?: string; keyId?: number } = { route: 'other' };
    void route(req, entry)
      .catch((e: unknown) => {
        // A ParseError's message names the field and the sizes it found, never request bytes beyond them.
        if (e instanceof ParseError) return problemAnswer('BAD_REQUEST', e.message);
        // Nobody reads the answer; the 400 is for the log line.
        if (e instanceof RuntimeError && e.code === 'CLIENT_GONE') return problemAnswer('BAD_REQUEST', 'the request ended early');
        logger.error({ route: entry.route, ...errorFields(e) }, 'failed');
        return problemAnswer('INTERNAL');
      })
      .then((a) => {
        const line: IssuerLogEntry = { ...entry, status: a.status, ms: Math.round(performance.now() - started), ...(a.problem === undefined ? {} : { problem: a.problem }) };
        logger.info(line, 'answered');
        res.writeHead(a.status, { ...a.headers, 'content-length': a.body.length });
        res.end(req.method === 'HEAD' ? undefined : a.body);
      })
      .catch(() => {
        res.destroy();
      });
  };
}

export interface RunningIssuer {
  readonly url: string;
  readonly close: () => Promise<void>;
}

/**
 * Listens on host:port (default 127.0.0.1:8082) and refreshes the key ring every `refreshSeconds` (default 10; a key
 * generated late gets a later not-before, so it is still announced a whole overlap before use).
 */
export async function startIssuer(options: IssuerOptions & { host?: string; port?: number; refreshSeconds?: number; requestTimeoutMs?: number }): Promise<RunningIssuer> {
  // A token request is small: a client that takes longer than this to send one is gone or stalling. Node checks the
  // limit every connectionsCheckingInterval (30 s by default), which would let a stalled request hold its
  // connection three times as long: check often enough for the limit to mean what it says.
  const timeout = options.requestTimeoutMs ?? 10_000;
  const server = http.createServer({ requestTimeout: timeout, headersTimeout: timeout, connectionsCheckingInterval: Math.min(1000, timeout) }, issuerHandler(options));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_ISSUER_PORT, host, () => {
      resolve();
    });
  });
  const timer = setInterval(() => {
    options.keys.refresh().catch((e: unknown) => {
      options.logger.error({ ...errorFields(e) }, 'key refresh failed');
    });
  }, (options.refreshSeconds ?? 10) * 1000);
  timer.unref();
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
