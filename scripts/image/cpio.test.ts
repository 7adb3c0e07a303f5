import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { readCpio, writeCpio, CPIO_HEADER_SIZE, type CpioEntry } from './cpio.js';
import { BASE_ENTRIES, packInitramfs } from './initramfs.js';

const bytes = (chunks: Uint8Array[]): Buffer => Buffer.concat(chunks);
const ENTRIES: CpioEntry[] = [
  { path: 'init', type: 'file', mode: 0o755, data: Buffer.from('#!init') },
  { path: 'app/node_modules/x/index.js', type: 'file', mode: 0o644, data: Buffer.from('export {};\n') },
  { path: 'app/empty', type: 'file', mode: 0o644, data: Buffer.alloc(0) },
  { path: 'lib', type: 'symlink', mode: 0o777, data: Buffer.from('usr/lib') },
  { path: 'dev/console', type: 'char', mode: 0o600, rdev: { major: 5, minor: 1 } },
  { path: 'tmp', type: 'dir', mode: 0o1777 },
];

describe('cpio newc', () => {
  it('round trips: every entry read back with its type, mode, data and device, parents added, owners 0, one mtime', () => {
    const records = readCpio(bytes(writeCpio(ENTRIES, { mtime: 1234 })));
    assert.deepEqual(records.map((r) => r.path), ['app', 'app/empty', 'app/node_modules', 'app/node_modules/x', 'app/node_modules/x/index.js', 'dev', 'dev/console', 'init', 'lib', 'tmp']);
    for (const r of records) assert.ok(r.uid === 0 && r.gid === 0 && r.mtime === 1234, r.path);
    assert.deepEqual(records.map((r) => r.ino), records.map((_, i) => i + 1));
    const byPath = new Map(records.map((r) => [r.path, r]));
    assert.equal(Buffer.from(byPath.get('init')?.data ?? []).toString(), '#!init');
    assert.equal(byPath.get('init')?.mode, 0o755);
    assert.equal(Buffer.from(byPath.get('lib')?.data ?? []).toString(), 'usr/lib');
    assert.deepEqual(byPath.get('dev/console')?.rdev, { major: 5, minor: 1 });
    assert.equal(byPath.get('tmp')?.mode, 0o1777);
    assert.equal(byPath.get('app')?.type, 'dir');
    assert.equal(byPath.get('app/empty')?.data?.length, 0);
  });

  it('is deterministic: the same entries in another order give the same bytes', () => {
    const a = bytes(writeCpio(ENTRIES, { mtime: 7 }));
    const b = bytes(writeCpio([...ENTRIES].reverse(), { mtime: 7 }));
    const c = bytes(writeCpio([ENTRIES[3], ENTRIES[0], ENTRIES[5], ENTRIES[1], ENTRIES[4], ENTRIES[2]] as CpioEntry[], { mtime: 7 }));
    assert.ok(a.equals(b) && a.equals(c));
    assert.notDeepEqual(a, bytes(writeCpio(ENTRIES, { mtime: 8 })));
  });

  it('pads headers, names and data to 4 bytes, and ends with TRAILER!!!', () => {
    const a = bytes(writeCpio([{ path: 'a', type: 'file', mode: 0o644, data: Buffer.from('xyz') }], { mtime: 0 }));
    assert.equal(a.length % 4, 0);
    assert.equal(a.subarray(0, 6).toString(), '070701');
    assert.match(a.subarray(a.length - 124).toString('latin1'), /TRAILER!!!\0/);
    assert.equal(a.subarray(CPIO_HEADER_SIZE, CPIO_HEADER_SIZE + 2).toString(), 'a\0');
  });

  it('refuses bad paths, duplicates, a file used as a directory, and a device without a number', () => {
    for (const path of ['/abs', 'a/../b', 'a//b', 'a/', '.', '']) assert.throws(() => writeCpio([{ path, type: 'file', mode: 0o644 }], { mtime: 0 }), RangeError, path);
    assert.throws(() => writeCpio([ENTRIES[0] as CpioEntry, ENTRIES[0] as CpioEntry], { mtime: 0 }), /given twice/);
    assert.throws(() => writeCpio([{ path: 'init/x', type: 'file', mode: 0o644 }, ENTRIES[0] as CpioEntry], { mtime: 0 }), /not a directory/);
    assert.throws(() => writeCpio([{ path: 'dev/null', type: 'char', mode: 0o666 }], { mtime: 0 }), /no rdev/);
  });

  it('the reader refuses a bad magic, a truncated archive and bytes after the trailer', () => {
    const good = bytes(writeCpio(ENTRIES, { mtime: 0 }));
    assert.throws(() => readCpio(Buffer.concat([Buffer.from('070702'), good.subarray(6)])), { code: 'MALFORMED_FIELD' });
    assert.throws(() => readCpio(good.subarray(0, good.length - 200)), { code: 'TRUNCATED' });
    assert.throws(() => readCpio(Buffer.concat([good, Buffer.from([1, 0, 0, 0])])), { code: 'TRAILING_BYTES' });
    assert.equal(readCpio(Buffer.concat([good, Buffer.alloc(512)])).length, 10, 'zero padding after the trailer is allowed');
  });

  it('packs the initramfs with a gzip header free of time and name, identically twice', async () => {
    const a = await packInitramfs([...BASE_ENTRIES, ...ENTRIES.filter((e) => e.path !== 'dev/console' && e.path !== 'lib' && e.path !== 'tmp')], 99);
    const b = await packInitramfs([...ENTRIES.filter((e) => e.path !== 'dev/console' && e.path !== 'lib' && e.path !== 'tmp'), ...BASE_ENTRIES].reverse(), 99);
    assert.ok(a.equals(b));
    assert.deepEqual([...a.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3], 'magic, deflate, no flags, MTIME 0, XFL 2 (level 9), OS unix');
    assert.ok(readCpio(gunzipSync(a)).some((r) => r.path === 'dev/console' && r.type === 'char'));
  });
});
