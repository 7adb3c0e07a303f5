// `cloister issuer`: help, start-up, key sources, and one-line usage errors, in-process.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseBase64Url } from '../../attestation/bytes.js';
import { ISSUER_TOKEN_TYPES } from '../privacypass/issuer/tokenTypes.js';
import { processIo } from './io.js';
import { ISSUER_HELP, issuerCommand, type IssuerHooks } from './issuerCommand.js';
import { cli } from '../testing/cliRun.js';

const dir = mkdtempSync(join(tmpdir(), 'issuer-cli-'));
const accounts = join(dir, 'accounts.json');
writeFileSync(accounts, JSON.stringify({ accounts: [{ id: 'alice', 'token-sha256': createHash('sha256').update('alice-secret').digest('hex') }] }));
const pem = ISSUER_TOKEN_TYPES[2]?.generate() ?? '';
const keyFile = join(dir, 'key.pem');
writeFileSync(keyFile, pem, { mode: 0o600 });
const voprfPem = ISSUER_TOKEN_TYPES[1]?.generate() ?? '';
const voprfKeyFile = join(dir, 'voprf.pem');
writeFileSync(voprfKeyFile, voprfPem, { mode: 0o600 });

/** Starts `cloister issuer ARGV`, fetches its directory, stops it; returns what it printed and logged. */
async function started(argv: string[], hooks: IssuerHooks = {}): Promise<{ stderr: string; log: string; directory: { 'token-keys': { 'token-type': number; 'token-key': string; 'not-before': number }[]; 'issuer-request-uri': string } }> {
  let stderr = '';
  let log = '';
  let url = '';
  let stop: (() => Promise<void>) | undefined;
  const logDestination = new Writable({
    write(chunk: Buffer, _enc, done) {
      log += chunk.toString();
      done();
    },
  });
  const code = await issuerCommand(argv, { ...processIo, stderr: (t) => (stderr += t) }, { stopSignal: (fn) => (stop = fn), onListening: (u) => (url = u), logDestination, ...hooks });
  assert.equal(code, 0, stderr);
  assert.ok(stop);
  const directory = (await (await fetch(`${url}/.well-known/private-token-issuer-directory`)).json()) as Awaited<ReturnType<typeof started>>['directory'];
  await stop();
  return { stderr, log, directory };
}

