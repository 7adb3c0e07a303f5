// The native addon's loading and its memory calls (src/base/native.ts), against the addon npm install built.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ADDON_PATH, loadNative, lock, unlock, wipe, type CloisterNative } from './native.js';
import { TeeDeviceError } from './runtimeErrors.js';

const dir = mkdtempSync(join(tmpdir(), 'cloister-native-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const native = loadNative();

describe('loadNative', () => {
  it('loads the addon built by npm install, once', () => {
    assert.equal(loadNative(ADDON_PATH), native);
    assert.match(ADDON_PATH, /native\/build\/Release\/cloister_native\.node$/);
  });

  it('says to run npm install when the addon is missing', () => {
    assert.throws(
      () => loadNative(join(dir, 'missing.node')),
      (e: unknown) => e instanceof TeeDeviceError && e.code === 'TEE_DEVICE' && /the native addon is not built .*missing\.node is missing\): run npm install/.test(e.message),
    );
  });

  it('refuses a file that does not load or is not the addon', () => {
    const broken = join(dir, 'broken.node');
    writeFileSync(broken, 'not an ELF object');
    assert.throws(() => loadNative(broken), (e: unknown) => e instanceof TeeDeviceError && /could not be loaded .*run npm install/.test(e.message));
    const other = join(dir, 'other.cjs');
    writeFileSync(other, 'module.exports = { ioctl() {} };');
    assert.throws(() => loadNative(other), (e: unknown) => e instanceof TeeDeviceError && /is not Cloister's native addon/.test(e.message));
  });
});

describe('wipe, lock, unlock', () => {
  it('wipe zeroes exactly the view and not its neighbours in a pooled Buffer', () => {
    const a = Buffer.from('secret-one');
    const b = Buffer.from('neighbour!');
    assert.equal(a.buffer, b.buffer, 'small Buffers share Node\'s pool');
    const pool = new Uint8Array(a.buffer);
    const before = pool.slice();
    wipe(a);
    assert.deepEqual([...a], new Array<number>(a.length).fill(0));
    assert.equal(b.toString(), 'neighbour!');
    for (let i = 0; i < pool.length; i++) {
      if (i < a.byteOffset || i >= a.byteOffset + a.length) assert.equal(pool[i], before[i], `pool byte ${i} changed`);
    }
  });

  it('wipe honours byteOffset and byteLength of typed arrays and DataViews', () => {
    const backing = new Uint8Array(64).fill(0xaa);
    wipe(new Uint8Array(backing.buffer, 4, 8));
    wipe(new Float64Array(backing.buffer, 16, 2)); // 16 bytes
    wipe(new DataView(backing.buffer, 40, 3));
    wipe(new Uint8Array(0));
    const zero = new Set([...range(4, 12), ...range(16, 32), ...range(40, 43)]);
    backing.forEach((v, i) => {
      assert.equal(v, zero.has(i) ? 0 : 0xaa, `byte ${i}`);
    });
  });

  it('wipe refuses what is not a view', () => {
    assert.throws(() => {
      (native.wipe as (v: unknown) => void)({ length: 4 });
    }, TypeError);
    assert.throws(() => {
      (native.wipe as (...v: unknown[]) => void)();
    }, TypeError);
  });

  it('lock and unlock a small buffer, or name the errno RLIMIT_MEMLOCK gives', () => {
    const secret = new Uint8Array(4096);
    try {
      lock(secret);
    } catch (e) {
      assert.ok(e instanceof TeeDeviceError && (e.errno === 'ENOMEM' || e.errno === 'EPERM'), String(e));
      return;
    }
    unlock(secret);
    lock(new Uint8Array(0));
    unlock(new DataView(new ArrayBuffer(16)));
  });

  it('turns an errno from the addon into TeeDeviceError and rethrows anything else', () => {
    const err = Object.assign(new Error('mlock: ENOMEM'), { errno: 'ENOMEM', code: 'ENOMEM', errnoNumber: 12, syscall: 'mlock' });
    const failing: CloisterNative = {
      ...native,
      lock: () => {
        throw err;
      },
      unlock: () => {
        throw new TypeError('x');
      },
    };
    assert.throws(() => {
      lock(new Uint8Array(1), failing);
    }, (e: unknown) => e instanceof TeeDeviceError && e.errno === 'ENOMEM' && e.cause === err && /mlock of 1 bytes failed: ENOMEM \(RLIMIT_MEMLOCK too low/.test(e.message));
    assert.throws(() => {
      unlock(new Uint8Array(1), failing);
    }, TypeError);
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
