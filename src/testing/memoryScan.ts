// Test support: counts byte patterns in another process's memory (/proc/PID/maps and /proc/PID/mem),
// by kind of mapping. Needs ptrace rights over the process (root, or its parent under Yama scope 1).
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export interface PatternHits {
  readonly hits: number;
  /** Hits per mapping kind: [heap], [stack], anon, or the mapped file's base name. */
  readonly where: Readonly<Record<string, number>>;
}

const CHUNK = 1 << 20;
/** Less than this read means the scan did not see the process (no ptrace rights, or it is gone). */
const MIN_SCANNED = 16 << 20;

function kindOf(path: string | undefined): string {
  if (path === undefined || path === '') return 'anon';
  if (path.startsWith('[')) return path.startsWith('[anon') ? 'anon' : path;
  return path.split('/').pop() ?? path;
}

/**
 * Counts every occurrence of each pattern in the readable mappings of `pid`; throws when it could read
 * less than 16 MiB, so that a scan that saw nothing never reports a clean process.
 */
export function scanProcessMemory(pid: number, patterns: Readonly<Record<string, Uint8Array>>): Record<string, PatternHits> {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n');
  const counts = Object.fromEntries(Object.keys(patterns).map((k) => [k, { hits: 0, where: {} }]));
  const needles = Object.entries(patterns).map(([k, v]) => [k, Buffer.from(v)] as const);
  const overlap = Math.max(0, ...needles.map(([, n]) => n.length - 1));
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const buffer = Buffer.alloc(CHUNK + overlap);
  let scanned = 0;
  try {
    for (const line of maps) {
      const [range, perms, , , , path] = line.split(/\s+/, 6);
      if (range === undefined || perms?.[0] !== 'r' || path === '[vvar]' || path === '[vsyscall]' || path === '[vvar_vclock]') continue;
      const [start, end] = range.split('-').map((h) => parseInt(h, 16)) as [number, number];
      const kind = kindOf(path);
      let carried = 0;
      for (let at = start; at < end; at += CHUNK) {
        let n: number;
        try {
          n = readSync(fd, buffer, carried, Math.min(CHUNK, end - at), at);
        } catch {
          break;
        }
        scanned += n;
        const view = buffer.subarray(0, carried + n);
        for (const [k, needle] of needles) {
          // Matches that end inside the carried-over bytes were counted in the previous chunk.
          for (let i = view.indexOf(needle); i !== -1; i = view.indexOf(needle, i + 1)) {
            if (i + needle.length <= carried) continue;
            const c = counts[k] as { hits: number; where: Record<string, number> };
            c.hits++;
            c.where[kind] = (c.where[kind] ?? 0) + 1;
          }
        }
        carried = Math.min(overlap, view.length);
        view.copy(buffer, 0, view.length - carried);
        if (n < Math.min(CHUNK, end - at)) break;
      }
    }
  } finally {
    closeSync(fd);
  }
  if (scanned < MIN_SCANNED) throw new Error(`read only ${scanned} bytes of process ${pid}'s memory: no ptrace rights over it, or it has exited`);
  return counts;
}
