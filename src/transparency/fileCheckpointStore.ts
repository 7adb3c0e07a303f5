// The newest checkpoint per log, on disk: one file per origin, named by the lowercase hex SHA-256 of the origin (as
// the tlog-witness monitoring path names a log), holding the signed note as it was accepted. A client keeps what
// it has seen here; the witness keeps what it last cosigned. Writes are atomic and durable (durableFile.ts); a
// store belongs to one process, which serializes its own updates per origin (advanceCheckpoint, Witness).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesEqual } from '../../attestation/bytes.js';
import { parseCheckpoint } from '../../attestation/transparency/checkpoint.js';
import type { CheckpointStore, StoredCheckpoint } from '../../attestation/transparency/checkpointStore.js';
import { parseSignedNote } from '../../attestation/transparency/signedNote.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { syncDirectory, writeFileAtomically } from './durableFile.js';

export const originHash = (origin: string): string => createHash('sha256').update(origin).digest('hex');

export class FileCheckpointStore implements CheckpointStore {
  readonly dir: string;
  readonly #fsync: boolean;

  constructor(dir: string, options: { fsync?: boolean } = {}) {
    this.dir = dir;
    this.#fsync = options.fsync ?? true;
  }

  /** The kept note of the log whose origin hashes to `hash`, as kept. */
  async noteByOriginHash(hash: string): Promise<string | undefined> {
    if (!/^[0-9a-f]{64}$/.test(hash)) return undefined;
    try {
      return await readFile(join(this.dir, hash), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RuntimeError('UNREADABLE_INPUT', `cannot read the checkpoint kept in "${join(this.dir, hash)}": ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { field: this.dir, cause: e });
    }
  }

  async latest(origin: string): Promise<StoredCheckpoint | undefined> {
    const note = await this.noteByOriginHash(originHash(origin));
    if (note === undefined) return undefined;
    const checkpoint = parseCheckpoint(parseSignedNote(note).text);
    if (checkpoint.origin !== origin) {
      throw new RuntimeError('TLOG_STATE_INVALID', `the checkpoint kept for ${origin} names the origin "${checkpoint.origin}"`, { field: join(this.dir, originHash(origin)) });
    }
    return { origin, size: checkpoint.size, rootHash: checkpoint.rootHash, note };
  }

  async save(checkpoint: StoredCheckpoint): Promise<void> {
    const parsed = parseCheckpoint(parseSignedNote(checkpoint.note).text);
    if (parsed.origin !== checkpoint.origin || parsed.size !== checkpoint.size || !bytesEqual(parsed.rootHash, checkpoint.rootHash)) {
      throw new RuntimeError('TLOG_STATE_INVALID', `the note given to keep for ${checkpoint.origin} at size ${checkpoint.size} is another checkpoint`, { field: checkpoint.origin });
    }
    try {
      await writeFileAtomically(join(this.dir, originHash(checkpoint.origin)), new TextEncoder().encode(checkpoint.note), this.#fsync);
      if (this.#fsync) await syncDirectory(this.dir);
    } catch (e) {
      throw new RuntimeError('UNWRITABLE_OUTPUT', `cannot keep the checkpoint of ${checkpoint.origin} in "${this.dir}": ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { field: this.dir, cause: e });
    }
  }
}
