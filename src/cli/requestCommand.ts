// `cloister request FILE`: the whole client path of private processing. Fetch the gateway's key
// configurations and the certificate that binds them through the relay, verify the attestation against
// the policy, send FILE encrypted end to end through the relay, and print the answer (the recognised text
// for an image); a binary answer goes to --output FILE or to a piped standard output, never a terminal.
import { mediaType } from '../../attestation/protocols/httpText.js';
import { CloisterError } from '../../attestation/errors.js';
import type { UsageError } from '../base/runtimeErrors.js';
import { KeyConfigRejectedError, OhttpClient } from '../../attestation/client/ohttpClient.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { errorLine, EXIT, parseCommandLine, usageError, readInput, type CliIo } from './io.js';
import { OutputFile } from './outputFile.js';
import { imageMediaType } from '../inference/ocr/image.js';
import { relayFailureReason } from './relayFailure.js';
import { MEASUREMENT_HELP, MEASUREMENT_OPTIONS } from './policyOptions.js';
import { trustFromOptions } from './trustOptions.js';

export const DEFAULT_RELAY = 'http://127.0.0.1:8081/default';

export const REQUEST_HELP = `Usage: cloister request FILE [options]

Send FILE to a Cloister server for private processing, through an Oblivious HTTP relay: the request is
encrypted to a key the server's attestation binds, checked before anything is sent; the relay sees who
asks but not what, the server what is asked but not by whom. A PNG or JPEG goes to text recognition and
the recognised text is printed; other paths print the answer's body (see --output).

Options:
  --relay URL           the relay's resource for the gateway (default ${DEFAULT_RELAY},
                        the local stack of "npm start")
  --path PATH           the target path (default /v1/ocr for images)
  --type MEDIA-TYPE     the body's media type (default: from the file's first bytes)
  --output FILE         write the answer's body to FILE (created with mode 0600); without it a text
                        answer is printed and a binary one (e.g. tensors) goes to standard output only
                        when that is not a terminal
  --policy FILE.json    SEV-SNP policy file (docs/policy.md)
${MEASUREMENT_HELP}
  --trust-simulated     also trust the simulated TEE's development roots (the local stack); never in production
  -h, --help            show this help

Exit status: 0 answered with 2xx, 1 refused (attestation, or a non-2xx answer), 2 usage, input or network error.
`;

const OPTIONS = {
  relay: { type: 'string' },
  path: { type: 'string' },
  type: { type: 'string' },
  output: { type: 'string' },
  policy: { type: 'string' },
  ...MEASUREMENT_OPTIONS,
  'trust-simulated': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): UsageError => usageError(message, 'request');

const isText = (type: string): boolean => type.startsWith('text/') || type === 'application/json' || type.endsWith('+json');

export async function requestCommand(argv: string[], io: CliIo): Promise<number> {
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
    const trust = await trustFromOptions(values, io, 'request', 'start the local stack first: npm start');
    const client = new OhttpClient({
      relay,
      ...trust,
      primitives: nodeHpke,
    });
    const output = values.output === undefined ? undefined : await OutputFile.create(values.output);
    try {
      return await sendAndShow(client, { path, type, body, relay }, output, io);
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
async function sendAndShow(client: OhttpClient, request: { path: string; type: string; body: Uint8Array; relay: string }, output: OutputFile | undefined, io: CliIo): Promise<number> {
  const { path, type, body, relay } = request;
  let response;
  try {
    response = await client.fetch({ url: `https://cloister${path}`, headers: [['content-type', type]], body });
  } catch (e) {
    if (e instanceof KeyConfigRejectedError) {
      io.stderr(`REFUSED [${e.code}]: ${e.message}\n`);
      return EXIT.rejected;
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
  const attested = `attested ${response.verdict.platform}${response.verdict.simulated ? ', SIMULATED' : ''}; OHTTP key ${response.keyId}; through ${relay}`;
  const answerType = mediaType(response.headers.find(([n]) => n === 'content-type')?.[1]);
  try {
    if (response.status < 200 || response.status >= 300) {
      io.stderr(`error: the server answered ${response.status}: ${new TextDecoder().decode(response.content.subarray(0, 200))}\n`);
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
