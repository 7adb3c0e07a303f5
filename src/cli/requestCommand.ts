// `cloister request FILE`: the whole client path of private processing. Fetch the gateway's key
// configurations and the certificate that binds them through the relay, verify the attestation against
// the policy and the launch measurements accepted (trustOptions.ts), send FILE encrypted end to end
// through the relay, and print the answer (the recognised text for an image); a binary answer goes to
// --output FILE or to a piped standard output, never a terminal.
// With --issuer, a server that requires Privacy Pass gets a token obtained from that issuer, inside the
// encapsulation (docs/privacy-pass.md "Client").
import { FleetClient, type FleetResponse } from '../../attestation/client/fleetClient.js';
import { FLEET_DIRECTORY_PATH } from '../../attestation/fleet/fleetDirectory.js';
import { mediaType, problemCode } from '../../attestation/protocols/httpText.js';
import { CloisterError } from '../../attestation/errors.js';
import type { UsageError } from '../base/runtimeErrors.js';
import { KeyConfigRejectedError, OhttpClient, type OhttpResponse } from '../../attestation/client/ohttpClient.js';
import { ANY_MEASUREMENT_NOTE } from '../../attestation/client/measurementSource.js';
import { IssuerError } from '../../attestation/client/privacyPass/issuerClient.js';
import { PrivacyPassClient } from '../../attestation/client/privacyPass/privacyPassClient.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { errorLine, EXIT, parseCommandLine, printable, usageError, readInput, type CliIo } from './io.js';
import { OutputFile } from './outputFile.js';
import { imageMediaType } from '../inference/ocr/image.js';
import { relayFailureReason } from './relayFailure.js';
import { MEASUREMENT_HELP, MEASUREMENT_OPTIONS } from './policyOptions.js';
import { measurementOutcome, trustFromOptions, TRUST_HELP, TRUST_OPTIONS, type MeasurementSourceKind } from './trustOptions.js';

export const DEFAULT_RELAY = 'http://127.0.0.1:8081/default';

export const REQUEST_HELP = `Usage: cloister request FILE [options]

Send FILE to a Cloister server for private processing, through an Oblivious HTTP relay: the request is
encrypted to a key the server's attestation binds, checked before anything is sent, and only for a launch
measurement you accept (--measurement, --measurements; on the local stack --trust-simulated); the relay
sees who asks but not what, the server what is asked but not by whom. A PNG or JPEG goes to text
recognition and the recognised text is printed; other paths print the answer's body (see --output).

Options:
  --relay URL           the relay's resource for the gateway (default ${DEFAULT_RELAY},
                        the local stack of "npm start")
  --path PATH           the target path (default /v1/ocr for images)
  --type MEDIA-TYPE     the body's media type (default: from the file's first bytes)
  --output FILE         write the answer's body to FILE (created with mode 0600); without it a text
                        answer is printed and a binary one (e.g. tensors) goes to standard output only
                        when that is not a terminal
  --policy FILE.json    SEV-SNP policy file (docs/policy.md)
  --fleet URL           send to a fleet (docs/fleet.md): fetch its directory from URL and again through the
                        relay (the two must match), verify every node as a single server is verified, and
                        send to one picked at random among those that pass (once more to another if it is
                        busy or gone); --relay is then the relay's resource for the fleet's gateway
  --shard-relay GATEWAY=URL
                        with --fleet, the relay's resource for the gateway of another shard (a directory
                        node whose gateway is GATEWAY is sent through URL); repeatable
  --timeout SECONDS     how long each HTTP exchange may take, the request included (default 35, a little more
                        than the server's default 25 s deadline; raise it for a server started with a longer
                        --target-timeout)
${MEASUREMENT_HELP}
${TRUST_HELP}
  --issuer URL          a Privacy Pass issuer (its origin, or its directory's URL) for a server that requires
                        tokens: the request is sent again with a token obtained there, inside the encryption,
                        one token per request; the server's key must be one the issuer's directory lists
  --issuer-auth-env NAME
                        the bearer credential of your account at the issuer, read from environment
                        variable NAME
  --issuer-auth TOKEN   the same, given on the command line, where other users of the machine can read
                        it (ps, /proc): prefer --issuer-auth-env
  -h, --help            show this help

Exit status: 0 answered with 2xx, 1 refused (attestation, the issuer, its key, or a non-2xx answer), 2 usage
(also no measurement to accept), input or network error.
`;

