// `cloister local` as a user runs it, a process with three children (issuer, server, relay; two with
// --no-privacy-pass): Ctrl-C (SIGINT) or SIGTERM stops them all; killed outright, its children notice and stop;
// should a child die, the others are stopped and the command exits 1 with one line; a child that cannot start (its
// port taken) makes it exit 2 with one line. The issuer's temporary directory goes whenever the command stops on
// its own. Each stack has a state directory of its own, and "no process left" means no running process has that
// directory in its environment.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processesWithEnv, waitUntil } from '../testing/processTable.js';
import { runCli } from './dispatch.js';
import { processIo } from './io.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));
const READY_MS = 60_000;

interface Local {
  readonly pid: number;
  readonly state: string;
  readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Resolves with the URLs and process IDs of the banner; rejects if the command exits first. */
  readonly ready: Promise<Banner>;
}

interface Banner {
  readonly server: string;
  readonly serverPid: number;
  readonly relay: string;
  readonly relayPid: number;
  /** Absent with --no-privacy-pass. */
  readonly issuer?: { readonly pid: number; readonly dir: string };
}

const started: Local[] = [];

function startLocal(...argv: string[]): Local {
  const state = mkdtempSync(join(tmpdir(), 'cloister-local-procs-'));
  const child = spawn(process.execPath, [CLI, 'local', '--models', 'none', ...argv], { env: { ...process.env, CLOISTER_STATE_DIR: state }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
  const ready = new Promise<Banner>((resolve, reject) => {
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      // The banner's lines arrive together: the issuer's line, when there is one, is there with the others.
      const server = /^ {2}server {2}(https:\/\/\S+) +pid (\d+)/m.exec(stderr);
      const relay = /^ {2}relay {3}(http:\/\/\S+) +pid (\d+)/m.exec(stderr);
      const issuer = /^ {2}issuer {2}http:\/\/\S+ +pid (\d+) \(Privacy Pass; keys and account "local" in (\S+), removed at stop\)$/m.exec(stderr);
      if (server !== null && relay !== null) {
        resolve({ server: server[1] ?? '', serverPid: Number(server[2]), relay: relay[1] ?? '', relayPid: Number(relay[2]), ...(issuer === null ? {} : { issuer: { pid: Number(issuer[1]), dir: issuer[2] ?? '' } }) });
      }
    });
    void exited.then((r) => {
      reject(new Error(`cloister local exited with ${String(r.code)} before it was ready: ${r.stderr}`));
    });
  });
  ready.catch(() => undefined);
  const local = { pid: child.pid ?? 0, state, exited, ready };
  started.push(local);
  return local;
}

// A failed test leaves no stack running (its children stop when the command is gone).
after(async () => {
  for (const local of started) {
    if (processesWithEnv(`CLOISTER_STATE_DIR=${local.state}`).includes(local.pid)) process.kill(local.pid, 'SIGKILL');
    await local.exited;
  }
});

const stackProcesses = (state: string): number[] => processesWithEnv(`CLOISTER_STATE_DIR=${state}`);

function holdPort(): Promise<{ port: number; server: Server }> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      resolve({ port: (server.address() as { port: number }).port, server });
    });
  });
}

