// The Privacy Pass client through the whole stack (docs/privacy-pass.md "Client"): a real `cloister issuer` (in
// process), `cloister serve --simulated --issuer URL` fetching its directory, `cloister relay`, and the SDK's
// PrivacyPassClient inside OhttpClient, then `cloister request --issuer`. A token is obtained on the 401 and spent
// on the retry; a stored one goes on the first try; a spent one is never sent again; a gateway whose key the issuer
// does not list is refused before any token is asked for; a spent-token store that is down is surfaced, not retried;
// a type 0x0001 issuer and a gateway holding its private key serve `cloister request` and refuse a replay.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { toBase64Url } from '../../attestation/bytes.js';
import { globalFetch, type FetchLike } from '../../attestation/client/httpFetch.js';
import { OhttpClient, type OhttpClientOptions, type OhttpResponse, type PrivateTokenSource } from '../../attestation/client/ohttpClient.js';
import { PrivacyPassClient } from '../../attestation/client/privacyPass/privacyPassClient.js';
import { parseAuthorization, tokenKeyId } from '../../attestation/protocols/index.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { AccountsAuthorizer, parseAccounts } from '../privacypass/issuer/authorizer.js';
import { createIssuerLogger } from '../privacypass/issuer/issuerLog.js';
import { KeyRing } from '../privacypass/issuer/keyRing.js';
import { startIssuer, type RunningIssuer } from '../privacypass/issuer/server.js';
import { ISSUER_TOKEN_TYPES, type IssuerTokenType } from '../privacypass/issuer/tokenTypes.js';
import { startRelay, type Relay } from '../relay/relay.js';
import { createRelayLogger } from '../relay/relayLog.js';
import { availableSimulatedRoots } from '../tee/sim/devRoots.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import type { RaTlsPolicy } from '../../attestation/ratls/verifyCertificate.js';
import { cli } from '../testing/cliRun.js';
import { newIssuerKey } from '../testing/privacyPassGateway.js';
import { unauthenticatedFetch } from '../testing/unauthenticatedFetch.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';

const dir = mkdtempSync(join(tmpdir(), 'cloister-pp-client-'));
process.env.CLOISTER_STATE_DIR = join(dir, 'state');
const CREDENTIAL = 'alice-secret-credential';
const AUTH_ENV = 'CLOISTER_TEST_ISSUER_AUTH';
const encoder = new TextEncoder();
/** The issuer's log: one line per answer, so the tokens it issued to the command can be counted. */
let issuerLog = '';
const issued = (): number => issuerLog.split('\n').filter((l) => l.includes('"route":"token-request"') && l.includes('"status":200')).length;
const quiet = (): Writable =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

/** What crossed the wire: POSTs to the relay, token requests to the issuer. */
const seen = { relayPosts: 0, tokenRequests: 0 };
const relayFetch: NonNullable<OhttpClientOptions['fetch']> = (url, init) => {
  if (init.method === 'POST') seen.relayPosts++;
  return unauthenticatedFetch(url, init);
};
const issuerFetch: FetchLike = (url, init) => {
  if (init.method === 'POST') seen.tokenRequests++;
  return globalFetch(url, init);
};
/** The counts `send` adds. */
async function counted<T>(send: () => Promise<T>): Promise<{ result: T; relayPosts: number; tokenRequests: number }> {
  const [p, t] = [seen.relayPosts, seen.tokenRequests];
  const result = await send();
  return { result, relayPosts: seen.relayPosts - p, tokenRequests: seen.tokenRequests - t };
}

/** A PrivateTokenSource that records the Authorization values it hands out. */
function recording(source: PrivateTokenSource, sent: string[]): PrivateTokenSource {
  const kept = async (value: Promise<string | undefined>): Promise<string | undefined> => {
    const v = await value;
    if (v !== undefined) sent.push(v);
    return v;
  };
  return { authorization: (scope) => kept(source.authorization(scope)), authorizationFor: (w, scope) => kept(source.authorizationFor(w, scope)) };
}

interface Gateway {
  readonly name: string;
  readonly url: string;
  relay: string;
  readonly close: () => Promise<void>;
}

let issuer: RunningIssuer;
/** An issuer of token type 0x0001, whose private key the 'voprf' gateway shares. */
let voprfIssuer: RunningIssuer;
let voprf: Gateway;
let relay: Relay;
const gateways: Gateway[] = [];
let good: Gateway;
let rogue: Gateway;
let storeDown: Gateway;
let rogueKeyId = '';
let snpVerifier: SnpVerifier;
let policy: RaTlsPolicy;

