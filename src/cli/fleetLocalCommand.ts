// `cloister fleet local` (what `npm run fleet` runs): a fleet on loopback (docs/fleet.md "The local fleet"), as
// processes of their own, the way `cloister local` runs one server: N `cloister serve --simulated` nodes, each
// with its own OHTTP key ID range and the memory-hygiene settings; `cloister fleet`, the directory service, which
// verifies them as clients do; HAProxy, the fleet's gateway, routing by key ID with the configuration `cloister
// fleet haproxy` writes (in a private temporary directory removed at stop); and a relay in front of HAProxy. When
// one stops, so do the others.
import { BUNDLE_PLATFORMS } from '../../attestation/evidence/platforms.js';
import { FLEET_DIRECTORY_PATH } from '../../attestation/fleet/fleetDirectory.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { HARDENED_GLIBC_TUNABLES, HARDENED_NODE_FLAGS } from '../base/memory/hygiene.js';
import type { KeyIdRange } from '../ohttp/rotationSchedule.js';
import { ChildStack } from './childStack.js';
import { DEFAULT_FLEET_PORT, DEFAULT_GATEWAY_LISTEN } from './fleetCommand.js';
import { findHaproxy, freePort, HAPROXY_MISSING_MESSAGE, HaproxyChild } from './haproxyChild.js';
import { errorLine, EXIT, parseOptions, usageError, type CliIo } from './io.js';
import { stopStackOnSignals } from './localCommand.js';

const DEFAULT_GATEWAY_PORT = Number(DEFAULT_GATEWAY_LISTEN.split(':')[1]);

export const FLEET_LOCAL_HELP = `Usage: cloister fleet local [options]

Start a fleet on loopback (docs/fleet.md "The local fleet"), as processes of their own:
  --nodes N "cloister serve --simulated" nodes, node-0 .. node-(N-1), on free ports, node i with the
    OHTTP key IDs i*K .. i*K+K-1 (K = --keys-per-node), the bundled model packs and the memory-hygiene
    settings (node ${HARDENED_NODE_FLAGS.join(' ')}, GLIBC_TUNABLES=${HARDENED_GLIBC_TUNABLES}); node-0
    starts first (it creates the simulated TEE's development roots when there are none), then the others;
  "cloister fleet --trust-simulated", the directory service, on --fleet-port;
  HAProxy (Debian's package "haproxy", 2.6 or later, found on PATH or in /usr/sbin), the fleet's gateway, on --gateway-port,
    routing each encapsulated request by its key ID to its node; its configuration ("cloister fleet
    haproxy") is written to a new private temporary directory, removed when the fleet stops;
  "cloister relay" for the gateway, on --relay-port.
Their output is passed on as "cloister local" does (names in front: node-0, fleet, haproxy, relay).
When all listen, a banner gives their URLs and process IDs and how to try it:
  npx cloister request receipt.png --trust-simulated \\
    --fleet http://127.0.0.1:${DEFAULT_GATEWAY_PORT}${FLEET_DIRECTORY_PATH} --relay http://127.0.0.1:8081/default
Ctrl-C (or SIGTERM) stops them all. Should one exit, the others are stopped and the command exits
non-zero. Nothing here is confidential: the TEE is simulated, and every log line says so.

Options:
  --nodes N            how many nodes (default 3)
  --keys-per-node K    key IDs per node (default 4; N*K at most 256)
  --gateway-port N     HAProxy's port (default ${DEFAULT_GATEWAY_PORT}; 0 picks a free one)
  --fleet-port N       the directory service's port (default ${DEFAULT_FLEET_PORT}; 0 picks a free one)
  --relay-port N       the relay's port (default 8081; 0 picks a free one)
  --platform NAME      simulated platform: ${BUNDLE_PLATFORMS.join(' or ')} (default sev-snp)
  --models DIR         model packs (default image/models), or "none" (faster: /v1/echo only)
  --ohttp-rotate S     passed to every node (default: serve's)
  --ohttp-overlap S    passed to every node (default: serve's)
  --refresh S          the directory service's rounds (default 10)
  --max-age S          the directory's cache lifetime (default 10)
  -h, --help           show this help

Exit status: 0 stopped by a signal, 1 a process of the fleet exited while serving, 2 usage, haproxy
missing (HAPROXY_MISSING), or a process of the fleet did not start (the line says why).
`;

