// One ioctl through the native addon (src/tee/nativeIoctl.ts, src/base/native.ts): errnos, buffers copied back,
// pointer fixups restored, argument errors before any system call.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ADDON_PATH, isNativeErrnoError, loadNative, type CloisterNative, type NativeErrnoError } from '../base/native.js';
import { ioc, SNP_GET_EXT_REPORT, snpGetExtReportCall, type IoctlCall } from './ioctl.js';
import { nativeIoctlRunner } from './nativeIoctl.js';

const dir = mkdtempSync(join(tmpdir(), 'cloister-native-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const native = loadNative();
const root = process.getuid?.() === 0;
// FIONREAD = _IO('T', 0x1b): on a regular file the kernel writes (size - position) as an int into the argument.
const FIONREAD = ioc(0, 'T', 0x1b, 0);

function errnoError(check: (e: NativeErrnoError) => boolean): (e: unknown) => boolean {
  return (e: unknown) => isNativeErrnoError(e) && check(e);
}

describe('native ioctl', () => {
  it('rejects with ENOENT when the device does not exist', async () => {
    const c = snpGetExtReportCall(join(dir, 'sev-guest'), { userData: new Uint8Array(64), vmpl: 0, certsLen: 4096 });
    await assert.rejects(
      native.ioctl(c.call.path, c.call.request, c.call.buffers, c.call.fixups),
      errnoError((e) => e.errno === 'ENOENT' && e.code === 'ENOENT' && e.errnoNumber === 2 && e.syscall === 'open' && e.path === c.call.path),
    );
  });

  it('rejects with ENOTTY from the ioctl on /dev/null and on a regular file, and leaves the buffers as marshalled', async () => {
    const file = join(dir, 'regular');
    writeFileSync(file, 'x');
    for (const path of ['/dev/null', file]) {
      const c = snpGetExtReportCall(path, { userData: new Uint8Array(64).fill(9), vmpl: 1, certsLen: 4096 });
      const before = c.call.buffers.map((b) => b.slice());
      await assert.rejects(native.ioctl(path, SNP_GET_EXT_REPORT, c.call.buffers, c.call.fixups), errnoError((e) => e.errno === 'ENOTTY' && e.syscall === 'ioctl' && e.message === `ioctl ${path}: ENOTTY`));
      // The address fields are restored: no native address leaks into JavaScript.
      assert.deepEqual(c.call.buffers, before);
    }
  });

  it('rejects with EACCES on a file it may not open', { skip: root ? 'running as root: mode 000 does not stop root (CAP_DAC_OVERRIDE)' : false }, async () => {
    const file = join(dir, 'locked');
    writeFileSync(file, '');
    chmodSync(file, 0o000);
    await assert.rejects(native.ioctl(file, FIONREAD, [new Uint8Array(8)], []), errnoError((e) => e.errno === 'EACCES' && e.syscall === 'open'));
  });

  it('rejects with EACCES for an unprivileged caller (as root: a child process running as nobody)', { skip: root ? false : 'covered by the test above' }, async () => {
    // nobody may not be able to enter the checkout (a clone under /root or a mode 700 folder), so the child
    // gets its own world-readable folder holding what it runs: this Node binary (hard-linked, or copied
    // across file systems), the addon built by npm install, and a root-only file it must fail to open.
    const world = mkdtempSync(join(tmpdir(), 'cloister-eacces-'));
    try {
      chmodSync(world, 0o755);
      const node = join(world, 'node');
      const addon = join(world, 'cloister_native.node');
      try {
        linkSync(process.execPath, node);
      } catch {
        copyFileSync(process.execPath, node);
      }
      copyFileSync(ADDON_PATH, addon);
      const file = join(world, 'root-only');
      writeFileSync(file, '');
      chmodSync(file, 0o600);
      const script = `const native = require(${JSON.stringify(addon)});
        native.ioctl(${JSON.stringify(file)}, ${FIONREAD}, [new Uint8Array(8)], []).then(
          () => { console.log(process.getuid() + ' no error'); },
          (e) => { console.log(process.getuid() + ' ' + e.errno + ' ' + e.syscall); });`;
      // The coverage folder of the test runner is root's: the child does not write there.
      const env = { ...process.env, NODE_V8_COVERAGE: undefined };
      const { stdout } = await promisify(execFile)(node, ['-e', script], { uid: 65534, gid: 65534, cwd: world, env });
      assert.equal(stdout.trim(), '65534 EACCES open');
    } finally {
      rmSync(world, { recursive: true, force: true });
    }
  });

  it('copies what the kernel wrote back into the caller\'s buffer, and restores fixup fields', async () => {
    const file = join(dir, 'sized');
    writeFileSync(file, new Uint8Array(0x1234));
    const arg = new Uint8Array(16).fill(0xee);
    const other = new Uint8Array(8).fill(0x11);
    const { rc } = await native.ioctl(file, FIONREAD, [arg, other], [{ buffer: 0, offset: 8, target: 1 }]);
    assert.equal(rc, 0);
    assert.deepEqual([...arg], [0x34, 0x12, 0, 0, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee]);
    assert.deepEqual([...other], new Array<number>(8).fill(0x11));
  });

  it('keeps the caller\'s arrays alive until the promise settles', async () => {
    const file = join(dir, 'sized2');
    writeFileSync(file, new Uint8Array(77));
    const pending = Array.from({ length: 32 }, () => {
      const arg = new Uint8Array(8);
      return native.ioctl(file, FIONREAD, [arg], []).then(() => arg[0]);
    });
    (globalThis as { gc?: () => void }).gc?.();
    assert.deepEqual(await Promise.all(pending), new Array<number>(32).fill(77));
  });

  it('throws TypeError / RangeError on bad arguments, before any system call', () => {
    const call = (...args: unknown[]): unknown => (native.ioctl as (...a: unknown[]) => unknown)(...args);
    assert.throws(() => call('/dev/null', 0, [new Uint8Array(8)]), TypeError);
    assert.throws(() => call(7, 0, [new Uint8Array(8)], []), TypeError);
    assert.throws(() => call('/dev/\0null', 0, [new Uint8Array(8)], []), TypeError);
    assert.throws(() => call('/dev/null', -1, [new Uint8Array(8)], []), RangeError);
    assert.throws(() => call('/dev/null', 2 ** 32, [new Uint8Array(8)], []), RangeError);
    assert.throws(() => call('/dev/null', 1.5, [new Uint8Array(8)], []), RangeError);
    assert.throws(() => call('/dev/null', 0, [], []), RangeError);
    assert.throws(() => call('/dev/null', 0, new Array(9).fill(new Uint8Array(8)), []), RangeError);
    assert.throws(() => call('/dev/null', 0, [new Uint16Array(4)], []), TypeError);
    assert.throws(() => call('/dev/null', 0, 'buffers', []), TypeError);
    assert.throws(() => call('/dev/null', SNP_GET_EXT_REPORT, [new Uint8Array(31)], []), /buffers\[0\] has 31 bytes, the ioctl number says 32/);
    assert.throws(() => call('/dev/null', 0, [new Uint8Array(8)], [{ buffer: 0, offset: 1, target: 0 }]), /writes bytes 1..9 of a 8-byte buffer/);
    assert.throws(() => call('/dev/null', 0, [new Uint8Array(8)], [{ buffer: 1, offset: 0, target: 0 }]), RangeError);
    assert.throws(() => call('/dev/null', 0, [new Uint8Array(8)], [{ buffer: 0, offset: 0, target: '0' }]), TypeError);
    assert.throws(() => call('/dev/null', 0, [new Uint8Array(8)], [7]), TypeError);
    assert.throws(() => call('/dev/null', 0, [new Uint8Array(8)], {}), TypeError);
    assert.throws(() => call('/dev/null', 0, [new Uint8Array(8)], new Array(17).fill({ buffer: 0, offset: 0, target: 0 })), RangeError);
    // An exception thrown by a getter stands (and does not abort the process).
    const trap = {
      get buffer(): number {
        throw new Error('getter threw');
      },
      offset: 0,
      target: 0,
    };
    assert.throws(() => call('/dev/null', 0, [new Uint8Array(8)], [trap]), /getter threw/);
    assert.throws(
      () =>
        call('/dev/null', 0, [new Uint8Array(16), new Uint8Array(8)], [
          { buffer: 0, offset: 0, target: 1 },
          { buffer: 0, offset: 4, target: 1 },
        ]),
      /overlaps an earlier fixup/,
    );
  });
});

describe('nativeIoctlRunner', () => {
  it('turns errno failures into outcomes', async () => {
    const run = nativeIoctlRunner();
    const outcome = await run({ path: join(dir, 'nothing'), request: FIONREAD, buffers: [new Uint8Array(8)], fixups: [] });
    assert.deepEqual(outcome, { ok: false, errno: 'ENOENT', syscall: 'open' });
    const file = join(dir, 'five');
    writeFileSync(file, 'abcde');
    const arg = new Uint8Array(4);
    assert.deepEqual(await run({ path: file, request: FIONREAD, buffers: [arg], fixups: [] }), { ok: true, rc: 0 });
    assert.equal(arg[0], 5);
  });

  it('rethrows anything that is not a system-call failure', async () => {
    const fake: CloisterNative = { ...native, ioctl: () => Promise.reject(new TypeError('bad')) };
    const call: IoctlCall = { path: '/dev/null', request: 0, buffers: [new Uint8Array(8)], fixups: [] };
    await assert.rejects(nativeIoctlRunner(fake)(call), TypeError);
  });
});
