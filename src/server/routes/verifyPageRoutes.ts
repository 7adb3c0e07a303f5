// A convenience copy of the verify page (docs/verify-page.md) at /verify/: the files of a build (npm run web) that
// its web-manifest.json lists, checked against their digests when read, served as they are. A page served by the
// server it checks proves nothing about that server; the page sees that it is on a Cloister server (GET /status)
// and says so, and the copy to trust is one published apart (cloister verify-web).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { CloisterError } from '../../../attestation/errors.js';
import { assertWebManifest, WEB_MANIFEST_SUBJECT } from '../../../attestation/measure/webPageStatement.js';
import { sendProblem } from '../../base/problems.js';

export const VERIFY_PAGE_PATH = '/verify/';

const MEDIA_TYPES: Readonly<Record<string, string>> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json' };

/** The page's files by path, the manifest among them. */
export type VerifyPageFiles = ReadonlyMap<string, Uint8Array>;

/** Reads a build of the page from `dir`: UNREADABLE_INPUT when a file is missing, unlisted in a valid manifest, or not the bytes it lists. */
export async function readVerifyPage(dir: string): Promise<VerifyPageFiles> {
  const fail = (message: string, cause?: unknown): CloisterError => new CloisterError('UNREADABLE_INPUT', `cannot serve the verify page from "${dir}": ${message}`, { field: '--verify-page', ...(cause === undefined ? {} : { cause }) });
  const files = new Map<string, Uint8Array>();
  try {
    const manifestBytes = await readFile(join(dir, WEB_MANIFEST_SUBJECT));
    files.set(WEB_MANIFEST_SUBJECT, manifestBytes);
    for (const f of assertWebManifest(JSON.parse(manifestBytes.toString('utf8'))).files) {
      const bytes = await readFile(join(dir, f.path));
      if (createHash('sha256').update(bytes).digest('hex') !== f.sha256) throw fail(`${f.path} is not the file ${WEB_MANIFEST_SUBJECT} lists (SHA-256 ${f.sha256})`);
      files.set(f.path, bytes);
    }
  } catch (cause) {
    if (cause instanceof CloisterError && cause.code === 'UNREADABLE_INPUT') throw cause;
    throw fail((cause as Error).message, cause);
  }
  if (!files.has('index.html')) throw fail(`${WEB_MANIFEST_SUBJECT} lists no index.html`);
  return files;
}

/** A fastify plugin: GET /verify (to /verify/), /verify/ (index.html) and /verify/FILE. */
export function verifyPageRoutes(app: FastifyInstance, { files }: { readonly files: VerifyPageFiles }): Promise<void> {
  const send = (path: string, reply: import('fastify').FastifyReply): unknown => {
    const bytes = files.get(path);
    if (bytes === undefined) return sendProblem(reply, 'NOT_FOUND', `the verify page has no ${path}`);
    return reply
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .type(MEDIA_TYPES[extname(path)] ?? 'application/octet-stream')
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };
  app.get('/verify', (_request, reply) => reply.redirect(VERIFY_PAGE_PATH, 308));
  app.get(VERIFY_PAGE_PATH, (_request, reply) => send('index.html', reply));
  app.get<{ Params: { file: string } }>(`${VERIFY_PAGE_PATH}:file`, (request, reply) => send(request.params.file, reply));
  return Promise.resolve();
}
