// Attestation evidence over HTTP (docs/evidence-bundle.md): the boot bundle's index at a well-known path,
// each bundle content-addressed under it, and fresh evidence for a client's nonce, rate limited.
import type { FastifyInstance } from 'fastify';
import { NONCE_MAX, NONCE_MIN } from '../../../attestation/evidence/reportData.js';
import { CloisterError } from '../../../attestation/errors.js';
import { errorFields } from '../../base/log.js';
import { sendProblem } from '../../base/problems.js';
import { RateLimitedError, type EvidenceService } from '../evidenceService.js';

export const EVIDENCE_PATH = '/.well-known/cloister/evidence';
export const FRESH_EVIDENCE_PATH = '/v1/attestation/fresh';
const BUNDLE_MAX_AGE_SECONDS = 3600;

export interface EvidenceRouteOptions {
  readonly evidence: EvidenceService;
  /** Seconds caches may keep a bundle that binds the served OHTTP configs, by the rotation schedule; undefined: no bound. */
  readonly keysCacheSeconds?: () => number | undefined;
}

/** A fastify plugin. */
export function evidenceRoutes(app: FastifyInstance, { evidence, keysCacheSeconds }: EvidenceRouteOptions): Promise<void> {
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
    // cacheSeconds bounds the keys served now, which only the current boot bundle is known to bind; an older
    // one may bind a retired key.
    const keys = keysCacheSeconds === undefined ? undefined : bundle.id === evidence.boot.id ? keysCacheSeconds() : 0;
    const maxAge = Math.max(0, Math.min(BUNDLE_MAX_AGE_SECONDS, keys ?? BUNDLE_MAX_AGE_SECONDS, Math.floor((bundle.freshUntil.getTime() - Date.now()) / 1000)));
    // Content-addressed: the bytes under an id never change, so caches may keep them until they go stale
    // or the keys they bind may stop decrypting.
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
      request.log.error(errorFields(e), 'fresh evidence failed');
      return sendProblem(reply, 'EVIDENCE_UNAVAILABLE');
    }
  });
  return Promise.resolve();
}
