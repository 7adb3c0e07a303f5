// The gateway's HTTP surface (RFC 9540 section 4, RFC 9458 section 5): GET /.well-known/ohttp-gateway
// serves the key configurations the current RA-TLS certificate binds; POST to it is the gateway
// resource; GET /.well-known/cloister/attestation serves that certificate, so a client that cannot see
// the TLS certificate (a browser, or one behind a relay) can still check what the configs are bound to.
// Both may be cached for KEYS_MAX_AGE_SECONDS at most, and never longer than the rotation schedule keeps
// the keys they name decrypting (docs/ohttp.md "Keys").
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { encodeOhttpKeys } from '../../../attestation/protocols/ohttp/keyConfig.js';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH, OHTTP_KEYS_MEDIA_TYPE, OHTTP_REQUEST_MEDIA_TYPE, OHTTP_RESPONSE_MEDIA_TYPE, PKIX_CERT_MEDIA_TYPE } from '../../../attestation/protocols/ohttp/paths.js';
import type { OhttpGateway } from '../../ohttp/gateway.js';
import { sizeClass } from '../../base/log.js';
import { sendProblem } from '../../base/problems.js';

/** 1 MiB of content plus the Binary HTTP and OHTTP framing. */
export const DEFAULT_MAX_REQUEST_BYTES = (1 << 20) + 4096;
const KEYS_MAX_AGE_SECONDS = 60;

export interface OhttpRouteOptions {
  readonly gateway: OhttpGateway;
  /** The configs to serve: those the current certificate binds (or, without RA-TLS, the live ones). */
  readonly keyConfigs: () => readonly Uint8Array[];
  /** The current RA-TLS certificate (DER); undefined when serving plain HTTP. */
  readonly certificate?: () => Uint8Array;
  /** Seconds caches may keep the served configs by the rotation schedule (OhttpKeyStore.cacheSeconds); undefined: no bound. */
  readonly cacheSeconds?: () => number | undefined;
  readonly maxRequestBytes?: number;
}

const buffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** A fastify plugin: its content-type parser for message/ohttp-req stays inside it. */
export function ohttpRoutes(app: FastifyInstance, options: OhttpRouteOptions): Promise<void> {
  const bodyLimit = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  app.addContentTypeParser(OHTTP_REQUEST_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit }, (_request, body, done) => {
    done(null, body);
  });

  const cacheControl = (): string => `public, max-age=${Math.min(KEYS_MAX_AGE_SECONDS, options.cacheSeconds?.() ?? KEYS_MAX_AGE_SECONDS)}`;

  app.get(OHTTP_GATEWAY_PATH, (_request, reply) => reply.header('cache-control', cacheControl()).type(OHTTP_KEYS_MEDIA_TYPE).send(buffer(encodeOhttpKeys(options.keyConfigs()))));

  app.get(ATTESTATION_CERTIFICATE_PATH, (_request, reply) => {
    if (options.certificate === undefined) return sendProblem(reply, 'NOT_FOUND', 'plain HTTP (--http): there is no RA-TLS certificate');
    return reply.header('cache-control', cacheControl()).type(PKIX_CERT_MEDIA_TYPE).send(buffer(options.certificate()));
  });

  app.post(OHTTP_GATEWAY_PATH, { bodyLimit }, async (request, reply) => {
    if (!Buffer.isBuffer(request.body)) return sendProblem(reply, 'UNSUPPORTED_MEDIA_TYPE', `send ${OHTTP_REQUEST_MEDIA_TYPE}`);
    const outcome = await options.gateway.handle(new Uint8Array(request.body.buffer, request.body.byteOffset, request.body.byteLength));
    if (outcome.kind === 'problem') return sendProblem(reply, outcome.code, outcome.detail);
    // The allowlisted facts about one private request: which model, how it ended, sizes rounded up to a power of two.
    request.log.info({ model: outcome.model ?? null, status: outcome.status, requestBytes: sizeClass(request.body.length), responseBytes: sizeClass(outcome.bodyLength) }, 'private request');
    reply.header('cache-control', 'no-store').type(OHTTP_RESPONSE_MEDIA_TYPE);
    const [only, ...more] = outcome.body;
    if (only !== undefined && more.length === 0) return reply.send(buffer(only));
    // A large ciphertext is written chunk by chunk as the AEAD produced it, never joined.
    return reply.header('content-length', outcome.bodyLength).send(Readable.from(outcome.body.map(buffer), { objectMode: false }));
  });
  return Promise.resolve();
}
