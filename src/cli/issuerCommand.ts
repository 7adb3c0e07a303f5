// `cloister issuer`: the Privacy Pass issuer (src/privacypass/issuer), a process the operator runs outside the
// confidential VM. It hands out tokens of one type (0x0002 by default, or 0x0001) to the accounts it knows, and
// sees only blinded messages.
import { stat } from 'node:fs/promises';
import { CloisterError } from '../../attestation/errors.js';
import { RuntimeError, type UsageError } from '../base/runtimeErrors.js';
import { AccountsAuthorizer, parseAccounts, parseRate, type IssuanceRate } from '../privacypass/issuer/authorizer.js';
import { DEFAULT_REQUEST_PATH, DIRECTORY_PATH } from '../privacypass/issuer/directory.js';
import { createIssuerLogger } from '../privacypass/issuer/issuerLog.js';
import { KeyDirectory, privateKeyFromPem, readKeyFile } from '../privacypass/issuer/keyFiles.js';
import { KeyRing, unixNow, type KeyEvent } from '../privacypass/issuer/keyRing.js';
import { DEFAULT_ISSUER_PORT, startIssuer } from '../privacypass/issuer/server.js';
import { ISSUER_TOKEN_TYPES, type IssuerTokenType } from '../privacypass/issuer/tokenTypes.js';
import type { TokenType } from '../../attestation/protocols/index.js';
import { errorLine, EXIT, parseOptions, readInput, stopOnSignals, usageError, type CliIo } from './io.js';

const DEFAULT_RATE = '100/hour';
const MAX_OVERLAP_DEFAULT = 3600;

export const ISSUER_HELP = `Usage: cloister issuer (--key FILE... | --key-env NAME | --key-dir DIR [--rotate SECONDS]) --accounts FILE [options]

Run a Privacy Pass issuer (RFC 9576, 9578): accounts obtain tokens with a bearer credential, and spend them
elsewhere; the issuer sees only blinded messages, never what a token is spent on. Run it outside the
confidential VM, behind your TLS proxy. It serves:

  GET  ${DIRECTORY_PATH}   the issuer directory (token keys, request URI)
  POST ${DEFAULT_REQUEST_PATH}   application/private-token-request -> application/private-token-response

Token type:
  --token-type 1|2      2 (default, also 0x0002): Blind RSA, publicly verifiable, RSA-2048 keys;
                        1 (0x0001): VOPRF(P-384, SHA-384), privately verifiable: only the holder of the
                        private key (this issuer, or a gateway given it) can verify the tokens

Keys (exactly one source), all of the token type:
  --key FILE            a private key, PKCS#8 PEM (RSA-2048 for type 2, EC P-384 for type 1); the file
                        must be mode 0600 (or 0400) and yours; repeatable; its not-before is the file's
                        modification time
  --key-env NAME        a private key (PEM) in environment variable NAME (removed from the environment
                        once read)
  --key-dir DIR         keys kept in DIR (created 0700; key files token-key-TTTT-NOTBEFORE.pem, 0600, TTTT
                        the token type); one is generated when DIR has none of the type
  --rotate SECONDS      with --key-dir: a new key every SECONDS, listed in the directory --overlap seconds
                        before it is used (its "not-before"); the old one stays --overlap seconds more
  --overlap SECONDS     how long a key is announced before use and kept after (default the smaller of
                        ${MAX_OVERLAP_DEFAULT} and half of --rotate); less than --rotate

Who may obtain tokens:
  --accounts FILE       JSON {"accounts":[{"id":"alice","token-sha256":"<hex SHA-256 of her bearer token>"}]};
                        clients send Authorization: Bearer TOKEN
  --rate N/PERIOD       tokens per account: N per PERIOD (s, min, hour, day, or seconds: 10/30s, 5/60),
                        a bucket of N refilled continuously (default ${DEFAULT_RATE}); over it: 429 and Retry-After

Serving:
  --host ADDRESS        address to listen on (default 127.0.0.1); plain HTTP
  --port N              port (default ${DEFAULT_ISSUER_PORT}; 0 picks a free one)
  --request-path PATH   where token requests are POSTed (default ${DEFAULT_REQUEST_PATH})
  --request-uri URL     the directory's "issuer-request-uri": the absolute https:// URL clients reach through
                        your proxy (default: the request path, relative to the directory)
  -h, --help            show this help

Example:
  echo -n "$ALICE_TOKEN" | sha256sum    # the hex for accounts.json
  cloister issuer --key-dir /var/lib/cloister-issuer --rotate 604800 --overlap 86400 \\
    --accounts accounts.json --rate 1000/day --request-uri https://issuer.example/token-request

Log lines (JSON, stdout) carry the route, status, time, account id, the request's truncated key id and the
problem code; never key material, credentials, addresses or bodies.
`;

