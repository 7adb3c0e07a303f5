// A cloister command (issuer, serve, relay) run as a child process of `cloister local`: the same CLI
// (dist/src/cli/main.js) on the same Node, with an IPC channel over which it says when it listens
// (src/cli/supervised.ts). Its log lines (JSON, standard output) are passed on as they are; its lines for
// people (standard error) are held until the supervisor shows them (once the whole stack listens), then
// passed on with its name in front, so that a stack that fails to start comes down to one line: the error
// of the command that failed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from '../base/runtimeErrors.js';
import { isReadyMessage, SUPERVISED_ENV } from './supervised.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

/** How long a child has to stop after SIGTERM before it gets SIGKILL. */
export const STOP_GRACE_MS = 5000;

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChildCommandOptions {
  /** How lines and messages name it ("issuer", "server", "relay"). */
  readonly name: string;
  /** The cloister command line, e.g. ['relay', '--gateway', URL]. */
  readonly argv: readonly string[];
  /** Node flags before the CLI, e.g. the memory-hygiene flags. */
  readonly nodeFlags?: readonly string[];
  /** Variables added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Receives each line of its standard output, as it is. */
  readonly stdout: (line: string) => void;
  /** Receives each line of its standard error, with its name in front, from showOutput() on. */
  readonly stderr: (line: string) => void;
  /** Prefix width, so that the names of several children line up. */
  readonly nameWidth?: number;
}

/** A child of `cloister local` exited: before it listened (with the error it printed), or while it served. */
export class ChildExitedError extends RuntimeError {
  constructor(message: string) {
    super('CHILD_EXITED', message);
  }
}

/** "code 2" or "signal SIGKILL". */
export const describeExit = (exit: ChildExit): string => (exit.signal === null ? `code ${String(exit.code)}` : `signal ${exit.signal}`);

/** The error a cloister command printed, without its "error: " (a code stays, in brackets). */
function printedError(lines: readonly string[]): string | undefined {
  const line = lines.find((l) => l.startsWith('error'));
  return line?.replace(/^error(?: \[([A-Z_]+)\])?: (.*)$/, (_all, code: string | undefined, message: string) => (code === undefined ? message : `[${code}] ${message}`));
}

function eachLine(stream: Readable | null, each: (line: string) => void): void {
  if (stream !== null) createInterface({ input: stream, crlfDelay: Infinity }).on('line', each);
}

export class ChildCommand {
  readonly name: string;
  readonly pid: number;
  /** Its URL once it listens; a ChildExitedError when it exits first. */
  readonly ready: Promise<string>;
  /** Resolves once it has exited and all its output has been passed on. */
  readonly exited: Promise<ChildExit>;
  /** Passes on the standard error lines held so far, and those to come. */
  readonly showOutput: () => void;
  readonly #child: ChildProcess;

  private constructor(name: string, child: ChildProcess, ready: Promise<string>, exited: Promise<ChildExit>, showOutput: () => void) {
    this.name = name;
    this.#child = child;
    this.pid = child.pid ?? 0;
    this.ready = ready;
    this.exited = exited;
    this.showOutput = showOutput;
  }

  static start(options: ChildCommandOptions): ChildCommand {
    // A session of its own: Ctrl-C reaches only the supervisor, which stops the children in order.
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), CLI, ...options.argv], {
      env: { ...process.env, ...options.env, [SUPERVISED_ENV]: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    eachLine(child.stdout, options.stdout);
    const { held, showOutput, showing } = holdLines([child.stderr], `${options.name.padEnd(options.nameWidth ?? 0)} | `, options.stderr);
    const exited = exitOf(child);
    const ready = new Promise<string>((resolve, reject) => {
      child.on('message', (message) => {
        if (!isReadyMessage(message)) return;
        // The child wrote its banner to standard error before it sent this; the pipe is read in the same
        // turn of the event loop as the channel, so after setImmediate the banner has arrived.
        setImmediate(() => {
          resolve(message.url);
        });
      });
      void exited.then((exit) => {
        const error = printedError(showing() ? [] : held);
        reject(new ChildExitedError(`the ${options.name}${child.pid === undefined ? '' : ` (pid ${child.pid})`} exited with ${describeExit(exit)} before it listened${error === undefined ? '' : `: ${error}`}`));
      });
    });
    // Whoever awaits `exited` rather than `ready` (a child that died after it listened) needs no catch here.
    ready.catch(() => undefined);
    return new ChildCommand(options.name, child, ready, exited, showOutput);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs = STOP_GRACE_MS): Promise<ChildExit> {
    return stopChild(this.#child, this.exited, graceMs);
  }
}

/** Lines of `streams` held until showOutput(), then passed on (and those to come) with `prefix` in front. */
export function holdLines(streams: readonly (Readable | null)[], prefix: string, output: (line: string) => void): { readonly held: readonly string[]; readonly showOutput: () => void; readonly showing: () => boolean } {
  let showing = false;
  const held: string[] = [];
  for (const stream of streams) {
    eachLine(stream, (line) => {
      if (showing) output(`${prefix}${line}`);
      else held.push(line);
    });
  }
  const showOutput = (): void => {
    showing = true;
    for (const line of held.splice(0)) output(`${prefix}${line}`);
  };
  return { held, showOutput, showing: () => showing };
}

/** How `child` exited, once its output has been read to the end ('close', not 'exit'). */
export function exitOf(child: ChildProcess): Promise<ChildExit> {
  return new Promise<ChildExit>((resolve) => {
    child.once('error', () => {
      resolve({ code: child.exitCode, signal: child.signalCode });
    });
    child.once('close', (code, signal) => {
      resolve({ code, signal });
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with `exited`. */
export function stopChild(child: ChildProcess, exited: Promise<ChildExit>, graceMs: number): Promise<ChildExit> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    void exited.finally(() => {
      clearTimeout(kill);
    });
  }
  return exited;
}