const OPTIONS = {
  nodes: { type: 'string' },
  'keys-per-node': { type: 'string' },
  'gateway-port': { type: 'string' },
  'fleet-port': { type: 'string' },
  'relay-port': { type: 'string' },
  platform: { type: 'string' },
  models: { type: 'string' },
  'ohttp-rotate': { type: 'string' },
  'ohttp-overlap': { type: 'string' },
  refresh: { type: 'string' },
  'max-age': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface LocalFleetNode {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly keyIds: KeyIdRange;
}

export interface LocalFleet {
  readonly nodes: readonly LocalFleetNode[];
  /** The directory service's own URL (cloister fleet). */
  readonly fleet: string;
  readonly fleetPid: number;
  /** HAProxy's URL: the fleet's gateway. */
  readonly gateway: string;
  readonly haproxyPid: number;
  /** The fleet directory's URL at the gateway: what `cloister request --fleet` takes. */
  readonly directory: string;
  /** The relay's resource for the gateway: what `cloister request --relay` takes. */
  readonly relay: string;
  readonly relayPid: number;
}

export interface FleetLocalHooks {
  /** Receives the function that stops the fleet (resolving once all have exited); default: SIGINT or SIGTERM. */
  readonly stopSignal?: (stop: () => Promise<void>) => void;
  readonly onReady?: (fleet: LocalFleet) => void;
  /** Default findHaproxy. */
  readonly findHaproxy?: () => string | undefined;
  /** Receives every line the fleet's processes write, as it is passed on, with the process's name (node-0, fleet, haproxy, relay). */
  readonly output?: (name: string, line: string) => void;
}

const usage = (message: string): Error => usageError(message, 'fleet local');

function port(option: string, value: string | undefined, fallback: number): number {
  const text = value ?? String(fallback);
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw usage(`--${option} must be 0..65535, got "${text}"`);
  return Number(text);
}

function count(option: string, value: string | undefined, fallback: number, max: number): number {
  const text = value ?? String(fallback);
  if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > max) throw usage(`--${option} must be 1..${max}, got "${text}"`);
  return Number(text);
}

const seconds = (option: string, value: string | undefined): string[] => {
  if (value === undefined) return [];
  if (!/^\d{1,6}$/.test(value)) throw usage(`--${option} must be a whole number of seconds, got "${value}"`);
  return [`--${option}`, value];
};

interface Plan {
  readonly nodes: readonly { readonly name: string; readonly keyIds: KeyIdRange; readonly argv: readonly string[] }[];
  readonly gatewayPort: number;
  readonly fleetArgv: readonly string[];
  readonly relayPort: number;
  /** --models none: the nodes serve /v1/echo only, and the banner's command says so. */
  readonly echoOnly: boolean;
}

function plan(values: ReturnType<typeof parseOptions<typeof OPTIONS>>): Plan {
  const n = count('nodes', values.nodes, 3, 256);
  const k = count('keys-per-node', values['keys-per-node'], 4, 256);
  if (n * k > 256) throw usage(`--nodes ${n} with --keys-per-node ${k} needs ${n * k} key IDs: one gateway routes at most 256 (docs/fleet.md)`);
  const platform = values.platform ?? 'sev-snp';
  if (!(BUNDLE_PLATFORMS as readonly string[]).includes(platform)) throw usage(`--platform must be ${BUNDLE_PLATFORMS.join(' or ')}, got "${platform}"`);
  const shared = ['serve', '--simulated', '--platform', platform, '--port', '0', ...(values.models === undefined ? [] : ['--models', values.models]), ...seconds('ohttp-rotate', values['ohttp-rotate']), ...seconds('ohttp-overlap', values['ohttp-overlap'])];
  const nodes = Array.from({ length: n }, (_, i) => {
    const keyIds = { first: i * k, last: i * k + k - 1 };
    return { name: `node-${i}`, keyIds, argv: [...shared, '--ohttp-key-ids', `${keyIds.first}-${keyIds.last}`] };
  });
  return {
    nodes,
    gatewayPort: port('gateway-port', values['gateway-port'], DEFAULT_GATEWAY_PORT),
    fleetArgv: ['--trust-simulated', '--port', String(port('fleet-port', values['fleet-port'], DEFAULT_FLEET_PORT)), ...seconds('refresh', values.refresh), ...seconds('max-age', values['max-age'])],
    relayPort: port('relay-port', values['relay-port'], 8081),
    echoOnly: values.models === 'none',
  };
}