async function gateway(name: string, flags: string[]): Promise<Gateway> {
  let url = '';
  let close: (() => Promise<void>) | undefined;
  const code = await serveCommand(['--simulated', '--port', '0', '--models', 'none', ...flags], { ...processIo, stdout: () => undefined, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u), logDestination: quiet() });
  assert.equal(code, 0);
  const g: Gateway = { name, url, relay: '', close: () => close?.() ?? Promise.resolve() };
  gateways.push(g);
  return g;
}

before(async () => {
  const type2 = ISSUER_TOKEN_TYPES[2] as IssuerTokenType;
  // Gateways accept a key for 30 days from its not-before.
  const notBefore = Math.floor(Date.now() / 1000) - 60;
  const key = await type2.load(createPrivateKey(type2.generate()));
  const accounts = parseAccounts(JSON.stringify({ accounts: [{ id: 'alice', 'token-sha256': createHash('sha256').update(CREDENTIAL).digest('hex') }] }));
  issuer = await startIssuer({ keys: KeyRing.fixed([{ key, notBefore }]), authorizer: new AccountsAuthorizer(accounts, { tokens: 1000, periodSeconds: 1 }), logger: createIssuerLogger({
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          issuerLog += chunk.toString();
          done();
        },
      }),
    }),
    port: 0,
  });
  const rogueKey = await newIssuerKey();
  rogueKeyId = toBase64Url(await tokenKeyId(rogueKey.tokenKey));
  const rogueFile = join(dir, 'rogue-directory.json');
  writeFileSync(rogueFile, JSON.stringify({ 'token-keys': [{ 'token-type': 2, 'token-key': toBase64Url(rogueKey.tokenKey), 'not-before': notBefore }] }));
  // One after the other: the first creates the simulated TEE's development root in the state directory, the others share it.
  good = await gateway('good', ['--issuer', issuer.url, '--issuer-name', 'issuer.test']);
  rogue = await gateway('rogue', ['--privacy-pass-keys', rogueFile, '--issuer-name', 'issuer.test']);
  // Nothing listens on port 1: the spent-token store is down.
  storeDown = await gateway('store-down', ['--issuer', issuer.url, '--issuer-name', 'issuer.test', '--spent-tokens', 'redis://127.0.0.1:1']);
  const type1 = ISSUER_TOKEN_TYPES[1] as IssuerTokenType;
  const voprfKeyFile = join(dir, 'voprf-key.pem');
  writeFileSync(voprfKeyFile, type1.generate(), { mode: 0o600 });
  voprfIssuer = await startIssuer({ keys: KeyRing.fixed([{ key: await type1.load(createPrivateKey(readFileSync(voprfKeyFile, 'utf8'))), notBefore }]), authorizer: new AccountsAuthorizer(accounts, { tokens: 1000, periodSeconds: 1 }), logger: createIssuerLogger({ destination: quiet() }), port: 0 });
  voprf = await gateway('voprf', ['--issuer', voprfIssuer.url, '--issuer-name', 'issuer.test', '--privacy-pass-private-key', voprfKeyFile]);
  relay = await startRelay({ gateways: gateways.map((g) => ({ name: g.name, origin: g.url })), port: 0, logger: createRelayLogger({ destination: quiet() }) });
  for (const g of gateways) g.relay = `${relay.url}/${g.name}`;
  snpVerifier = new SnpVerifier({ additionalRoots: (await availableSimulatedRoots()).snp });
  policy = await simulatedMeasurementPolicy();
});

after(async () => {
  await relay.close();
  for (const g of gateways) await g.close();
  await issuer.close();
  await voprfIssuer.close();
});

function client(g: Gateway, privacyPass?: PrivateTokenSource): OhttpClient {
  return new OhttpClient({ relay: g.relay, policy, snpVerifier, fetch: relayFetch, primitives: nodeHpke, ...(privacyPass === undefined ? {} : { privacyPass }) });
}

const echo = (c: OhttpClient, text = 'hello'): Promise<OhttpResponse> => c.fetch({ url: 'https://cloister/v1/echo', headers: [['content-type', 'text/plain']], body: encoder.encode(text) });
const tokens = (batch = 1): PrivacyPassClient => new PrivacyPassClient({ issuer: issuer.url, credential: CREDENTIAL, fetch: issuerFetch, batch });
const problem = (r: OhttpResponse): string | undefined => (JSON.parse(new TextDecoder().decode(r.content)) as { code?: string }).code;

