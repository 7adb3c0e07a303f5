// The client side of RA-TLS for Node (docs/ra-tls.md "Client"): a TLS connection whose server certificate
// is verified as an RA-TLS certificate during the handshake, before the HTTP request writes a byte, and
// accepted only with a launch measurement the caller named (../measurementSource.ts).
// The certificate is not checked against any CA or host name (rejectUnauthorized: false): the attested
// evidence is the server's identity, and TLS itself proves the server holds the certificate's key.
// Verified certificates are cached by their DER SHA-256 for their lifetime, so later connections to the
// same server skip the evidence verification but still compare the exact certificate bytes and check
// its validity window. TLS sessions of accepted servers are offered for resumption; a resumed handshake
// presents no certificate, so the one verified when the session was created stands for it. With `freshEvidence` (or a `nonce`) every new
// connection also asks the server, over that verified connection and before the caller's request,
// for evidence acquired now that binds a client nonce (docs/ra-tls.md "Freshness").
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { CloisterError, ERROR_CODES, type ErrorCode } from '../../errors.js';
import { NONCE_MAX, NONCE_MIN } from '../../evidence/reportData.js';
import { verifyFreshEvidence } from '../../ratls/verifyFresh.js';
import type { RaTlsPolicy, RaTlsVerdict } from '../../ratls/verifyCertificate.js';
import type { MeasurementsFile } from '../../measure/measurementsFile.js';
import type { TransparencyTrust } from '../loggedMeasurements.js';
import { verifyServerCertificate } from '../verifyServer.js';
import { clientPolicy, type MeasurementSource } from '../measurementSource.js';
import { AttestedCertificateCache } from './certificateCache.js';
import { fetchFresh, FreshUnavailable, unavailable, withFresh } from './freshEvidence.js';
import { SessionStore } from './sessionStore.js';
import type { SnpVerifier } from '../../snp/verify.js';
import type { TdxVerifier } from '../../tdx/verify.js';

export interface AttestedOptions extends Pick<MeasurementSource, 'hardwarePolicyVersions' | 'requireHardwarePolicy'> {
  /** The policy; its platforms' lists of launch measurements (snp.measurements, tdx.mrtds) are what is accepted. */
  readonly policy?: RaTlsPolicy;
  /** A parsed measurements file (parseMeasurementsFile): its launch measurements are allowed besides the policy's. */
  readonly measurements?: MeasurementsFile;
  /**
   * Accept any launch measurement of a platform for which neither `policy` nor `measurements` lists one, for
   * debugging; the verdict then has `anyMeasurement: true`. Without it such a server is refused
   * (MEASUREMENT_SOURCE_MISSING), and a verifier given no measurement at all is not created.
   */
  readonly anyMeasurement?: boolean;
  /** A transparency log the launch measurement must be published to (loggedMeasurements.ts, docs/transparency.md "Clients"). */
  readonly transparency?: TransparencyTrust;
  readonly snpVerifier?: SnpVerifier;
  readonly tdxVerifier?: TdxVerifier;
  /** The OHTTP key configs the client expects the certificate to carry (exactly, in order). */
  readonly expectedKeyConfigs?: readonly Uint8Array[];
  /** Evaluation time; default: the time of each handshake. */
  readonly at?: Date;
  /** Shared cache of verified certificates; default: one per createAttestedVerifier / AttestedAgent. */
  readonly cache?: AttestedCertificateCache;
  /** Milliseconds to wait for TCP + TLS, and again for fresh evidence; default 10 000. */
  readonly timeoutMs?: number;
  /** Offer TLS sessions of accepted servers for resumption (default true). */
  readonly resumeSessions?: boolean;
  /** On every new connection, require evidence acquired now for a random 32-byte nonce (POST /v1/attestation/fresh). */
  readonly freshEvidence?: boolean;
  /** The nonce for that request (16..64 bytes), the same for every connection; implies freshEvidence. */
  readonly nonce?: Uint8Array;
}

const FRESH_NONCE_BYTES = 32;

const isErrorCode = (code: string | undefined): code is ErrorCode => code !== undefined && Object.hasOwn(ERROR_CODES, code);

