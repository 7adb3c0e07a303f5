// The toolchain the firmware is built with: Debian bookworm's gcc 12, nasm, iasl (acpica-tools), make, python3 and
// uuid-dev, at the versions image/firmware.json names. A different compiler or assembler gives different bytes, so
// the build checks them first and stops with one line naming what differs. Missing packages are installed with
// apt-get (the build runs as root on a Debian bookworm machine).
import { execFileSync } from 'node:child_process';
import { RuntimeError } from '../../src/base/runtimeErrors.js';
import type { FirmwarePin } from './firmwarePin.js';

/** What the machine has: installed package versions (undefined: not installed) and `gcc -dumpfullversion`. */
export interface FoundToolchain {
  readonly packages: Readonly<Record<string, string | undefined>>;
  readonly gccVersion: string | undefined;
}

/** Debian packages the build needs beyond the pinned ones (the pinned ones are installed too). */
export const BUILD_DEPENDENCIES = ['build-essential', 'nasm', 'acpica-tools', 'uuid-dev', 'python3', 'dpkg-dev'] as const;

/** The line naming every difference between the pin's toolchain and the machine's, or undefined when they agree. */
export function toolchainDifference(expected: FirmwarePin['toolchain'], found: FoundToolchain): string | undefined {
  const diffs: string[] = [];
  for (const [name, version] of Object.entries(expected.packages)) {
    const have = found.packages[name];
    if (have !== version) diffs.push(`${name} ${have ?? 'not installed'} (pinned ${version})`);
  }
  if (found.gccVersion !== expected.gccVersion) diffs.push(`gcc is ${found.gccVersion ?? 'missing'} (pinned ${expected.gccVersion})`);
  if (diffs.length === 0) return undefined;
  return `toolchain differs from image/firmware.json: ${diffs.join('; ')}; build on Debian bookworm with these versions, or re-pin the toolchain on purpose`;
}

/** Throws TOOLCHAIN_MISMATCH with toolchainDifference's line. */
export function assertToolchain(expected: FirmwarePin['toolchain'], found: FoundToolchain): void {
  const line = toolchainDifference(expected, found);
  if (line !== undefined) throw new RuntimeError('TOOLCHAIN_MISMATCH', line, { field: 'toolchain' });
}

const run = (cmd: string, args: readonly string[]): string | undefined => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
};

/** Installed versions of `names` (dpkg-query; a package that is absent or half-installed maps to undefined). */
export function installedVersions(names: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of names) {
    const line = run('dpkg-query', ['-W', '-f', '${Status}\t${Version}', name]);
    const [status, version] = (line ?? '').split('\t');
    out[name] = status === 'install ok installed' && version !== undefined && version !== '' ? version : undefined;
  }
  return out;
}

export function probeToolchain(expected: FirmwarePin['toolchain']): FoundToolchain {
  return { packages: installedVersions(Object.keys(expected.packages)), gccVersion: run('gcc', ['-dumpfullversion']) };
}

/** apt-get installs whatever of BUILD_DEPENDENCIES and the pinned packages is missing; returns what it installed. */
export function installMissing(expected: FirmwarePin['toolchain'], log: (line: string) => void): string[] {
  const wanted = [...new Set([...BUILD_DEPENDENCIES, ...Object.keys(expected.packages)])];
  const missing = Object.entries(installedVersions(wanted)).filter(([, v]) => v === undefined).map(([n]) => n);
  if (missing.length === 0) return [];
  log(`installing build dependencies with apt-get: ${missing.join(' ')}`);
  try {
    // Lock timeout: other builds on this machine may hold the dpkg lock for a while.
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', ...missing], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (cause) {
    throw new RuntimeError('TOOLCHAIN_MISMATCH', `apt-get could not install ${missing.join(' ')}; install them (as root: apt-get install -y ${missing.join(' ')}) and run again`, { field: 'toolchain', cause });
  }
  return missing;
}
