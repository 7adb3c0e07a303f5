import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cacheDir, cachedPath, fetchPinned } from './contentCache.js';

const BODY = Buffer.from('the pinned bytes');
const SHA = createHash('sha256').update(BODY).digest('hex');
const FILE = { name: 'libc6 2.41-12', url: 'http://deb.example/pool/libc6.deb', sha256: SHA };

describe('the content cache', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cloister-cache-test-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const quiet = { log: () => {}, dir };

  it('lives under XDG_CACHE_HOME, else ~/.cache', () => {
    assert.equal(cacheDir({ XDG_CACHE_HOME: '/x' }), '/x/cloister');
    assert.match(cacheDir({}), /\/\.cache\/cloister$/);
  });

  it('stores a download under its sha256 and serves it from there without the network', async () => {
    const path = await fetchPinned(FILE, { ...quiet, fetcher: () => Promise.resolve(new Response(BODY)) });
    assert.equal(path, cachedPath(SHA, dir));
    assert.deepEqual(await readFile(path), BODY);
    assert.equal(await fetchPinned(FILE, { ...quiet, fetcher: () => Promise.reject(new Error('offline')) }), path);
  });

  it('a changed input is one IMAGE_INPUT line naming it and "cloister image pin"; nothing is cached', async () => {
    const changed = { ...FILE, sha256: 'd'.repeat(64) };
    await assert.rejects(fetchPinned(changed, { ...quiet, fetcher: () => Promise.resolve(new Response(BODY)) }), (e: Error & { code?: string; field?: string }) => {
      assert.equal(e.code, 'IMAGE_INPUT');
      assert.equal(e.field, 'libc6 2.41-12');
      assert.match(e.message, /^libc6 2\.41-12: .* has sha256 [0-9a-f]{64}, the pin says d{64}; if the change is intended run "cloister image pin"$/);
      return true;
    });
    await assert.rejects(readFile(cachedPath(changed.sha256, dir)), { code: 'ENOENT' });
  });

  it('a version the archive dropped (404) says to pin again, or where to place the file', async () => {
    const gone = { ...FILE, sha256: 'e'.repeat(64) };
    await assert.rejects(fetchPinned(gone, { ...quiet, fetcher: () => Promise.resolve(new Response('', { status: 404 })) }), { code: 'IMAGE_INPUT', message: new RegExp(`answered 404; .*cloister image pin.*${cachedPath(gone.sha256, dir)}`) });
    await assert.rejects(fetchPinned(gone, { ...quiet, fetcher: () => Promise.reject(new Error('getaddrinfo ENOTFOUND')) }), { code: 'IMAGE_INPUT', message: /cannot download .*ENOTFOUND/ });
  });

  it('a corrupt cached copy is downloaded again; an npm integrity is checked too', async () => {
    await writeFile(cachedPath(SHA, dir), 'tampered');
    assert.deepEqual(await readFile(await fetchPinned(FILE, { ...quiet, fetcher: () => Promise.resolve(new Response(BODY)) })), BODY);
    const npm = { ...FILE, sha256: createHash('sha256').update('npm').digest('hex'), integrity: `sha512-${'A'.repeat(86)}==` };
    await assert.rejects(fetchPinned(npm, { ...quiet, fetcher: () => Promise.resolve(new Response('npm')) }), { code: 'IMAGE_INPUT', message: /integrity sha512-/ });
  });
});