/** Starts the fleet; resolves when it has stopped, with the command's exit status. */
export async function fleetLocalCommand(argv: string[], io: CliIo, hooks: FleetLocalHooks = {}): Promise<number> {
  let p: Plan;
  let executable: string | undefined;
  try {
    const values = parseOptions(argv, OPTIONS, 'fleet local');
    if (values.help === true) {
      io.stdout(FLEET_LOCAL_HELP);
      return EXIT.ok;
    }
    p = plan(values);
    // Before any process starts: without HAProxy there is no fleet.
    executable = (hooks.findHaproxy ?? findHaproxy)();
    if (executable === undefined) throw new RuntimeError('HAPROXY_MISSING', HAPROXY_MISSING_MESSAGE);
  } catch (e) {
    io.stderr(errorLine(e));
    return EXIT.usage;
  }

  const stack = new ChildStack(io, Math.max(7, ...p.nodes.map((n) => n.name.length)), hooks.output);
  const hygiene = { nodeFlags: HARDENED_NODE_FLAGS, env: { GLIBC_TUNABLES: HARDENED_GLIBC_TUNABLES } };
  // node-0 alone first: with a fresh state directory, it creates the development roots the others then share. The
  // stack stops them in the reverse order: the relay first, the nodes last.
  const start = async (): Promise<boolean> => {
    const [first, ...rest] = p.nodes;
    if (first === undefined) return false;
    const started = [await stack.start({ name: first.name, argv: first.argv, ...hygiene })];
    if (started[0] === undefined) return false;
    started.push(...(await Promise.all(rest.map((n) => stack.start({ name: n.name, argv: n.argv, ...hygiene })))));
    const nodes: LocalFleetNode[] = [];
    for (const [i, s] of started.entries()) {
      const planned = p.nodes[i];
      if (s === undefined || planned === undefined) return false;
      nodes.push({ name: planned.name, keyIds: planned.keyIds, url: s.url, pid: s.pid });
    }
    const gatewayPort = p.gatewayPort === 0 ? await freePort() : p.gatewayPort;
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const nodeArgs = nodes.flatMap((n) => ['--node', `${n.name}=${n.url}=${n.keyIds.first}-${n.keyIds.last}`]);
    const fleet = await stack.start({ name: 'fleet', argv: ['fleet', ...nodeArgs, '--gateway', gatewayUrl, ...p.fleetArgv] });
    if (fleet === undefined) return false;
    const haproxyOutput = stack.outputOf('haproxy');
    const haproxy = await HaproxyChild.start({ executable, nodes: nodes.map((n) => ({ name: n.name, origin: n.url, keyIds: n.keyIds })), directory: fleet.url, port: gatewayPort, output: haproxyOutput.stderr, nameWidth: haproxyOutput.nameWidth ?? 0 });
    if ((await stack.adopt(haproxy, haproxy.ready)) === undefined) return false;
    const relay = await stack.start({ name: 'relay', argv: ['relay', '--gateway', `default=${gatewayUrl}`, '--port', String(p.relayPort)] });
    if (relay === undefined) return false;
    const ready: LocalFleet = { nodes, fleet: fleet.url, fleetPid: fleet.pid, gateway: gatewayUrl, haproxyPid: haproxy.pid, directory: `${gatewayUrl}${FLEET_DIRECTORY_PATH}`, relay: `${relay.url}/default`, relayPid: relay.pid };
    stack.showOutput();
    io.stderr(banner(ready, haproxy.dir, p.echoOnly));
    hooks.onReady?.(ready);
    return true;
  };
  return stack.supervise(start, hooks.stopSignal ?? stopStackOnSignals);
}

function banner(stack: LocalFleet, haproxyDir: string, echoOnly: boolean): string {
  const rows: [string, string, string][] = [
    ...stack.nodes.map((n): [string, string, string] => [n.name, n.url, `pid ${n.pid}, key IDs ${n.keyIds.first}-${n.keyIds.last}`]),
    ['fleet', `${stack.fleet}${FLEET_DIRECTORY_PATH}`, `pid ${stack.fleetPid} (the directory service)`],
    ['haproxy', stack.gateway, `pid ${stack.haproxyPid} (the gateway; configuration in ${haproxyDir}, removed at stop)`],
    ['relay', stack.relay, `pid ${stack.relayPid}`],
  ];
  const name = Math.max(...rows.map((r) => r[0].length));
  const url = Math.max(...rows.map((r) => r[1].length));
  return [
    '',
    `Local fleet ready: ${stack.nodes.length} nodes (SIMULATED TEE: nothing is confidential; memory hygiene on every node: ${HARDENED_NODE_FLAGS.join(' ')}, glibc malloc perturb).`,
    ...rows.map(([n, u, rest]) => `  ${n.padEnd(name)}  ${u.padEnd(url)}  ${rest}`),
    'Try it (--trust-simulated: the simulated TEE\'s roots and launch measurement, no other; every node is verified, one picked at random):',
    `  npx cloister request ${echoOnly ? 'FILE --path /v1/echo --type text/plain' : 'receipt.png'} --trust-simulated --fleet ${stack.directory} --relay ${stack.relay}`,
    'Stop them all with Ctrl-C.',
    '',
  ].join('\n');
}
