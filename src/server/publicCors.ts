// Browsers may read the server's public, read-only resources from any page: the status, the evidence bundles, the
// RA-TLS certificate and the key configurations it binds (the verify page, web/, checks a server from the visitor's
// browser). They are the same for everyone and no request to them carries credentials, so any origin may read them
// (`access-control-allow-origin: *`); a preflight is answered for GET with the one non-simple header clients send
// (`cache-control: no-cache`, to go past caches after a key rotation). The gateway's POST is not among them: a
// browser sends its requests through a relay, which answers CORS for what it forwards (src/relay/relay.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { EVIDENCE_PATH } from './routes/evidenceRoutes.js';
import { STATUS_PATH } from './routes/statusRoutes.js';

const PUBLIC_PATHS: readonly string[] = [STATUS_PATH, EVIDENCE_PATH, ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH];

/** Whether `url` (path and query) names one of the public read-only resources. */
export function isPublicResource(url: string): boolean {
  const path = url.split('?', 1)[0] ?? '';
  return PUBLIC_PATHS.includes(path) || path.startsWith(`${EVIDENCE_PATH}/`);
}

/** An onRequest hook: CORS headers for GET and HEAD of the public resources, and their preflight (204). */
export async function publicCors(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (!isPublicResource(request.url)) return;
  if (request.method === 'GET' || request.method === 'HEAD') reply.header('access-control-allow-origin', '*');
  else if (request.method === 'OPTIONS') {
    await reply
      .code(204)
      .headers({ 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'cache-control', 'access-control-max-age': '600' })
      .send();
  }
}
