// `cloister local` (what `npm start` runs): the whole stack on loopback, as two processes, so that the split
// it demonstrates is a process boundary: the relay sees who asks, the server what. A server on the simulated
// TEE with the bundled model packs (the Oblivious HTTP gateway), started with the memory-hygiene settings,
// and a relay in front of it; then how to try it. When either stops, so does the other.
import { BUNDLE_PLATFORMS } from '../../attestation/evidence/platforms.js';
import { HARDENED_GLIBC_TUNABLES, HARDENED_NODE_FLAGS } from '../base/memory/hygiene.js';
import { ChildCommand, ChildExitedError, describeExit, type ChildExit } from './childCommand.js';
import { errorLine, EXIT, parseOptions, usageError, type CliIo } from './io.js';
import { DEFAULT_RELAY } from './requestCommand.js';

export const LOCAL_HELP = `Usage: cloister local [options]

Start the local stack on loopback, as two processes: "cloister serve --simulated" (the simulated TEE,
the bundled model packs, the Oblivious HTTP gateway) on --port, with the memory-hygiene settings
(node ${HARDENED_NODE_FLAGS.join(' ')}, GLIBC_TUNABLES=${HARDENED_GLIBC_TUNABLES}),
and "cloister relay" for it on --relay-port. Their output is passed on: log lines (JSON) on standard
output as they are, the rest on standard error after "server | " or "relay  | ". When both listen, a
banner gives their URLs and process IDs; then try (--trust-simulated accepts the simulated TEE's
development roots and its launch measurement, no other):
  npx cloister request receipt.png --trust-simulated
Ctrl-C (or SIGTERM) stops both. Should either exit, the other is stopped and the command exits non-zero.
Nothing here is confidential: the TEE is simulated, and every log line says so.

Options:
  --port N          the server's port (default 8080; 0 picks a free one)
  --relay-port N    the relay's port (default 8081; 0 picks a free one)
  --platform NAME   simulated platform: ${BUNDLE_PLATFORMS.join(' or ')} (default sev-snp)
  --models DIR      model packs (default image/models), or "none"
  -h, --help        show this help

Exit status: 0 stopped by a signal, 1 a process of the stack exited while serving, 2 usage, or a
process of the stack did not start (the line says why).
`;

const OPTIONS = {
  port: { type: 'string' },
  'relay-port': { type: 'string' },
  platform: { type: 'string' },
  models: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface LocalStack {
  readonly server: string;
  /** The relay's resource for the server: what `cloister request --relay` takes. */
  readonly relay: string;
  readonly serverPid: number;
  readonly relayPid: number;
}

export interface LocalHooks {
  /** Receives the function that stops the stack (resolving once both have exited); default: SIGINT or SIGTERM. */
  readonly stopSignal?: (stop: () => Promise<void>) => void;
  readonly onReady?: (stack: LocalStack) => void;
}

function port(option: string, value: string | undefined, fallback: string): string {
  const text = value ?? fallback;
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw usageError(`--${option} must be 0..65535, got "${text}"`, 'local');
  return text;
}

/** The default stop: SIGINT (Ctrl-C) or SIGTERM; the command then resolves, and the process exits. */
function stopStackOnSignals(stop: () => Promise<void>): void {
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
  try {
    const values = parseOptions(argv, OPTIONS, 'local');
    if (values.help === true) {
      io.stdout(LOCAL_HELP);
      return EXIT.ok;
    }
    serve = serveArgv(values);
    relayPort = port('relay-port', values['relay-port'], '8081');
  } catch (e) {
    io.stderr(errorLine(e));
    return EXIT.usage;
  }

  let requestStop: () => void = () => undefined;
  // Resolves (with undefined) when the stack is asked to stop.
  const stopRequested = new Promise<undefined>((resolve) => {
    requestStop = () => {
      resolve(undefined);
    };
  });
  const children: ChildCommand[] = [];
  // The relay first: it stops taking requests before the server stops answering them.
  const stopAll = async (): Promise<void> => {
    for (const child of [...children].reverse()) await child.stop();
  };
  const output = {
    stdout: (line: string) => {
      io.stdout(`${line}\n`);
    },
    stderr: (line: string) => {
      io.stderr(`${line}\n`);
    },
    nameWidth: 6,
  };
  /** Starts a child; its URL once it listens, or undefined when the stack was asked to stop first. */
  const start = (options: { name: string; argv: string[]; nodeFlags?: readonly string[]; env?: Record<string, string> }): Promise<string | undefined> => {
    const child = ChildCommand.start({ ...options, ...output });
    children.push(child);
    return Promise.race([child.ready, stopRequested]);
  };
  const run = (async (): Promise<number> => {
    try {
      const server = await start({ name: 'server', argv: serve, nodeFlags: HARDENED_NODE_FLAGS, env: { GLIBC_TUNABLES: HARDENED_GLIBC_TUNABLES } });
      const relay = server === undefined ? undefined : await start({ name: 'relay', argv: ['relay', '--gateway', `default=${server}`, '--port', relayPort] });
      if (server === undefined || relay === undefined) {
        await stopAll();
        return EXIT.ok;
      }
      const [serverChild, relayChild] = children as [ChildCommand, ChildCommand];
      const stack: LocalStack = { server, relay: `${relay}/default`, serverPid: serverChild.pid, relayPid: relayChild.pid };
      for (const child of children) child.showOutput();
      io.stderr(banner(stack));
      hooks.onReady?.(stack);
      const first = await Promise.race([stopRequested, ...children.map(async (child) => ({ child, exit: await child.exited }))]);
      await stopAll();
      if (first === undefined) return EXIT.ok;
      io.stderr(errorLine(diedWhileServing(first.child, first.exit, children)));
      return EXIT.rejected;
    } catch (e) {
      await stopAll();
      if (!(e instanceof ChildExitedError)) throw e;
      io.stderr(errorLine(e));
      return EXIT.usage;
    }
  })();
  (hooks.stopSignal ?? stopStackOnSignals)(async () => {
    requestStop();
    await run;
  });
  return run;
}

function diedWhileServing(child: ChildCommand, exit: ChildExit, children: readonly ChildCommand[]): ChildExitedError {
  const others = children.filter((c) => c !== child).map((c) => `the ${c.name}`);
  return new ChildExitedError(`the ${child.name} (pid ${child.pid}) exited with ${describeExit(exit)} while serving; stopped ${others.join(' and ')}`);
}

function banner(stack: LocalStack): string {
  const width = Math.max(stack.server.length, stack.relay.length);
  return (
    `\nLocal stack ready (SIMULATED TEE: nothing is confidential).\n` +
    `  server  ${stack.server.padEnd(width)}  pid ${stack.serverPid} (memory hygiene: ${HARDENED_NODE_FLAGS.join(' ')}, glibc malloc perturb)\n` +
    `  relay   ${stack.relay.padEnd(width)}  pid ${stack.relayPid}\n` +
    `Try it (--trust-simulated: the simulated TEE's roots and launch measurement, no other):\n` +
    `  npx cloister request receipt.png --trust-simulated${stack.relay === DEFAULT_RELAY ? '' : ` --relay ${stack.relay}`}\n` +
    `  npx cloister verify ${stack.server} --trust-simulated\n` +
    `Stop both with Ctrl-C.\n`
  );
}
