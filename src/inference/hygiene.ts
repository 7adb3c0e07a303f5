// Memory hygiene for plaintext (docs/inference.md "Wiping"; measured in ../shared/notes/memory-residue.md):
// our own buffers are zeroed explicitly; what the allocators free is cleared by the process settings
// below, which the server reports and `npm start` / the image apply:
//   node --expose-gc --clear-free-memory      V8 zeroes freed heap memory; a minor GC after each request
//                                             collects the young objects that held request data
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

/** After a request's buffers were wiped: a minor GC, when the process exposes one. */
export function afterRequest(): void {
  (globalThis.gc as ((options?: { type: 'minor' | 'major' }) => void) | undefined)?.({ type: 'minor' });
}