/**
 * A refused server: the verdict says why, and `code` is its code (e.g. NO_ATTESTATION, UNTRUSTED_ROOT);
 * ATTESTATION_REFUSED when the verdict (of a custom verifier) names none of the registered codes.
 */
export class AttestationRefusedError extends CloisterError {
  declare readonly code: ErrorCode;
  readonly verdict: RaTlsVerdict;

  constructor(verdict: RaTlsVerdict) {
    const code = verdict.error?.code;
    super(isErrorCode(code) ? code : 'ATTESTATION_REFUSED', `server certificate refused: [${code ?? 'REJECTED'}] ${verdict.error?.message ?? 'not accepted'}`);
    this.verdict = verdict;
  }
}

/**
 * Verifies RA-TLS certificates with `options`, remembering the accepted ones (`cached` says whether the
 * evidence was verified now), and fresh evidence against an accepted certificate with the same policy.
 */
export interface AttestedVerify {
  (der: Uint8Array): Promise<{ verdict: RaTlsVerdict; cached: boolean }>;
  /** TLS sessions by host:port:servername, offered for resumption on the next connection there (unless resumeSessions is false). */
  readonly sessions: SessionStore | undefined;
  /** Defined when the options ask for fresh evidence: the nonce for the next connection. */
  readonly nextNonce: (() => Uint8Array) | undefined;
  verifyFresh(der: Uint8Array, nonce: Uint8Array, bundle: Uint8Array): Promise<RaTlsVerdict>;
}

function nonceSource(options: AttestedOptions): (() => Uint8Array) | undefined {
  const { nonce } = options;
  if (nonce !== undefined) {
    if (nonce.length < NONCE_MIN || nonce.length > NONCE_MAX) throw new RangeError(`nonce must be ${NONCE_MIN}..${NONCE_MAX} bytes, got ${nonce.length}`);
    const copy = nonce.slice();
    return () => copy;
  }
  return options.freshEvidence === true ? () => new Uint8Array(randomBytes(FRESH_NONCE_BYTES)) : undefined;
}

/** Throws MEASUREMENT_SOURCE_MISSING without a measurement to accept (see `anyMeasurement`), RangeError for a bad `nonce`. */
export function createAttestedVerifier(options: AttestedOptions = {}): AttestedVerify {
  const policy = clientPolicy(options);
  const cache = options.cache ?? new AttestedCertificateCache();
  const verifiers = {
    ...(options.snpVerifier === undefined ? {} : { snpVerifier: options.snpVerifier }),
    ...(options.tdxVerifier === undefined ? {} : { tdxVerifier: options.tdxVerifier }),
  };
  const verify = async (der: Uint8Array): Promise<{ verdict: RaTlsVerdict; cached: boolean }> => {
    const at = options.at ?? new Date();
    const hit = cache.get(der, at);
    if (hit !== undefined) return { verdict: hit, cached: true };
    const verdict = await verifyServerCertificate(der, policy, { ...options, at });
    if (verdict.accepted) cache.set(der, verdict);
    return { verdict, cached: false };
  };
  return Object.assign(verify, {
    sessions: options.resumeSessions === false ? undefined : new SessionStore(),
    nextNonce: nonceSource(options),
    verifyFresh: (der: Uint8Array, nonce: Uint8Array, bundle: Uint8Array) => verifyFreshEvidence(der, nonce, bundle, policy, { at: options.at ?? new Date(), ...verifiers }),
  });
}

