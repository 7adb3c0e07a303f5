// `cloister local` (what `npm start` runs): the whole stack on loopback, as processes of their own, so that the
// splits it demonstrates are process boundaries: the issuer knows who may have tokens but not where they are spent,
// the relay sees who asks, the server what. A Privacy Pass issuer (keys and one account in a temporary directory),
// a server on the simulated TEE with the bundled model packs (the Oblivious HTTP gateway, requiring the issuer's
// tokens), started with the memory-hygiene settings, and a relay in front of it; then how to try it. When one
// stops, so do the others.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUNDLE_PLATFORMS } from '../../attestation/evidence/platforms.js';
import { HARDENED_GLIBC_TUNABLES, HARDENED_NODE_FLAGS } from '../base/memory/hygiene.js';
import { DEFAULT_ISSUER_PORT } from '../privacypass/issuer/server.js';
import { ChildStack } from './childStack.js';
import { errorLine, EXIT, parseOptions, usageError, type CliIo } from './io.js';
import { LOCAL_ACCOUNT, LocalIssuerFiles } from './localIssuer.js';
import { DEFAULT_RELAY } from './requestCommand.js';

/** The variable the banner's `cloister request` reads the issuer's bearer token from. */
export const ISSUER_AUTH_ENV = 'CLOISTER_ISSUER_AUTH';

export const LOCAL_HELP = `Usage: cloister local [options]

Start the local stack on loopback, as three processes:
  "cloister issuer" (Privacy Pass, token type 0x0002) on --issuer-port, with its keys and an accounts
    file in a new private temporary directory (mode 0700, removed when the stack stops) and one
    account, "${LOCAL_ACCOUNT}", whose bearer token is drawn at start;
  "cloister serve --simulated --issuer URL" (the simulated TEE, the bundled model packs, the Oblivious
    HTTP gateway, which requires a token from that issuer in every request) on --port, with the
    memory-hygiene settings (node ${HARDENED_NODE_FLAGS.join(' ')},
    GLIBC_TUNABLES=${HARDENED_GLIBC_TUNABLES});
  "cloister relay" for it on --relay-port.
Their output is passed on: log lines (JSON) on standard output as they are, the rest on standard
error after "issuer | ", "server | " or "relay  | ". When all listen, a banner gives their URLs and
process IDs, the account's bearer token (printed because the whole stack is a local demo; a real
issuer's credentials are secrets), and how to try it (--trust-simulated accepts the simulated TEE's
development roots and its launch measurement, no other):
  export ${ISSUER_AUTH_ENV}=TOKEN
  npx cloister request receipt.png --trust-simulated --issuer http://127.0.0.1:${DEFAULT_ISSUER_PORT} \\
    --issuer-auth-env ${ISSUER_AUTH_ENV}
With --no-privacy-pass there is no issuer: two processes, and the gateway takes requests without
tokens:
  npx cloister request receipt.png --trust-simulated
Ctrl-C (or SIGTERM) stops them all. Should one exit, the others are stopped and the command exits
non-zero. Nothing here is confidential: the TEE is simulated, and every log line says so.

Options:
  --port N           the server's port (default 8080; 0 picks a free one)
  --relay-port N     the relay's port (default 8081; 0 picks a free one)
  --issuer-port N    the issuer's port (default ${DEFAULT_ISSUER_PORT}; 0 picks a free one)
  --no-privacy-pass  start no issuer; the gateway requires no token
  --platform NAME    simulated platform: ${BUNDLE_PLATFORMS.join(' or ')} (default sev-snp)
  --models DIR       model packs (default image/models), or "none"
  -h, --help         show this help

Exit status: 0 stopped by a signal, 1 a process of the stack exited while serving, 2 usage, or a
process of the stack did not start (the line says why).
`;