describe('the Privacy Pass client SDK through the relay', () => {
  it('without tokens, the gateway answers 401 PRIVACY_PASS_REQUIRED inside the encapsulation', async () => {
    const r = await echo(client(good));
    assert.equal(r.status, 401);
    assert.equal(problem(r), 'PRIVACY_PASS_REQUIRED');
  });

  it('obtains a token on the 401 and spends it on the one retry', async () => {
    const sent: string[] = [];
    const c = client(good, recording(tokens(), sent));
    const { result, relayPosts, tokenRequests } = await counted(() => echo(c, 'first'));
    assert.equal(result.status, 200);
    assert.equal(new TextDecoder().decode(result.content), 'first');
    assert.deepEqual({ relayPosts, tokenRequests, sent: sent.length }, { relayPosts: 2, tokenRequests: 1, sent: 1 });
  });

  it('sends a stored token on the first try: no 401 round trip, no issuer request, until the batch is spent', async () => {
    const pp = tokens(3);
    const c = client(good, pp);
    const first = await counted(() => echo(c));
    assert.deepEqual([first.result.status, first.relayPosts, first.tokenRequests], [200, 2, 3]);
    for (let i = 0; i < 2; i++) {
      const next = await counted(() => echo(c));
      assert.deepEqual([next.result.status, next.relayPosts, next.tokenRequests], [200, 1, 0]);
    }
    // The challenge is known and the store empty: a new batch before the request, still one exchange with the gateway.
    const fourth = await counted(() => echo(c));
    assert.deepEqual([fourth.result.status, fourth.relayPosts, fourth.tokenRequests], [200, 1, 3]);
  });

  it('never sends a spent token again: the next request gets a new one (the gateway refuses replays)', async () => {
    const sent: string[] = [];
    const c = client(good, recording(tokens(), sent));
    for (let i = 0; i < 3; i++) assert.equal((await echo(c)).status, 200);
    assert.equal(sent.length, 3);
    assert.equal(new Set(sent.map((a) => toBase64Url(parseAuthorization(a)))).size, 3);
  });

  it('refuses a challenge whose key the issuer does not list (PRIVACY_PASS_KEY_INCONSISTENT, naming it), before asking for a token', async () => {
    const { result, tokenRequests } = await counted(() =>
      echo(client(rogue, tokens())).then(
        () => assert.fail('accepted'),
        (e: unknown) => e,
      ),
    );
    assert.equal((result as { code?: string }).code, 'PRIVACY_PASS_KEY_INCONSISTENT');
    assert.ok((result as Error).message.includes(rogueKeyId), (result as Error).message);
    assert.equal(tokenRequests, 0);
  });

  it('surfaces the 503 of a spent-token store that is down, without retrying it', async () => {
    const c = client(storeDown, tokens());
    const first = await counted(() => echo(c));
    assert.deepEqual([first.result.status, problem(first.result), first.relayPosts], [503, 'SPENT_TOKENS_UNAVAILABLE', 2]);
    const second = await counted(() => echo(c));
    assert.deepEqual([second.result.status, second.relayPosts, second.tokenRequests], [503, 1, 1]);
  });
});

