// The local stack as a new user meets it. `cloister local --no-privacy-pass` starts the server on the simulated
// TEE with the bundled models and a relay, as two processes of its own; `cloister request receipt.png
// --trust-simulated` prints the receipt's text, having accepted the simulated TEE's launch measurement and
// no other; without a measurement to accept, request refuses in one line. A corrupt image, an unknown target
// and an oversized body each get one clear line, and the stack keeps serving; stopping it leaves no process
// behind. The tests that read a receipt are skipped without Chromium (it renders the receipt). `cloister local`
// as npm start runs it adds a Privacy Pass issuer, and the gateway then requires its tokens: the banner's
// `cloister request --issuer` gets through, as does a token obtained with the SDK's client pieces; none gets 401.
// What happens when a process of the stack fails, or the command is killed, is in localProcesses.test.ts.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeTensors, encodeTensors, TENSORS_MEDIA_TYPE } from '../inference/tensorCodec.js';
import { CHROMIUM, renderTextImages } from '../testing/renderText.js';
import { HARDENED_NODE_FLAGS } from '../base/memory/hygiene.js';
import { commandLine, isRunning, parentPid } from '../testing/processTable.js';
import { unauthenticatedFetch } from '../testing/unauthenticatedFetch.js';
import { processIo } from './io.js';
import { localCommand, type LocalIssuer, type LocalStack } from './localCommand.js';
import { availableSimulatedRoots } from './trustSimulated.js';
import { OhttpClient, type OhttpResponse } from '../../attestation/client/ohttpClient.js';
import { toArrayBufferView, toBase64Url } from '../../attestation/bytes.js';
import { buildAuthorization, createTokenRequest, encodeToken, encodeTokenRequest, finalizeToken, parseWwwAuthenticate } from '../../attestation/protocols/index.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import { runCli } from './dispatch.js';
import { simulatedMeasurementsHex } from '../tee/sim/simulatedMeasurements.js';
import { parseMeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import { publishMeasurements } from '../transparency/publish.js';

process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-local-'));
const dir = mkdtempSync(join(tmpdir(), 'cloister-local-files-'));

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string; bytes: Uint8Array[] }> {
  return cliWith({}, ...argv);
}

/** `terminal`: standard output is a terminal (no raw bytes to it). */
async function cliWith(options: { terminal?: boolean }, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string; bytes: Uint8Array[] }> {
  let stdout = '';
  let stderr = '';
  const bytes: Uint8Array[] = [];
  const stdoutBytes = options.terminal === true ? undefined : (b: Uint8Array) => Promise.resolve(void bytes.push(b.slice()));
  const code = await runCli(argv, { ...processIo, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stdoutBytes });
  return { code, stdout, stderr, bytes };
}

