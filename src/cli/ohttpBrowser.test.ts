// The OHTTP client in a real browser: headless Chromium loads dist/attestation as ES modules (with an
// import map for @hpke/*), fetches the attestation certificate through `cloister relay`, verifies it
// against the simulated SEV-SNP root, takes the key configurations it binds, and sends an encapsulated
// request through the relay to the gateway of `cloister serve --simulated`. Skipped without Chromium.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHROMIUM, HPKE_IMPORT_MAP, pageResult, serveModule } from '../../attestation/testing/chromium.js';
import { availableSimulatedRoots } from './trustSimulated.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';
import { startRelay, type Relay } from '../relay/relay.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import type { RaTlsPolicy } from '../../attestation/ratls/verifyCertificate.js';

process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-browser-ohttp-'));

const page = (relay: string, policy: RaTlsPolicy): string => `<!doctype html><meta charset="utf-8">${HPKE_IMPORT_MAP}<body>pending</body><script type="module">
import { OhttpClient } from '/dist/attestation/client/ohttpClient.js';
import { SnpVerifier } from '/dist/attestation/snp/verify.js';
try {
  const root = new Uint8Array(await (await fetch('/root.der')).arrayBuffer());
  const client = new OhttpClient({ relay: ${JSON.stringify(relay)}, policy: ${JSON.stringify(policy)}, snpVerifier: new SnpVerifier({ additionalRoots: [root] }) });
  const r = await client.fetch({ url: 'https://cloister/v1/echo', body: new TextEncoder().encode('browser canary \\u00e9') });
  // The refetch after a 422: cache-control: no-cache, so the browser asks the relay's CORS preflight first.
  const refetchPassedPreflight = (await client.keys(true)).config.keyId === r.keyId;
  const untrusting = new OhttpClient({ relay: ${JSON.stringify(relay)}, policy: ${JSON.stringify(policy)} });
  const refused = await untrusting.fetch({ url: 'https://cloister/v1/echo', body: new Uint8Array([1]) }).then(() => null, (e) => e.code);
  let unpinned = null;
  try {
    new OhttpClient({ relay: ${JSON.stringify(relay)}, snpVerifier: new SnpVerifier({ additionalRoots: [root] }) });
  } catch (e) {
    unpinned = e.code;
  }
  document.body.textContent = 'RESULT ' + JSON.stringify({ status: r.status, echoed: new TextDecoder().decode(r.content), accepted: r.verdict.accepted, refetchPassedPreflight, refused, unpinned, agent: navigator.userAgent });
} catch (e) {
  document.body.textContent = 'RESULT ' + JSON.stringify({ error: String(e && e.stack || e) });
}
</script>`;

describe('OHTTP client in a browser, through the relay', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CLOISTER_CHROMIUM)` }, () => {
  let server: Server;
  let relay: Relay;
  let closeGateway: (() => Promise<void>) | undefined;

  before(async () => {
    let gateway = '';
    assert.equal(await serveCommand(['--simulated', '--port', '0'], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (closeGateway = fn), onListening: (u) => (gateway = u) }), 0);
    relay = await startRelay({ gateways: [{ name: 'default', origin: gateway }], port: 0 });
    const root = (await availableSimulatedRoots()).snp[0];
    assert.ok(root !== undefined);
    const html = page(`${relay.url}/default`, await simulatedMeasurementPolicy());
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(html);
      if (path === '/root.der') return void res.writeHead(200).end(root);
      if (!serveModule(path, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    await relay.close();
    await closeGateway?.();
  });

  it('verifies the attested key configuration and gets the encapsulated answer; its refetch with cache-control passes the relay CORS preflight (the bypass itself: keyRotationRelay.test.ts); refuses them without the root, and without a measurement', async () => {
    const { port } = server.address() as AddressInfo;
    const result = (await pageResult(`http://127.0.0.1:${port}/`)) as { status?: number; echoed?: string; accepted?: boolean; refetchPassedPreflight?: boolean; refused?: string; unpinned?: string; agent?: string; error?: string };
    assert.equal(result.error, undefined, result.error);
    assert.deepEqual([result.status, result.echoed, result.accepted, result.refetchPassedPreflight, result.refused, result.unpinned], [200, 'browser canary \u00e9', true, true, 'UNTRUSTED_ROOT', 'MEASUREMENT_SOURCE_MISSING']);
    assert.match(result.agent ?? '', /Chrome/);
  });
});
