// `cloister relay --gateway [NAME=]URL ...`: the Oblivious HTTP relay (src/relay), a process of its own
// so that whoever runs it need not run the gateway.
import { isIPv4 } from 'node:net';
import { createSecureContext } from 'node:tls';
import { CloisterError } from '../../attestation/errors.js';
import type { UsageError } from '../base/runtimeErrors.js';
import { OHTTP_GATEWAY_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { createRelayLogger } from '../relay/relayLog.js';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, DEFAULT_TIMEOUT_MS, GATEWAY_NAME, startRelay, type RelayGateway } from '../relay/relay.js';
import { errorLine, EXIT, parseOptions, readInput, usageError, type CliIo, stopOnSignals } from './io.js';

export const RELAY_HELP = `Usage: cloister relay --gateway [NAME=]URL ... [options]

Run an Oblivious HTTP relay (RFC 9458) for one or more Cloister gateways. The relay passes each
encapsulated request on with its media type and nothing else (no client address, cookie, user agent or
any other header), over connections that all clients share, and logs no client address, header or
body: the gateway learns what is asked but not by whom. For each gateway NAME it serves:

  POST /NAME${OHTTP_GATEWAY_PATH}         an encapsulated request (message/ohttp-req)
  GET  /NAME${OHTTP_GATEWAY_PATH}         the gateway's key configurations, cached for all clients
  GET  /NAME/.well-known/cloister/attestation  the gateway's RA-TLS certificate, cached for all clients
  GET  /NAME/.well-known/cloister/fleet   a fleet gateway's directory, cached for all clients, which
                                         compare it with the one they fetch directly (docs/fleet.md)

Cached answers keep the gateway's max-age (at most 300 s), and pass it on less the age of the relay's
copy; a client's Cache-Control: no-cache (or no-store, max-age=0) fetches from the gateway instead.

The relay does not authenticate the gateway (it accepts its self-signed RA-TLS certificate); clients
do, through attestation, and encrypt their requests end to end to the keys they verified.

Options:
  --gateway [NAME=]URL  a gateway to relay to: http(s)://HOST[:PORT] without path; NAME is
                        [a-z0-9-]+, default "default"; repeatable, names unique
  --host ADDRESS        address to listen on (default 127.0.0.1)
  --port N              port (default ${DEFAULT_PORT}; 0 picks a free one)
  --max-body BYTES      largest request body (default ${DEFAULT_MAX_BODY_BYTES}: 1 MiB plus 64 KiB); larger is 413
  --timeout SECONDS     how long the gateway has to answer (default ${DEFAULT_TIMEOUT_MS / 1000}); then 504
  --tls-cert FILE       serve HTTPS with this certificate chain (PEM), with --tls-key
  --tls-key FILE        the certificate's private key (PEM)
  -h, --help            show this help

Without --tls-cert the relay serves plain HTTP, meant for loopback or behind a TLS-terminating proxy;
it warns when listening on another address.
`;