// Only the tests that need a receipt's text rendered need Chromium; the others run everywhere.
const NEEDS_CHROMIUM = { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CLOISTER_CHROMIUM)` };

describe('the local stack', () => {
  let relay = '';
  let stack: LocalStack;
  let banner = '';
  let logs = '';
  let stop: (() => Promise<void>) | undefined;
  let exited: Promise<number>;
  let receipt = '';

  before(async () => {
    // Without Chromium, a file that is a PNG by its signature stands in where no text is read from it.
    const [png] = NEEDS_CHROMIUM.skip === false ? await renderTextImages([['COFFEE 3.20', 'BAGEL 2.75', 'TOTAL 5.95']]) : [Buffer.from('89504e470d0a1a0a', 'hex')];
    receipt = join(dir, 'receipt.png');
    writeFileSync(receipt, png);
    stack = await new Promise<LocalStack>((resolve, reject) => {
      exited = localCommand(['--port', '0', '--relay-port', '0', '--no-privacy-pass'], { ...processIo, stdout: (t) => (logs += t), stderr: (t) => (banner += t) }, { stopSignal: (fn) => (stop = fn), onReady: resolve });
      exited.then((code) => {
        reject(new Error(`cloister local exited with ${code} before it was ready: ${banner}`));
      }, reject);
    });
    relay = stack.relay;
  });

  after(async () => {
    await stop?.();
  });

  it('says how to try it, with both URLs and process IDs', () => {
    assert.match(banner, /Local stack ready \(SIMULATED TEE/);
    assert.match(banner, /\nTry it \(--trust-simulated: the simulated TEE's roots and launch measurement, no other\):\n {2}npx cloister request receipt\.png --trust-simulated( --relay \S+)?\n {2}npx cloister verify https:\/\/127\.0\.0\.1:\d+ --trust-simulated\n/);
    assert.match(banner, new RegExp(`\\nOr verify it in your browser \\(docs/verify-page\\.md\\)(: npm run web, then)? open\\n  file:///\\S+/build/web/index\\.html\\?server=${encodeURIComponent(stack.relay).replace(/[.%]/g, '\\$&')}&simulated=1\\n`));
    assert.match(banner, /^server \| +models +ocr pp-ocrv4-1, vad silero-v5-1$/m);
    assert.match(banner, new RegExp(`^  server  ${stack.server} +pid ${stack.serverPid} \\(memory hygiene`, 'm'));
    assert.match(banner, new RegExp(`^  relay   ${stack.relay} +pid ${stack.relayPid}$`, 'm'));
    assert.match(banner, /^relay {2}\| cloister relay on http:\/\/127\.0\.0\.1:\d+$/m);
    assert.ok(banner.trimEnd().endsWith('Stop both with Ctrl-C.'), 'the banner comes after what the two processes printed');
    // Log lines are passed on as they are: JSON, one per line, from both.
    const services = new Set(logs.trim().split('\n').map((l) => (JSON.parse(l) as { service: string }).service));
    assert.ok(services.has('cloister'), logs);
  });

  it('runs the server and the relay as two processes of their own, the server with the memory-hygiene settings', async () => {
    const { serverPid, relayPid } = stack;
    assert.notEqual(serverPid, relayPid);
    for (const pid of [serverPid, relayPid]) {
      assert.notEqual(pid, process.pid);
      assert.ok(isRunning(pid));
      assert.equal(parentPid(pid), process.pid, 'a child of the command');
    }
    for (const flag of HARDENED_NODE_FLAGS) assert.ok(commandLine(serverPid).includes(flag), `${flag} in ${commandLine(serverPid).join(' ')}`);
    assert.ok(!commandLine(relayPid).includes('--clear-free-memory'), 'the relay runs plainly');
    const status = await (await unauthenticatedFetch(`${stack.server}/status`, { method: 'GET', headers: {} })).arrayBuffer();
    assert.deepEqual((JSON.parse(new TextDecoder().decode(status)) as { memoryHygiene: unknown }).memoryHygiene, { gcAfterRequest: true, clearFreeMemory: true, mallocPerturb: true });
  });

  it('recognises the receipt through the relay, after checking the attestation', NEEDS_CHROMIUM, async () => {
    const r = await cli('request', receipt, '--trust-simulated', '--relay', relay);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.replace(/ /g, '');
    for (const line of ['COFFEE3.20', 'BAGEL2.75', 'TOTAL5.95']) assert.ok(text.includes(line), `"${line}" in ${r.stdout}`);
    assert.match(r.stderr, /attested sev-snp, SIMULATED, the simulated TEE's measurement; OHTTP key \d+; through /);
  });

  it('refuses without a launch measurement to accept, in one line naming the flags, and the simulated root without --trust-simulated', async () => {
    const r = await cli('request', receipt, '--relay', relay);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      "error [USAGE]: no launch measurement to accept: give --measurement HEX or --measurements FILE (--trust-simulated alone accepts the simulated TEE's), or --any-measurement to accept any, for debugging (see cloister request --help)\n",
    );
    const untrusted = await cli('request', receipt, '--relay', relay, '--measurement', (await simulatedMeasurementsHex())['sev-snp']);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /^REFUSED \[UNTRUSTED_ROOT\]/);
  });

  it('sends with --log when the measurement is published there, and refuses, sending nothing, when it is not', async () => {
    const hello = join(dir, 'hello-log.txt');
    writeFileSync(hello, 'hello');
    const key = generateKeyPairSync('ed25519').privateKey;
    const publish = async (name: string, measurement: string): Promise<string> => {
      const log = join(dir, name);
      const file = parseMeasurementsFile(JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: '00'.repeat(32), variant: 'test' }, 'sev-snp': [{ measurement, vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }] }));
      await publishMeasurements(file, '0'.repeat(40), { dir: log, key, logKey: generateKeyPairSync('ed25519').privateKey, origin: `${name}.example/log`, fsync: false });
      return log;
    };
    const logged = await publish('published', (await simulatedMeasurementsHex())['sev-snp']);
    const echo = [hello, '--type', 'text/plain', '--path', '/v1/echo', '--trust-simulated', '--relay', relay];
    const right = await cli('request', ...echo, '--log', logged, '--publisher-key', join(logged, 'publisher.pub'));
    assert.equal(right.code, 0, right.stderr);
    assert.equal(Buffer.concat(right.bytes).toString(), 'hello');
    assert.match(right.stderr, /^\(attested sev-snp, SIMULATED, a measurement in the transparency log; OHTTP key \d+; through /);
    const other = await publish('other', 'ab'.repeat(48));
    const wrong = await cli('request', ...echo, '--log', other, '--publisher-key', join(other, 'publisher.pub'));
    assert.equal(wrong.code, 1);
    assert.deepEqual(wrong.bytes, []);
    assert.match(wrong.stderr, /^REFUSED \[MEASUREMENT_NOT_LOGGED\]: the gateway's key configurations are not attested: the sev-snp launch measurement [0-9a-f]{96} is not in the transparency log other\.example\/log: no statement lists it\n$/);
  });

  it('sends with the right --measurement, refuses a wrong one, and says ANY MEASUREMENT with --any-measurement', async () => {
    const hello = join(dir, 'hello.txt');
    writeFileSync(hello, 'hello');
    const echo = [hello, '--type', 'text/plain', '--path', '/v1/echo', '--trust-simulated', '--relay', relay];
    const right = await cli('request', ...echo, '--measurement', (await simulatedMeasurementsHex())['sev-snp']);
    assert.equal(right.code, 0, right.stderr);
    // The echo answers application/octet-stream: raw bytes to a standard output that is not a terminal.
    assert.equal(Buffer.concat(right.bytes).toString(), 'hello');
    assert.match(right.stderr, /^\(attested sev-snp, SIMULATED, an allowed measurement; OHTTP key \d+; through /);
    const wrong = await cli('request', ...echo, '--measurement', 'ab'.repeat(48));
    assert.equal(wrong.code, 1);
    assert.deepEqual(wrong.bytes, []);
    assert.match(wrong.stderr, new RegExp(`^REFUSED \\[POLICY_MEASUREMENT\\]: the gateway's key configurations are not attested: measurement [0-9a-f]{96} is not in the allowed list\n$`));
    const any = await cli('request', ...echo, '--any-measurement');
    assert.equal(any.code, 0, any.stderr);
    assert.equal(Buffer.concat(any.bytes).toString(), 'hello');
    assert.match(any.stderr, /^\(attested sev-snp, SIMULATED, ANY MEASUREMENT accepted \(debugging\); OHTTP key \d+; through /);
    const refused = await cli('request', hello, '--type', 'text/plain', '--path', '/v1/models/nope/nope', '--trust-simulated', '--relay', relay, '--any-measurement');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: the server answered 404: not found\n\(attested sev-snp, SIMULATED, ANY MEASUREMENT accepted \(debugging\); OHTTP key/);
    const both = await cli('request', ...echo, '--any-measurement', '--measurement', 'ab'.repeat(48));
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^error \[USAGE\]: --any-measurement contradicts --measurement and --measurements/);
  });

  it('gives one clear line for a corrupt image, an unknown target and an oversized body, and keeps serving', NEEDS_CHROMIUM, async () => {
    const corrupt = join(dir, 'corrupt.png');
    writeFileSync(corrupt, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(64, 7)]));
    const bad = await cli('request', corrupt, '--trust-simulated', '--relay', relay);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^error: the server answered 400: unreadable image \(corrupt\)\n$/);
    const unknown = await cli('request', receipt, '--trust-simulated', '--relay', relay, '--path', '/v1/models/nope/nope');
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /^error: the server answered 404: not found\n$/);
    const big = join(dir, 'big.png');
    writeFileSync(big, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(2 << 20)]));
    const huge = await cli('request', big, '--trust-simulated', '--relay', relay);
    assert.equal(huge.code, 1, huge.stderr);
    assert.match(huge.stderr, /^error: the relay answered 413 PAYLOAD_TOO_LARGE instead of an encapsulated response\n$/);
    const again = await cli('request', receipt, '--trust-simulated', '--relay', relay);
    assert.equal(again.code, 0, again.stderr);
  });

  it('runs the recognition model through the tensor endpoint: a 1 MiB answer to --output, or piped, never to a terminal', async () => {
    const input = join(dir, 'line.tensors');
    writeFileSync(input, encodeTensors([{ name: 'x', type: 'float32', dims: [1, 3, 48, 320], data: Float32Array.from({ length: 3 * 48 * 320 }, (_, i) => Math.sin(i * 0.37)) }]));
    const args = [input, '--type', TENSORS_MEDIA_TYPE, '--path', '/v1/models/ocr/recognition', '--trust-simulated', '--relay', relay];
    const out = join(dir, 'logits.tensors');
    const written = await cli('request', ...args, '--output', out);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stderr, /^\(1060\d\d\d bytes of application\/vnd\.cloister\.tensors written to .*logits\.tensors; attested sev-snp, SIMULATED/);
    const file = new Uint8Array(readFileSync(out));
    const [logits] = decodeTensors(file, 1 << 24);
    assert.deepEqual(logits?.dims, [1, 40, 6625]);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const piped = await cli('request', ...args);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, '');
    assert.deepEqual(Buffer.concat(piped.bytes), Buffer.from(file));
    const terminal = await cliWith({ terminal: true }, 'request', ...args);
    assert.equal(terminal.code, 2);
    assert.match(terminal.stderr, /^error \[USAGE\]: the answer is 1060\d\d\d bytes of application\/vnd\.cloister\.tensors, not text: give --output FILE or redirect standard output \(see cloister request --help\)\n$/);
    const unwritable = await cli('request', ...args, '--output', join(dir, 'no-such-dir', 'x'));
    assert.equal(unwritable.code, 2);
    assert.match(unwritable.stderr, /^error \[UNWRITABLE_OUTPUT\]: cannot write ".*x": ENOENT/);
    // An existing file is replaced by a new 0600 one, a symlink is replaced rather than written through,
    // and an answer that is not 2xx leaves the target as it was; no temporary file stays behind.
    const existing = join(dir, 'existing.bin');
    writeFileSync(existing, 'old', { mode: 0o644 });
    assert.equal((await cli('request', ...args, '--output', existing)).code, 0);
    assert.equal(statSync(existing).mode & 0o777, 0o600);
    assert.deepEqual(readFileSync(existing), Buffer.from(file));
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep');
    const link = join(dir, 'link.bin');
    symlinkSync(victim, link);
    assert.equal((await cli('request', ...args, '--output', link)).code, 0);
    assert.equal(readFileSync(victim, 'utf8'), 'keep');
    assert.ok(!lstatSync(link).isSymbolicLink());
    const refused = await cli('request', input, '--type', TENSORS_MEDIA_TYPE, '--path', '/v1/models/nope/nope', '--trust-simulated', '--relay', relay, '--output', victim);
    assert.equal(refused.code, 1);
    assert.equal(readFileSync(victim, 'utf8'), 'keep');
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.part')), []);
  });

  it('rejects bad command lines in one line (exit 2)', async () => {
    for (const argv of [['request'], ['request', join(dir, 'missing.png')], ['request', receipt, '--relay', 'ftp://x'], ['request', receipt, '--measurement', '12'], ['local', '--bogus']]) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    }
    assert.match((await cli('request', '--help')).stdout, /^Usage: cloister request FILE/);
    assert.match((await cli('local', '--help')).stdout, /^Usage: cloister local/);
    for (const argv of [['local', '--port', '65536'], ['local', '--relay-port', 'x'], ['local', '--issuer-port', '70000'], ['local', '--issuer-port', '1', '--no-privacy-pass'], ['local', '--platform', 'sgx']]) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error \[USAGE\]: .* \(see cloister local --help\)\n$/);
    }
  });

  it('stops both processes when stopped, and exits 0', async () => {
    assert.equal(stack.issuer, undefined, 'no issuer with --no-privacy-pass');
    assert.ok(stop !== undefined);
    await stop();
    assert.equal(await exited, 0);
    assert.ok(!isRunning(stack.serverPid) && !isRunning(stack.relayPid), 'neither process runs');
  });
});

