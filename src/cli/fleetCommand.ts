// `cloister fleet`: the fleet directory service (docs/fleet.md), outside the VMs. It asks every node for its
// attestation certificate and key configurations, verifies each as a client would (the same measurement source
// options), and serves the nodes that pass as one directory at GET /.well-known/cloister/fleet.
import { CloisterError } from '../../attestation/errors.js';
import { OhttpClient } from '../../attestation/client/ohttpClient.js';
import { FLEET_DIRECTORY_PATH } from '../../attestation/fleet/fleetDirectory.js';
import type { UsageError } from '../base/runtimeErrors.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createDirectoryServer, createFleetLogger } from '../fleet/directoryServer.js';
import { haproxyConfig, haproxyKeyMap } from '../fleet/haproxyConfig.js';
import type { FleetNodeSource } from '../fleet/assembleDirectory.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { errorLine, EXIT, parseOptions, usageError, type CliIo, stopOnSignals } from './io.js';
import { MEASUREMENT_HELP, MEASUREMENT_OPTIONS } from './policyOptions.js';
import { TRUST_HELP, TRUST_OPTIONS, trustFromOptions } from './trustOptions.js';

export const DEFAULT_FLEET_PORT = 8090;
export const DEFAULT_GATEWAY_LISTEN = '127.0.0.1:8443';

export const FLEET_HAPROXY_HELP = `Usage: cloister fleet haproxy --node NAME=URL=FIRST-LAST ... --directory URL --out DIR [--listen ADDRESS:PORT]

Write the fleet gateway's HAProxy configuration (HAProxy 2.6 or later; docs/fleet.md "Routing: HAProxy") to
DIR/haproxy.cfg and its key map to DIR/keyids.map: an encapsulated request (POST /.well-known/ohttp-gateway) goes
to the node whose key ID range holds its first byte; an unknown key ID is answered 422 OHTTP_KEY, a key whose node
is down 503; GET of the key configurations, the attestation certificate and /status go to any healthy node, GET
of /.well-known/cloister/fleet to cloister fleet at --directory. Health checks on GET /status every second; the
runtime API socket is DIR/admin.sock (drain, maintenance, map updates). Then:
  haproxy -c -f DIR/haproxy.cfg && haproxy -db -f DIR/haproxy.cfg

Options:
  --node NAME=URL=FIRST-LAST  a node: its name, its own http(s):// URL (HTTPS is spoken without verifying the
                              certificate: RA-TLS is self-signed, and OHTTP is end to end), its key ID range;
                              repeatable, as given to cloister fleet; the nodes of one shard (one HAProxy per
                              gateway URL)
  --directory URL             where cloister fleet listens (http://)
  --listen ADDRESS:PORT       where HAProxy listens, plain HTTP (default ${DEFAULT_GATEWAY_LISTEN})
  --out DIR                   where to write haproxy.cfg and keyids.map (created)
  -h, --help                  show this help
`;

export const FLEET_HELP = `Usage: cloister fleet --node NAME=URL=FIRST-LAST ... --gateway URL (--measurement HEX... | --measurements FILE | --log URL ... | --trust-simulated | --any-measurement) [options]
       cloister fleet haproxy --node NAME=URL=FIRST-LAST ... --directory URL --out DIR   (see its --help)
       cloister fleet local [options]   a whole fleet on loopback, what npm run fleet runs (see its --help)

Serve a fleet's directory (docs/fleet.md): every --refresh seconds, ask each node (cloister serve, started with
--ohttp-key-ids FIRST-LAST) at its own URL for its RA-TLS certificate and OHTTP key configurations, verify the
certificate as a client does (evidence, policy, the launch measurement from the options below), and list the
nodes that pass, with --gateway as the URL clients reach them through, at GET ${FLEET_DIRECTORY_PATH}. The
fleet's load balancer routes that path here; a relay mirrors it, and clients compare the two copies. A node that
fails, stops answering, or serves key IDs outside its range is left out, with one log line when the set changes.

Options:
  --node NAME=URL=FIRST-LAST[=GATEWAY]
                              a node: its name ([a-z0-9-]), its own https:// URL, its key ID range, and the
                              gateway of its shard when not --gateway's (ranges may repeat across shards, not
                              within one); repeatable
  --gateway URL               the fleet's gateway (the load balancer), as clients' relays reach it
  --refresh S                 seconds between rounds (default 10)
  --max-age S                 how long caches may keep the directory (default 10; keep it under the nodes'
                              --ohttp-overlap, or clients hold retired keys)
  --host ADDRESS              address to listen on (default 127.0.0.1)
  --port N                    port (default ${DEFAULT_FLEET_PORT}; 0 picks a free one)
  --policy FILE.json          SEV-SNP policy file (docs/policy.md)
${MEASUREMENT_HELP}
${TRUST_HELP}
  -h, --help                  show this help

Exit status: 0 stopped by a signal, 2 usage.
`;

