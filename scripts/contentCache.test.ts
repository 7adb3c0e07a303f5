import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RuntimeError } from '../src/base/runtimeErrors.js';
import { cachedPath, cacheRoot, fetchPinned, type Fetcher } from './contentCache.js';

const BODY = new TextEncoder().encode('the pinned bytes');
const SHA = createHash('sha256').update(BODY).digest('hex');
const FILE = { name: 'libc6 2.41-12', url: 'http://deb.example/pool/libc6.deb', sha256: SHA };
const REPIN = 'run "cloister image pin"';

/** A fetcher that answers `status` with `bytes`, counting its calls; no network. */
function stubFetch(status: number, bytes: Uint8Array<ArrayBuffer>): { fetcher: Fetcher; calls: () => number } {
  let n = 0;
  const fetcher: Fetcher = () => {
    n++;
    return Promise.resolve(new Response(status === 200 ? bytes : null, { status }));
  };
  return { fetcher, calls: () => n };
}

const hasCode = (code: string, check: (e: RuntimeError) => boolean = () => true) => (e: unknown): boolean => {
  assert.ok(e instanceof RuntimeError, String(e));
  assert.equal(e.code, code);
  assert.equal(e.field, FILE.name);
  assert.ok(!e.message.includes('\n'), e.message);
  return check(e);
};

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

  it('downloads once, stores by sha256, and serves the verified copy without the network', async () => {
    const root = await fresh();
    const { fetcher, calls } = stubFetch(200, BODY);
    const path = await fetchPinned(FILE, { root, fetcher, repin: REPIN });
    assert.equal(path, cachedPath(root, SHA));
    assert.deepEqual(new Uint8Array(await readFile(path)), BODY);
    assert.equal(await fetchPinned(FILE, { root, fetcher: () => Promise.reject(new Error('offline')), repin: REPIN }), path);
    assert.equal(calls(), 1);
  });

  it('drops a corrupted cache entry, says so, and fetches again', async () => {
    const root = await fresh();
    const { fetcher, calls } = stubFetch(200, BODY);
    await fetchPinned(FILE, { root, fetcher, repin: REPIN });
    await writeFile(cachedPath(root, SHA), 'tampered');
    const lines: string[] = [];
    assert.deepEqual(new Uint8Array(await readFile(await fetchPinned(FILE, { root, fetcher, repin: REPIN, log: (l) => lines.push(l) }))), BODY);
    assert.equal(calls(), 2);
    assert.ok(lines.some((l) => l.includes('is corrupt')), lines.join('\n'));
  });

  it('a download with other bytes is PINNED_INPUT_MISMATCH naming the file, both digests and how to re-pin; nothing is cached', async () => {
    const root = await fresh();
    await assert.rejects(fetchPinned({ ...FILE, sha256: 'd'.repeat(64) }, { root, fetcher: stubFetch(200, BODY).fetcher, repin: REPIN }), hasCode('PINNED_INPUT_MISMATCH', (e) => {
      assert.equal(e.expected, 'd'.repeat(64));
      assert.equal(e.actual, SHA);
      assert.match(e.message, /^libc6 2\.41-12 from http:\/\/deb\.example\/pool\/libc6\.deb has sha256 [0-9a-f]{64}, the pin says d{64}; if the change is intended, run "cloister image pin"$/);
      return true;
    }));
    assert.deepEqual(await readdir(join(root, 'sha256')), []);
  });

  it('an npm integrity is checked too', async () => {
    const root = await fresh();
    const npm = { ...FILE, integrity: `sha512-${'A'.repeat(86)}==` };
    await assert.rejects(fetchPinned(npm, { root, fetcher: stubFetch(200, BODY).fetcher, repin: REPIN }), hasCode('PINNED_INPUT_MISMATCH', (e) => /integrity sha512-/.test(e.message)));
    assert.deepEqual(await readdir(join(root, 'sha256')), []);
  });

  it('a version the archive dropped (404) and a network failure are PINNED_INPUT_UNAVAILABLE, saying how to re-pin or where to place the file', async () => {
    const root = await fresh();
    const where = cachedPath(root, SHA);
    await assert.rejects(fetchPinned(FILE, { root, fetcher: stubFetch(404, BODY).fetcher, repin: REPIN }), hasCode('PINNED_INPUT_UNAVAILABLE', (e) =>
      e.message.includes('answered 404') && e.message.includes(REPIN) && e.message.includes(where)));
    await assert.rejects(fetchPinned(FILE, { root, fetcher: () => Promise.reject(new Error('getaddrinfo ENOTFOUND')), repin: REPIN }), hasCode('PINNED_INPUT_UNAVAILABLE', (e) =>
      /unreachable \(getaddrinfo ENOTFOUND\); check the network/.test(e.message)));
  });

  it('a download that breaks off is PINNED_INPUT_UNAVAILABLE and leaves no partial file', async () => {
    const root = await fresh();
    const broken = new ReadableStream<Uint8Array>({ pull: (c) => { c.error(new Error('connection reset')); } });
    await assert.rejects(fetchPinned(FILE, { root, fetcher: () => Promise.resolve(new Response(broken)), repin: REPIN }), hasCode('PINNED_INPUT_UNAVAILABLE', (e) => /broke off \(connection reset\)/.test(e.message)));
    assert.deepEqual(await readdir(join(root, 'sha256')), []);
  });
});
