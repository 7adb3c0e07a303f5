// The privacy property end to end with three processes on loopback: a client process (bound to
// 127.0.0.2, sending identifying headers), `cloister relay` as its own process, and the gateway
// (`cloister serve --simulated`, in this process so that the test sees what reaches it). The gateway
// must see neither the client's address nor its headers; the relay must never hold the plaintext:
// its memory is scanned for the canary after the exchange, and its output for the canary and the
// client's address. The relay is started the way `cloister local` starts it (ChildCommand: ready over
// an IPC channel, stopped with SIGTERM).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { Writable } from 'node:stream';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ChildCommand } from './childCommand.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';
import { scanProcessMemory } from '../testing/memoryScan.js';

const state = mkdtempSync(join(tmpdir(), 'cloister-3p-'));
process.env.CLOISTER_STATE_DIR = state;
const NODE = process.execPath;
const CLIENT = fileURLToPath(new URL('../testing/loopbackClient.js', import.meta.url));

interface Seen {
  readonly remoteAddress: string | undefined;
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
}

let gatewayUrl = '';
let closeGateway: (() => Promise<void>) | undefined;
const seen: Seen[] = [];
let relay: ChildCommand;
let relayUrl = '';
let relayOutput = '';
let gatewayLog = '';

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, args, { env: { ...process.env, CLOISTER_STATE_DIR: state } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

before(async () => {
  const code = await serveCommand(['--simulated', '--port', '0'], { ...processIo, stderr: () => undefined }, {
    stopSignal: (fn) => (closeGateway = fn),
    logDestination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        gatewayLog += chunk.toString();
        done();
      },
    }),
    onListening: (u) => (gatewayUrl = u),
    onServer: (server) =>
      server.on('request', (req: http.IncomingMessage) => {
        seen.push({ remoteAddress: req.socket.remoteAddress, method: req.method, url: req.url, headers: req.headers });
      }),
  });
  assert.equal(code, 0);
  const output = (line: string): void => {
    relayOutput += `${line}\n`;
  };
  relay = ChildCommand.start({ name: 'relay', argv: ['relay', '--gateway', `default=${gatewayUrl}`, '--port', '0'], stdout: output, stderr: output });
  relayUrl = await relay.ready;
  relay.showOutput();
  assert.match(relayOutput, new RegExp(`^relay \\| cloister relay on ${relayUrl}$`, 'm'));
});

after(async () => {
  await relay.stop();
  await closeGateway?.();
});

describe('client, relay and gateway as three processes', () => {
  it('carries the request end to end; the gateway sees only the relay, and the relay never holds the plaintext', async () => {
    const r = await run([CLIENT, `${relayUrl}/default`]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { canary: string; status: number; echoed: string; accepted: boolean };
    assert.deepEqual([out.status, out.echoed, out.accepted], [200, out.canary, true]);

    // The gateway: every request came from the relay's address, with none of the client's headers.
    const requests = seen.filter((s) => s.url?.startsWith('/.well-known/') === true);
    assert.ok(requests.some((s) => s.method === 'POST'), 'the encapsulated request arrived');
    assert.ok(requests.some((s) => s.method === 'GET' && s.url === '/.well-known/cloister/attestation'), 'the certificate binding the key configurations was fetched through the relay');
    for (const s of requests) {
      assert.equal(s.remoteAddress, '127.0.0.1');
      const names = Object.keys(s.headers).sort();
      for (const name of names) assert.ok(['accept', 'connection', 'content-length', 'content-type', 'host'].includes(name), `the gateway saw header ${name}`);
      assert.doesNotMatch(JSON.stringify(s.headers), /client-secret-cookie|loopback-client|client-4242|tlh|127\.0\.0\.2/);
    }

    // The gateway's log: request lines with route, status and time; no content, no inner or outer headers.
    assert.match(gatewayLog, /"route":"\/\.well-known\/ohttp-gateway","status":200/);
    assert.doesNotMatch(gatewayLog, new RegExp(`${out.canary}|inner-|x-inner-secret|/v1/echo|client-secret-cookie|127\\.0\\.0\\.2`));

    // The relay: no trace of the plaintext in its memory, nor of the client in its output.
    assert.ok(relay.pid > 0);
    const enc = new TextEncoder();
    const hits = scanProcessMemory(relay.pid, { canary: enc.encode(out.canary), tail: enc.encode(out.canary.slice(-16)), inner: enc.encode(`inner-${out.canary}`) });
    assert.deepEqual(Object.fromEntries(Object.entries(hits).map(([k, v]) => [k, v.hits])), { canary: 0, tail: 0, inner: 0 });
    assert.doesNotMatch(relayOutput, new RegExp(`${out.canary}|127\\.0\\.0\\.2|client-secret-cookie|client-4242`));
  });

  it('the memory scan finds what is there (the relay holds the client\'s cookie header it received)', () => {
    assert.ok(relay.pid > 0);
    // The outer request's headers passed through the relay's HTTP parser: a positive control for the scan.
    const hits = scanProcessMemory(relay.pid, { cookie: new TextEncoder().encode('client-secret-cookie') });
    assert.ok((hits.cookie?.hits ?? 0) > 0, 'the scan sees bytes the relay did receive');
  });
});
