// Loads the native addon (native/, built by `npm install`) and declares its surface; its memory calls
// (explicit_bzero, mlock, munlock). The addon does device I/O only: src/tee/ioctl.ts marshals and parses
// every byte of an ioctl, src/tee/nativeIoctl.ts runs one through it. Nothing here runs at import time, so
// the rest of Cloister works without the addon: only a device call or wipe/lock throws TeeDeviceError
// when it is missing.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { TeeDeviceError } from './runtimeErrors.js';

/** native/build/Release/cloister_native.node, from dist/src/base/native.js. */
export const ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/cloister_native.node', import.meta.url));

/** The Error the addon rejects or throws with when a system call fails. */
export interface NativeErrnoError extends Error {
  /** Linux errno name: 'ENOENT', 'EACCES', 'ENOTTY', 'EIO', 'EINVAL', ... */
  readonly errno: string;
  /** Same as errno (Node's convention for system errors). */
  readonly code: string;
  readonly errnoNumber: number;
  readonly syscall: 'open' | 'ioctl' | 'mlock' | 'munlock';
  readonly path?: string;
}

/** "Write the address of buffers[target] into buffers[buffer] at offset, as a host-order u64." */
export interface PointerFixup {
  readonly buffer: number;
  readonly offset: number;
  readonly target: number;
}

/** The addon's exports (native/src/cloister_native.cc). */
export interface CloisterNative {
  /**
   * Opens `path` O_RDWR, copies `buffers` into native memory, writes the address of
   * buffers[target] at buffers[buffer][offset] for each fixup, runs ioctl(fd, request, buffers[0])
   * on a worker thread and copies the buffers back (address fields restored). Resolves { rc };
   * rejects with a NativeErrnoError. Argument errors throw TypeError / RangeError synchronously.
   */
  ioctl(path: string, request: number, buffers: readonly Uint8Array[], fixups: readonly PointerFixup[]): Promise<{ readonly rc: number }>;
  /** explicit_bzero over exactly the view's bytes. */
  wipe(view: ArrayBufferView): void;
  /** mlock the pages holding the view's bytes; throws NativeErrnoError (ENOMEM, EPERM) when refused. */
  lock(view: ArrayBufferView): void;
  /** munlock them. munlock works on whole pages: it also unlocks other locked data on those pages. */
  unlock(view: ArrayBufferView): void;
}

export function isNativeErrnoError(e: unknown): e is NativeErrnoError {
  return e instanceof Error && typeof (e as { errno?: unknown }).errno === 'string' && typeof (e as { syscall?: unknown }).syscall === 'string';
}

function isCloisterNative(m: unknown): m is CloisterNative {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  return typeof o.ioctl === 'function' && typeof o.wipe === 'function' && typeof o.lock === 'function' && typeof o.unlock === 'function';
}

const loaded = new Map<string, CloisterNative>();

/** Loads (once per path) the addon; TeeDeviceError when it is not built or not Cloister's. */
export function loadNative(path: string = ADDON_PATH): CloisterNative {
  const cached = loaded.get(path);
  if (cached !== undefined) return cached;
  let mod: unknown;
  try {
    mod = createRequire(import.meta.url)(path);
  } catch (e) {
    const missing = (e as { code?: unknown }).code === 'MODULE_NOT_FOUND';
    throw new TeeDeviceError(
      missing
        ? `the native addon is not built (${path} is missing): run npm install in the repository root to build native/ (needs make, g++ and python3)`
        : `the native addon ${path} could not be loaded (${e instanceof Error ? e.message : String(e)}): run npm install in the repository root to rebuild it`,
      { field: 'native addon', cause: e },
    );
  }
  if (!isCloisterNative(mod)) throw new TeeDeviceError(`${path} is not Cloister's native addon (no ioctl/wipe/lock/unlock exports)`, { field: 'native addon' });
  loaded.set(path, mod);
  return mod;
}

function memoryCall(fn: 'wipe' | 'lock' | 'unlock', view: ArrayBufferView, native: CloisterNative | undefined): void {
  const addon = native ?? loadNative();
  try {
    addon[fn](view);
  } catch (e) {
    if (isNativeErrnoError(e)) {
      throw new TeeDeviceError(`${e.syscall} of ${view.byteLength} bytes failed: ${e.errno}${e.errno === 'ENOMEM' || e.errno === 'EPERM' ? ' (RLIMIT_MEMLOCK too low? see ulimit -l)' : ''}`, {
        errno: e.errno,
        field: fn,
        cause: e,
      });
    }
    throw e;
  }
}

/** Zeroes exactly the view's bytes with explicit_bzero (the compiler cannot drop it). */
export function wipe(view: ArrayBufferView, native?: CloisterNative): void {
  memoryCall('wipe', view, native);
}

/** Keeps the pages holding the view out of swap (mlock). */
export function lock(view: ArrayBufferView, native?: CloisterNative): void {
  memoryCall('lock', view, native);
}

/** Undoes lock (munlock, whole pages). */
export function unlock(view: ArrayBufferView, native?: CloisterNative): void {
  memoryCall('unlock', view, native);
}
