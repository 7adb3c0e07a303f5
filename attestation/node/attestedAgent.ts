// The client side of RA-TLS for Node (docs/ra-tls.md "Client"): a TLS connection whose server certificate
// is verified as an RA-TLS certificate during the handshake, before the HTTP request writes a byte.
// The certificate is not checked against any CA or host name (rejectUnauthorized: false): the attested
// evidence is the server's identity, and TLS itself proves the server holds the certificate's key.
// Verified certificates are cached by their DER SHA-256 for their lifetime, so later connections to the
// same server (new or resumed sessions) skip the evidence verification but still compare the exact
// certificate bytes and check its validity window.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { bytesEqual } from '../bytes.js';
import { parseCertificate } from '../x509.js';
import { verifyAttestedCertificate, type RaTlsPolicy, type RaTlsVerdict } from '../ratls/verify.js';
import type { SnpVerifier } from '../snp/verify.js';
import type { TdxVerifier } from '../tdx/verify.js';

export interface AttestedOptions {
  readonly policy?: RaTlsPolicy;
  readonly snpVerifier?: SnpVerifier;
  readonly tdxVerifier?: TdxVerifier;
  /** The OHTTP key configs the client expects the certificate to carry (exactly, in order). */
  readonly expectedKeyConfigs?: readonly Uint8Array[];
  /** Evaluation time; default: the time of each handshake. */
  readonly at?: Date;
  /** Shared cache of verified certificates; default: one per createAttestedVerifier / AttestedAgent. */
  readonly cache?: AttestedCertificateCache;
  /** Milliseconds to wait for TCP + TLS; default 10 000. */
  readonly timeoutMs?: number;
}

/** A refused server: the verdict says why (verdict.error.code, e.g. NO_ATTESTATION, UNTRUSTED_ROOT). */
export class AttestationRefusedError extends Error {
  readonly code: string;
  readonly verdict: RaTlsVerdict;

  constructor(verdict: RaTlsVerdict) {
    super(`server certificate refused: [${verdict.error?.code ?? 'REJECTED'}] ${verdict.error?.message ?? 'not accepted'}`);
    this.name = 'AttestationRefusedError';
    this.code = verdict.error?.code ?? 'REJECTED';
    this.verdict = verdict;
  }
}

interface CacheEntry {
  readonly der: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly verdict: RaTlsVerdict;
}

/** Accepted certificates by DER SHA-256 (hex), each kept until its notAfter. */
export class AttestedCertificateCache {
  readonly #entries = new Map<string, CacheEntry>();

  /** The cached verdict for exactly these bytes, valid at `at`; undefined otherwise (an expired entry is dropped). */
  get(der: Uint8Array, at: Date): RaTlsVerdict | undefined {
    const key = fingerprint(der);
    const entry = this.#entries.get(key);
    if (entry === undefined || !bytesEqual(entry.der, der)) return undefined;
    const t = at.getTime();
    if (t > entry.notAfter) {
      this.#entries.delete(key);
      return undefined;
    }
    return t < entry.notBefore ? undefined : entry.verdict;
  }

  set(der: Uint8Array, verdict: RaTlsVerdict): void {
    const cert = parseCertificate(der);
    this.#entries.set(fingerprint(der), { der: der.slice(), notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime(), verdict });
  }

  get size(): number {
    return this.#entries.size;
  }
}

const fingerprint = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

/** Verifies RA-TLS certificates with `options`, remembering the accepted ones. `cached` says whether the evidence was verified now. */
export function createAttestedVerifier(options: AttestedOptions = {}): (der: Uint8Array) => Promise<{ verdict: RaTlsVerdict; cached: boolean }> {
  const cache = options.cache ?? new AttestedCertificateCache();
  return async (der) => {
    const at = options.at ?? new Date();
    const hit = cache.get(der, at);
    if (hit !== undefined) return { verdict: hit, cached: true };
    const verdict = await verifyAttestedCertificate(der, options.policy ?? {}, {
      at,
      ...(options.snpVerifier === undefined ? {} : { snpVerifier: options.snpVerifier }),
      ...(options.tdxVerifier === undefined ? {} : { tdxVerifier: options.tdxVerifier }),
      ...(options.expectedKeyConfigs === undefined ? {} : { expectedKeyConfigs: options.expectedKeyConfigs }),
    });
    if (verdict.accepted) cache.set(der, verdict);
    return { verdict, cached: false };
  };
}

export type AttestedVerify = ReturnType<typeof createAttestedVerifier>;

export interface AttestedConnection {
  readonly socket: tls.TLSSocket;
  readonly verdict: RaTlsVerdict;
  /** True when the certificate was accepted from the cache rather than verified now. */
  readonly cached: boolean;
}

export interface ConnectTarget {
  readonly host: string;
  readonly port: number;
  /** SNI; default: `host` unless it is an IP address. */
  readonly servername?: string;
  readonly ALPNProtocols?: string[];
}

