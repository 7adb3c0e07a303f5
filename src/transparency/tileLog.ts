// An append-only transparency log on disk in the C2SP tlog-tiles layout, ready to be served as static files:
//
//   <dir>/checkpoint                        the signed checkpoint (tlog-checkpoint, Ed25519 note signature)
//   <dir>/tile/<L>/<N>[.p/<W>]              hash tiles
//   <dir>/tile/entries/<N>[.p/<W>]          entry bundles
//
// What a crash leaves: every file is replaced atomically (durableFile.ts), and an append writes its tiles and
// bundles, flushes them and their directories, and only then replaces the checkpoint. So the checkpoint on disk
// always describes tiles that are on disk, complete; entries of an append that did not finish have no checkpoint,
// were never acknowledged, and their files (beyond the checkpoint's size, referenced by nothing) are overwritten by
// the next append. open() rebuilds the rightmost tiles from the files the checkpoint needs and refuses a directory
// whose files do not hash to the checkpoint's root. One process owns a directory; appends in it are serialized.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CloisterError } from '../../attestation/errors.js';
import type { Hasher } from '../../attestation/hash.js';
import { serializeCheckpoint, verifyCheckpoint } from '../../attestation/transparency/checkpoint.js';
import type { InclusionProof } from '../../attestation/transparency/merkle.js';
import { noteVerifier, type KeyedSigner } from '../../attestation/transparency/noteKeys.js';
import { parseSignedNote, serializeSignedNote, signNote, verifyNote } from '../../attestation/transparency/signedNote.js';
import { TileBuilder, type TileWrite } from '../../attestation/transparency/tileBuilder.js';
import { MAX_ENTRY_SIZE, parseTilePath, TileReader, type TileFetcher } from '../../attestation/transparency/tiles.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { syncDirectory, writeFileAtomically } from './durableFile.js';

export const CHECKPOINT_FILE = 'checkpoint';

export interface TileLogOptions {
  readonly dir: string;
  /** The checkpoint origin; the signer's key name should be the same (tlog-checkpoint). */
  readonly origin: string;
  readonly signer: KeyedSigner;
  readonly hasher?: Hasher;
  /** Flush files and directories to disk before the checkpoint moves on (default true). */
  readonly fsync?: boolean;
}

export interface AppendResult {
  /** The index of the first entry appended. */
  readonly firstIndex: number;
  readonly size: number;
  /** The signed checkpoint that covers the entries. */
  readonly checkpoint: string;
}

const stateInvalid = (message: string, field: string, cause?: unknown): RuntimeError =>
  new RuntimeError('TLOG_STATE_INVALID', message, { field, ...(cause === undefined ? {} : { cause }) });

export class TileLog {
  readonly dir: string;
  readonly origin: string;
  readonly #signer: KeyedSigner;
  readonly #hasher: Hasher;
  readonly #fsync: boolean;
  readonly #builder: TileBuilder;
  #checkpoint: string;
  #queue: Promise<unknown> = Promise.resolve();
  #broken: CloisterError | undefined;
  /** Tile directories this log created or found (tile/0/, tile/0/x001/, ...): mkdir once each, not per write. */
  readonly #madeDirs = new Set<string>();
  /** Tile directories whose whole path this process has flushed to disk. */
  readonly #syncedDirs = new Set<string>();
  /** The batch queued behind the append being written, which new appends join. */
  #waiting: { entries: Uint8Array[]; result: Promise<AppendResult> } | undefined;

  private constructor(options: TileLogOptions, builder: TileBuilder, checkpoint: string) {
    this.dir = options.dir;
    this.origin = options.origin;
    this.#signer = options.signer;
    this.#hasher = options.hasher ?? nodeHasher;
    this.#fsync = options.fsync ?? true;
    this.#builder = builder;
    this.#checkpoint = checkpoint;
  }