export interface AttestedConnection {
  readonly socket: tls.TLSSocket;
  readonly verdict: RaTlsVerdict;
  /** True when the certificate was accepted from the cache rather than verified now. */
  readonly cached: boolean;
  /** True when TLS resumed an earlier session (the certificate is still compared with the cache). */
  readonly resumed: boolean;
  /** The nonce the server's fresh evidence bound, when fresh evidence was required (its checks are in `verdict`). */
  readonly nonce?: Uint8Array;
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
    const sessionKey = `${target.host}:${target.port}:${servername ?? ''}`;
    const offered = verify.sessions?.get(sessionKey, new Date());
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      rejectUnauthorized: false,
      ...(servername === undefined ? {} : { servername }),
      ...(offered === undefined ? {} : { session: offered.session }),
      ...(target.ALPNProtocols === undefined ? {} : { ALPNProtocols: target.ALPNProtocols }),
    });
    // A session is offered again only while its server is accepted; a refusal drops it (fail below).
    let refusedServer = false;
    // A resumed TLS 1.3 handshake presents no certificate: the session proves the server is the one whose
    // certificate was verified when the session was created, so that certificate stands for this connection.
    let der: Uint8Array | undefined;
    const connectionCertificate = (): Uint8Array | undefined => {
      const raw = socket.getPeerCertificate(true).raw as Buffer | undefined;
      if (raw !== undefined && raw.length > 0) return new Uint8Array(raw);
      return socket.isSessionReused() ? offered?.der : undefined;
    };
    // Tickets may arrive before the verdict: the latest is kept aside and stored once the server is accepted.
    let accepted = false;
    let ticket: Buffer | undefined;
    const keep = (): void => {
      if (ticket === undefined || der === undefined || refusedServer) return;
      try {
        verify.sessions?.set(sessionKey, ticket, der);
      } catch {
        // A certificate the store cannot read is simply not resumed.
      }
      ticket = undefined;
    };
    socket.on('session', (s: Buffer) => {
      ticket = s;
      if (accepted) keep();
    });
    const fail = (e: unknown): void => {
      if (e instanceof AttestationRefusedError) {
        refusedServer = true;
        verify.sessions?.delete(sessionKey);
      }
      socket.destroy();
      reject(e instanceof Error ? e : new CloisterError('CONNECTION_FAILED', `connection to ${target.host}:${target.port} failed: ${String(e)}`, { cause: e }));
    };
    socket.setTimeout(timeoutMs, () => {
      fail(new CloisterError('CONNECTION_FAILED', `no TLS handshake with ${target.host}:${target.port} within ${timeoutMs} ms`, { expected: `a TLS handshake within ${timeoutMs} ms`, actual: 'ETIMEDOUT' }));
    });
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      const raw = connectionCertificate();
      der = raw;
      if (raw === undefined) {
        fail(new AttestationRefusedError({ accepted: false, platform: 'unknown', simulated: false, error: { name: 'VerificationError', code: 'NO_ATTESTATION', message: 'the server presented no certificate' }, checks: [] }));
        return;
      }
      verify(raw).then(
        ({ verdict, cached }) => {
          if (socket.destroyed) {
            fail(new CloisterError('CONNECTION_FAILED', `connection to ${target.host}:${target.port} closed during verification`));
            return;
          }
          if (!verdict.accepted) {
            fail(new AttestationRefusedError(verdict));
            return;
          }
          if (verify.nextNonce === undefined) {
            socket.removeListener('error', fail);
            accepted = true;
            keep();
            resolve({ socket, verdict, cached, resumed: socket.isSessionReused() });
            return;
          }
          const nonce = verify.nextNonce();
          fetchFresh(socket, target, nonce, timeoutMs)
            .then((bundle) => verify.verifyFresh(raw, nonce, bundle))
            .then(
              (fresh) => {
                const merged = withFresh(verdict, fresh);
                if (!merged.accepted) {
                  fail(new AttestationRefusedError(merged));
                  return;
                }
                socket.removeListener('error', fail);
                accepted = true;
                keep();
                resolve({ socket, verdict: merged, cached, resumed: socket.isSessionReused(), nonce });
              },
              (e: unknown) => {
                fail(e instanceof FreshUnavailable ? new AttestationRefusedError(unavailable(verdict, e.actual ?? e.message)) : e);
              },
            );
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

/** createAttestedAgent({ policy | measurements | anyMeasurement, snpVerifier?, tdxVerifier?, expectedKeyConfigs?, at? }) */
export const createAttestedAgent = (options: AttestedOptions = {}, agentOptions: https.AgentOptions = {}): AttestedAgent => new AttestedAgent(options, agentOptions);

export interface AttestedResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Uint8Array;
  readonly verdict: RaTlsVerdict;
  readonly cached: boolean;
  readonly resumed: boolean;
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
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)), verdict: conn.verdict, cached: conn.cached, resumed: conn.resumed });
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