describe('cloister request --issuer', () => {
  const file = join(dir, 'hello.txt');
  const answer = join(dir, 'answer.bin');
  writeFileSync(file, 'hello through the relay');
  const args = (g: () => Gateway): string[] => [file, '--type', 'text/plain', '--path', '/v1/echo', '--trust-simulated', '--relay', g().relay];
  const secretFree = (r: { stdout: string; stderr: string }): void => {
    for (const s of [CREDENTIAL, 'PrivateToken', 'Bearer']) assert.ok(!`${r.stdout}${r.stderr}`.includes(s), `printed ${s}`);
  };

  it('gets a 2xx with a new token each time, the credential from --issuer-auth-env or --issuer-auth, and prints neither', async () => {
    process.env[AUTH_ENV] = CREDENTIAL;
    try {
      for (const auth of [['--issuer-auth-env', AUTH_ENV], ['--issuer-auth', CREDENTIAL]]) {
        const before = issued();
        const r = await cli('request', ...args(() => good), '--issuer', issuer.url, ...auth, '--output', answer);
        assert.equal(r.code, 0, r.stderr);
        // The echo target answers application/octet-stream.
        assert.equal(readFileSync(answer, 'utf8'), 'hello through the relay');
        assert.equal(issued() - before, 1, 'one token per request');
        secretFree(r);
      }
    } finally {
      Reflect.deleteProperty(process.env, AUTH_ENV);
    }
  });

  it('takes the issuer directory URL as well as the origin', async () => {
    const r = await cli('request', ...args(() => good), '--issuer', `${issuer.url}/.well-known/private-token-issuer-directory`, '--issuer-auth', CREDENTIAL, '--output', answer);
    assert.equal(r.code, 0, r.stderr);
  });

  it('without --issuer, says in one line that the server requires a token and which flags obtain one', async () => {
    const r = await cli('request', ...args(() => good));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: the server requires a Privacy Pass token (401 PRIVACY_PASS_REQUIRED): give --issuer URL and --issuer-auth-env NAME to obtain one (see cloister request --help)\n');
  });

  it('a refused credential, a key the issuer does not list, an issuer that does not answer: one line each, exit 1, 1, 2', async () => {
    const wrong = await cli('request', ...args(() => good), '--issuer', issuer.url, '--issuer-auth', 'not-the-credential');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^error \[PRIVACY_PASS_ISSUER_UNAUTHORIZED\]: POST a token request to http:\/\/127\.0\.0\.1:\d+\/token-request answered 401 ISSUANCE_UNAUTHORIZED: the issuer refused the credential \(check --issuer-auth or --issuer-auth-env\)\n$/);
    assert.ok(!wrong.stderr.includes('not-the-credential'));
    const inconsistent = await cli('request', ...args(() => rogue), '--issuer', issuer.url, '--issuer-auth', CREDENTIAL);
    assert.equal(inconsistent.code, 1);
    assert.match(inconsistent.stderr, new RegExp(`^REFUSED \\[PRIVACY_PASS_KEY_INCONSISTENT\\]: the server's challenge names issuer key ${rogueKeyId}, which the issuer directory .* does not list.*\\n$`));
    const absent = await cli('request', ...args(() => good), '--issuer', 'http://127.0.0.1:1', '--issuer-auth', CREDENTIAL);
    assert.equal(absent.code, 2);
    assert.match(absent.stderr, /^error \[PRIVACY_PASS_ISSUER_FAILED\]: GET the issuer directory http:\/\/127\.0\.0\.1:1\/\.well-known\/private-token-issuer-directory got no answer: .*\n$/);
    for (const r of [wrong, inconsistent, absent]) secretFree(r);
  });

  it('refuses contradictory or incomplete flags with one usage line, never quoting the credential', async () => {
    const cases: [string[], RegExp][] = [
      [['--issuer-auth', CREDENTIAL], /--issuer-auth applies only with --issuer/],
      [['--issuer-auth-env', AUTH_ENV], /--issuer-auth-env applies only with --issuer/],
      [['--issuer', issuer.url, '--issuer-auth', CREDENTIAL, '--issuer-auth-env', AUTH_ENV], /contradict/],
      [['--issuer', issuer.url, '--issuer-auth-env', AUTH_ENV], /--issuer-auth-env CLOISTER_TEST_ISSUER_AUTH: the variable is not set/],
      [['--issuer', 'ftp://issuer.test'], /--issuer must be an http\(s\) URL/],
      [['--issuer', `http://alice:${CREDENTIAL}@127.0.0.1:1`], /--issuer must not carry a user name or password/],
      [['--issuer', issuer.url, '--issuer-auth', `${CREDENTIAL}\u0007`], /the --issuer-auth value is not a bearer token/],
    ];
    for (const [flags, message] of cases) {
      const r = await cli('request', ...args(() => good), ...flags);
      assert.equal(r.code, 2, flags.join(' '));
      assert.match(r.stderr, /^error \[USAGE\]: .* \(see cloister request --help\)\n$/);
      assert.match(r.stderr, message);
      secretFree(r);
    }
  });

  it('documents the flags in --help, with the warning about the process list', async () => {
    const r = await cli('request', '--help');
    for (const flag of ['--issuer URL', '--issuer-auth-env NAME', '--issuer-auth TOKEN']) assert.ok(r.stdout.includes(`\n  ${flag}`), flag);
    assert.match(r.stdout, /other users of the machine can read\n +it \(ps, \/proc\)/);
  });
});

describe('token type 0x0001 through the whole stack', () => {
  const file = join(dir, 'voprf.txt');
  writeFileSync(file, 'privately verifiable');

  it('cloister request obtains a VOPRF token from a type 0x0001 issuer and the gateway holding its private key redeems it', async () => {
    const answer = join(dir, 'voprf-answer.bin');
    const r = await cli('request', file, '--type', 'text/plain', '--path', '/v1/echo', '--trust-simulated', '--relay', voprf.relay, '--issuer', voprfIssuer.url, '--issuer-auth', CREDENTIAL, '--output', answer);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(answer, 'utf8'), 'privately verifiable');
  });

  it('the SDK spends a type 0x0001 token once: the gateway refuses the same token again', async () => {
    const sent: string[] = [];
    const c = client(voprf, recording(new PrivacyPassClient({ issuer: voprfIssuer.url, credential: CREDENTIAL }), sent));
    assert.equal((await echo(c)).status, 200);
    const token = sent[0];
    assert.ok(token !== undefined);
    assert.equal(parseAuthorization(token)[1], 1, 'token type 0x0001');
    const replay = await client(voprf).fetch({ url: 'https://cloister/v1/echo', headers: [['content-type', 'text/plain'], ['authorization', token]], body: encoder.encode('again') });
    assert.deepEqual([replay.status, problem(replay)], [401, 'PRIVACY_PASS_REPLAYED']);
  });
});
