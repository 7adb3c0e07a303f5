// The newest hardware policy version a client accepted per log, on disk beside the checkpoints: one file per origin,
// named as FileCheckpointStore names it (the lowercase hex SHA-256 of the origin), holding
// { "origin": ..., "version": N }. Writes are atomic and durable (durableFile.ts).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HardwarePolicyVersions } from '../../attestation/client/hardwarePolicy.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { syncDirectory, writeFileAtomically } from './durableFile.js';
import { originHash } from './fileCheckpointStore.js';

export class FileHardwarePolicyVersions implements HardwarePolicyVersions {
  readonly dir: string;
  readonly #fsync: boolean;

  constructor(dir: string, options: { fsync?: boolean } = {}) {
    this.dir = dir;
    this.#fsync = options.fsync ?? true;
  }

  async accepted(origin: string): Promise<number | undefined> {
    const path = join(this.dir, originHash(origin));
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RuntimeError('UNREADABLE_INPUT', `cannot read the hardware policy version kept in "${path}": ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { field: this.dir, cause: e });
    }
    let kept: unknown;
    try {
      kept = JSON.parse(text);
    } catch {
      kept = undefined;
    }
    const { origin: o, version } = (kept ?? {}) as { origin?: unknown; version?: unknown };
    if (o !== origin || typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
      throw new RuntimeError('TLOG_STATE_INVALID', `the hardware policy version kept for ${origin} in "${path}" is not {"origin": "${origin}", "version": N}`, { field: path });
    }
    return version;
  }

  async accept(origin: string, version: number): Promise<void> {
    try {
      await writeFileAtomically(join(this.dir, originHash(origin)), new TextEncoder().encode(`${JSON.stringify({ origin, version })}\n`), this.#fsync);
      if (this.#fsync) await syncDirectory(this.dir);
    } catch (e) {
      throw new RuntimeError('UNWRITABLE_OUTPUT', `cannot keep the hardware policy version of ${origin} in "${this.dir}": ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { field: this.dir, cause: e });
    }
  }
}
