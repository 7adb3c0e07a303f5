// An in-memory configfs-tsm report tree that behaves like the kernel's (drivers/virt/coco/tsm.c,
// fs/configfs/file.c, the sev-guest and tdx-guest providers), behind the TsmFs interface. Plain
// files cannot do this: outblob is produced when it is read, from whatever inblob holds then, and
// `generation` counts writes. Used by tests and by the simulated TEE.
//
//   <root>/                      the "report" group; mkdir <root>/<name> creates an entry
//   <root>/<name>/inblob         (WO, binary) up to 64 bytes; > 64 -> EFBIG; bumps generation
//   <root>/<name>/privlevel      (WO, text)   privlevel_floor..3, else EINVAL; bumps generation
//   <root>/<name>/privlevel_floor (RO, text)  "%u\n"
//   <root>/<name>/generation     (RO, text)   "%lu\n": writes to inblob and privlevel so far
//   <root>/<name>/provider       (RO, text)   "sev_guest\n", "tdx_guest\n"
//   <root>/<name>/outblob        (RO, binary) generated on read when inputs changed since the last
//                                             generation; no inblob -> EINVAL; > 32 KiB -> EFBIG
//   <root>/<name>/auxblob        (RO, binary) generated together with outblob; may be empty
//
// As in the kernel, the provider decides which attributes exist: tdx_guest shows only generation,
// provider, inblob and outblob; sev_guest adds privlevel, privlevel_floor and auxblob (the
// service_* attributes, visible under an SVSM, are not emulated). Both drivers reject an inblob
// that is not exactly 64 bytes with EINVAL when the report is generated.
import { constants as osConstants } from 'node:os';
import { posix } from 'node:path';
import type { TsmAccessMode, TsmFs } from './tsmFs.js';
import { DEFAULT_TSM_REPORT_ROOT } from './tsmFs.js';

/** TSM_INBLOB_MAX (include/linux/tsm.h). */
export const TSM_INBLOB_MAX = 64;
/** TSM_OUTBLOB_MAX (include/linux/tsm.h): SZ_32K. */
export const TSM_OUTBLOB_MAX = 32 * 1024;
/** TSM_PRIVLEVEL_MAX (include/linux/tsm.h). */
export const TSM_PRIVLEVEL_MAX = 3;

export interface TsmQuote {
  readonly outblob: Uint8Array;
  /** SEV-SNP: the certificate table; absent or empty when the host supplies none. */
  readonly auxblob?: Uint8Array;
}

/** Produces the report for the given inblob and privlevel, as the provider's report_new() would. */
export type QuoteGenerator = (reportData: Uint8Array, privlevel: number) => TsmQuote | Promise<TsmQuote>;

export interface EmulatedTsmOptions {
  readonly generate: QuoteGenerator;
  /** Default /sys/kernel/config/tsm/report. */
  readonly root?: string;
  /** The registered provider; null: none (mkdir fails with ENXIO, like a kernel without the driver). Default "sev_guest". */
  readonly provider?: string | null;
  /** Default 0 (the sev-guest driver sets it to the VMPCK in use). */
  readonly privlevelFloor?: number;
  /** false: configfs-tsm is absent, the root does not exist (ENOENT). Default true. */
  readonly mounted?: boolean;
  /** Other paths that exist, e.g. device nodes for detection tests. */
  readonly devices?: readonly string[];
  /** Paths (the root, an attribute, a device) whose use fails with EACCES; they still exist. */
  readonly denied?: readonly string[];
}

type AttributeName = 'inblob' | 'outblob' | 'auxblob' | 'generation' | 'provider' | 'privlevel' | 'privlevel_floor';

const WRITE_ONLY = new Set<AttributeName>(['inblob', 'privlevel']);

const VISIBLE: Readonly<Record<string, ReadonlySet<AttributeName>>> = {
  sev_guest: new Set<AttributeName>(['generation', 'provider', 'privlevel', 'privlevel_floor', 'inblob', 'outblob', 'auxblob']),
  tdx_guest: new Set<AttributeName>(['generation', 'provider', 'inblob', 'outblob']),
};
const ALL_ATTRIBUTES = new Set<AttributeName>(['generation', 'provider', 'privlevel', 'privlevel_floor', 'inblob', 'outblob', 'auxblob']);

/** Providers whose report_new() requires exactly 64 bytes of inblob. */
const INBLOB_EXACT = new Set(['sev_guest', 'tdx_guest']);

interface Entry {
  readonly attributes: ReadonlySet<AttributeName>;
  inblob: Uint8Array;
  privlevel: number;
  writeGeneration: number;
  readGeneration: number;
  outblob: Uint8Array | undefined;
  auxblob: Uint8Array;
}

