#!/usr/bin/env node
// The `cloister` command line: one entry point for every Cloister tool.
import { errorLine, EXIT, processIo } from './io.js';
import { runCli } from './dispatch.js';

try {
  process.exitCode = await runCli(process.argv.slice(2), processIo);
} catch (e) {
  process.stderr.write(errorLine(e));
  process.exitCode = EXIT.usage;
}