  /** Opens the log in `dir`, or starts one there (size 0, a signed checkpoint of the empty tree) when it has no checkpoint. */
  static async open(options: TileLogOptions): Promise<TileLog> {
    const hasher = options.hasher ?? nodeHasher;
    let note: string;
    try {
      note = await readFile(join(options.dir, CHECKPOINT_FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw stateInvalid(`cannot read ${join(options.dir, CHECKPOINT_FILE)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, options.dir, e);
      const log = new TileLog(options, TileBuilder.empty(hasher), '');
      await log.#publish();
      return log;
    }
    let size: number;
    let rootHash: Uint8Array;
    try {
      const trust = { log: { origin: options.origin, keys: [await noteVerifier(options.signer.vkey, { hasher })] } };
      ({ size, rootHash } = (await verifyCheckpoint(note, trust)).checkpoint);
    } catch (e) {
      throw stateInvalid(`the checkpoint in ${options.dir} is not one of ${options.origin} signed by ${options.signer.vkey}: ${(e as Error).message}`, options.dir, e);
    }
    const builder = await TileBuilder.restore(size, diskFetcher(options.dir), hasher).catch((e: unknown) => {
      throw stateInvalid(`the tiles in ${options.dir} for tree size ${size} cannot be read: ${(e as Error).message}`, options.dir, e);
    });
    const root = await builder.rootHash();
    if (!root.every((b, i) => b === rootHash[i])) throw stateInvalid(`the tiles in ${options.dir} do not hash to the root of its checkpoint at size ${size}`, options.dir);
    return new TileLog(options, builder, note);
  }

  get size(): number {
    return this.#builder.size;
  }

  /** The current signed checkpoint. */
  get checkpoint(): string {
    return this.#checkpoint;
  }

  /** Reads the log's files by their path below the log's prefix: `checkpoint`, tiles and entry bundles. */
  readonly fetch: TileFetcher = (path) => (path === CHECKPOINT_FILE ? Promise.resolve(new TextEncoder().encode(this.#checkpoint)) : diskFetcher(this.dir)(path));

  /** The tree at `size` (a size the log published a checkpoint for), read from the tiles on disk. */
  reader(size = this.size): TileReader {
    return new TileReader(this.fetch, size, this.#hasher);
  }

  inclusionProof(index: number, size = this.size): Promise<InclusionProof> {
    return this.reader(size).inclusionProof(index);
  }

  consistencyProof(olderSize: number, size = this.size): Promise<Uint8Array[]> {
    return this.reader(size).consistencyProof(olderSize);
  }

  /**
   * Appends `entries` (each at most 65535 bytes) and publishes a checkpoint covering them; appends run one after
   * the other. Appends made while another is being written are joined into one batch, written and checkpointed
   * once (group commit: an append costs its files and a checkpoint, whatever its size); each caller gets its own
   * `firstIndex` and the shared checkpoint. A failure after the tree grew in memory (a write, the signer) leaves the
   * log refusing appends until it is opened again, which takes it back to the checkpoint on disk; every append of
   * the batch fails with it.
   */
  append(entries: readonly Uint8Array[]): Promise<AppendResult> {
    // Checked here, so one caller's oversized entry fails that caller only, not the batch it would join.
    const large = entries.findIndex((e) => e.length > MAX_ENTRY_SIZE);
    if (large >= 0) return Promise.reject(new RuntimeError('TLOG_ENTRY_TOO_LARGE', `entry ${large} of the append is ${entries[large]?.length} bytes, more than ${MAX_ENTRY_SIZE}`, { field: `entries[${large}]` }));
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      const offset = waiting.entries.length;
      waiting.entries.push(...entries);
      return waiting.result.then((r) => ({ ...r, firstIndex: r.firstIndex + offset }));
    }
    const pending = [...entries];
    const result = this.#queue.then(() => {
      // From here on the batch is closed: later appends start the next one.
      if (this.#waiting?.entries === pending) this.#waiting = undefined;
      return this.#append(pending);
    });
    this.#waiting = { entries: pending, result };
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Replaces the served checkpoint with `cosigned`: the same note text as the current checkpoint, with the log's
   * signature and more signature lines (witness cosignatures, witnessClient.ts cosign), which clients fetch as
   * `checkpoint` (tlog-tiles). False, and nothing written, when the log has moved on to another checkpoint since.
   * The log's own signature must still verify; the lines it does not know are kept as they are.
   */
  addCosignatures(cosigned: string): Promise<boolean> {
    const run = this.#queue.then(async () => {
      const note = parseSignedNote(cosigned);
      if (note.text !== parseSignedNote(this.#checkpoint).text) return false;
      await verifyNote(note, [await noteVerifier(this.#signer.vkey, { hasher: this.#hasher })]);
      await writeFileAtomically(join(this.dir, CHECKPOINT_FILE), new TextEncoder().encode(cosigned), this.#fsync);
      if (this.#fsync) await syncDirectory(this.dir);
      this.#checkpoint = cosigned;
      return true;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #append(entries: readonly Uint8Array[]): Promise<AppendResult> {
    if (this.#broken !== undefined) throw stateInvalid(`the log in ${this.dir} failed an append and must be opened again: ${this.#broken.message}`, this.dir, this.#broken);
    const firstIndex = this.size;
    if (entries.length === 0) return { firstIndex, size: this.size, checkpoint: this.#checkpoint };
    const large = entries.findIndex((e) => e.length > MAX_ENTRY_SIZE);
    if (large >= 0) throw new RuntimeError('TLOG_ENTRY_TOO_LARGE', `entry ${large} of the append is ${entries[large]?.length} bytes, more than ${MAX_ENTRY_SIZE}`, { field: `entries[${large}]` });
    try {
      await this.#write(await this.#builder.append(entries));
      await this.#publish();
    } catch (e) {
      this.#broken = e instanceof CloisterError ? e : stateInvalid(`append to ${this.dir} failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, this.dir, e);
      throw this.#broken;
    }
    return { firstIndex, size: this.size, checkpoint: this.#checkpoint };
  }

  async #write(writes: readonly TileWrite[]): Promise<void> {
    await Promise.all(writes.map((w) => writeFileAtomically(join(this.dir, w.path), w.data, this.#fsync, this.#madeDirs)));
    if (!this.#fsync) return;
    // The directory of each file, for its rename; and the first time this process writes in a directory, every
    // directory on the way, since this or an earlier append (one that failed, or before a crash) may have created
    // them (tile/1/, tile/0/x001/, ...). After that they are on disk, and syncing them again would cost a flush each.
    const dirs = new Set<string>();
    const first = new Set<string>();
    for (const w of writes) {
      const dir = dirname(w.path);
      dirs.add(join(this.dir, dir));
      if (this.#syncedDirs.has(dir)) continue;
      first.add(dir);
      for (let d = dirname(dir); d !== '.'; d = dirname(d)) dirs.add(join(this.dir, d));
    }
    await Promise.all([...dirs].map(syncDirectory));
    for (const d of first) this.#syncedDirs.add(d);
  }

  /** Signs the checkpoint of the current tree and replaces the checkpoint file with it, last. */
  async #publish(): Promise<void> {
    const text = serializeCheckpoint({ origin: this.origin, size: this.size, rootHash: await this.#builder.rootHash(), extensions: [] });
    const note = serializeSignedNote(await signNote(text, [this.#signer]));
    await writeFileAtomically(join(this.dir, CHECKPOINT_FILE), new TextEncoder().encode(note), this.#fsync);
    if (this.#fsync) await syncDirectory(this.dir);
    this.#checkpoint = note;
  }
}

/** Tiles and bundles from `dir`, by their checked path; a file that is not there is TLOG_STATE_INVALID. */
function diskFetcher(dir: string): TileFetcher {
  return async (path) => {
    parseTilePath(path);
    try {
      return new Uint8Array(await readFile(join(dir, path)));
    } catch (e) {
      throw stateInvalid(`${path} is missing from ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, path, e);
    }
  };
}
