// The Privacy Pass client in a real browser: headless Chromium loads dist/attestation as ES modules and sends two
// requests through `cloister relay` to a `cloister serve --simulated --issuer` gateway that requires tokens. The
// issuer's handler is mounted on the page's own origin (`cloister issuer` sends no CORS headers; docs/privacy-pass.md
// "Client"), so the page obtains type 0x0002 tokens with WebCrypto and BigInt blind RSA. Skipped without Chromium.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CHROMIUM, HPKE_IMPORT_MAP, pagePosted, serveModule } from '../../attestation/testing/chromium.js';
import { AccountsAuthorizer, parseAccounts } from '../privacypass/issuer/authorizer.js';
import { createIssuerLogger } from '../privacypass/issuer/issuerLog.js';
import { KeyRing } from '../privacypass/issuer/keyRing.js';
import { issuerHandler } from '../privacypass/issuer/server.js';
import { ISSUER_TOKEN_TYPES, type IssuerTokenType } from '../privacypass/issuer/tokenTypes.js';
import { startRelay, type Relay } from '../relay/relay.js';
import { createRelayLogger } from '../relay/relayLog.js';
import { availableSimulatedRoots } from './trustSimulated.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import type { RaTlsPolicy } from '../../attestation/ratls/verifyCertificate.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';

process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-browser-pp-'));

const page = (relay: string, policy: RaTlsPolicy): string => `<!doctype html><meta charset="utf-8">${HPKE_IMPORT_MAP}<body>pending</body><script type="module">
import { OhttpClient } from '/dist/attestation/client/ohttpClient.js';
import { PrivacyPassClient } from '/dist/attestation/client/privacyPass/privacyPassClient.js';
import { IssuerClient } from '/dist/attestation/client/privacyPass/issuerClient.js';
import { SnpVerifier } from '/dist/attestation/snp/verify.js';
try {
  const root = new Uint8Array(await (await fetch('/root.der')).arrayBuffer());
  const privacyPass = new PrivacyPassClient({ issuer: location.origin, credential: 'browser-secret' });
  const client = new OhttpClient({ relay: ${JSON.stringify(relay)}, policy: ${JSON.stringify(policy)}, snpVerifier: new SnpVerifier({ additionalRoots: [root] }), privacyPass });
  const send = async (text) => {
    const r = await client.fetch({ url: 'https://cloister/v1/echo', body: new TextEncoder().encode(text) });
    return [r.status, new TextDecoder().decode(r.content)];
  };
  const answers = [await send('browser canary 1'), await send('browser canary 2')];
  const refused = await new IssuerClient({ issuer: location.origin, credential: 'wrong' }).requestToken(new Uint8Array(259)).then(() => null, (e) => e.code);
  await fetch('/result', { method: 'POST', body: JSON.stringify({ answers, refused, agent: navigator.userAgent }) });
} catch (e) {
  await fetch('/result', { method: 'POST', body: JSON.stringify({ error: String(e && e.stack || e) }) });
}
</script>`;

describe('Privacy Pass client in a browser, through the relay', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CLOISTER_CHROMIUM)` }, () => {
  let server: Server;
  let relay: Relay;
  let closeGateway: (() => Promise<void>) | undefined;
  let issued = 0;
  let origin = '';
  let postResult: (text: string) => void = () => undefined;
  const posted = new Promise<string>((resolve) => (postResult = resolve));

  before(async () => {
    const type2 = ISSUER_TOKEN_TYPES[2] as IssuerTokenType;
    const key = await type2.load(createPrivateKey(type2.generate()));
    const accounts = parseAccounts(JSON.stringify({ accounts: [{ id: 'browser', 'token-sha256': createHash('sha256').update('browser-secret').digest('hex') }] }));
    const log = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (/"route":"token-request".*"status":200/.test(chunk.toString())) issued++;
        done();
      },
    });
    const issuer = issuerHandler({ keys: KeyRing.fixed([{ key, notBefore: Math.floor(Date.now() / 1000) - 60 }]), authorizer: new AccountsAuthorizer(accounts, { tokens: 100, periodSeconds: 60 }), logger: createIssuerLogger({ destination: log }) });
    const served: { html: string; root: Uint8Array | undefined } = { html: '', root: undefined };
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/.well-known/private-token-issuer-directory' || path === '/token-request') {
        issuer(req, res);
        return;
      }
      if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(served.html);
      if (path === '/result' && req.method === 'POST') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(204).end();
          postResult(Buffer.concat(chunks).toString());
        });
        return;
      }
      if (path === '/root.der') return void res.writeHead(200).end(served.root);
      if (!serveModule(path, res)) res.writeHead(404).end();
    });
    // Idle connections are kept past Node's 5 s, which the browser may otherwise reuse as they close (a failed fetch).
    server.keepAliveTimeout = 120_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let gateway = '';
    const quiet = new Writable({
      write(_chunk, _enc, done) {
        done();
      },
    });
    const code = await serveCommand(['--simulated', '--port', '0', '--models', 'none', '--issuer', origin, '--issuer-name', 'issuer.test'], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (closeGateway = fn), onListening: (u) => (gateway = u), logDestination: quiet });
    assert.equal(code, 0);
    relay = await startRelay({ gateways: [{ name: 'default', origin: gateway }], port: 0, logger: createRelayLogger({ destination: quiet }) });
    // The simulated TEE's development root, which the gateway created in the state directory.
    served.root = (await availableSimulatedRoots()).snp[0];
    assert.ok(served.root !== undefined);
    served.html = page(`${relay.url}/default`, await simulatedMeasurementPolicy());
  });

  after(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => { resolve(); });
      server.closeAllConnections();
    });
    await relay.close();
    await closeGateway?.();
  });

  it('obtains a token on the 401 and one before the second request, each spent once; a refused credential is PRIVACY_PASS_ISSUER_UNAUTHORIZED', async () => {
    const result = (await pagePosted(`${origin}/`, posted)) as { answers?: [number, string][]; refused?: string; agent?: string; error?: string };
    assert.equal(result.error, undefined, result.error);
    assert.deepEqual(result.answers, [[200, 'browser canary 1'], [200, 'browser canary 2']]);
    assert.equal(issued, 2);
    assert.match(result.agent ?? '', /Chrome/);
    assert.equal(result.refused, 'PRIVACY_PASS_ISSUER_UNAUTHORIZED');
  });
});
