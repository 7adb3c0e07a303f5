// Test support: `cloister serve --simulated` as a process of its own, started through ChildCommand (the
// CLI says over IPC when it listens), by default with npm start's memory hygiene, on a state directory of
// its own and on copies of the named model packs' manifests; its output kept for assertions, and an OHTTP
// client that trusts its simulated roots. The memory scrapes, the ONNX Runtime logging test and the
// load benchmark all start their server here.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OhttpClient } from '../../attestation/client/ohttpClient.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { HARDENED_GLIBC_TUNABLES, HARDENED_NODE_FLAGS } from '../base/memory/hygiene.js';
import { ChildCommand, type ChildExit } from '../cli/childCommand.js';
import { PACKS_DIR } from '../inference/manifest.js';
import { availableSimulatedRoots } from '../tee/sim/devRoots.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import { unauthenticatedFetch } from './unauthenticatedFetch.js';

export interface ServerProcessOptions {
  /** Bundled packs to serve by name (e.g. ['ocr']), or a model pack directory of the caller's. */
  readonly models: readonly string[] | string;
  /** More `serve` options. */
  readonly args?: readonly string[];
  /** npm start's memory hygiene (node flags and glibc tunables); default true. */
  readonly hardened?: boolean;
}

export interface ServerProcess {
  readonly pid: number;
  readonly url: string;
  /** Its standard output (the JSON log) and standard error so far. */
  stdout(): string;
  stderr(): string;
  /** An OHTTP client straight to its gateway (no relay), or to `via` (a load balancer in front of it), trusting the simulated roots. */
  client(options?: { readonly via?: string }): Promise<OhttpClient>;
  stop(): Promise<ChildExit>;
}

/** A directory holding copies of the named bundled packs' manifests. */
export function packDirectory(names: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-packs-'));
  for (const n of names) copyFileSync(join(PACKS_DIR, `${n}.json`), join(dir, `${n}.json`));
  return dir;
}

/** Longer than any --target-timeout the tests give: a test's server, not its client, decides when a request is late. */
const CLIENT_TIMEOUT_MS = 300_000;

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const state = mkdtempSync(join(tmpdir(), 'cloister-server-'));
  const models = typeof options.models === 'string' ? options.models : packDirectory(options.models);
  const hardened = options.hardened ?? true;
  let stdout = '';
  let stderr = '';
  const child = ChildCommand.start({
    name: 'server',
    argv: ['serve', '--simulated', '--port', '0', '--models', models, ...(options.args ?? [])],
    nodeFlags: hardened ? HARDENED_NODE_FLAGS : [],
    env: { CLOISTER_STATE_DIR: state, ...(hardened ? { GLIBC_TUNABLES: HARDENED_GLIBC_TUNABLES } : {}) },
    stdout: (line) => (stdout += `${line}\n`),
    stderr: (line) => (stderr += `${line}\n`),
  });
  child.showOutput();
  const url = await child.ready;
  // The client in this process reads the simulated roots from the server's state directory.
  process.env.CLOISTER_STATE_DIR = state;
  return {
    pid: child.pid,
    url,
    stdout: () => stdout,
    stderr: () => stderr,
    client: async (o) => new OhttpClient({ relay: o?.via ?? url, gateway: o?.via ?? url, policy: await simulatedMeasurementPolicy(), snpVerifier: new SnpVerifier({ additionalRoots: (await availableSimulatedRoots()).snp }), fetch: unauthenticatedFetch, primitives: nodeHpke, timeoutMs: CLIENT_TIMEOUT_MS }),
    stop: () => child.stop(),
  };
}