const OPTIONS = {
  'token-type': { type: 'string' },
  key: { type: 'string', multiple: true },
  'key-env': { type: 'string' },
  'key-dir': { type: 'string' },
  rotate: { type: 'string' },
  overlap: { type: 'string' },
  accounts: { type: 'string' },
  rate: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'request-path': { type: 'string' },
  'request-uri': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): UsageError => usageError(message, 'issuer');

export interface IssuerHooks {
  /** Receives the function that stops the issuer; default: stop on SIGINT or SIGTERM. */
  readonly stopSignal?: (close: () => Promise<void>) => void;
  readonly onListening?: (url: string) => void;
  /** Where the log lines go; default stdout. */
  readonly logDestination?: NodeJS.WritableStream;
  /** Default process.env (a --key-env variable is deleted from it once read). */
  readonly env?: Record<string, string | undefined>;
  /** Unix seconds; default the clock. */
  readonly now?: () => number;
}

function wholeNumber(option: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d{1,10}$/.test(value) || n < min || n > max) throw usage(`--${option} must be a whole number ${min}..${max}, got "${value}"`);
  return n;
}

function rateOf(value: string | undefined): IssuanceRate {
  const rate = parseRate(value ?? DEFAULT_RATE);
  if (rate === undefined) throw usage(`--rate must be N/PERIOD such as 100/hour or 10/30s, got "${value ?? ''}"`);
  return rate;
}

function requestPathOf(value: string | undefined): string {
  const path = value ?? DEFAULT_REQUEST_PATH;
  if (!/^\/[A-Za-z0-9\-._~/]*$/.test(path) || path === DIRECTORY_PATH) throw usage(`--request-path must be a path such as /token-request (letters, digits, - . _ ~ /), got "${path}"`);
  return path;
}

