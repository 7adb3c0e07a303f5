// `cloister fleet`'s service: assembles the fleet directory from the nodes every `refreshSeconds` and serves the
// newest at GET /.well-known/cloister/fleet (the fleet's load balancer routes that path here), cacheable for at
// most `maxAgeSeconds`, which should not exceed the nodes' key overlap: a directory cached longer names retired keys.
// node:http, not fastify: it logs what it decides (nodes joining and leaving), never who asked.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { FLEET_DIRECTORY_MEDIA_TYPE, FLEET_DIRECTORY_PATH, serializeFleetDirectory } from '../../attestation/fleet/fleetDirectory.js';
import { writeProblem } from '../base/problems.js';
import { unrefTimer, type TimerHandle } from '../base/timer.js';
import { assembleDirectory, type AssembleOptions, type AssembledDirectory } from './assembleDirectory.js';

export interface DirectoryServerOptions extends AssembleOptions {
  readonly refreshSeconds: number;
  readonly maxAgeSeconds: number;
  readonly logger: Logger;
}

export interface DirectoryServer {
  /** The newest directory, after the first round. */
  readonly current: AssembledDirectory | undefined;
  /** Assembles now (also what the timer does). */
  refresh(): Promise<AssembledDirectory>;
  listen(host: string, port: number): Promise<string>;
  close(): Promise<void>;
}


/** JSON lines with service cloister-fleet: which nodes are listed and why others are not; never who asked. */
export function createFleetLogger(destination: NodeJS.WritableStream = process.stdout): Logger {
  return pino({ level: 'info', base: { service: 'cloister-fleet' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

export function createDirectoryServer(options: DirectoryServerOptions): DirectoryServer {
  let current: { assembled: AssembledDirectory; bytes: Buffer } | undefined;
  let listed = '';
  let timer: TimerHandle | undefined;
  let closed = false;

  async function refresh(): Promise<AssembledDirectory> {
    const fresh = await assembleDirectory(options);
    // The same nodes with the same certificates keep the same bytes (and `issued`): caches, the relay's copy and
    // the clients' comparison of the two see a change only when there is one.
    const previous = current?.assembled.directory;
    const unchanged = previous !== undefined && Buffer.from(serializeFleetDirectory({ ...fresh.directory, issued: previous.issued })).equals(current?.bytes ?? Buffer.alloc(0));
    const assembled = unchanged ? { ...fresh, directory: { ...fresh.directory, issued: previous.issued } } : fresh;
    current = { assembled, bytes: Buffer.from(serializeFleetDirectory(assembled.directory)) };
    const names = assembled.directory.nodes.map((n) => n.name).join(',');
    const left = assembled.left.map((l) => `${l.name}:${l.error.code}`).join(',');
    if (`${names}|${left}` !== listed) {
      listed = `${names}|${left}`;
      options.logger.info({ nodes: assembled.directory.nodes.map((n) => n.name), left: assembled.left.map((l) => ({ name: l.name, code: l.error.code, reason: l.error.message })) }, 'fleet directory changed');
    }
    return assembled;
  }

  function schedule(): void {
    if (closed) return;
    timer = unrefTimer(() => {
      refresh().then(schedule, (e: unknown) => {
        options.logger.error({ error: (e as Error).message }, 'fleet directory round failed');
        schedule();
      });
    }, options.refreshSeconds * 1000);
  }

  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('access-control-allow-origin', '*');
    if (req.url !== FLEET_DIRECTORY_PATH) {
      writeProblem(res, 'NOT_FOUND', `cloister fleet serves GET ${FLEET_DIRECTORY_PATH}`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      writeProblem(res, 'METHOD_NOT_ALLOWED', 'GET the fleet directory', { allow: 'GET, HEAD' });
      return;
    }
    if (current === undefined) {
      writeProblem(res, 'FLEET_DIRECTORY_UNAVAILABLE', 'the nodes are being asked; try again shortly', { 'retry-after': '1' });
      return;
    }
    res.writeHead(200, { 'content-type': FLEET_DIRECTORY_MEDIA_TYPE, 'content-length': current.bytes.length, 'cache-control': `public, max-age=${options.maxAgeSeconds}` });
    res.end(req.method === 'HEAD' ? undefined : current.bytes);
  });

  return {
    get current() {
      return current?.assembled;
    },
    refresh,
    async listen(host, port) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          resolve();
        });
      });
      await refresh().catch((e: unknown) => {
        options.logger.error({ error: (e as Error).message }, 'fleet directory round failed');
      });
      schedule();
      const { address, port: bound } = server.address() as AddressInfo;
      return `http://${address.includes(':') ? `[${address}]` : address}:${bound}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        timer?.clear();
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
