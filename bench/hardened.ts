// A suite run again in a child process with the server's memory hygiene (npm start's settings: glibc
// malloc perturb, --clear-free-memory, a GC after each request): the process-wide settings cannot be
// switched inside one process, and they slow raw session.run and the private path alike.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HARDENED_GLIBC_TUNABLES, HARDENED_NODE_FLAGS } from '../src/base/index.js';
import type { SuiteReport } from './measure.js';

const RUNNER = fileURLToPath(new URL('./run.js', import.meta.url));
/** Set in the child: print the report as JSON instead of a table. */
export const JSON_REPORT_ENV = 'CLOISTER_BENCH_JSON';

export function hardened(suite: string): () => Promise<SuiteReport> {
  return () =>
    new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [...HARDENED_NODE_FLAGS, RUNNER, suite],
        { env: { ...process.env, GLIBC_TUNABLES: HARDENED_GLIBC_TUNABLES, [JSON_REPORT_ENV]: '1' }, maxBuffer: 64 << 20 },
        (error, stdout, stderr) => {
          if (error !== null) {
            reject(new Error(`the hardened ${suite} run failed: ${stderr.trim() || error.message}`));
            return;
          }
          const last = stdout.trim().split('\n').at(-1) ?? '';
          let report: SuiteReport;
          try {
            report = JSON.parse(last) as SuiteReport;
          } catch {
            reject(new Error(`the hardened ${suite} run printed no report: ${JSON.stringify(stdout.slice(-200))} ${stderr.trim()}`));
            return;
          }
          resolve({ ...report, title: `${report.title} [with npm start's memory hygiene: ${HARDENED_GLIBC_TUNABLES}, ${HARDENED_NODE_FLAGS.join(' ')}]` });
        },
      );
    });
}