const OPTIONS = {
  gateway: { type: 'string', multiple: true },
  host: { type: 'string' },
  port: { type: 'string' },
  'max-body': { type: 'string' },
  timeout: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const MAX_BODY_LIMIT = 1 << 30;
const MAX_TIMEOUT_SECONDS = 3600;

const usage = (message: string): UsageError => usageError(message, 'relay');

export interface RelayHooks {
  /** Receives the function that stops the relay; default: stop on SIGINT or SIGTERM. */
  readonly stopSignal?: (close: () => Promise<void>) => void;
  readonly onListening?: (url: string) => void;
  /** Where the log lines go; default stdout. */
  readonly logDestination?: NodeJS.WritableStream;
}

/** `[NAME=]URL`: NAME defaults to "default"; URL is an http(s) origin. */
export function parseGatewaySpec(spec: string): RelayGateway {
  const named = /^([^=:/]*)=(.*)$/.exec(spec);
  const name = named?.[1] ?? 'default';
  const text = named?.[2] ?? spec;
  if (!GATEWAY_NAME.test(name)) throw usage(`gateway name "${name}" must be lowercase letters, digits and hyphens`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`gateway "${text}" is not a URL such as https://gateway.example:8443`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw usage(`gateway URL must be https:// or http://, got "${text}"`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw usage(`gateway URL must be an origin, http(s)://HOST[:PORT] without path, query or credentials, got "${text}"`);
  }
  return { name, origin: url.origin };
}

function wholeNumber(option: string, value: string | undefined, fallback: number, min: number, max: number, unit: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw usage(`--${option} must be a whole number of ${unit}, ${min}..${max}, got "${value}"`);
  return n;
}

function timeoutMs(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  const seconds = Number(value);
  if (!/^\d+(?:\.\d+)?$/.test(value) || seconds <= 0 || seconds > MAX_TIMEOUT_SECONDS) throw usage(`--timeout must be a number of seconds, more than 0 and at most ${MAX_TIMEOUT_SECONDS}, got "${value}"`);
  return Math.round(seconds * 1000);
}

async function tlsMaterial(io: CliIo, certFile: string, keyFile: string): Promise<{ cert: Uint8Array; key: Uint8Array }> {
  const material = { cert: await readInput(io, certFile, '--tls-cert'), key: await readInput(io, keyFile, '--tls-key') };
  try {
    createSecureContext({ cert: Buffer.from(material.cert), key: Buffer.from(material.key) });
  } catch (cause) {
    throw new CloisterError('UNREADABLE_INPUT', `cannot use --tls-cert and --tls-key: ${(cause as Error).message}`, { field: '--tls-key', cause });
  }
  return material;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  return host === '::1' || host.toLowerCase().startsWith('::ffff:127.');
}

export async function relayCommand(argv: string[], io: CliIo, hooks: RelayHooks = {}): Promise<number> {
  try {
    const values = parseOptions(argv, OPTIONS, 'relay');
    if (values.help === true) {
      io.stdout(RELAY_HELP);
      return EXIT.ok;
    }
    const specs = values.gateway ?? [];
    if (specs.length === 0) throw usage('missing --gateway [NAME=]URL');
    const gateways = specs.map(parseGatewaySpec);
    const names = new Set<string>();
    for (const g of gateways) {
      if (names.has(g.name)) throw usage(`gateway name "${g.name}" is given twice`);
      names.add(g.name);
    }
    const port = wholeNumber('port', values.port, DEFAULT_PORT, 0, 65535, 'a port');
    const maxBodyBytes = wholeNumber('max-body', values['max-body'], DEFAULT_MAX_BODY_BYTES, 1, MAX_BODY_LIMIT, 'bytes');
    const timeout = timeoutMs(values.timeout);
    const certFile = values['tls-cert'];
    const keyFile = values['tls-key'];
    if ((certFile === undefined) !== (keyFile === undefined)) throw usage('--tls-cert and --tls-key go together');
    const tls = certFile === undefined || keyFile === undefined ? undefined : await tlsMaterial(io, certFile, keyFile);
    const host = values.host ?? '127.0.0.1';
    const relay = await startRelay({
      gateways,
      host,
      port,
      maxBodyBytes,
      timeoutMs: timeout,
      logger: createRelayLogger(hooks.logDestination === undefined ? {} : { destination: hooks.logDestination }),
      ...(tls === undefined ? {} : { tls }),
    });
    io.stderr(
      `cloister relay on ${relay.url}\n` +
        gateways.map((g) => `  ${g.name} -> ${g.origin}   requests: ${relay.url}/${g.name}${OHTTP_GATEWAY_PATH}\n`).join('') +
        (tls === undefined && !isLoopback(host) ? `warning: plain HTTP on ${host}, not a loopback address: the network between clients and the relay sees who uses it; use --tls-cert and --tls-key or a TLS proxy\n` : ''),
    );
    hooks.onListening?.(relay.url);
    (hooks.stopSignal ?? stopOnSignals)(() => relay.close());
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
