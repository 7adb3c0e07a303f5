// A node:http request body read into memory up to a limit, for the servers on node:http directly (the Privacy Pass
// issuer, the witness).
import type { IncomingMessage } from 'node:http';
import { RuntimeError } from './runtimeErrors.js';

/**
 * The body, or undefined once it passes `max` bytes, declared or read (the rest is not read); CLIENT_GONE when the
 * client closes its connection before the end of `what`.
 */
export function readRequestBody(req: IncomingMessage, max: number, what: string): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > max) {
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) resolve(undefined);
      else chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks, size));
    });
    const gone = (): void => {
      reject(new RuntimeError('CLIENT_GONE', `the client closed its connection before the end of its ${what}`));
    };
    req.on('error', gone);
    req.on('close', () => {
      if (!req.complete) gone();
    });
  });
}
