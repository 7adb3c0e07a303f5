// `cloister relay`: help, start-up lines, TLS and the one-line usage errors, in-process.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { encodePem } from '../../attestation/bytes.js';
import { createRaTlsCertificate } from '../tee/ratls/issue.js';
import { processIo } from './io.js';
import { relayCommand } from './relayCommand.js';
import { cli } from '../testing/cliRun.js';

const quiet = new Writable({
  write(_chunk, _enc, done) {
    done();
  },
});

/** Starts `cloister relay ARGV` and stops it again; returns what it printed. */
async function started(...argv: string[]): Promise<{ stderr: string; url: string }> {
  let stderr = '';
  let url = '';
  let stop: (() => Promise<void>) | undefined;
  const code = await relayCommand(argv, { ...processIo, stderr: (t) => (stderr += t) }, { stopSignal: (fn) => (stop = fn), onListening: (u) => (url = u), logDestination: quiet });
  assert.equal(code, 0, stderr);
  assert.ok(stop);
  await stop();
  return { stderr, url };
}

describe('cloister relay', () => {
  it('prints its help, which says the relay does not authenticate the gateway', async () => {
    const r = await cli('relay', '--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: cloister relay --gateway \[NAME=\]URL/);
    assert.match(r.stdout, /does not authenticate the gateway/);
    assert.match(r.stdout, /--max-body BYTES +largest request body \(default 1114112/);
    assert.match((await cli('--help')).stdout, /\n {2}relay +run an Oblivious HTTP relay/);
  });

  it('prints where it listens and one line per gateway', async () => {
    const { stderr, url } = await started('--gateway', 'https://gw.example:8443', '--gateway', 'eu-1=http://127.0.0.1:9', '--port', '0');
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(
      stderr,
      `cloister relay on ${url}\n  default -> https://gw.example:8443   requests: ${url}/default/.well-known/ohttp-gateway\n  eu-1 -> http://127.0.0.1:9   requests: ${url}/eu-1/.well-known/ohttp-gateway\n`,
    );
  });

  it('warns when it serves plain HTTP on an address other than loopback', async () => {
    const { stderr } = await started('--gateway', 'https://gw.example', '--host', '0.0.0.0', '--port', '0');
    assert.match(stderr, /\nwarning: plain HTTP on 0\.0\.0\.0, not a loopback address/);
    assert.doesNotMatch((await started('--gateway', 'https://gw.example', '--host', '::1', '--port', '0')).stderr, /warning/);
  });

  it('serves HTTPS with --tls-cert and --tls-key, without the warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-relay-'));
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = await createRaTlsCertificate({ publicKey: k.publicKey, signingKey: k.privateKey, cmw: undefined, notBefore: new Date(), notAfter: new Date(Date.now() + 3600_000) });
    writeFileSync(join(dir, 'cert.pem'), encodePem('CERTIFICATE', der));
    writeFileSync(join(dir, 'key.pem'), k.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const { stderr, url } = await started('--gateway', 'https://gw.example', '--host', '0.0.0.0', '--port', '0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'));
    assert.match(url, /^https:\/\/0\.0\.0\.0:\d+$/);
    assert.doesNotMatch(stderr, /warning/);
    const missing = await cli('relay', '--gateway', 'https://gw.example', '--tls-cert', join(dir, 'nope.pem'), '--tls-key', join(dir, 'key.pem'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error \[UNREADABLE_INPUT\]: cannot read --tls-cert ".*nope\.pem": ENOENT \(field --tls-cert\)\n$/);
    writeFileSync(join(dir, 'bad.pem'), 'not a key');
    const bad = await cli('relay', '--gateway', 'https://gw.example', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'bad.pem'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error \[UNREADABLE_INPUT\]: cannot use --tls-cert and --tls-key: .*\n$/);
  });

  for (const [argv, pattern] of [
    [[], /missing --gateway \[NAME=\]URL/],
    [['--gateway', 'not a url'], /gateway "not a url" is not a URL/],
    [['--gateway', 'ftp://gw.example'], /must be https:\/\/ or http:\/\//],
    [['--gateway', 'https://gw.example/ohttp'], /must be an origin/],
    [['--gateway', 'https://gw.example?x=1'], /must be an origin/],
    [['--gateway', 'https://user@gw.example'], /must be an origin/],
    [['--gateway', 'Big=https://gw.example'], /gateway name "Big" must be lowercase letters, digits and hyphens/],
    [['--gateway', '=https://gw.example'], /gateway name "" must be/],
    [['--gateway', 'a=https://one.example', '--gateway', 'a=https://two.example'], /gateway name "a" is given twice/],
    [['--gateway', 'https://one.example', '--gateway', 'https://two.example'], /gateway name "default" is given twice/],
    [['--gateway', 'https://gw.example', '--port', 'http'], /--port must be a whole number of a port, 0\.\.65535, got "http"/],
    [['--gateway', 'https://gw.example', '--port', '65536'], /--port must be/],
    [['--gateway', 'https://gw.example', '--max-body', '0'], /--max-body must be a whole number of bytes/],
    [['--gateway', 'https://gw.example', '--timeout', '0'], /--timeout must be a number of seconds/],
    [['--gateway', 'https://gw.example', '--timeout', 'soon'], /--timeout must be/],
    [['--gateway', 'https://gw.example', '--tls-cert', 'cert.pem'], /--tls-cert and --tls-key go together/],
    [['--gateway', 'https://gw.example', '--bogus'], /Unknown option/],
  ] as const) {
    it(`is a usage error (exit 2, one line): ${argv.join(' ') || '(no arguments)'}`, async () => {
      const r = await cli('relay', ...argv);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^error \[USAGE\]: /);
      assert.match(r.stderr, pattern);
      assert.match(r.stderr, /\(see cloister relay --help\)\n$/);
    });
  }
});
