// The command line of a build script (scripts/**): parsed strictly, --help printed, a missing required option
// or a bad one a one-line error (exit 2). Returns the values, or the exit code when the script should stop.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export type ScriptValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

export function scriptArgs(argv: string[], options: ParseArgsOptionsConfig, help: string, required: readonly string[]): ScriptValues | number {
  let values: ScriptValues;
  try {
    values = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message} (see --help)\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(help);
    return 0;
  }
  const missing = required.filter((k) => values[k] === undefined);
  if (missing.length > 0) {
    process.stderr.write(`error: ${missing.map((k) => `--${k}`).join(', ')} required (see --help)\n`);
    return 2;
  }
  return values;
}

/** Whether the module at `url` is the script node was started with. */
export const isMain = (url: string): boolean => process.argv[1] !== undefined && fileURLToPath(url) === resolve(process.argv[1]);