const OPTIONS = {
  port: { type: 'string' },
  'relay-port': { type: 'string' },
  'issuer-port': { type: 'string' },
  'no-privacy-pass': { type: 'boolean' },
  platform: { type: 'string' },
  models: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface LocalIssuer {
  readonly url: string;
  readonly pid: number;
  /** The bearer token of the one account. */
  readonly bearer: string;
  /** Its --key-dir, which also holds the accounts file; removed when the stack stops. */
  readonly dir: string;
}

export interface LocalStack {
  readonly server: string;
  /** The relay's resource for the server: what `cloister request --relay` takes. */
  readonly relay: string;
  readonly serverPid: number;
  readonly relayPid: number;
  /** Absent with --no-privacy-pass. */
  readonly issuer?: LocalIssuer;
}

export interface LocalHooks {
  /** Receives the function that stops the stack (resolving once all have exited); default: SIGINT or SIGTERM. */
  readonly stopSignal?: (stop: () => Promise<void>) => void;
  readonly onReady?: (stack: LocalStack) => void;
}

function port(option: string, value: string | undefined, fallback: string): string {
  const text = value ?? fallback;
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw usageError(`--${option} must be 0..65535, got "${text}"`, 'local');
  return text;
}

/** The default stop: SIGINT (Ctrl-C) or SIGTERM; the command then resolves, and the process exits. */
export function stopStackOnSignals(stop: () => Promise<void>): void {
  const once = (): void => {
    void stop();
  };
  process.once('SIGINT', once);
  process.once('SIGTERM', once);
}

/** The server's command line, from local's options. */
function serveArgv(values: ReturnType<typeof parseOptions<typeof OPTIONS>>): string[] {
  const platform = values.platform ?? 'sev-snp';
  if (!(BUNDLE_PLATFORMS as readonly string[]).includes(platform)) throw usageError(`--platform must be ${BUNDLE_PLATFORMS.join(' or ')}, got "${platform}"`, 'local');
  return ['serve', '--simulated', '--platform', platform, '--port', port('port', values.port, '8080'), ...(values.models === undefined ? [] : ['--models', values.models])];
}

/** Starts the stack; resolves when it has stopped, with the command's exit status. */
export async function localCommand(argv: string[], io: CliIo, hooks: LocalHooks = {}): Promise<number> {
  let serve: string[];
  let relayPort: string;
  let issuerPort: string | undefined;
  try {
    const values = parseOptions(argv, OPTIONS, 'local');
    if (values.help === true) {
      io.stdout(LOCAL_HELP);
      return EXIT.ok;
    }
    serve = serveArgv(values);
    relayPort = port('relay-port', values['relay-port'], '8081');
    if (values['no-privacy-pass'] === true && values['issuer-port'] !== undefined) throw usageError('--issuer-port and --no-privacy-pass contradict each other', 'local');
    issuerPort = values['no-privacy-pass'] === true ? undefined : port('issuer-port', values['issuer-port'], String(DEFAULT_ISSUER_PORT));
  } catch (e) {
    io.stderr(errorLine(e));
    return EXIT.usage;
  }

  const stack = new ChildStack(io, 6);
  let files: LocalIssuerFiles | undefined;
  // The issuer, the server, the relay; stopped in the reverse order: the relay stops taking requests before the
  // server stops answering them, and the server stops redeeming before the issuer goes.
  const start = async (): Promise<boolean> => {
    let issuer: LocalIssuer | undefined;
    if (issuerPort !== undefined) {
      files = await LocalIssuerFiles.create();
      const started = await stack.start({ name: 'issuer', argv: files.issuerArgv(issuerPort) });
      if (started === undefined) return false;
      issuer = { ...started, bearer: files.bearer, dir: files.dir };
    }
    const server = await stack.start({ name: 'server', argv: [...serve, ...(issuer === undefined ? [] : ['--issuer', issuer.url])], nodeFlags: HARDENED_NODE_FLAGS, env: { GLIBC_TUNABLES: HARDENED_GLIBC_TUNABLES } });
    if (server === undefined) return false;
    const relay = await stack.start({ name: 'relay', argv: ['relay', '--gateway', `default=${server.url}`, '--port', relayPort] });
    if (relay === undefined) return false;
    const ready: LocalStack = { server: server.url, relay: `${relay.url}/default`, serverPid: server.pid, relayPid: relay.pid, ...(issuer === undefined ? {} : { issuer }) };
    stack.showOutput();
    io.stderr(banner(ready));
    hooks.onReady?.(ready);
    return true;
  };
  return stack.supervise(start, hooks.stopSignal ?? stopStackOnSignals, async () => {
    await files?.remove();
  });
}

/** The verify page as `npm run web` builds it in this checkout. */
const VERIFY_PAGE = fileURLToPath(new URL('../../../build/web/index.html', import.meta.url));

function banner(stack: LocalStack): string {
  const { issuer } = stack;
  const width = Math.max(stack.server.length, stack.relay.length, issuer?.url.length ?? 0);
  const relayFlag = stack.relay === DEFAULT_RELAY ? '' : ` --relay ${stack.relay}`;
  const lines = [
    '',
    'Local stack ready (SIMULATED TEE: nothing is confidential).',
    ...(issuer === undefined ? [] : [`  issuer  ${issuer.url.padEnd(width)}  pid ${issuer.pid} (Privacy Pass; keys and account "${LOCAL_ACCOUNT}" in ${issuer.dir}, removed at stop)`]),
    `  server  ${stack.server.padEnd(width)}  pid ${stack.serverPid} (memory hygiene: ${HARDENED_NODE_FLAGS.join(' ')}, glibc malloc perturb${issuer === undefined ? '' : '; requires a token'})`,
    `  relay   ${stack.relay.padEnd(width)}  pid ${stack.relayPid}`,
  ];
  if (issuer === undefined) {
    lines.push('Try it (--trust-simulated: the simulated TEE\'s roots and launch measurement, no other):', `  npx cloister request receipt.png --trust-simulated${relayFlag}`);
  } else {
    lines.push(
      `Try it (--trust-simulated: the simulated TEE's roots and launch measurement, no other; a local demo, so the bearer token of account "${LOCAL_ACCOUNT}" is shown, a real issuer's is a secret):`,
      `  export ${ISSUER_AUTH_ENV}=${issuer.bearer}`,
      `  npx cloister request receipt.png --trust-simulated --issuer ${issuer.url} --issuer-auth-env ${ISSUER_AUTH_ENV}${relayFlag}`,
    );
  }
  lines.push(
    `  npx cloister verify ${stack.server} --trust-simulated`,
    `Or verify it in your browser (docs/verify-page.md)${existsSync(VERIFY_PAGE) ? '' : ': npm run web, then'} open`,
    `  ${pathToFileURL(VERIFY_PAGE).href}?server=${encodeURIComponent(stack.relay)}&simulated=1`,
    `Stop ${issuer === undefined ? 'both' : 'all three'} with Ctrl-C.`, '');
  return lines.join('\n');
}