const OPTIONS = {
  relay: { type: 'string' },
  path: { type: 'string' },
  type: { type: 'string' },
  output: { type: 'string' },
  policy: { type: 'string' },
  timeout: { type: 'string' },
  fleet: { type: 'string' },
  'shard-relay': { type: 'string', multiple: true },
  ...MEASUREMENT_OPTIONS,
  ...TRUST_OPTIONS,
  issuer: { type: 'string' },
  'issuer-auth': { type: 'string' },
  'issuer-auth-env': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): UsageError => usageError(message, 'request');

const DEFAULT_TIMEOUT_S = 35;

/** A fleet that gives the client nothing it may send to: refused (exit 1), like a gateway whose attestation fails. */
const FLEET_REFUSALS: ReadonlySet<string> = new Set(['FLEET_NO_NODE', 'FLEET_DIRECTORY_INCONSISTENT', 'MALFORMED_FLEET_DIRECTORY']);

/** How the line after the answer names the launch measurement the server was held to. */
const MEASUREMENT_PHRASES: Readonly<Record<MeasurementSourceKind, string>> = {
  given: 'an allowed measurement',
  simulated: "the simulated TEE's measurement",
  logged: 'a measurement in the transparency log',
  any: ANY_MEASUREMENT_NOTE,
};

const isText = (type: string): boolean => type.startsWith('text/') || type === 'application/json' || type.endsWith('+json');

