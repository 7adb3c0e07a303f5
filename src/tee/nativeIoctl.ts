// The production IoctlRunner: one ioctl through the native addon (src/base/native.ts), loaded at the first
// call so that constructing a device provider never fails.
import { isNativeErrnoError, loadNative, type CloisterNative } from '../base/native.js';
import type { IoctlCall, IoctlOutcome, IoctlRunner } from './ioctl.js';

/** A system-call failure becomes { ok: false, errno, syscall }; anything else (a missing addon, an argument error) rejects. */
export function nativeIoctlRunner(native?: CloisterNative): IoctlRunner {
  return async (call: IoctlCall): Promise<IoctlOutcome> => {
    const addon = native ?? loadNative();
    try {
      const { rc } = await addon.ioctl(call.path, call.request, call.buffers, call.fixups);
      return { ok: true, rc };
    } catch (e) {
      if (isNativeErrnoError(e)) return { ok: false, errno: e.errno, syscall: e.syscall };
      throw e;
    }
  };
}
