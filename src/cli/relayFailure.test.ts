// `cloister request --relay URL` when the relay gives no HTTP answer: one line naming the URL and the likely
// mistake, from the code fetch's error carries. End to end against a server (the usual mistake: --relay
// set to the server itself) and a closed port; the other codes from errors shaped as undici makes them.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VerificationError } from '../../attestation/errors.js';
import { runCli } from './dispatch.js';
import { processIo } from './io.js';
import { relayFailureReason } from './relayFailure.js';
import { relayCommand } from './relayCommand.js';
import { serveCommand } from './serveCommand.js';

const dir = mkdtempSync(join(tmpdir(), 'cloister-relay-failure-'));
process.env.CLOISTER_STATE_DIR = dir;
const png = join(dir, 'tiny.png');
writeFileSync(png, Buffer.from('89504e470d0a1a0a', 'hex'));

async function requestWith(relay: string, extra: readonly string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await runCli(['request', png, '--trust-simulated', '--relay', relay, ...extra], { ...processIo, stdout: () => undefined, stderr: (t) => (stderr += t) });
  return { code, stderr };
}

const request = (relay: string): Promise<{ code: number; stderr: string }> => requestWith(relay, []);

/** An OhttpClient failure whose fetch threw, as undici throws: TypeError "fetch failed" caused by a coded error. */
function unanswered(code: string, message: string): VerificationError {
  const cause = new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) });
  return new VerificationError('OHTTP_REQUEST_FAILED', 'GET x failed: fetch failed', { field: 'response', actual: 'TypeError', cause });
}

describe('cloister request when the relay does not answer', () => {
  let server = '';
  let close: (() => Promise<void>) | undefined;

  before(async () => {
    const code = await serveCommand(['--simulated', '--port', '0', '--models', 'none'], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (server = u) });
    assert.equal(code, 0);
  });

  after(async () => {
    await close?.();
  });

  it("names the server's own address as the likely mistake, over HTTPS and over plain HTTP", async () => {
    const tls = await request(server);
    assert.equal(tls.code, 2);
    assert.equal(tls.stderr, `error: the relay ${server} did not answer: its TLS certificate is self-signed, not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): is this the Cloister server's own address? --relay takes the relay's URL (see the banner of cloister local)\n`);
    const plain = server.replace('https:', 'http:');
    const http = await request(`${plain}/default`);
    assert.equal(http.code, 2);
    assert.match(http.stderr, new RegExp(`^error: the relay ${plain}/default did not answer: the connection closed without an answer \\(UND_ERR_SOCKET\\): is it an HTTPS server, such as the Cloister server itself\\? --relay takes the relay's URL .*\\n$`));
  });

  it('says when nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => {
          resolve(free);
        });
      });
    });
    const r = await request(`http://127.0.0.1:${port}/default`);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `error: the relay http://127.0.0.1:${port}/default did not answer: nothing listens there (ECONNREFUSED): is the relay running? npm start runs the local stack\n`);
  });

  it('gives up on a relay that never answers after --timeout seconds, and refuses a bad --timeout', async () => {
    const silent = createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((ok) => silent.once('listening', ok));
    try {
      const { port } = silent.address() as { port: number };
      const started = performance.now();
      const r = await requestWith(`http://127.0.0.1:${port}/default`, ['--timeout', '1']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /did not answer: no answer within the time limit/);
      assert.ok(performance.now() - started < 20_000);
    } finally {
      silent.close();
    }
    for (const bad of ['0', '1.5', 'soon', '3601']) {
      const r = await requestWith(server, ['--timeout', bad]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--timeout must be a whole number of seconds from 1 to 3600/);
    }
  });

  it("points a 404 from the relay at the gateway's name in --relay", async () => {
    let relay = '';
    let stop: (() => Promise<void>) | undefined;
    const code = await relayCommand(['--gateway', `default=${server}`, '--port', '0'], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (stop = fn), onListening: (u) => (relay = u), logDestination: new PassThrough() });
    assert.equal(code, 0);
    try {
      const r = await request(relay);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: GET http:\/\/127\.0\.0\.1:\d+\/\.well-known\/cloister\/attestation answered 404 application\/problem\+json, expected 200 application\/pkix-cert \(--relay takes the relay's URL for a gateway, such as http:\/\/127\.0\.0\.1:8081\/default\)\n$/);
    } finally {
      await stop?.();
    }
  });
});

describe('relayFailureReason', () => {
  const relay = 'https://relay.example/default';
  for (const [code, message, expected] of [
    ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain', /^its TLS certificate is self-signed, not trusted \(SELF_SIGNED_CERT_IN_CHAIN\): is this the Cloister server's own address\?/],
    ['CERT_HAS_EXPIRED', 'certificate has expired', /^its TLS certificate is not trusted \(CERT_HAS_EXPIRED\)$/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", /^its TLS certificate is not trusted \(ERR_TLS_CERT_ALTNAME_INVALID\)$/],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate', /^its TLS certificate is not trusted \(UNABLE_TO_GET_ISSUER_CERT_LOCALLY\)$/],
    ['UND_ERR_SOCKET', 'other side closed', /^other side closed \(UND_ERR_SOCKET\)$/],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number', /^it does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER\); try http:\/\/$/],
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND relay.example', /^the host name relay\.example does not resolve \(ENOTFOUND\)$/],
    ['ECONNRESET', 'read ECONNRESET', /^read ECONNRESET$/],
    ['EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.1:443', /^connect EHOSTUNREACH 10\.0\.0\.1:443$/],
  ] as const) {
    it(`${code}: one phrase`, () => {
      assert.match(relayFailureReason(relay, unanswered(code, message)) ?? '', expected);
    });
  }

  it('the time limit, and a cause without a code', () => {
    const timeout = new VerificationError('OHTTP_REQUEST_FAILED', 'x', { cause: new DOMException('The operation was aborted due to timeout', 'TimeoutError') });
    assert.equal(relayFailureReason(relay, timeout), 'no answer within the time limit (TimeoutError)');
    assert.equal(relayFailureReason(relay, new VerificationError('OHTTP_REQUEST_FAILED', 'x', { cause: new TypeError('fetch failed') })), 'fetch failed');
  });

  it('undefined for an HTTP answer, another code, or something else', () => {
    assert.equal(relayFailureReason(relay, new VerificationError('OHTTP_REQUEST_FAILED', 'the relay answered 413', { actual: '413 PAYLOAD_TOO_LARGE' })), undefined);
    assert.equal(relayFailureReason(relay, new VerificationError('UNTRUSTED_ROOT', 'x', { cause: new Error('y') })), undefined);
    assert.equal(relayFailureReason(relay, new Error('fetch failed')), undefined);
  });
});