/** RFC 6750 b64token, what the issuer's Authorization: Bearer takes. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The Privacy Pass client of --issuer, with its credential from --issuer-auth or --issuer-auth-env; undefined without --issuer. */
function privacyPassFromOptions(values: { issuer?: string | undefined; 'issuer-auth'?: string | undefined; 'issuer-auth-env'?: string | undefined }, env: Readonly<Record<string, string | undefined>>): PrivacyPassClient | undefined {
  const { issuer, 'issuer-auth': given, 'issuer-auth-env': name } = values;
  if (issuer === undefined) {
    if (given !== undefined || name !== undefined) throw usage(`--${given === undefined ? 'issuer-auth-env' : 'issuer-auth'} applies only with --issuer`);
    return undefined;
  }
  // Not quoted: what precedes the @ may be a password. fetch refuses such a URL anyway.
  if (/^https?:\/\/[^/?#]*@/.test(issuer)) throw usage('--issuer must not carry a user name or password (user:password@host): give the account\'s credential with --issuer-auth-env');
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(issuer)) throw usage(`--issuer must be an http(s) URL without query or fragment, such as https://issuer.example, got "${issuer}"`);
  if (given !== undefined && name !== undefined) throw usage('--issuer-auth and --issuer-auth-env contradict each other');
  const credential = name === undefined ? given : env[name];
  if (name !== undefined && (credential === undefined || credential === '')) throw usage(`--issuer-auth-env ${name}: the variable is not set`);
  // Never quoted: it is a secret.
  if (credential !== undefined && !BEARER_TOKEN.test(credential)) throw usage(`the ${name === undefined ? '--issuer-auth value' : `variable ${name}`} is not a bearer token (letters, digits, - . _ ~ + /, then = padding)`);
  return new PrivacyPassClient({ issuer, ...(credential === undefined ? {} : { credential }), batch: 1 });
}

/** --shard-relay GATEWAY=URL..., as FleetClientOptions.relays; one gateway given twice, however written, is refused. */
export function shardRelays(specs: readonly string[] | undefined, fleet: string | undefined): Record<string, string> | undefined {
  if (specs === undefined) return undefined;
  if (fleet === undefined) throw usage('--shard-relay needs --fleet');
  const relays: Record<string, string> = {};
  for (const spec of specs) {
    const m = /^(https?:\/\/[^/?#@\s=]+?)\/*=(https?:\/\/[^/?#@\s]+(?:\/[A-Za-z0-9._~-]+)*)\/?$/.exec(spec);
    if (m === null) throw usage(`--shard-relay must be GATEWAY=URL, a shard's gateway origin and the relay's resource for it, such as https://shard-b.fleet.example=https://relay.example/shard-b, got "${spec}"`);
    // As an origin (host in lower case, no default port): the directory's gateway is matched the same way.
    const gateway = new URL(m[1] as string).origin;
    if (gateway in relays) throw usage(`--shard-relay gives gateway ${gateway} twice`);
    relays[gateway] = m[2] as string;
  }
  return relays;
}

export async function requestCommand(argv: string[], io: CliIo, env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, 'request');
    if (values.help === true) {
      io.stdout(REQUEST_HELP);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw usage(positionals.length === 0 ? 'missing the FILE to send' : `expected one FILE, got ${positionals.length}`);
    const file = positionals[0] as string;
    const relay = values.relay ?? DEFAULT_RELAY;
    if (!/^https?:\/\/[^/]+(\/[A-Za-z0-9._~-]+)*\/?$/.test(relay)) throw usage(`--relay must be an http(s) URL such as ${DEFAULT_RELAY}, got "${relay}"`);
    const body = await readInput(io, file, 'file');
    const type = values.type ?? imageMediaType(body);
    if (type === undefined) throw usage(`cannot tell the media type of "${file}" (not PNG or JPEG); give --type and --path`);
    const path = values.path ?? (type.startsWith('image/') ? '/v1/ocr' : undefined);
    if (path === undefined || !path.startsWith('/')) throw usage('give --path, the target path such as /v1/models/vad/vad');
    const timeout = values.timeout ?? String(DEFAULT_TIMEOUT_S);
    if (!/^\d{1,4}$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > 3600) throw usage(`--timeout must be a whole number of seconds from 1 to 3600, got "${timeout}"`);
    const privacyPass = privacyPassFromOptions(values, env);
    const trust = await trustFromOptions(values, io, 'request', 'start the local stack first: npm start');
    const options = { relay, ...trust.client, primitives: nodeHpke, timeoutMs: Number(timeout) * 1000, ...(privacyPass === undefined ? {} : { privacyPass }) };
    const fleet = values.fleet;
    if (fleet !== undefined && !/^https?:\/\/[^/?#@\s]+(\/[^?#\s]*)?$/.test(fleet)) throw usage(`--fleet must be the fleet directory's http(s) URL, such as https://fleet.example${FLEET_DIRECTORY_PATH}, got "${fleet}"`);
    const relays = shardRelays(values['shard-relay'], fleet);
    const client = fleet === undefined ? new OhttpClient(options) : new FleetClient({ ...options, directory: fleet, ...(relays === undefined ? {} : { relays }) });
    const output = values.output === undefined ? undefined : await OutputFile.create(values.output);
    try {
      return await sendAndShow(client, { path, type, body, relay, privacyPass: privacyPass !== undefined, measurementSource: trust.measurementSource }, output, io);
    } finally {
      await output?.discard();
    }
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}

/** Sends the request through the relay; prints, pipes or files the answer, then wipes it. */
async function sendAndShow(
  client: Pick<OhttpClient, 'fetch'> | FleetClient,
  request: { path: string; type: string; body: Uint8Array; relay: string; privacyPass: boolean; measurementSource: MeasurementSourceKind },
  output: OutputFile | undefined,
  io: CliIo,
): Promise<number> {
  const { path, type, body, relay } = request;
  let response: OhttpResponse | FleetResponse;
  try {
    response = await client.fetch({ url: `https://cloister${path}`, headers: [['content-type', type]], body });
  } catch (e) {
    if (e instanceof KeyConfigRejectedError || (e instanceof CloisterError && FLEET_REFUSALS.has(e.code))) {
      io.stderr(`REFUSED [${e.code}]: ${e.message}\n`);
      return EXIT.rejected;
    }
    const privacyPassExit = privacyPassFailure(e, io);
    if (privacyPassExit !== undefined) return privacyPassExit;
    if (e instanceof CloisterError && e.code === 'OHTTP_REQUEST_FAILED' && e.field === 'fleet') {
      // The directory's own URL or the relay's copy of it: the message names which.
      io.stderr(`error: the fleet directory could not be fetched: ${e.message}\n`);
      return EXIT.usage;
    }
    const unanswered = relayFailureReason(relay, e);
    if (unanswered !== undefined) {
      io.stderr(`error: the relay ${relay} did not answer: ${unanswered}\n`);
      return EXIT.usage;
    }
    if (e instanceof CloisterError && e.code === 'OHTTP_REQUEST_FAILED' && /^\d{3}/.test(e.actual ?? '')) {
      // A 404 from the relay itself: a relay URL without the gateway's name, or no such gateway.
      io.stderr(`error: ${e.message}${e.actual?.startsWith('404') === true ? ` (--relay takes the relay's URL for a gateway, such as ${DEFAULT_RELAY})` : ''}\n`);
      return EXIT.rejected;
    }
    throw e;
  } finally {
    body.fill(0);
  }
  const measurement = MEASUREMENT_PHRASES[measurementOutcome(response.verdict, request.measurementSource)];
  const fleet = client instanceof FleetClient ? (response as FleetResponse) : undefined;
  const node = fleet === undefined ? '' : `; fleet node ${fleet.node}`;
  const attested = `attested ${response.verdict.platform}${response.verdict.simulated ? ', SIMULATED' : ''}, ${measurement}; OHTTP key ${response.keyId}${node}; through ${fleet?.relay ?? relay}`;
  const answerType = mediaType(response.headers.find(([n]) => n === 'content-type')?.[1]);
  try {
    if (response.status < 200 || response.status >= 300) {
      io.stderr(printable(refusalLine(response.status, answerType, response.content, request.privacyPass)) + '\n');
      if (response.verdict.anyMeasurement === true) io.stderr(`(${attested})\n`);
      return EXIT.rejected;
    }
    if (output !== undefined) {
      await output.commit(response.content);
      io.stderr(`(${response.content.length} bytes of ${answerType || 'an unknown type'} written to ${output.path}; ${attested})\n`);
      return EXIT.ok;
    }
    if (isText(answerType)) {
      const text = new TextDecoder().decode(response.content);
      io.stdout(text.endsWith('\n') || text === '' ? text : `${text}\n`);
    } else if (io.stdoutBytes !== undefined) {
      await io.stdoutBytes(response.content);
    } else {
      throw usage(`the answer is ${response.content.length} bytes of ${answerType || 'an unknown type'}, not text: give --output FILE or redirect standard output`);
    }
    io.stderr(`(${attested})\n`);
    return EXIT.ok;
  } finally {
    response.content.fill(0);
  }
}

/** The line for a non-2xx answer: a problem's code and detail, or the start of the body; a hint where a token is missing. */
function refusalLine(status: number, type: string, content: Uint8Array, privacyPass: boolean): string {
  const text = new TextDecoder().decode(content.subarray(0, 4096));
  const code = type === 'application/problem+json' ? problemCode(content) : undefined;
  if (code === undefined) return `error: the server answered ${status}: ${text.slice(0, 200)}`;
  if (code === 'PRIVACY_PASS_REQUIRED' && !privacyPass) return `error: the server requires a Privacy Pass token (${status} ${code}): give --issuer URL and --issuer-auth-env NAME to obtain one (see cloister request --help)`;
  const detail = (JSON.parse(text) as { detail?: unknown }).detail;
  return `error: the server answered ${status} ${code}${typeof detail === 'string' ? `: ${detail.slice(0, 200)}` : ''}`;
}

/** The exit status and line for an error of the Privacy Pass client; undefined for any other error. */
function privacyPassFailure(e: unknown, io: CliIo): number | undefined {
  if (e instanceof IssuerError) {
    const hint = e.code === 'PRIVACY_PASS_ISSUER_UNAUTHORIZED' ? ' (check --issuer-auth or --issuer-auth-env)' : '';
    io.stderr(`${printable(`error [${e.code}]: ${e.message}`)}${hint}\n`);
    return e.status === undefined ? EXIT.usage : EXIT.rejected;
  }
  if (e instanceof CloisterError && ['PRIVACY_PASS_KEY_INCONSISTENT', 'PRIVACY_PASS_NO_USABLE_CHALLENGE', 'PRIVACY_PASS_TOKEN_INVALID', 'VOPRF_PROOF_INVALID'].includes(e.code)) {
    io.stderr(`${printable(`REFUSED [${e.code}]: ${e.message}`)}\n`);
    return EXIT.rejected;
  }
  return undefined;
}
