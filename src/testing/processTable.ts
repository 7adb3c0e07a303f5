// Test support: what Linux's /proc says about processes: whether one still runs (a zombie, exited but not
// yet reaped, does not), its parent, its command line, and which processes carry an environment entry.
import { readdirSync, readFileSync } from 'node:fs';

/** Its state and parent from /proc/PID/stat ("PID (COMM) STATE PPID ..."; COMM may hold spaces and parentheses). */
function stat(pid: number): { state: string; ppid: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const [state = '', ppid = ''] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state, ppid: Number(ppid) };
}

export function isRunning(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

export const parentPid = (pid: number): number | undefined => stat(pid)?.ppid;

export function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
}

export function environment(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
}

/** The running processes whose environment holds exactly `entry` ("NAME=value"); others' are unreadable and skipped. */
export function processesWithEnv(entry: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return isRunning(pid) && environment(pid).includes(entry);
      } catch {
        return false;
      }
    });
}

export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
