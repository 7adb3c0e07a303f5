// The host tools the build runs (dpkg-deb, xz, npm), each failure one IMAGE_BUILD line naming the tool.
import { spawn } from 'node:child_process';
import { ImageBuildError } from '../../src/base/runtimeErrors.js';

export interface RunOptions {
  readonly cwd?: string;
  readonly input?: Uint8Array;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs `command args`, returning its standard output; a missing tool or a non-zero exit is an IMAGE_BUILD error. */
export function runTool(command: string, args: readonly string[], options: RunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new ImageBuildError(e.code === 'ENOENT' ? `${command} is not installed; the image build needs it (Debian: apt-get install ${command === 'dpkg-deb' ? 'dpkg' : command === 'xz' ? 'xz-utils' : command})` : `${command} could not run: ${e.message}`, e));
    });
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else {
        const last = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join(' | ');
        reject(new ImageBuildError(`${command} ${args.slice(0, 3).join(' ')} exited with ${code}: ${last}`));
      }
    });
    if (options.input !== undefined && child.stdin !== null) {
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

/** xz -dc: decompression is deterministic whatever the xz version (only compression varies). */
export const unxz = (bytes: Uint8Array): Promise<Buffer> => runTool('xz', ['-dc'], { input: bytes });