/** A NodeJS.ErrnoException as node:fs would raise it. */
export function errnoError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: emulated configfs-tsm, ${syscall} '${path}'`);
  error.code = code;
  const errno = (osConstants.errno as Readonly<Record<string, number>>)[code];
  if (errno !== undefined) error.errno = -errno;
  error.syscall = syscall;
  error.path = path;
  return error;
}

const encoder = new TextEncoder();

/** Absolute, no "." or "..", no trailing slash. */
const normalize = (path: string): string => posix.normalize(posix.resolve('/', path));

export class EmulatedTsm implements TsmFs {
  readonly root: string;
  /** Every call, in order, as "<op> <path>": lets tests assert what touched the tree. */
  readonly operations: string[] = [];
  /**
   * Runs before every read of outblob or auxblob, after the caller's writes: the place where
   * "another process" can write into the caller's entry (see simulateRacingWriter).
   */
  beforeBlobRead: ((path: string) => void | Promise<void>) | undefined;
  readonly #generate: QuoteGenerator;
  readonly #provider: string | null;
  readonly #floor: number;
  readonly #entries = new Map<string, Entry>();
  readonly #directories = new Set<string>();
  readonly #devices = new Set<string>();
  readonly #denied: ReadonlySet<string>;

  constructor(options: EmulatedTsmOptions) {
    this.root = normalize(options.root ?? DEFAULT_TSM_REPORT_ROOT);
    this.#generate = options.generate;
    this.#provider = options.provider === undefined ? 'sev_guest' : options.provider;
    this.#floor = options.privlevelFloor ?? 0;
    this.#denied = new Set((options.denied ?? []).map(normalize));
    if (options.mounted ?? true) this.#addWithAncestors(this.root, this.#directories);
    for (const device of options.devices ?? []) {
      const path = normalize(device);
      this.#devices.add(path);
      this.#addWithAncestors(posix.dirname(path), this.#directories);
    }
  }

  /** Names of the entries that exist now. */
  get entries(): string[] {
    return [...this.#entries.keys()].map((p) => posix.basename(p));
  }

  /** Current generation of an entry (by name), as the generation attribute would show it. */
  generationOf(name: string): number | undefined {
    return this.#entries.get(posix.join(this.root, name))?.writeGeneration;
  }

  /**
   * For the next `times` reads of outblob, another process first writes `inblob` into the same
   * entry (between the caller's write and its read), as the generation counter exists to detect.
   */
  simulateRacingWriter(times = 1, inblob: Uint8Array = new Uint8Array(TSM_INBLOB_MAX).fill(0xee)): void {
    let left = times;
    this.beforeBlobRead = async (path) => {
      if (left <= 0 || posix.basename(path) !== 'outblob') return;
      left--;
      await this.writeFile(posix.join(posix.dirname(path), 'inblob'), inblob);
    };
  }

  mkdir(path: string): Promise<void> {
    const p = this.#log('mkdir', path);
    return Promise.resolve().then(() => {
      const parent = posix.dirname(p);
      if (this.#directories.has(p) || this.#entries.has(p) || this.#devices.has(p)) throw errnoError('EEXIST', 'mkdir', p);
      if (this.#entries.has(parent)) throw errnoError('EPERM', 'mkdir', p); // an entry is an item, not a group
      if (!this.#directories.has(parent)) throw errnoError(this.#attributeAt(parent) === undefined ? 'ENOENT' : 'ENOTDIR', 'mkdir', p);
      if (this.#denied.has(parent)) throw errnoError('EACCES', 'mkdir', p);
      if (parent !== this.root) throw errnoError('EPERM', 'mkdir', p); // only the report group makes items
      if (this.#provider === null) throw errnoError('ENXIO', 'mkdir', p); // tsm_report_make_item
      this.#entries.set(p, {
        attributes: VISIBLE[this.#provider] ?? ALL_ATTRIBUTES,
        inblob: new Uint8Array(0),
        privlevel: 0,
        writeGeneration: 0,
        readGeneration: 0,
        outblob: undefined,
        auxblob: new Uint8Array(0),
      });
    });
  }

  rmdir(path: string): Promise<void> {
    const p = this.#log('rmdir', path);
    return Promise.resolve().then(() => {
      if (this.#entries.has(p)) {
        if (this.#denied.has(posix.dirname(p))) throw errnoError('EACCES', 'rmdir', p);
        this.#entries.delete(p);
        return;
      }
      if (this.#directories.has(p)) throw errnoError('EPERM', 'rmdir', p); // default groups stay
      throw errnoError(this.#attributeAt(p) === undefined && !this.#devices.has(p) ? 'ENOENT' : 'ENOTDIR', 'rmdir', p);
    });
  }

  async readFile(path: string): Promise<Uint8Array> {
    const p = this.#log('read', path);
    await Promise.resolve();
    const { entry, name } = this.#resolveFile(p, 'open');
    if (this.#denied.has(p) || WRITE_ONLY.has(name)) throw errnoError('EACCES', 'open', p);
    switch (name) {
      case 'generation':
        return encoder.encode(`${entry.writeGeneration}\n`);
      case 'provider':
        return encoder.encode(`${this.#provider ?? ''}\n`);
      case 'privlevel_floor':
        return encoder.encode(`${this.#floor}\n`);
      default:
        if (this.beforeBlobRead !== undefined) await this.beforeBlobRead(p);
        return this.#readBlob(p, entry, name === 'auxblob' ? 'auxblob' : 'outblob');
    }
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const p = this.#log('write', path);
    await Promise.resolve();
    const { entry, name } = this.#resolveFile(p, 'open');
    if (this.#denied.has(p) || !WRITE_ONLY.has(name)) throw errnoError('EACCES', 'open', p);
    // No write() call happens for empty data, so configfs hands nothing to the driver.
    if (data.length === 0) return;
    if (name === 'inblob') {
      if (data.length > TSM_INBLOB_MAX) throw errnoError('EFBIG', 'write', p); // configfs_bin_write_iter
      entry.inblob = Uint8Array.from(data);
    } else {
      // kstrtouint(buf, 0, ...) accepts one trailing newline; decimal is all a client sends.
      const text = new TextDecoder().decode(data);
      const match = /^(\d+)\n?$/.exec(text);
      const value = match === null ? Number.NaN : Number(match[1]);
      if (!Number.isSafeInteger(value) || value < this.#floor || value > TSM_PRIVLEVEL_MAX) throw errnoError('EINVAL', 'write', p);
      entry.privlevel = value;
    }
    entry.writeGeneration++;
  }

  access(path: string, mode: TsmAccessMode): Promise<void> {
    const p = this.#log('access', path);
    return Promise.resolve().then(() => {
      const isDirectory = this.#directories.has(p) || this.#entries.has(p);
      const attribute = this.#attributeAt(p);
      if (!isDirectory && attribute === undefined && !this.#devices.has(p)) throw errnoError('ENOENT', 'access', p);
      if (mode === 'exists') return;
      if (this.#denied.has(p)) throw errnoError('EACCES', 'access', p);
      if (attribute !== undefined && mode === 'read-write') throw errnoError('EACCES', 'access', p); // attributes are 0444 or 0200
      if (attribute !== undefined && WRITE_ONLY.has(attribute)) throw errnoError('EACCES', 'access', p);
    });
  }

  async #readBlob(path: string, entry: Entry, select: 'outblob' | 'auxblob'): Promise<Uint8Array> {
    if (entry.inblob.length === 0) throw errnoError('EINVAL', 'read', path);
    if (entry.outblob === undefined || entry.readGeneration !== entry.writeGeneration) {
      // The kernel generates under its write lock; here a write during generation leaves the
      // result stale, so the next read generates again, which is what the lock amounts to.
      const generation = entry.writeGeneration;
      const inblob = entry.inblob;
      if (this.#provider === null) throw errnoError('ENOTTY', 'read', path);
      if (INBLOB_EXACT.has(this.#provider) && inblob.length !== TSM_INBLOB_MAX) throw errnoError('EINVAL', 'read', path);
      const quote = await this.#generate(Uint8Array.from(inblob), entry.privlevel);
      entry.outblob = Uint8Array.from(quote.outblob);
      entry.auxblob = Uint8Array.from(quote.auxblob ?? []);
      entry.readGeneration = generation;
    }
    const out = select === 'outblob' ? entry.outblob : entry.auxblob;
    if (out.length > TSM_OUTBLOB_MAX) throw errnoError('EFBIG', 'read', path); // configfs_bin_read_iter
    return Uint8Array.from(out);
  }

  #resolveFile(path: string, syscall: string): { entry: Entry; name: AttributeName } {
    if (this.#directories.has(path) || this.#entries.has(path)) throw errnoError('EISDIR', syscall, path);
    if (this.#devices.has(path)) throw errnoError('ENODEV', syscall, path); // not a device this fs emulates
    const name = this.#attributeAt(path);
    const entry = this.#entries.get(posix.dirname(path));
    if (name === undefined || entry === undefined) throw errnoError('ENOENT', syscall, path);
    return { entry, name };
  }

  /** The attribute a path names, when its entry exists and shows that attribute. */
  #attributeAt(path: string): AttributeName | undefined {
    const entry = this.#entries.get(posix.dirname(path));
    const name = posix.basename(path);
    return entry !== undefined && (entry.attributes as ReadonlySet<string>).has(name) ? (name as AttributeName) : undefined;
  }

  #addWithAncestors(path: string, into: Set<string>): void {
    for (let p = path; ; p = posix.dirname(p)) {
      into.add(p);
      if (p === posix.dirname(p)) break;
    }
  }

  #log(op: string, path: string): string {
    const p = normalize(path);
    this.operations.push(`${op} ${p}`);
    return p;
  }
}
