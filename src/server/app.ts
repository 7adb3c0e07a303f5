// The Cloister HTTP application. buildApp returns a fastify instance without listening, so tests
// use inject(). Routes today: attestation evidence (boot bundle at a well-known path, fresh
// evidence on demand) and a status page that says SIMULATED when the TEE is simulated.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { NONCE_MAX, NONCE_MIN } from '../../attestation/evidence/reportData.js';
import { CloisterError } from '../../attestation/errors.js';
import { OHTTP_GATEWAY_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { hygieneStatus } from '../base/memory/hygiene.js';
import { EvidenceService, RateLimitedError } from './evidenceService.js';
import { problem, sendProblem } from '../base/problems.js';
import { registerOhttpRoutes, type OhttpRouteOptions } from './ohttpRoutes.js';
import type { TlsCertificateInfo } from './tlsIdentity.js';

export const EVIDENCE_PATH = '/.well-known/cloister/evidence';
export const FRESH_EVIDENCE_PATH = '/v1/attestation/fresh';

export interface AppOptions {
  readonly evidence: EvidenceService;
  readonly logger?: FastifyBaseLogger;
  /** Serve HTTPS with this certificate and key (PEM); `app.server` is then an https.Server. Plain HTTP without. */
  readonly https?: { readonly cert: string; readonly key: string };
  /** The current TLS certificate, shown on /status. */
  readonly tls?: { readonly info: TlsCertificateInfo };
  /** The Oblivious HTTP gateway and its key configurations. */
  readonly ohttp?: OhttpRouteOptions;
}

const BUNDLE_MAX_AGE_SECONDS = 3600;

export function buildApp(options: AppOptions): FastifyInstance {
  const { evidence } = options;
  const app = Fastify({
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    // Request lines would carry client addresses; the server logs its own allowlisted fields instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 4096,
    ...(options.https === undefined ? {} : { https: { cert: options.https.cert, key: options.https.key } }),
  }) as FastifyInstance;

  // JSON only: a text body is refused with 415 rather than parsed.
  app.removeContentTypeParser('text/plain');

  app.addHook('onResponse', (request, reply, done) => {
    request.log.info({ route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request');
    done();
  });

  app.setNotFoundHandler((_request, reply) => sendProblem(reply, 'NOT_FOUND'));
  app.setErrorHandler((error: { statusCode?: number; message: string; code?: string }, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, 'PAYLOAD_TOO_LARGE');
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendProblem(reply, 'UNSUPPORTED_MEDIA_TYPE', request.url.startsWith(OHTTP_GATEWAY_PATH) ? 'send message/ohttp-req' : 'send application/json');
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return sendProblem(reply, 'BAD_REQUEST', error.message);
    request.log.error({ err: { type: (error as Error).name, code: error.code } }, 'unhandled error');
    return sendProblem(reply, 'INTERNAL');
  });

  const tlsStatus = (): { notBefore: string; notAfter: string; spkiSha256: string } | string => {
    if (options.tls === undefined) return 'none: plain HTTP, the server is not authenticated';
    const { notBefore, notAfter, spkiSha256 } = options.tls.info;
    return { notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), spkiSha256 };
  };

  app.get('/status', () => ({
    service: 'cloister',
    tee: evidence.simulated ? 'SIMULATED (development root, not a real TEE: nothing here is confidential)' : evidence.provider.name,
    simulated: evidence.simulated,
    platform: evidence.platform,
    evidence: { boot: `${EVIDENCE_PATH}/${evidence.boot.id}`, freshUntil: evidence.boot.freshUntil.toISOString() },
    freshEvidence: evidence.freshLatency.summary(),
    tls: tlsStatus(),
    memoryHygiene: hygieneStatus(),
    ...(options.ohttp === undefined ? {} : { ohttp: { gateway: OHTTP_GATEWAY_PATH, keyIds: options.ohttp.keyConfigs().map((c) => c[0]) } }),
  }));

  app.get(EVIDENCE_PATH, (_request, reply) => {
    const boot = evidence.boot;
    return reply.header('cache-control', 'no-cache').send({
      platform: evidence.platform,
      simulated: evidence.simulated,
      bundles: [{ id: boot.id, href: `${EVIDENCE_PATH}/${boot.id}`, freshUntil: boot.freshUntil.toISOString(), reportData: 'boot' }],
    });
  });

  app.get<{ Params: { id: string } }>(`${EVIDENCE_PATH}/:id`, (request, reply) => {
    const bundle = evidence.bundle(request.params.id);
    if (bundle === undefined) return sendProblem(reply, 'NOT_FOUND', `no evidence bundle ${request.params.id}`);
    const maxAge = Math.max(0, Math.min(BUNDLE_MAX_AGE_SECONDS, Math.floor((bundle.freshUntil.getTime() - Date.now()) / 1000)));
    // Content-addressed: the bytes under an id never change, so caches may keep them until they go stale.
    return reply
      .header('etag', `"${bundle.id}"`)
      .header('cache-control', `public, max-age=${maxAge}, immutable`)
      .type('application/json')
      .send(Buffer.from(bundle.bytes.buffer, bundle.bytes.byteOffset, bundle.bytes.byteLength));
  });

  app.post<{ Body: unknown }>(FRESH_EVIDENCE_PATH, async (request, reply) => {
    const body = request.body as { nonce?: unknown } | null;
    const nonceText = typeof body === 'object' && body !== null ? body.nonce : undefined;
    if (typeof nonceText !== 'string' || !/^[A-Za-z0-9_-]+$/.test(nonceText)) {
      return sendProblem(reply, 'BAD_REQUEST', `body must be {"nonce": "<base64url, ${NONCE_MIN}..${NONCE_MAX} bytes>"}`);
    }
    const nonce = new Uint8Array(Buffer.from(nonceText, 'base64url'));
    try {
      const bundle = await evidence.fresh(nonce);
      return await reply.header('cache-control', 'no-store').type('application/json').send(Buffer.from(bundle.bytes));
    } catch (e) {
      if (e instanceof RateLimitedError) return sendProblem(reply, 'RATE_LIMITED', e.message, { 'retry-after': String(Math.ceil(e.retryAfterSeconds)) });
      if (e instanceof CloisterError && e.code === 'MALFORMED_FIELD') return sendProblem(reply, 'BAD_REQUEST', e.message);
      request.log.error({ err: { type: (e as Error).name, code: e instanceof CloisterError ? e.code : undefined } }, 'fresh evidence failed');
      return sendProblem(reply, 'EVIDENCE_UNAVAILABLE');
    }
  });

  if (options.ohttp !== undefined) registerOhttpRoutes(app, options.ohttp);

  return app;
}

export { problem };
