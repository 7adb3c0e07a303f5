// The witness over HTTP, C2SP tlog-witness "add-checkpoint" (witness.ts has the checks and the statuses):
//
//   POST /add-checkpoint      request body (witnessProtocol.ts) -> 200 cosignature lines, or 400/403/404/409/422
//
// Anything else is 404 (405 for another method on /add-checkpoint). node:http directly, not fastify: nothing logs
// requests, addresses or headers on its own; each answer is one line of allowlisted fields (route, status, time,
// the refusal's code), through `log`.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readRequestBody } from '../base/requestBody.js';
import { DEFAULT_NOTE_LIMITS } from '../../attestation/transparency/signedNote.js';
import { MAX_PROOF_LINES } from '../../attestation/transparency/witnessProtocol.js';
import { handleAddCheckpoint, type Witness } from './witness.js';

export const ADD_CHECKPOINT_PATH = '/add-checkpoint';
export const DEFAULT_WITNESS_PORT = 8084;
/** The largest request parseAddCheckpointRequest takes: a note at its limit and 64 lines of proof and old size. */
export const MAX_ADD_CHECKPOINT_BYTES = DEFAULT_NOTE_LIMITS.maxBytes + (MAX_PROOF_LINES + 1) * 64;

export interface WitnessLogLine {
  readonly route: 'add-checkpoint' | 'other';
  readonly status: number;
  readonly ms: number;
}

export interface WitnessServerOptions {
  readonly witness: Witness;
  readonly host?: string;
  readonly port?: number;
  /** How long a client may take to send its request (headers and body), in ms; default 10 s. */
  readonly requestTimeoutMs?: number;
  readonly log?: (line: WitnessLogLine) => void;
}

export interface RunningWitness {
  readonly url: string;
  readonly close: () => Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly close?: boolean;
}

const text = (status: number, body: string, close = false): Answer => ({ status, contentType: 'text/plain; charset=utf-8', body, close });

/** The request handler; `startWitnessServer` listens with it. */
export function witnessHandler(options: WitnessServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  async function route(req: IncomingMessage, line: { route: WitnessLogLine['route'] }): Promise<Answer> {
    if ((req.url ?? '/').split('?')[0] !== ADD_CHECKPOINT_PATH) return text(404, 'not found\n');
    line.route = 'add-checkpoint';
    if (req.method !== 'POST') return text(405, 'POST only\n');
    const body = await readRequestBody(req, MAX_ADD_CHECKPOINT_BYTES, 'add-checkpoint request');
    if (body === undefined) return text(413, `an add-checkpoint request is at most ${MAX_ADD_CHECKPOINT_BYTES} bytes\n`, true);
    return handleAddCheckpoint(options.witness, body);
  }

  return (req, res) => {
    const started = performance.now();
    const line: { route: WitnessLogLine['route'] } = { route: 'other' };
    void route(req, line)
      .catch(() => text(400, 'the request ended early\n', true))
      .then((a) => {
        options.log?.({ route: line.route, status: a.status, ms: Math.round(performance.now() - started) });
        const body = Buffer.from(a.body);
        res.writeHead(a.status, { 'content-type': a.contentType, 'content-length': body.length, 'cache-control': 'no-store', ...(a.close === true ? { connection: 'close' } : {}), ...(a.status === 405 ? { allow: 'POST' } : {}) });
        res.end(body);
      })
      .catch(() => {
        res.destroy();
      });
  };
}

/** Listens on host:port (default 127.0.0.1:8084; port 0 picks a free one). */
export async function startWitnessServer(options: WitnessServerOptions): Promise<RunningWitness> {
  // Node checks the timeouts every connectionsCheckingInterval (30 s by default); check often enough for the limit
  // to mean what it says.
  const timeout = options.requestTimeoutMs ?? 10_000;
  const server = http.createServer({ requestTimeout: timeout, headersTimeout: timeout, connectionsCheckingInterval: Math.min(1000, timeout) }, witnessHandler(options));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_WITNESS_PORT, host, () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
