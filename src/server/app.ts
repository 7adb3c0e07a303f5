// The Cloister HTTP application: one fastify instance, its error and log policy, and the route groups as
// plugins (routes/). buildApp returns it without listening, so tests use inject(); createServer.ts
// assembles what the plugins serve.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { OHTTP_GATEWAY_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { errorFields } from '../base/log.js';
import { problem, sendProblem } from '../base/problems.js';
import type { EvidenceService } from './evidenceService.js';
import { publicCors } from './publicCors.js';
import { evidenceRoutes } from './routes/evidenceRoutes.js';
import { ohttpRoutes, type OhttpRouteOptions } from './routes/ohttpRoutes.js';
import { statusRoutes, type CollateralStatus } from './routes/statusRoutes.js';
import { verifyPageRoutes, type VerifyPageFiles } from './routes/verifyPageRoutes.js';
import type { TlsCertificateInfo } from './tlsIdentity.js';

export { EVIDENCE_PATH, FRESH_EVIDENCE_PATH } from './routes/evidenceRoutes.js';

export interface AppOptions {
  readonly evidence: EvidenceService;
  readonly logger?: FastifyBaseLogger;
  /** Serve HTTPS with this certificate and key (PEM); `app.server` is then an https.Server. Plain HTTP without. */
  readonly https?: { readonly cert: string; readonly key: string };
  /** The current TLS certificate, shown on /status. */
  readonly tls?: { readonly info: TlsCertificateInfo };
  /** The Oblivious HTTP gateway and its key configurations. */
  readonly ohttp?: OhttpRouteOptions;
  /** The TDX collateral kept current, shown on /status. */
  readonly collateral?: () => CollateralStatus;
  /** A convenience copy of the verify page, served at /verify/ (readVerifyPage). */
  readonly verifyPage?: VerifyPageFiles;
}

export function buildApp(options: AppOptions): FastifyInstance {
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

  app.addHook('onRequest', publicCors);

  app.setNotFoundHandler((_request, reply) => sendProblem(reply, 'NOT_FOUND'));
  app.setErrorHandler((error: { statusCode?: number; message: string; code?: string }, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, 'PAYLOAD_TOO_LARGE');
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendProblem(reply, 'UNSUPPORTED_MEDIA_TYPE', request.url.startsWith(OHTTP_GATEWAY_PATH) ? 'send message/ohttp-req' : 'send application/json');
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return sendProblem(reply, 'BAD_REQUEST', error.message);
    request.log.error(errorFields(error), 'unhandled error');
    return sendProblem(reply, 'INTERNAL');
  });

  const { evidence, tls, ohttp, collateral } = options;
  const keysCacheSeconds = evidence.bindsKeys ? ohttp?.cacheSeconds : undefined;
  void app.register(statusRoutes, { evidence, ...(tls === undefined ? {} : { tls }), ...(ohttp === undefined ? {} : { keyConfigs: ohttp.keyConfigs }), ...(collateral === undefined ? {} : { collateral }) });
  void app.register(evidenceRoutes, { evidence, ...(keysCacheSeconds === undefined ? {} : { keysCacheSeconds }) });
  if (ohttp !== undefined) void app.register(ohttpRoutes, ohttp);
  if (options.verifyPage !== undefined) void app.register(verifyPageRoutes, { files: options.verifyPage });
  return app;
}

export { problem };
