// What a command needs from its surroundings, injected so tests run commands in-process.
import { open } from 'node:fs/promises';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { CloisterError } from '../../attestation/errors.js';
import { UsageError } from '../base/runtimeErrors.js';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** A regular file's bytes; anything else (a directory, a FIFO, a device), or one over `maxBytes`, is an error. */
  readonly readFile: (path: string, maxBytes?: number) => Promise<Uint8Array>;
  /** Raw bytes to standard output, where it is not a terminal (a binary answer piped on); absent: refused. */
  readonly stdoutBytes?: ((bytes: Uint8Array) => Promise<void>) | undefined;
}

export const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readFile: readRegularFile,
  stdoutBytes: process.stdout.isTTY
    ? undefined
    : (bytes) =>
        new Promise<void>((resolve, reject) => {
          process.stdout.write(bytes, (e) => {
            if (e) reject(e);
            else resolve();
          });
        }),
};

export const EXIT = { ok: 0, rejected: 1, usage: 2 } as const;

/** What a command reads at most from one input file unless it says otherwise. */
export const DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024;

class InputRefused extends Error {}

/**
 * Reads a file of at most `maxBytes` into memory of its own (no copy). A pipe or device (`<(...)`, /dev/stdin) is
 * read until its end, and refused once past `maxBytes`, so an endless one (/dev/zero) cannot fill the memory.
 */
async function readRegularFile(path: string, maxBytes = DEFAULT_MAX_INPUT_BYTES): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const stat = await file.stat();
    if (stat.isDirectory()) throw new InputRefused('a directory');
    if (stat.isFile() && stat.size > maxBytes) throw new InputRefused(`${stat.size} bytes, over the limit of ${maxBytes}`);
    let bytes = new Uint8Array(stat.isFile() ? stat.size : 64 * 1024);
    let at = 0;
    for (;;) {
      if (at === bytes.length) {
        if (stat.isFile()) break;
        if (bytes.length > maxBytes) throw new InputRefused(`it did not end within the limit of ${maxBytes} bytes`);
        const grown = new Uint8Array(Math.min(2 * bytes.length, maxBytes + 1));
        grown.set(bytes);
        bytes = grown;
      }
      const { bytesRead } = await file.read(bytes, at, bytes.length - at, stat.isFile() ? at : null);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === bytes.length ? bytes : bytes.subarray(0, at);
  } finally {
    await file.close();
  }
}

export async function readInput(io: CliIo, path: string, what: string, maxBytes?: number): Promise<Uint8Array> {
  try {
    return await io.readFile(path, maxBytes);
  } catch (cause) {
    const reason = cause instanceof InputRefused ? cause.message : ((cause as NodeJS.ErrnoException).code ?? (cause as Error).message);
    throw new CloisterError('UNREADABLE_INPUT', `cannot read ${what} "${path}": ${reason}`, { field: what, cause });
  }
}

/** One readable line for any error; never a stack trace. */
/**
 * `text` as one printable line: line breaks become spaces, other control characters (a terminal's escapes, a
 * carriage return that would overwrite the line) \u escapes. Messages quote untrusted input (a JSON parser's
 * excerpt, a value from a file), and an error is promised to be one readable line.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is matched
  return text.replace(/\r?\n|\r/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function errorLine(e: unknown): string {
  if (e instanceof CloisterError) {
    const where = e.field === undefined ? '' : ` (field ${e.field}${e.expected === undefined ? '' : `: expected ${e.expected}`}${e.actual === undefined ? '' : `, actual ${e.actual}`})`;
    return `${printable(`error [${e.code}]: ${e.message}${e instanceof UsageError ? '' : where}`)}\n`;
  }
  return `${printable(`error: ${e instanceof Error ? e.message : String(e)}`)}\n`;
}

/** A USAGE error for `command`, pointing at its --help. */
export const usageError = (message: string, command: string): UsageError => new UsageError('USAGE', `${message} (see cloister ${command} --help)`);

/** `parse()`, with a bad command line turned into one USAGE line pointing at --help. */
function asUsage<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw usageError((e as Error).message.split('\n')[0] ?? '', command);
  }
}

/** A single-valued option given twice is refused, not settled silently by its last value. */
function refuseRepeats(argv: string[], options: ParseArgsOptionsConfig, allowPositionals: boolean, command: string): void {
  const { tokens } = asUsage(command, () => parseArgs({ args: argv, options, allowPositionals, strict: true, tokens: true }));
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'option' || options[t.name]?.multiple === true) continue;
    if (seen.has(t.name)) throw usageError(`--${t.name} is given more than once`, command);
    seen.add(t.name);
  }
}

/** Parses a command line with positionals; a bad one becomes one USAGE line pointing at --help. */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(argv: string[], options: O, command: string): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>> {
  refuseRepeats(argv, options, true, command);
  return asUsage(command, () => parseArgs({ args: argv, options, allowPositionals: true, strict: true }));
}

/** Parses a command's options (no positionals); a bad command line becomes one USAGE line pointing at --help. */
export function parseOptions<const O extends ParseArgsOptionsConfig>(argv: string[], options: O, command: string): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: false; strict: true }>>['values'] {
  refuseRepeats(argv, options, false, command);
  return asUsage(command, () => parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values);
}

export const HARDWARE_SOURCES = ['auto', 'configfs-tsm', 'sev-guest', 'tdx-guest'] as const;

/** Checks a --source value: "auto" (detect: configfs-tsm, then the device nodes) or one source. */
export function hardwareSource(value: string | undefined, command: string): Exclude<(typeof HARDWARE_SOURCES)[number], 'auto'> | undefined {
  const source = value ?? 'auto';
  if (!(HARDWARE_SOURCES as readonly string[]).includes(source)) {
    throw usageError(`--source must be one of ${HARDWARE_SOURCES.join(', ')}, got "${source}"`, command);
  }
  return source === 'auto' ? undefined : (source as Exclude<(typeof HARDWARE_SOURCES)[number], 'auto'>);
}

/** A long-running command's default stop: SIGINT or SIGTERM closes it, then the process exits. */
export function stopOnSignals(close: () => Promise<void>): void {
  const stop = (): void => {
    void close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** `--at`: an ISO-8601 time (a date at least), else a USAGE error pointing at the command's help. */
export function parseAt(value: string | undefined, command: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new UsageError('USAGE', `--at "${value}" is not an ISO-8601 time such as 2025-06-01T00:00:00Z (see cloister ${command} --help)`);
  return at;
}