describe('cloister issuer', () => {
  it('prints its help, listing every option with an example, and is listed in cloister --help', async () => {
    const r = await cli('issuer', '--help');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, ISSUER_HELP);
    for (const option of ['--token-type 1|2', '--key FILE', '--key-env NAME', '--key-dir DIR', '--rotate SECONDS', '--overlap SECONDS', '--accounts FILE', '--rate N/PERIOD', '--host ADDRESS', '--port N', '--request-path PATH', '--request-uri URL', '-h, --help']) assert.ok(r.stdout.includes(`\n  ${option} `), option);
    assert.match(r.stdout, /Example:\n {2}.*\n {2}cloister issuer --key-dir/);
    assert.match((await cli('--help')).stdout, /\n {2}issuer +run a Privacy Pass issuer/);
  });

  it('serves a key file, with its modification time as not-before, and logs no key bytes', async () => {
    const { stderr, log, directory } = await started(['--key', keyFile, '--accounts', accounts, '--port', '0', '--rate', '10/min']);
    assert.match(stderr, /^cloister issuer on http:\/\/127\.0\.0\.1:\d+\n {2}token type 0x0002, Blind RSA \(2048-bit\)\n {2}directory: .*\/\.well-known\/private-token-issuer-directory\n {2}requests: {2}.*\/token-request\n {2}1 account\(s\), 10 token\(s\) per 60 s each\n$/);
    assert.deepEqual(directory['token-keys'].map((k) => k['not-before']), [Math.floor(statSync(keyFile).mtimeMs / 1000)]);
    assert.equal(directory['issuer-request-uri'], '/token-request');
    assert.match(log, /"event":"key-loaded"/);
    for (const line of pem.split('\n').slice(2, 8)) assert.ok(!log.includes(line));
  });

  it('reads --key-env and removes the variable; --request-uri goes into the directory', async () => {
    const env: Record<string, string | undefined> = { ISSUER_KEY: pem };
    const { directory } = await started(['--key-env', 'ISSUER_KEY', '--accounts', accounts, '--port', '0', '--request-uri', 'https://issuer.example/tr'], { env, now: () => 1_900_000_000 });
    assert.equal(env.ISSUER_KEY, undefined);
    assert.equal(directory['issuer-request-uri'], 'https://issuer.example/tr');
    assert.deepEqual(directory['token-keys'].map((k) => k['not-before']), [1_900_000_000]);
  });

  it('generates keys in --key-dir (0600) and rotates them', async () => {
    const keys = join(dir, 'keys');
    const { directory } = await started(['--key-dir', keys, '--rotate', '3600', '--overlap', '600', '--accounts', accounts, '--port', '0'], { now: () => 1_900_000_000 });
    assert.deepEqual(directory['token-keys'].map((k) => k['not-before']), [1_900_000_000]);
    assert.deepEqual(readdirSync(keys), ['token-key-0002-1900000000.pem']);
    assert.equal(statSync(join(keys, 'token-key-0002-1900000000.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(keys).mode & 0o777, 0o700);
    const later = await started(['--key-dir', keys, '--rotate', '3600', '--overlap', '600', '--accounts', accounts, '--port', '0'], { now: () => 1_900_003_000 });
    assert.deepEqual(later.directory['token-keys'].map((k) => k['not-before']), [1_900_000_000, 1_900_003_600]);
  });

  it('--token-type 1 (or 0x0001) issues type 0x0001 with an EC P-384 key file, --key-env or --key-dir (token-key-0001-*.pem)', async () => {
    const fromFile = await started(['--token-type', '0x0001', '--key', voprfKeyFile, '--accounts', accounts, '--port', '0']);
    assert.match(fromFile.stderr, /\n {2}token type 0x0001, VOPRF \(P-384, SHA-384\)\n/);
    assert.deepEqual(fromFile.directory['token-keys'].map((k) => [k['token-type'], parseBase64Url(k['token-key'])?.length]), [[1, 49]]);
    for (const line of voprfPem.split('\n').slice(1, 4)) assert.ok(!fromFile.log.includes(line) && !fromFile.stderr.includes(line));
    const env: Record<string, string | undefined> = { VOPRF_KEY: voprfPem };
    const fromEnv = await started(['--token-type', '1', '--key-env', 'VOPRF_KEY', '--accounts', accounts, '--port', '0'], { env });
    assert.equal(env.VOPRF_KEY, undefined);
    assert.deepEqual(fromEnv.directory['token-keys'], fromFile.directory['token-keys'].map((k) => ({ ...k, 'not-before': fromEnv.directory['token-keys'][0]?.['not-before'] })));
    const keys = join(dir, 'keys-1');
    const rotating = await started(['--token-type', '1', '--key-dir', keys, '--rotate', '3600', '--accounts', accounts, '--port', '0'], { now: () => 1_900_000_000 });
    assert.deepEqual(rotating.directory['token-keys'].map((k) => [k['token-type'], k['not-before']]), [[1, 1_900_000_000]]);
    assert.deepEqual(readdirSync(keys), ['token-key-0001-1900000000.pem']);
    assert.equal(statSync(join(keys, 'token-key-0001-1900000000.pem')).mode & 0o777, 0o600);
  });

  it('refuses a key file others may read, with one line and exit 2', async () => {
    const open = join(dir, 'open.pem');
    writeFileSync(open, pem);
    chmodSync(open, 0o644);
    const r = await cli('issuer', '--key', open, '--accounts', accounts);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `error [ISSUER_KEY_UNSAFE]: key file "${open}" has mode 0644; a private key must be readable by its owner only (chmod 600) (field ${open}: expected 0600, actual 0644)\n`);
  });

  const bad: [string, string[], RegExp][] = [
    ['no key source', ['--accounts', accounts], /give exactly one of --key FILE, --key-env NAME and --key-dir DIR/],
    ['two key sources', ['--key', keyFile, '--key-dir', dir, '--accounts', accounts], /exactly one of/],
    ['no accounts', ['--key', keyFile], /missing --accounts FILE/],
    ['--rotate without --key-dir', ['--key', keyFile, '--rotate', '3600', '--accounts', accounts], /--rotate needs --key-dir/],
    ['--overlap without --rotate', ['--key-dir', dir, '--overlap', '60', '--accounts', accounts], /--overlap goes with --rotate/],
    ['overlap as long as rotation', ['--key-dir', join(dir, 'k2'), '--rotate', '600', '--overlap', '600', '--accounts', accounts], /--overlap \(600\) must be less than --rotate \(600\)/],
    ['rotation too short', ['--key-dir', dir, '--rotate', '5', '--accounts', accounts], /--rotate must be a whole number 60\.\./],
    ['bad rate', ['--key', keyFile, '--accounts', accounts, '--rate', 'lots'], /--rate must be N\/PERIOD/],
    ['bad port', ['--key', keyFile, '--accounts', accounts, '--port', '70000'], /--port must be a whole number 0\.\.65535/],
    ['bad request path', ['--key', keyFile, '--accounts', accounts, '--request-path', 'token'], /--request-path must be a path/],
    ['bad request uri', ['--key', keyFile, '--accounts', accounts, '--request-uri', '/relative'], /--request-uri must be an absolute URL/],
    ['repeated option', ['--key', keyFile, '--accounts', accounts, '--accounts', accounts], /--accounts is given more than once/],
    ['unknown option', ['--key', keyFile, '--accounts', accounts, '--tls'], /Unknown option '--tls'/],
    ['unset --key-env', ['--key-env', 'CLOISTER_TEST_UNSET_VARIABLE', '--accounts', accounts], /--key-env CLOISTER_TEST_UNSET_VARIABLE: the variable is not set/],
    ['missing accounts file', ['--key', keyFile, '--accounts', join(dir, 'absent.json')], /UNREADABLE_INPUT.*ENOENT/],
    ['not a key', ['--key', accounts, '--accounts', accounts], /key file|ISSUER_KEY/],
    ['--key-dir that is a file', ['--key-dir', keyFile, '--accounts', accounts], /^error \[UNREADABLE_INPUT\]: cannot open --key-dir ".*key\.pem": EEXIST/],
    ['an unknown --token-type', ['--token-type', '3', '--key', keyFile, '--accounts', accounts], /--token-type must be 1 \(VOPRF P-384\) or 2 \(Blind RSA\), also written 0x0001 or 0x0002, got "3"/],
    ['an RSA key for --token-type 1', ['--token-type', '1', '--key', keyFile, '--accounts', accounts], /^error \[ISSUER_KEY_INVALID\]: key file ".*key\.pem": token type 0x0001 needs an EC P-384 private key \(RFC 9578 section 5\), got rsa private key/],
    ['a P-384 key for token type 2 (the default)', ['--key', voprfKeyFile, '--accounts', accounts], /^error \[ISSUER_KEY_INVALID\]: key file ".*voprf\.pem": token type 0x0002 needs an RSA private key of 2048 bits \(RFC 9578 section 6\), got ec private key/],
  ];
  for (const [name, argv, message] of bad) {
    it(`refuses ${name}: one line, exit 2`, async () => {
      const r = await cli('issuer', ...argv);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    });
  }

  it('refuses an accounts file that is not of the documented shape', async () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify({ accounts: [{ id: 'x', 'token-sha256': 'nothex' }] }));
    const r = await cli('issuer', '--key', keyFile, '--accounts', broken);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error \[ISSUER_ACCOUNTS_INVALID\]: --accounts ".*broken.json": \$\.accounts\[0\]\.token-sha256 \(64 lowercase hex digits\)/);
    writeFileSync(broken, new Uint8Array([0x7b, 0xff, 0x7d]));
    const latin = await cli('issuer', '--key', keyFile, '--accounts', broken);
    assert.equal(latin.code, 2);
    assert.match(latin.stderr, /^error \[ISSUER_ACCOUNTS_INVALID\]: --accounts ".*broken.json" is not UTF-8/);
  });
});