function requestUriOf(value: string | undefined, path: string): string {
  if (value === undefined) return path;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usage(`--request-uri must be an absolute URL such as https://issuer.example/token-request, got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw usage(`--request-uri must be https:// (or http://), got "${value}"`);
  return url.href;
}

async function keyRing(values: ReturnType<typeof parseOptions<typeof OPTIONS>>, type: IssuerTokenType, hooks: IssuerHooks, onEvent: (e: KeyEvent) => void): Promise<KeyRing> {
  const files = values.key ?? [];
  const sources = [files.length > 0, values['key-env'] !== undefined, values['key-dir'] !== undefined].filter(Boolean).length;
  if (sources !== 1) throw usage('give exactly one of --key FILE, --key-env NAME and --key-dir DIR');
  if (values.rotate !== undefined && values['key-dir'] === undefined) throw usage('--rotate needs --key-dir, where the keys it makes are kept');
  if (values.overlap !== undefined && values.rotate === undefined) throw usage('--overlap goes with --rotate');
  const now = hooks.now ?? unixNow;
  if (values['key-dir'] !== undefined) {
    const directory = new KeyDirectory(values['key-dir']);
    const rotateSeconds = values.rotate === undefined ? undefined : wholeNumber('rotate', values.rotate, 60, 10 * 365 * 86400);
    const overlapSeconds = values.overlap === undefined ? Math.min(MAX_OVERLAP_DEFAULT, Math.floor((rotateSeconds ?? 0) / 2)) : wholeNumber('overlap', values.overlap, 0, 10 * 365 * 86400);
    if (rotateSeconds !== undefined && overlapSeconds >= rotateSeconds) throw usage(`--overlap (${overlapSeconds}) must be less than --rotate (${rotateSeconds})`);
    await directory.open();
    return rotateSeconds === undefined ? KeyRing.fromDirectory(directory, type, { now, onEvent }) : KeyRing.rotating({ directory, type, rotateSeconds, overlapSeconds }, { now, onEvent });
  }
  const keys = [];
  if (values['key-env'] !== undefined) {
    const name = values['key-env'];
    const env = hooks.env ?? process.env;
    const pem = env[name];
    if (pem === undefined || pem === '') throw usage(`--key-env ${name}: the variable is not set`);
    Reflect.deleteProperty(env, name);
    const source = `environment variable ${name}`;
    keys.push({ key: await type.load(privateKeyFromPem(pem, source), source), notBefore: now() });
  }
  for (const file of files) {
    const key = await type.load(await readKeyFile(file), `key file "${file}"`);
    keys.push({ key, notBefore: Math.floor((await stat(file)).mtimeMs / 1000) });
  }
  for (const k of keys) onEvent({ event: 'key-loaded', tokenKeyId: Buffer.from(k.key.tokenKeyId).toString('hex'), notBefore: k.notBefore });
  return KeyRing.fixed(keys, { now });
}

function tokenTypeOf(value: string | undefined): IssuerTokenType {
  const m = /^(?:([12])|0x000([12]))$/.exec(value ?? '2');
  const type = ISSUER_TOKEN_TYPES[Number(m?.[1] ?? m?.[2]) as TokenType];
  if (type === undefined) throw usage(`--token-type must be 1 (VOPRF P-384) or 2 (Blind RSA), also written 0x0001 or 0x0002, got "${value ?? ''}"`);
  return type;
}

function utf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RuntimeError('ISSUER_ACCOUNTS_INVALID', `--accounts "${file}" is not UTF-8`, { field: '$' });
  }
}

export async function issuerCommand(argv: string[], io: CliIo, hooks: IssuerHooks = {}): Promise<number> {
  try {
    const values = parseOptions(argv, OPTIONS, 'issuer');
    if (values.help === true) {
      io.stdout(ISSUER_HELP);
      return EXIT.ok;
    }
    if (values.accounts === undefined) throw usage('missing --accounts FILE');
    const rate = rateOf(values.rate);
    const port = values.port === undefined ? DEFAULT_ISSUER_PORT : wholeNumber('port', values.port, 0, 65535);
    const requestPath = requestPathOf(values['request-path']);
    const requestUri = requestUriOf(values['request-uri'], requestPath);
    const accounts = parseAccounts(utf8(await readInput(io, values.accounts, '--accounts', 16 << 20), values.accounts), `--accounts "${values.accounts}"`);
    const type = tokenTypeOf(values['token-type']);
    const logger = createIssuerLogger(hooks.logDestination === undefined ? {} : { destination: hooks.logDestination });
    const keys = await keyRing(values, type, hooks, (e) => {
      logger.info(e, e.event);
    });
    const host = values.host ?? '127.0.0.1';
    const issuer = await startIssuer({ keys, authorizer: new AccountsAuthorizer(accounts, rate), logger, host, port, requestPath, requestUri });
    io.stderr(`cloister issuer on ${issuer.url}\n  token type 0x${type.tokenType.toString(16).padStart(4, '0')}, ${type.name}\n  directory: ${issuer.url}${DIRECTORY_PATH}\n  requests:  ${issuer.url}${requestPath}\n  ${accounts.length} account(s), ${rate.tokens} token(s) per ${rate.periodSeconds} s each\n`);
    hooks.onListening?.(issuer.url);
    (hooks.stopSignal ?? stopOnSignals)(() => issuer.close());
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
