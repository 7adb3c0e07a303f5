// Test support: a directory served read-only over loopback HTTP, as any static web server would serve a tile log
// (GET of a file below the root: 200 with its bytes, anything else 404), or the verify page (web/). No directory
// listings, no paths out of it. Readable from any origin, as a log must be for the verify page in a browser.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';

/** Module scripts are refused unless served as JavaScript. */
const MEDIA_TYPES: Readonly<Record<string, string>> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

export interface StaticServer {
  readonly url: string;
  /** The paths requested, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function serveDirectory(dir: string): Promise<StaticServer> {
  const root = resolve(dir);
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const file = resolve(root, `.${path}`);
    if (req.method !== 'GET' || !file.startsWith(root + sep)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (bytes) => res.writeHead(200, { 'content-type': MEDIA_TYPES[extname(file)] ?? 'application/octet-stream', 'access-control-allow-origin': '*' }).end(bytes),
      () => res.writeHead(404, { 'access-control-allow-origin': '*' }).end(),
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, requests, close: () => new Promise((ok) => { server.close(() => { ok(); }); }) };
}
