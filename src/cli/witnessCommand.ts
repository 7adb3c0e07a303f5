// `cloister witness`: a transparency log witness (C2SP tlog-witness) over HTTP. It cosigns a log's checkpoint once it
// has checked that it extends the last one it cosigned for that log, and keeps that one in --state.
import { mkdir } from 'node:fs/promises';
import { CloisterError } from '../../attestation/errors.js';
import { noteVerifier, type KeyedVerifier } from '../../attestation/transparency/noteKeys.js';
import { NOTE_KEY_CODES, readPrivateKeyFile } from '../base/keyFile.js';
import { RuntimeError, type UsageError } from '../base/runtimeErrors.js';
import { FileCheckpointStore } from '../transparency/fileCheckpointStore.js';
import { witnessCosigner } from '../transparency/nodeNoteKeys.js';
import { Witness, type WitnessedLog } from '../transparency/witness.js';
import { ADD_CHECKPOINT_PATH, DEFAULT_WITNESS_PORT, MAX_ADD_CHECKPOINT_BYTES, startWitnessServer, type WitnessLogLine } from '../transparency/witnessServer.js';
import { errorLine, EXIT, parseOptions, stopOnSignals, usageError, type CliIo } from './io.js';

export const WITNESS_HELP = `Usage: cloister witness --key FILE --name NAME --log ORIGIN=VKEY... --state DIR [options]

Run a transparency log witness (C2SP tlog-witness, tlog-cosignature): a log sends it each new checkpoint with a
consistency proof from the last one the witness cosigned; the witness checks the log's signature and the proof,
keeps the checkpoint in --state, and answers its cosignature (Ed25519, cosignature/v1). It never cosigns a
checkpoint that does not extend the last one it cosigned for that log. It serves:

  POST ${ADD_CHECKPOINT_PATH}   200 cosignature lines; 400 malformed, 403 no valid log signature, 404 unknown
                         log, 409 another old size (or a fork; the body is the size it knows), 422 a bad proof

Options:
  --key FILE            the witness's Ed25519 private key, PKCS#8 PEM; mode 0600 (or 0400) and yours
                        (openssl genpkey -algorithm ed25519 -out witness.pem; chmod 600 witness.pem)
  --name NAME           the witness's key name, such as witness.example/w1 (no spaces, no '+')
  --log ORIGIN=VKEY     a log to witness: its checkpoint origin and a vkey of its note key; repeatable, also
                        for several keys of one log
  --state DIR           where the last cosigned checkpoint of each log is kept (created 0700); one witness
                        process per directory
  --host ADDRESS        address to listen on (default 127.0.0.1); plain HTTP, put TLS in front
  --port N              port (default ${DEFAULT_WITNESS_PORT}; 0 picks a free one)
  -h, --help            show this help

At start it prints its vkey (NAME+KEYID+KEY), for logs and clients to pin. Requests are at most
${MAX_ADD_CHECKPOINT_BYTES} bytes and must arrive within 10 s. One JSON line per answer on stdout: route,
status and time; never addresses, headers or bodies.
`;

const OPTIONS = {
  key: { type: 'string' },
  name: { type: 'string' },
  log: { type: 'string', multiple: true },
  state: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): UsageError => usageError(message, 'witness');

export interface WitnessHooks {
  readonly stopSignal?: (close: () => Promise<void>) => void;
  readonly onListening?: (url: string) => void;
  /** Where the answer lines go; default stdout. */
  readonly log?: (line: WitnessLogLine) => void;
  /** POSIX seconds for the cosignatures' timestamps; default the clock. */
  readonly now?: () => number;
}

async function logsOf(values: readonly string[]): Promise<WitnessedLog[]> {
  if (values.length === 0) throw usage('give at least one --log ORIGIN=VKEY');
  const keys = new Map<string, KeyedVerifier[]>();
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0) throw usage(`--log must be ORIGIN=VKEY, got "${value}"`);
    const origin = value.slice(0, at);
    let verifier: KeyedVerifier;
    try {
      verifier = await noteVerifier(value.slice(at + 1));
    } catch (e) {
      throw usage(`--log ${origin}: ${(e as Error).message}`);
    }
    keys.set(origin, [...(keys.get(origin) ?? []), verifier]);
  }
  return [...keys].map(([origin, k]) => ({ origin, keys: k }));
}

export async function witnessCommand(argv: string[], io: CliIo, hooks: WitnessHooks = {}): Promise<number> {
  try {
    const values = parseOptions(argv, OPTIONS, 'witness');
    if (values.help === true) {
      io.stdout(WITNESS_HELP);
      return EXIT.ok;
    }
    if (values.key === undefined) throw usage('missing --key FILE');
    if (values.name === undefined) throw usage('missing --name NAME');
    if (values.state === undefined) throw usage('missing --state DIR');
    const port = values.port === undefined ? DEFAULT_WITNESS_PORT : Number(values.port);
    if (values.port !== undefined && (!/^\d{1,5}$/.test(values.port) || port > 65535)) throw usage(`--port must be a whole number 0..65535, got "${values.port}"`);
    const logs = await logsOf(values.log ?? []);
    const key = await readPrivateKeyFile(values.key, NOTE_KEY_CODES);
    const cosigner = await witnessCosigner(values.name, key, hooks.now);
    const state = values.state;
    await mkdir(state, { recursive: true, mode: 0o700 }).catch((cause: unknown) => {
      throw new RuntimeError('UNWRITABLE_OUTPUT', `cannot create --state "${state}": ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { field: state, cause });
    });
    const witness = new Witness({ logs, cosigner, store: new FileCheckpointStore(state) });
    const log =
      hooks.log ??
      ((line: WitnessLogLine): void => {
        io.stdout(`${JSON.stringify({ time: new Date().toISOString(), msg: 'answered', ...line })}\n`);
      });
    const server = await startWitnessServer({ witness, host: values.host ?? '127.0.0.1', port, log });
    io.stderr(`cloister witness on ${server.url}${ADD_CHECKPOINT_PATH}\n  vkey: ${cosigner.vkey}\n${logs.map((l) => `  log:  ${l.origin} (${l.keys.length} key${l.keys.length === 1 ? '' : 's'})\n`).join('')}`);
    hooks.onListening?.(server.url);
    (hooks.stopSignal ?? stopOnSignals)(() => server.close());
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