/**
 * Opens a TLS connection and verifies the server's certificate as an RA-TLS certificate. Resolves once it
 * is accepted; otherwise destroys the socket and rejects with AttestationRefusedError (or the connection error).
 */
export function attestedConnect(target: ConnectTarget, verify: AttestedVerify, timeoutMs = 10_000): Promise<AttestedConnection> {
  return new Promise((resolve, reject) => {
    const servername = target.servername ?? (isIp(target.host) ? undefined : target.host);
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      rejectUnauthorized: false,
      ...(servername === undefined ? {} : { servername }),
      ...(target.ALPNProtocols === undefined ? {} : { ALPNProtocols: target.ALPNProtocols }),
    });
    const fail = (e: unknown): void => {
      socket.destroy();
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    socket.setTimeout(timeoutMs, () => {
      fail(Object.assign(new Error(`no TLS handshake with ${target.host}:${target.port} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      const raw = socket.getPeerCertificate(true).raw as Buffer | undefined;
      if (raw === undefined || raw.length === 0) {
        fail(new AttestationRefusedError({ accepted: false, platform: 'unknown', simulated: false, error: { name: 'VerificationError', code: 'NO_ATTESTATION', message: 'the server presented no certificate' }, checks: [] }));
        return;
      }
      verify(new Uint8Array(raw)).then(
        ({ verdict, cached }) => {
          if (socket.destroyed) {
            fail(new Error(`connection to ${target.host}:${target.port} closed during verification`));
            return;
          }
          if (!verdict.accepted) {
            fail(new AttestationRefusedError(verdict));
            return;
          }
          socket.removeListener('error', fail);
          resolve({ socket, verdict, cached });
        },
        fail,
      );
    });
  });
}

const isIp = (host: string): boolean => /^[\d.]+$/.test(host) || host.includes(':');

/**
 * An https.Agent whose connections are attested: each new socket is handed to a request only after its
 * server certificate was verified; a refused server fails the request with AttestationRefusedError and
 * nothing of the request is written. `lastVerdict` holds the most recent verdict.
 */
export class AttestedAgent extends https.Agent {
  readonly verify: AttestedVerify;
  readonly #timeoutMs: number;
  lastVerdict: RaTlsVerdict | undefined;

  constructor(options: AttestedOptions = {}, agentOptions: https.AgentOptions = {}) {
    super({ ...agentOptions, rejectUnauthorized: false });
    this.verify = createAttestedVerifier(options);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  // Node's Agent calls createConnection(options, callback) and, when it returns nothing, waits for the callback.
  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, socket: Duplex) => void): Duplex | null | undefined {
    const host = options.host ?? options.hostname ?? 'localhost';
    const port = Number(options.port ?? 443);
    const { servername } = options as tls.ConnectionOptions;
    attestedConnect({ host, port, ...(servername === undefined || servername === '' ? {} : { servername }), ALPNProtocols: ['http/1.1'] }, this.verify, this.#timeoutMs).then(
      (c) => {
        this.lastVerdict = c.verdict;
        callback?.(null, c.socket);
      },
      (e: unknown) => {
        if (e instanceof AttestationRefusedError) this.lastVerdict = e.verdict;
        callback?.(e as Error, undefined as unknown as Duplex);
      },
    );
    return undefined;
  }
}

/** createAttestedAgent({ policy, snpVerifier?, tdxVerifier?, expectedKeyConfigs?, at? }) */
export const createAttestedAgent = (options: AttestedOptions = {}, agentOptions: https.AgentOptions = {}): AttestedAgent => new AttestedAgent(options, agentOptions);

export interface AttestedResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Uint8Array;
  readonly verdict: RaTlsVerdict;
  readonly cached: boolean;
}

/**
 * One HTTPS request to an attested server: connects, verifies the certificate, and only then sends the
 * request over that socket (node:http with createConnection). Rejects with AttestationRefusedError,
 * having sent nothing, when the server is refused.
 */
export async function attestedFetch(
  url: string | URL,
  init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
  options: AttestedOptions & { verify?: AttestedVerify } = {},
): Promise<AttestedResponse> {
  const u = new URL(url);
  if (u.protocol !== 'https:') throw new TypeError(`attestedFetch needs an https: URL, got ${u.protocol}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const verify = options.verify ?? createAttestedVerifier(options);
  const conn = await attestedConnect({ host, port: u.port === '' ? 443 : Number(u.port), ALPNProtocols: ['http/1.1'] }, verify, options.timeoutMs);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { method: init.method ?? 'GET', host: u.host, path: `${u.pathname}${u.search}`, headers: { connection: 'close', ...init.headers }, createConnection: () => conn.socket },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          conn.socket.end();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)), verdict: conn.verdict, cached: conn.cached });
        });
      },
    );
    req.on('error', (e) => {
      conn.socket.destroy();
      reject(e);
    });
    req.end(init.body);
  });
}
