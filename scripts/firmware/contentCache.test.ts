import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RuntimeError } from '../../src/base/runtimeErrors.js';
import { cachedPath, cacheRoot, fetchPinned } from './contentCache.js';

const body = new TextEncoder().encode('edk2 source stand-in');
const sha256 = createHash('sha256').update(body).digest('hex');
const file = { name: 'edk2_x.orig.tar.xz', url: 'http://deb.example/pool/edk2_x.orig.tar.xz', sha256 };

/** A fetcher that answers `status` with `bytes`, counting its calls; no network. */
function stubFetch(status: number, bytes: Uint8Array<ArrayBuffer>): { fetcher: typeof fetch; calls: () => number } {
  let n = 0;
  const fetcher = (() => {
    n++;
    return Promise.resolve(new Response(status === 200 ? bytes : null, { status }));
  }) as typeof fetch;
  return { fetcher, calls: () => n };
}

describe('the content cache', () => {
  const dirs: string[] = [];
  const fresh = async (): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'cloister-cache-'));
    dirs.push(d);
    return d;
  };
  after(async () => { await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))); });

  it('roots at CLOISTER_CACHE_DIR, else XDG_CACHE_HOME/cloister, else ~/.cache/cloister', () => {
    assert.equal(cacheRoot({ CLOISTER_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }), '/c');
    assert.equal(cacheRoot({ XDG_CACHE_HOME: '/x' }), '/x/cloister');
    assert.match(cacheRoot({}), /\/\.cache\/cloister$/);
  });

  it('downloads once, stores by sha256, and reuses the verified copy', async () => {
    const root = await fresh();
    const { fetcher, calls } = stubFetch(200, body);
    const path = await fetchPinned(root, file, fetcher);
    assert.equal(path, cachedPath(root, sha256));
    assert.deepEqual(new Uint8Array(await readFile(path)), body);
    assert.equal(await fetchPinned(root, file, fetcher), path);
    assert.equal(calls(), 1);
  });

  it('drops a corrupted cache entry and fetches again', async () => {
    const root = await fresh();
    const { fetcher, calls } = stubFetch(200, body);
    await fetchPinned(root, file, fetcher);
    await writeFile(cachedPath(root, sha256), 'corrupt');
    await fetchPinned(root, file, fetcher);
    assert.equal(calls(), 2);
  });

  it('a download with other bytes is PINNED_INPUT_MISMATCH naming the file, and nothing is cached', async () => {
    const root = await fresh();
    await assert.rejects(fetchPinned(root, file, stubFetch(200, new TextEncoder().encode('other')).fetcher), (e: unknown) =>
      e instanceof RuntimeError && e.code === 'PINNED_INPUT_MISMATCH' && e.field === file.name && e.expected === sha256 && !e.message.includes('\n'));
    assert.deepEqual(await readdir(join(root, 'sha256')), []);
  });

  it('a 404 is PINNED_INPUT_UNAVAILABLE naming the file and what to do', async () => {
    const root = await fresh();
    await assert.rejects(fetchPinned(root, file, stubFetch(404, body).fetcher), (e: unknown) =>
      e instanceof RuntimeError && e.code === 'PINNED_INPUT_UNAVAILABLE' && e.message.includes(file.name) && e.message.includes('404') && e.message.includes('snapshot.debian.org'));
  });

  it('a network failure is PINNED_INPUT_UNAVAILABLE', async () => {
    const root = await fresh();
    const fetcher = (() => Promise.reject(new Error('getaddrinfo ENOTFOUND'))) as typeof fetch;
    await assert.rejects(fetchPinned(root, file, fetcher), (e: unknown) => e instanceof RuntimeError && e.code === 'PINNED_INPUT_UNAVAILABLE' && e.message.includes('ENOTFOUND'));
  });
});
