// Fresh evidence over a verified RA-TLS connection (docs/ra-tls.md "Freshness"): the request to the
// server's fresh-evidence endpoint, and how its outcome joins the connection's verdict.
import http from 'node:http';
import type tls from 'node:tls';
import { VerificationError } from '../../errors.js';
import { problemCode } from '../../protocols/httpText.js';
import type { RaTlsVerdict } from '../../ratls/verifyCertificate.js';

/** The path of the fresh-evidence endpoint (src/server/app.ts). */
export const FRESH_EVIDENCE_PATH = '/v1/attestation/fresh';
const FRESH_BODY_MAX = 1 << 20;

export interface FreshTarget {
  readonly host: string;
  readonly port: number;
}

export function withFresh(verdict: RaTlsVerdict, fresh: RaTlsVerdict): RaTlsVerdict {
  const merged = { ...verdict, accepted: fresh.accepted, checks: [...verdict.checks, ...fresh.checks], claims: { ...verdict.claims, fresh: fresh.claims } };
  return fresh.error === undefined ? merged : { ...merged, error: fresh.error };
}

export function unavailable(verdict: RaTlsVerdict, actual: string): RaTlsVerdict {
  const e = new VerificationError('FRESH_EVIDENCE_UNAVAILABLE', `the server returned no fresh evidence: ${actual}`, { field: `POST ${FRESH_EVIDENCE_PATH}`, expected: '200 with an evidence bundle', actual });
  return { ...verdict, accepted: false, error: e.toJSON() as unknown as NonNullable<RaTlsVerdict['error']>, checks: [...verdict.checks, { id: 'fresh.request', status: 'fail', detail: e.message }] };
}

/** fetchFresh's failure: `actual` says what came instead of an evidence bundle (status and problem code, or why none). */
export class FreshUnavailable extends VerificationError {
  constructor(actual: string) {
    super('FRESH_EVIDENCE_UNAVAILABLE', `the server returned no fresh evidence: ${actual}`, { field: `POST ${FRESH_EVIDENCE_PATH}`, expected: '200 with an evidence bundle', actual });
  }
}

/**
 * POSTs the nonce to the fresh-evidence endpoint over the verified socket with keep-alive, so that the
 * socket stays usable for the caller's request; resolves with the answer's bytes (an evidence bundle).
 */
export function fetchFresh(socket: tls.TLSSocket, target: FreshTarget, nonce: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  const body = JSON.stringify({ nonce: Buffer.from(nonce).toString('base64url') });
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (result: Uint8Array | string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (typeof result === 'string') reject(new FreshUnavailable(result));
      else resolve(result);
    };
    const req = http.request(
      {
        method: 'POST',
        host: target.host,
        port: target.port,
        path: FRESH_EVIDENCE_PATH,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'keep-alive', accept: 'application/json' },
        createConnection: () => socket,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > FRESH_BODY_MAX) {
            settle(`an answer larger than ${FRESH_BODY_MAX} bytes`);
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('error', (e) => {
          settle(e.message);
        });
        res.on('end', () => {
          const bytes = new Uint8Array(Buffer.concat(chunks));
          if (res.statusCode !== 200) {
            const problem = problemCode(bytes);
            const retry = res.headers['retry-after'];
            settle(`HTTP ${res.statusCode ?? 0}${problem === undefined ? '' : ` ${problem}`}${retry === undefined ? '' : ` (retry after ${retry} s)`}`);
            return;
          }
          // The socket is detached from this request on 'close'; only then may the caller use it.
          req.once('close', () => {
            settle(socket.destroyed ? 'the server closed the connection after the fresh evidence' : bytes);
          });
        });
      },
    );
    const timer = setTimeout(() => {
      settle(`no answer within ${timeoutMs} ms`);
      req.destroy();
    }, timeoutMs);
    req.on('error', (e) => {
      settle(e.message);
    });
    req.end(body);
  });
}
