// HAProxy (Debian's package, 2.6 or later) as a child process of `cloister fleet local`: the fleet's gateway
// (docs/fleet.md "Routing: HAProxy"), with the configuration `cloister fleet haproxy` writes, in a private
// temporary directory (mode 0700) that it owns and removes once HAProxy has exited. It is ready when its frontend
// answers GET /status; its output (the request log, no content: src/fleet/haproxyConfig.ts) is passed on like a
// cloister child's standard error, with "haproxy | " in front.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { haproxyConfig, haproxyKeyMap, type HaproxyNode } from '../fleet/haproxyConfig.js';
import { ChildExitedError, describeExit, exitOf, holdLines, STOP_GRACE_MS, stopChild, type ChildExit } from './childCommand.js';

/**
 * The status GET `url` answers within 1 s. HTTPS is not authenticated: this is the supervisor asking its own child on
 * loopback whether it listens yet, with a certificate the caller gave it.
 */
function statusOf(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method: 'GET', timeout: 1000, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** How long HAProxy has to answer GET /status once started. */
const READY_TIMEOUT_MS = 15_000;

/** Where Debian installs it: outside a non-root user's default PATH. */
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin'];

/** The message for a missing haproxy (HAPROXY_MISSING). */
export const HAPROXY_MISSING_MESSAGE = `haproxy is neither on PATH nor in ${SBIN_DIRS.join(' or ')}: install HAProxy 2.6 or later (Debian's package "haproxy": apt-get install haproxy)`;

/** The haproxy executable on PATH or in the sbin directories, or undefined. */
export function findHaproxy(path: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...path.split(delimiter), ...SBIN_DIRS]) {
    if (dir === '') continue;
    const candidate = join(dir, 'haproxy');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A TCP port that was free a moment ago on `host` (HAProxy cannot report the port it bound for port 0). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
  });
}

export interface HaproxyChildOptions {
  /** The haproxy executable (findHaproxy()). */
  readonly executable: string;
  readonly nodes: readonly HaproxyNode[];
  /** cloister fleet's http:// origin. */
  readonly directory: string;
  /** The loopback port HAProxy listens on. */
  readonly port: number;
  /** Receives each output line, with "haproxy | " in front, from showOutput() on. */
  readonly output: (line: string) => void;
  readonly nameWidth?: number;
  /** PEM of the gateway's certificate and key: HAProxy then listens for HTTPS. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

const SETPRIV = '/usr/bin/setpriv';

export class HaproxyChild {
  readonly name = 'haproxy';
  readonly pid: number;
  /** Its gateway URL, http://127.0.0.1:PORT. */
  readonly url: string;
  /** The private directory of haproxy.cfg, keyids.map and admin.sock. */
  readonly dir: string;
  /** Its URL once GET /status answers; a ChildExitedError when it exits first. */
  readonly ready: Promise<string>;
  /** Resolves once it has exited, its output has been passed on and its directory removed. */
  readonly exited: Promise<ChildExit>;
  readonly showOutput: () => void;
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess, url: string, dir: string, ready: Promise<string>, exited: Promise<ChildExit>, showOutput: () => void) {
    this.#child = child;
    this.pid = child.pid ?? 0;
    this.url = url;
    this.dir = dir;
    this.ready = ready;
    this.exited = exited;
    this.showOutput = showOutput;
  }

  /** Writes the configuration and starts `haproxy -db`. */
  static async start(options: HaproxyChildOptions): Promise<HaproxyChild> {
    const dir = await mkdtemp(join(tmpdir(), 'cloister-haproxy-'));
    const mapFile = join(dir, 'keyids.map');
    const config = join(dir, 'haproxy.cfg');
    const url = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${options.port}`;
    await writeFile(mapFile, haproxyKeyMap(options.nodes), { mode: 0o600 });
    const tlsCertificate = options.tls === undefined ? undefined : join(dir, 'gateway.pem');
    if (options.tls !== undefined && tlsCertificate !== undefined) await writeFile(tlsCertificate, `${options.tls.cert}${options.tls.key}`, { mode: 0o600 });
    await writeFile(config, haproxyConfig({ nodes: options.nodes, listen: `127.0.0.1:${options.port}`, directory: options.directory, mapFile, socket: join(dir, 'admin.sock'), ...(tlsCertificate === undefined ? {} : { tlsCertificate }) }), { mode: 0o600 });
    // A session of its own, as for the cloister children: Ctrl-C reaches only the supervisor. setpriv (util-linux)
    // has the kernel send it SIGTERM when the supervisor dies, even by SIGKILL, so no HAProxy outlives the stack.
    const [command, args] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'TERM', '--', options.executable, '-db', '-f', config]] : [options.executable, ['-db', '-f', config]];
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const { held, showOutput, showing } = holdLines([child.stdout, child.stderr], `${'haproxy'.padEnd(options.nameWidth ?? 0)} | `, options.output);
    const exited = exitOf(child).then(async (exit) => {
      await rm(dir, { recursive: true, force: true });
      return exit;
    });
    let gone = false;
    const ready = new Promise<string>((resolve, reject) => {
      void exited.then((exit) => {
        gone = true;
        const alert = (showing() ? [] : held).find((l) => /\[ALERT\]/.test(l));
        reject(new ChildExitedError(`haproxy${child.pid === undefined ? '' : ` (pid ${child.pid})`} exited with ${describeExit(exit)} before it listened${alert === undefined ? '' : `: ${alert.replace(/^.*\[ALERT\]\s*/, '')}`}`));
      });
      const started = Date.now();
      const poll = (): void => {
        if (gone) return;
        statusOf(`${url}/status`).then(
          (status) => {
            if (status === 200) resolve(url);
            else retry();
          },
          () => {
            retry();
          },
        );
      };
      const retry = (): void => {
        if (Date.now() - started > READY_TIMEOUT_MS) {
          reject(new ChildExitedError(`haproxy (pid ${child.pid ?? '?'}) did not answer GET ${url}/status within ${READY_TIMEOUT_MS / 1000} s`));
          return;
        }
        setTimeout(poll, 100);
      };
      poll();
    });
    ready.catch(() => undefined);
    return new HaproxyChild(child, url, dir, ready, exited, showOutput);
  }

  /** SIGTERM (HAProxy's hard stop: the stack is going), then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs = STOP_GRACE_MS): Promise<ChildExit> {
    return stopChild(this.#child, this.exited, graceMs);
  }
}