describe('the local stack with its Privacy Pass issuer (npm start)', () => {
  let stack: LocalStack;
  let issuer: LocalIssuer;
  let banner = '';
  let stop: (() => Promise<void>) | undefined;
  let exited: Promise<number>;
  let client: OhttpClient;
  const echo = (headers: [string, string][]): Promise<OhttpResponse> => client.fetch({ url: 'https://cloister/v1/echo', method: 'POST', headers: [['content-type', 'text/plain'], ...headers], body: new TextEncoder().encode('hello with a token') });

  before(async () => {
    stack = await new Promise<LocalStack>((resolve, reject) => {
      exited = localCommand(['--models', 'none', '--port', '0', '--relay-port', '0', '--issuer-port', '0'], { ...processIo, stdout: () => undefined, stderr: (t) => (banner += t) }, { stopSignal: (fn) => (stop = fn), onReady: resolve });
      exited.then((code) => {
        reject(new Error(`cloister local exited with ${code} before it was ready: ${banner}`));
      }, reject);
    });
    assert.ok(stack.issuer);
    issuer = stack.issuer;
    client = new OhttpClient({ relay: stack.relay, policy: await simulatedMeasurementPolicy(), snpVerifier: new SnpVerifier({ additionalRoots: (await availableSimulatedRoots()).snp }) });
  });

  after(async () => {
    await stop?.();
  });

  it('runs the issuer as a third process, with its keys and an accounts file holding only the token\'s hash in a private directory', () => {
    assert.equal(parentPid(issuer.pid), process.pid, 'a child of the command');
    assert.equal(new Set([issuer.pid, stack.serverPid, stack.relayPid]).size, 3);
    assert.equal(statSync(issuer.dir).mode & 0o777, 0o700);
    const accounts = join(issuer.dir, 'accounts.json');
    assert.equal(statSync(accounts).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(accounts, 'utf8')), { accounts: [{ id: 'local', 'token-sha256': createHash('sha256').update(issuer.bearer).digest('hex') }] });
    assert.equal(readdirSync(issuer.dir).filter((n) => n.endsWith('.pem')).length, 1, 'one key');
    assert.match(banner, new RegExp(`^  issuer  ${issuer.url} +pid ${issuer.pid} \\(Privacy Pass; keys and account "local" in ${issuer.dir}, removed at stop\\)$`, 'm'));
    assert.match(banner, /^ {2}server {2}https:\/\/\S+ +pid \d+ \(memory hygiene: .*; requires a token\)$/m);
    assert.ok(banner.includes(`\n  export CLOISTER_ISSUER_AUTH=${issuer.bearer}\n  npx cloister request receipt.png --trust-simulated --issuer ${issuer.url} --issuer-auth-env CLOISTER_ISSUER_AUTH --relay ${stack.relay}\n`), banner);
    assert.ok(banner.trimEnd().endsWith('Stop all three with Ctrl-C.'));
  });

  it('refuses a request through the relay without a token (401 with a challenge), and serves one with a token from the issuer', async () => {
    const refused = await echo([]);
    assert.equal(refused.status, 401);
    const [challenge] = parseWwwAuthenticate(refused.headers.find(([n]) => n === 'www-authenticate')?.[1] ?? '');
    assert.ok(challenge);
    const directoryUrl = `${issuer.url}/.well-known/private-token-issuer-directory`;
    const directory = (await (await fetch(directoryUrl)).json()) as { 'issuer-request-uri': string; 'token-keys': { 'token-key': string }[] };
    assert.deepEqual(directory['token-keys'].map((k) => k['token-key']), [toBase64Url(challenge.tokenKey)], 'the gateway offers the issuer\'s key');
    const { request, state } = await createTokenRequest(challenge.challenge, challenge.tokenKey);
    const post = (authorization: string): Promise<Response> =>
      fetch(new URL(directory['issuer-request-uri'], directoryUrl), { method: 'POST', headers: { 'content-type': 'application/private-token-request', authorization }, body: toArrayBufferView(encodeTokenRequest(request)) });
    assert.equal((await post('Bearer not-the-token')).status, 401);
    const issued = await post(`Bearer ${issuer.bearer}`);
    assert.equal(issued.status, 200);
    const token = await finalizeToken(state, new Uint8Array(await issued.arrayBuffer()));
    const served = await echo([['authorization', buildAuthorization(encodeToken(token))]]);
    assert.equal(served.status, 200);
    assert.equal(new TextDecoder().decode(served.content), 'hello with a token');
    assert.equal((await echo([['authorization', buildAuthorization(encodeToken(token))]])).status, 401, 'a token is spent once');
  });

  it('serves the banner\'s command: cloister request with --issuer and the bearer token in CLOISTER_ISSUER_AUTH, a new token each time', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cloister-local-pp-')), 'hello.txt');
    writeFileSync(file, 'hello from the banner');
    process.env.CLOISTER_ISSUER_AUTH = issuer.bearer;
    try {
      for (let i = 0; i < 2; i++) {
        const r = await cli('request', file, '--type', 'text/plain', '--path', '/v1/echo', '--trust-simulated', '--issuer', issuer.url, '--issuer-auth-env', 'CLOISTER_ISSUER_AUTH', '--relay', stack.relay);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(Buffer.concat(r.bytes).toString(), 'hello from the banner');
        assert.ok(!`${r.stdout}${r.stderr}`.includes(issuer.bearer), 'the bearer token is not printed');
      }
    } finally {
      delete process.env.CLOISTER_ISSUER_AUTH;
    }
  });

  it('stops all three processes when stopped, removes the issuer\'s directory, and exits 0', async () => {
    assert.ok(stop !== undefined);
    await stop();
    assert.equal(await exited, 0);
    for (const pid of [issuer.pid, stack.serverPid, stack.relayPid]) assert.ok(!isRunning(pid), `${pid} stopped`);
    assert.ok(!existsSync(issuer.dir), `${issuer.dir} removed`);
  });
});
