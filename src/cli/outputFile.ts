// An answer file for `cloister request --output`: a new temporary file beside the target (mode 0600,
// created exclusively, so no existing file or symlink is written through), renamed over the target
// only once the whole answer is in it; anything else leaves the target as it was and removes the
// temporary file. Opened before the request is sent, so an unwritable path costs no request.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CloisterError } from '../../attestation/errors.js';

const unwritable = (path: string, cause: unknown): CloisterError =>
  new CloisterError('UNWRITABLE_OUTPUT', `cannot write "${path}": ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { field: 'output', cause });

export class OutputFile {
  readonly path: string;
  readonly #temp: string;
  #handle: FileHandle | undefined;

  private constructor(path: string, temp: string, handle: FileHandle) {
    this.path = path;
    this.#temp = temp;
    this.#handle = handle;
  }

  static async create(path: string): Promise<OutputFile> {
    const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
    try {
      return new OutputFile(path, temp, await open(temp, 'wx', 0o600));
    } catch (cause) {
      throw unwritable(path, cause);
    }
  }

  /** Writes `bytes` as the whole file and puts it in place; on failure the target is untouched. */
  async commit(bytes: Uint8Array): Promise<void> {
    const handle = this.#handle;
    if (handle === undefined) throw new CloisterError('INVALID_STATE', `output file "${this.path}" is already committed or discarded`, { field: 'output' });
    this.#handle = undefined;
    try {
      await handle.writeFile(bytes);
      await handle.close();
      await rename(this.#temp, this.path);
    } catch (cause) {
      await handle.close().catch(() => undefined);
      await unlink(this.#temp).catch(() => undefined);
      throw unwritable(this.path, cause);
    }
  }

  /** Removes the temporary file (no answer to keep). */
  async discard(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle === undefined) return;
    await handle.close().catch(() => undefined);
    await unlink(this.#temp).catch(() => undefined);
  }
}