const OPTIONS = {
  node: { type: 'string', multiple: true },
  gateway: { type: 'string' },
  refresh: { type: 'string' },
  'max-age': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  policy: { type: 'string' },
  ...MEASUREMENT_OPTIONS,
  ...TRUST_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): UsageError => usageError(message, 'fleet');

export interface FleetHooks {
  readonly stopSignal?: (close: () => Promise<void>) => void;
  readonly onListening?: (url: string) => void;
  readonly logDestination?: NodeJS.WritableStream;
}

const ORIGIN = /^https?:\/\/[^/?#@\s]+$/;

/**
 * A gateway as an origin (scheme and host in lower case, no default port): gateways are compared in this form when
 * ranges may repeat across them, and clients match their relays to it (FleetClientOptions.relays). Undefined when
 * `text` is not an http(s) origin.
 */
function gatewayOrigin(text: string | undefined): string | undefined {
  const trimmed = text?.replace(/\/+$/, '');
  if (trimmed === undefined || !/^https?:\/\/[^/?#@\s]+$/i.test(trimmed)) return undefined;
  try {
    return new URL(trimmed).origin;
  } catch {
    return undefined;
  }
}

/** `NAME=URL=FIRST-LAST`, or `NAME=URL=FIRST-LAST=GATEWAY` for a node of another shard. */
export function parseNodeSpec(spec: string): FleetNodeSource {
  const m = /^([a-z0-9-]{1,63})=(.+?)=(\d{1,3})-(\d{1,3})(?:=(.+))?$/.exec(spec);
  const origin = m?.[2]?.replace(/\/+$/, '');
  const gateway = m?.[5] === undefined ? undefined : (gatewayOrigin(m[5]) ?? '');
  const first = Number(m?.[3]);
  const last = Number(m?.[4]);
  if (m === null || origin === undefined || !ORIGIN.test(origin) || gateway === '' || first > last || last > 255) {
    throw usage(`--node must be NAME=URL=FIRST-LAST[=GATEWAY], such as node-0=https://10.0.0.5:8443=0-3 (NAME of [a-z0-9-], 0 <= FIRST <= LAST <= 255, GATEWAY an http(s) origin), got "${spec}"`);
  }
  return { name: m[1] as string, origin, keyIds: { first, last }, ...(gateway === undefined ? {} : { gateway }) };
}

function seconds(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1) throw usage(`--${name} must be a whole number of seconds, at least 1, got "${text}"`);
  return Number(text);
}

/** The nodes of --node, checked: names unique, key ID ranges apart on each gateway. */
function nodesOf(specs: readonly string[] | undefined, gateway?: string): FleetNodeSource[] {
  const nodes = (specs ?? []).map(parseNodeSpec);
  if (nodes.length === 0) throw usage('missing --node NAME=URL=FIRST-LAST');
  for (const [i, a] of nodes.entries()) {
    for (const b of nodes.slice(i + 1)) {
      if (a.name === b.name) throw usage(`node name "${a.name}" is given twice`);
      const shared = (a.gateway ?? gateway) === (b.gateway ?? gateway);
      if (shared && a.keyIds.first <= b.keyIds.last && b.keyIds.first <= a.keyIds.last) throw usage(`the key ID ranges of "${a.name}" and "${b.name}" overlap on one gateway: each node needs its own`);
    }
  }
  return nodes;
}

const HAPROXY_OPTIONS = {
  node: { type: 'string', multiple: true },
  directory: { type: 'string' },
  listen: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function fleetHaproxyCommand(argv: string[], io: CliIo): Promise<number> {
  const values = parseOptions(argv, HAPROXY_OPTIONS, 'fleet haproxy');
  if (values.help === true) {
    io.stdout(FLEET_HAPROXY_HELP);
    return EXIT.ok;
  }
  const nodes = nodesOf(values.node);
  const gateways = new Set(nodes.map((n) => n.gateway));
  if (gateways.size > 1) throw usage(`one HAProxy routes one gateway's key IDs: give the nodes of one shard, not of ${[...gateways].map((g) => g ?? 'the default gateway').join(', ')}`);
  const directory = values.directory?.replace(/\/+$/, '');
  if (directory === undefined || !/^http:\/\/[^/?#@\s]+$/.test(directory)) throw usage(`--directory must be cloister fleet's http:// origin, such as http://127.0.0.1:${DEFAULT_FLEET_PORT}, got "${values.directory ?? ''}"`);
  const listen = values.listen ?? DEFAULT_GATEWAY_LISTEN;
  if (!/^[^\s"]+:\d{1,5}$/.test(listen)) throw usage(`--listen must be ADDRESS:PORT, such as ${DEFAULT_GATEWAY_LISTEN}, got "${listen}"`);
  if (values.out === undefined) throw usage('missing --out DIR');
  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  const mapFile = join(out, 'keyids.map');
  await writeFile(mapFile, haproxyKeyMap(nodes));
  await writeFile(join(out, 'haproxy.cfg'), haproxyConfig({ nodes, listen, directory, mapFile, socket: join(out, 'admin.sock') }));
  io.stdout(`wrote ${join(out, 'haproxy.cfg')} and ${mapFile} (${nodes.reduce((n, x) => n + x.keyIds.last - x.keyIds.first + 1, 0)} key IDs, ${nodes.length} nodes); run: haproxy -db -f ${join(out, 'haproxy.cfg')}\n`);
  return EXIT.ok;
}

export async function fleetCommand(argv: string[], io: CliIo, hooks: FleetHooks = {}): Promise<number> {
  try {
    if (argv[0] === 'haproxy') return await fleetHaproxyCommand(argv.slice(1), io);
    const values = parseOptions(argv, OPTIONS, 'fleet');
    if (values.help === true) {
      io.stdout(FLEET_HELP);
      return EXIT.ok;
    }
    const gateway = gatewayOrigin(values.gateway);
    if (gateway === undefined) throw usage(`--gateway must be the fleet gateway's http(s) origin, such as https://fleet.example, got "${values.gateway ?? ''}"`);
    const nodes = nodesOf(values.node, gateway);
    const refreshSeconds = seconds('refresh', values.refresh, 10);
    const maxAgeSeconds = seconds('max-age', values['max-age'], 10);
    const port = values.port === undefined ? DEFAULT_FLEET_PORT : Number(values.port);
    if (!/^\d{1,5}$/.test(values.port ?? '0') || port > 65535) throw usage(`--port must be 0 to 65535, got "${values.port ?? ''}"`);
    const trust = await trustFromOptions(values, io, 'fleet', 'start the nodes first');
    const judge = async (certificate: Uint8Array): Promise<void> => {
      // The client's own check of one gateway, on the certificate the node served.
      await new OhttpClient({ ...trust.client, relay: gateway, primitives: nodeHpke, certificate: () => Promise.resolve(certificate) }).keys();
    };
    const service = createDirectoryServer({ nodes, gateway, judge, refreshSeconds, maxAgeSeconds, logger: createFleetLogger(hooks.logDestination) });
    const url = await service.listen(values.host ?? '127.0.0.1', port);
    const listed = service.current?.directory.nodes.length ?? 0;
    io.stderr(`cloister fleet on ${url}${FLEET_DIRECTORY_PATH}: ${listed} of ${nodes.length} nodes listed${service.current?.left.length ? ` (left out: ${service.current.left.map((l) => `${l.name} ${l.error.code}`).join(', ')})` : ''}; gateway ${gateway}\n`);
    hooks.onListening?.(url);
    (hooks.stopSignal ?? stopOnSignals)(() => service.close());
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
