// `cloister local` (what `npm start` runs): the whole stack on loopback. A server on the simulated TEE
// with the bundled model packs (the Oblivious HTTP gateway), and a relay in front of it, then how to try it.
import { errorLine, EXIT, parseOptions, type CliIo, stopOnSignals } from './io.js';
import { DEFAULT_RELAY } from './requestCommand.js';
import { relayCommand } from './relayCommand.js';
import { serveCommand } from './serveCommand.js';

export const LOCAL_HELP = `Usage: cloister local [options]

Start the local stack on loopback: "cloister serve --simulated" (the simulated TEE, the bundled model
packs, the Oblivious HTTP gateway) on --port, and "cloister relay" for it on --relay-port. Then try:
  npx cloister request receipt.png --trust-simulated
Nothing here is confidential: the TEE is simulated, and every log line says so.

Options:
  --port N          the server's port (default 8080)
  --relay-port N    the relay's port (default 8081)
  --platform NAME   simulated platform: sev-snp or tdx (default sev-snp)
  --models DIR      model packs (default image/models), or "none"
  -h, --help        show this help
`;

const OPTIONS = {
  port: { type: 'string' },
  'relay-port': { type: 'string' },
  platform: { type: 'string' },
  models: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface LocalHooks {
  readonly stopSignal?: (close: () => Promise<void>) => void;
  readonly onReady?: (urls: { server: string; relay: string }) => void;
}

export async function localCommand(argv: string[], io: CliIo, hooks: LocalHooks = {}): Promise<number> {
  const values = (() => {
    try {
      return parseOptions(argv, OPTIONS, 'local');
    } catch (e) {
      io.stderr(errorLine(e));
      return undefined;
    }
  })();
  if (values === undefined) return EXIT.usage;
  if (values.help === true) {
    io.stdout(LOCAL_HELP);
    return EXIT.ok;
  }
  const closers: (() => Promise<void>)[] = [];
  let server = '';
  const serveArgs = ['--simulated', '--port', values.port ?? '8080', ...(values.platform === undefined ? [] : ['--platform', values.platform]), ...(values.models === undefined ? [] : ['--models', values.models])];
  const served = await serveCommand(serveArgs, io, { stopSignal: (c) => closers.push(c), onListening: (u) => (server = u) });
  if (served !== EXIT.ok) return served;
  let relay = '';
  const relayed = await relayCommand(['--gateway', `default=${server}`, '--port', values['relay-port'] ?? '8081'], io, { stopSignal: (c) => closers.unshift(c), onListening: (u) => (relay = u) });
  if (relayed !== EXIT.ok) {
    for (const c of closers) await c();
    return relayed;
  }
  const resource = `${relay}/default`;
  io.stderr(
    `\nLocal stack ready (SIMULATED TEE: nothing is confidential).\n` +
      `  server  ${server}   relay  ${resource}\n` +
      `Try it:\n` +
      `  npx cloister request receipt.png --trust-simulated${resource === DEFAULT_RELAY ? '' : ` --relay ${resource}`}\n` +
      `  npx cloister verify ${server} --trust-simulated\n` +
      `Stop with Ctrl-C.\n`,
  );
  hooks.onReady?.({ server, relay: resource });
  (hooks.stopSignal ?? stopOnSignals)(async () => {
    for (const c of closers) await c();
  });
  return EXIT.ok;
}
