// Memory hygiene for plaintext (docs/inference.md "Wiping"; measured in the shared notes beside the repository, notes/memory-residue.md):
// our own buffers are zeroed explicitly; what the allocators free is cleared by the process settings
// below, which the server reports and `npm start` / the image apply:
//   node --expose-gc --clear-free-memory      V8 zeroes freed heap memory; a minor GC after each request
//                                             collects the young objects that held request data (a major
//                                             one after a JPEG decode: requestMajorCollection)
//   GLIBC_TUNABLES=glibc.malloc.perturb=165:glibc.malloc.tcache_count=0
//                                             glibc fills every freed chunk (zlib, ORT, OpenSSL buffers)
export const HARDENED_NODE_FLAGS = ['--expose-gc', '--clear-free-memory'] as const;
export const HARDENED_GLIBC_TUNABLES = 'glibc.malloc.perturb=165:glibc.malloc.tcache_count=0';

export interface HygieneStatus {
  readonly gcAfterRequest: boolean;
  readonly clearFreeMemory: boolean;
  readonly mallocPerturb: boolean;
}

export function hygieneStatus(): HygieneStatus {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return {
    gcAfterRequest: typeof globalThis.gc === 'function',
    clearFreeMemory: flags.includes('--clear-free-memory'),
    mallocPerturb: /glibc\.malloc\.perturb=[1-9]/.test(process.env.GLIBC_TUNABLES ?? ''),
  };
}

const FALLBACK_MS = 1000;
let majorPending = false;
let fallback: NodeJS.Timeout | undefined;

/**
 * Asks for a full collection after the current request: for code that leaves request data in garbage we
 * cannot wipe and that may already sit in the old generation (jpeg-js's intermediate pixel copy), which a
 * minor GC does not reach (the memory scrape found it there).
 */
export function requestMajorCollection(): void {
  if (majorPending) return;
  majorPending = true;
  // Should no request end soon after (the decode outlived its request's deadline), collect anyway.
  fallback = setTimeout(afterRequest, FALLBACK_MS).unref();
}

/** After a request's buffers were wiped: a minor GC, or a major one when asked for, when the process exposes gc. */
export function afterRequest(): void {
  const type = majorPending ? 'major' : 'minor';
  majorPending = false;
  clearTimeout(fallback);
  fallback = undefined;
  (globalThis.gc as ((options?: { type: 'minor' | 'major' }) => void) | undefined)?.({ type });
}
