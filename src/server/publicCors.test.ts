// Browsers may read the public read-only resources from any origin, preflight included; the gateway's POST and the
// fresh-evidence POST get no CORS headers (browsers send requests through the relay).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { EVIDENCE_PATH, FRESH_EVIDENCE_PATH } from './app.js';
import { createServer, type CloisterServer } from './createServer.js';
import { isPublicResource } from './publicCors.js';

process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-cors-'));

const quiet = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});

describe('CORS on the public read-only resources', () => {
  let server: CloisterServer;
  before(async () => {
    server = await createServer({ tee: { kind: 'simulated', platform: 'sev-snp' }, models: null, logDestination: quiet });
  });
  after(async () => {
    await server.close();
  });

  it('answers GET of the status, the evidence, the certificate and the key configurations with access-control-allow-origin: *', async () => {
    const index = await server.app.inject({ url: EVIDENCE_PATH, headers: { origin: 'https://verify.example' } });
    const href = index.json<{ bundles: { href: string }[] }>().bundles[0]?.href;
    assert.ok(href !== undefined);
    for (const url of ['/status', EVIDENCE_PATH, href, ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH, `${EVIDENCE_PATH}/sha256:00`]) {
      const r = await server.app.inject({ url, headers: { origin: 'https://verify.example' } });
      assert.equal(r.headers['access-control-allow-origin'], '*', url);
      assert.equal(r.headers['access-control-allow-credentials'], undefined, url);
    }
  });

  it('answers their preflight for GET with cache-control, and nothing else', async () => {
    const pre = await server.app.inject({ method: 'OPTIONS', url: ATTESTATION_CERTIFICATE_PATH, headers: { origin: 'https://verify.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'cache-control' } });
    assert.equal(pre.statusCode, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET');
    assert.equal(pre.headers['access-control-allow-headers'], 'cache-control');
    const other = await server.app.inject({ method: 'OPTIONS', url: FRESH_EVIDENCE_PATH, headers: { origin: 'https://verify.example', 'access-control-request-method': 'POST' } });
    assert.equal(other.statusCode, 404);
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  it('gives the POSTs no CORS header', async () => {
    const r = await server.app.inject({ method: 'POST', url: OHTTP_GATEWAY_PATH, headers: { origin: 'https://verify.example', 'content-type': 'message/ohttp-req' }, payload: Buffer.from([0]) });
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(isPublicResource(`${FRESH_EVIDENCE_PATH}?x`), false);
    assert.equal(isPublicResource('/status?verbose'), true);
  });
});