describe('cloister local as processes', () => {
  it('carries a request through the relay without Privacy Pass, then stops both processes on SIGINT (Ctrl-C) and exits 0', async () => {
    const local = startLocal('--port', '0', '--relay-port', '0', '--no-privacy-pass');
    const stack = await local.ready;
    assert.deepEqual(stackProcesses(local.state).sort(), [local.pid, stack.serverPid, stack.relayPid].sort(), 'the command and its two children');
    // The client trusts the simulated TEE's development root from the stack's state directory.
    process.env.CLOISTER_STATE_DIR = local.state;
    const file = join(local.state, 'hello.txt');
    writeFileSync(file, 'hello through two processes');
    let out = '';
    let err = '';
    // The echo answers application/octet-stream: raw bytes to a standard output that is not a terminal.
    const stdoutBytes = (bytes: Uint8Array): Promise<void> => Promise.resolve(void (out += new TextDecoder().decode(bytes)));
    const code = await runCli(['request', file, '--type', 'text/plain', '--path', '/v1/echo', '--trust-simulated', '--relay', stack.relay], { ...processIo, stdout: (t) => (out += t), stderr: (t) => (err += t), stdoutBytes });
    assert.equal(code, 0, err);
    assert.equal(out, 'hello through two processes');
    assert.match(err, /^\(attested sev-snp, SIMULATED, the simulated TEE's measurement; OHTTP key \d+; through http:\/\/127\.0\.0\.1:\d+\/default\)\n$/);
    process.kill(local.pid, 'SIGINT');
    const r = await local.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(stackProcesses(local.state), []);
  });

  it('stops all three on SIGTERM, and removes the issuer\'s directory', async () => {
    const local = startLocal('--port', '0', '--relay-port', '0', '--issuer-port', '0');
    const stack = await local.ready;
    assert.ok(stack.issuer);
    assert.deepEqual(stackProcesses(local.state).sort(), [local.pid, stack.issuer.pid, stack.serverPid, stack.relayPid].sort(), 'the command and its three children');
    assert.ok(existsSync(stack.issuer.dir));
    process.kill(local.pid, 'SIGTERM');
    assert.equal((await local.exited).code, 0);
    assert.deepEqual(stackProcesses(local.state), []);
    assert.ok(!existsSync(stack.issuer.dir), 'the directory is gone');
  });

  it('leaves no orphan when killed outright (SIGKILL): the children see their channel close and stop', async () => {
    const local = startLocal('--port', '0', '--relay-port', '0', '--issuer-port', '0');
    const stack = await local.ready;
    process.kill(local.pid, 'SIGKILL');
    await local.exited;
    await waitUntil(() => stackProcesses(local.state).length === 0, 10_000, `the issuer (${stack.issuer?.pid ?? 0}), the server (${stack.serverPid}) and the relay (${stack.relayPid}) stopped`);
    // Killed outright, the command could not remove the issuer's directory.
    rmSync(stack.issuer?.dir ?? '', { recursive: true, force: true });
  });

  for (const [dies, others] of [['relay', 'the issuer and the server'], ['issuer', 'the server and the relay']] as const) {
    it(`stops the others when the ${dies} dies, removes the issuer's directory, and exits 1 with one line`, async () => {
      const local = startLocal('--port', '0', '--relay-port', '0', '--issuer-port', '0');
      const stack = await local.ready;
      const pid = dies === 'relay' ? stack.relayPid : (stack.issuer?.pid ?? 0);
      process.kill(pid, 'SIGKILL');
      const r = await local.exited;
      assert.equal(r.code, 1);
      assert.equal(r.stderr.slice(r.stderr.indexOf('Stop all three with Ctrl-C.\n') + 28), `error [CHILD_EXITED]: the ${dies} (pid ${pid}) exited with signal SIGKILL while serving; stopped ${others}\n`);
      assert.deepEqual(stackProcesses(local.state), []);
      assert.ok(!existsSync(stack.issuer?.dir ?? ''));
    });
  }

  it('exits 2 with one line when the issuer, the server or the relay cannot start (its port taken), leaving no process', { timeout: READY_MS }, async () => {
    const held = await holdPort();
    try {
      const issuer = startLocal('--port', '0', '--relay-port', '0', '--issuer-port', String(held.port));
      const i = await issuer.exited;
      assert.equal(i.code, 2);
      assert.match(i.stderr, new RegExp(`^error \\[CHILD_EXITED\\]: the issuer \\(pid \\d+\\) exited with code 2 before it listened: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${held.port}\\n$`));
      assert.deepEqual(stackProcesses(issuer.state), []);
      const server = startLocal('--port', String(held.port), '--relay-port', '0', '--issuer-port', '0');
      const s = await server.exited;
      assert.equal(s.code, 2);
      assert.match(s.stderr, new RegExp(`^error \\[CHILD_EXITED\\]: the server \\(pid \\d+\\) exited with code 2 before it listened: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${held.port}\\n$`));
      assert.deepEqual(stackProcesses(server.state), []);
      const relay = startLocal('--port', '0', '--relay-port', String(held.port), '--issuer-port', '0');
      const r = await relay.exited;
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`^error \\[CHILD_EXITED\\]: the relay \\(pid \\d+\\) exited with code 2 before it listened: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${held.port}\\n$`));
      assert.deepEqual(stackProcesses(relay.state), [], 'the issuer and the server were stopped');
    } finally {
      held.server.close();
    }
  });
});
