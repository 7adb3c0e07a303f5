// configfs-tsm (Linux 6.7+, Documentation/ABI/testing/configfs-tsm-report): the kernel's common
// interface for SEV-SNP reports and TDX quotes, and the preferred source of evidence for both.
//
// One request, in a report entry of its own (the ABI's advice: "prevent conflicts by creating a
// report instance per requesting context"):
//
//   mkdir   <root>/<unique name>
//   read    provider            "sev_guest" -> SEV-SNP, "tdx_guest" -> TDX; must not have changed
//   read    generation   -> G0
//   write   privlevel           only when requested (and the provider shows it): G0 + 1
//   write   inblob              the 64 bytes of report data: + 1
//   read    outblob             the kernel generates the report here, from the inblob it holds now
//   read    auxblob             SEV-SNP certificate table, when shown; may be empty
//   read    generation   -> G1  must equal G0 + our writes, otherwise another writer changed the
//                               inputs between our writes and our reads (or a write never reached
//                               the driver: configfs ignores errors when it commits inblob on
//                               close), and outblob may bind someone else's report data: retry
//                               in a fresh entry, up to `raceRetries` times
//   rmdir   <root>/<unique name>  always, also on failure
//
// G0 is read before writing, as the ABI prescribes ("checking generation before writing to any
// attribute and making sure the number of writes matches expectations after reading @outblob");
// reading it after the writes would miss a writer that came in between. go-configfs-tsm
// (report/report.go) does the same.
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import { CloisterError } from '../../attestation/errors.js';
import { assertReportData, TeeDeviceError, type EvidenceProvider, type EvidenceRequest, type RawEvidence, type TeePlatform } from './provider.js';
import { DEFAULT_TSM_REPORT_ROOT, errnoOf, nodeTsmFs, pathExists, type TsmFs } from './tsmFs.js';

/** configfs-tsm `provider` names (the drivers' KBUILD_MODNAME) and the evidence they produce. */
export const TSM_PROVIDERS = {
  sev_guest: 'sev-snp',
  tdx_guest: 'tdx',
} as const satisfies Readonly<Record<string, TeePlatform>>;
export type TsmProviderName = keyof typeof TSM_PROVIDERS;

/** SEV-SNP VMPL / configfs-tsm TSM_PRIVLEVEL_MAX. */
const PRIVLEVEL_MAX = 3;
const DEFAULT_RACE_RETRIES = 3;

export interface ConfigfsTsmOptions {
  /** The report group. Default /sys/kernel/config/tsm/report. */
  readonly root?: string;
  /** Default node:fs/promises; tests pass an EmulatedTsm. */
  readonly fs?: TsmFs;
  /** Marks the evidence as simulated (an emulated tree backed by the simulated TEE). Default false. */
  readonly simulated?: boolean;
  /** How many times a request is repeated in a fresh entry after a generation mismatch. Default 3. */
  readonly raceRetries?: number;
  /** Names report entries; must be unique per request. Default "cloister-<random UUID>". */
  readonly entryName?: () => string;
}

const defaultEntryName = (): string => `cloister-${randomUUID()}`;

const isTsmProvider = (name: string): name is TsmProviderName => Object.hasOwn(TSM_PROVIDERS, name);

export class ConfigfsTsmProvider implements EvidenceProvider {
  readonly name = 'configfs-tsm';
  readonly platform: TeePlatform;
  readonly simulated: boolean;
  readonly root: string;
  /** The kernel's provider name, as the `provider` attribute shows it. */
  readonly provider: TsmProviderName;
  readonly #fs: TsmFs;
  readonly #raceRetries: number;
  readonly #entryName: () => string;

  private constructor(provider: TsmProviderName, root: string, fs: TsmFs, options: ConfigfsTsmOptions) {
    this.provider = provider;
    this.platform = TSM_PROVIDERS[provider];
    this.root = root;
    this.simulated = options.simulated ?? false;
    this.#fs = fs;
    this.#raceRetries = options.raceRetries ?? DEFAULT_RACE_RETRIES;
    this.#entryName = options.entryName ?? defaultEntryName;
  }

  /**
   * Probes the tree: creates an entry, reads its provider, removes it. Throws TeeDeviceError (with
   * the errno) when the root is missing, access is denied, no provider is registered, or the
   * provider is not one Cloister reads.
   */
  static async open(options: ConfigfsTsmOptions = {}): Promise<ConfigfsTsmProvider> {
    const raceRetries = options.raceRetries ?? DEFAULT_RACE_RETRIES;
    if (!Number.isSafeInteger(raceRetries) || raceRetries < 0) throw new CloisterError('MALFORMED_FIELD', `raceRetries must be a non-negative integer, got ${raceRetries}`, { field: 'raceRetries' });
    const root = options.root ?? DEFAULT_TSM_REPORT_ROOT;
    const fs = options.fs ?? nodeTsmFs;
    const provider = await withEntry(fs, root, (options.entryName ?? defaultEntryName)(), (entry) => readProvider(fs, entry));
    if (!isTsmProvider(provider)) {
      throw new TeeDeviceError(`configfs-tsm provider "${provider}" at ${root} is not supported (supported: ${Object.keys(TSM_PROVIDERS).join(', ')})`, { field: 'provider' });
    }
    return new ConfigfsTsmProvider(provider, root, fs, options);
  }

  async getEvidence(request: EvidenceRequest): Promise<RawEvidence> {
    assertReportData(request.reportData);
    const level = request.privilegeLevel;
    if (level !== undefined && (!Number.isInteger(level) || level < 0 || level > PRIVLEVEL_MAX)) {
      throw new CloisterError('MALFORMED_FIELD', `privilege level must be an integer 0..${PRIVLEVEL_MAX}, got ${level}`, {
        field: 'privilegeLevel',
        expected: `0..${PRIVLEVEL_MAX}`,
        actual: String(level),
      });
    }
    let race: GenerationRace | undefined;
    for (let i = 0; i <= this.#raceRetries; i++) {
      const result = await withEntry(this.#fs, this.root, this.#entryName(), (entry) => this.#exchange(entry, request.reportData, level));
      if (!(result instanceof GenerationRace)) {
        return {
          platform: this.platform,
          evidence: result.outblob,
          ...(result.auxblob === undefined || result.auxblob.length === 0 ? {} : { certTable: result.auxblob }),
          source: `configfs-tsm/${this.provider}`,
          simulated: this.simulated,
        };
      }
      race = result;
    }
    const last = race as GenerationRace;
    const attempts = this.#raceRetries + 1;
    throw new TeeDeviceError(
      `configfs-tsm generation of ${last.entry} went from ${last.before} to ${last.after} while this request wrote ${last.writes} time(s): another writer changed the entry's inputs between our writes and our reads (${attempts} attempt${attempts === 1 ? '' : 's'}, each in a fresh entry)`,
      { field: 'generation' },
    );
  }

  async #exchange(entry: string, reportData: Uint8Array, level: number | undefined): Promise<{ outblob: Uint8Array; auxblob: Uint8Array | undefined } | GenerationRace> {
    const fs = this.#fs;
    const provider = await readProvider(fs, entry);
    if (provider !== this.provider) throw new TeeDeviceError(`configfs-tsm provider changed from "${this.provider}" to "${provider}" since ${this.root} was opened`, { field: 'provider' });
    const before = await readGeneration(fs, entry);
    let writes = 0n;
    if (level !== undefined) {
      const privlevel = posix.join(entry, 'privlevel');
      if (await attempt('access', privlevel, () => pathExists(fs, privlevel))) {
        await this.#writePrivlevel(entry, level);
        writes++;
      } else if (level !== 0) {
        // tdx_guest has no privilege levels; level 0 is the only one it can honour, implicitly.
        throw new TeeDeviceError(`configfs-tsm provider "${this.provider}" has no privlevel attribute, so privilege level ${level} cannot be requested`, { field: 'privlevel' });
      }
    }
    const inblob = posix.join(entry, 'inblob');
    await attempt('write', inblob, () => fs.writeFile(inblob, reportData));
    writes++;
    const outblobPath = posix.join(entry, 'outblob');
    const outblob = await attempt('read', outblobPath, () => fs.readFile(outblobPath));
    const auxblobPath = posix.join(entry, 'auxblob');
    let auxblob: Uint8Array | undefined;
    // Only sev_guest shows auxblob; RawEvidence.certTable is the SEV-SNP certificate table.
    if (this.platform === 'sev-snp' && (await attempt('access', auxblobPath, () => pathExists(fs, auxblobPath)))) {
      auxblob = await attempt('read', auxblobPath, () => fs.readFile(auxblobPath));
    }
    const after = await readGeneration(fs, entry);
    if (after !== before + writes) return new GenerationRace(entry, before, after, writes);
    return { outblob, auxblob };
  }

  async #writePrivlevel(entry: string, level: number): Promise<void> {
    const path = posix.join(entry, 'privlevel');
    try {
      await this.#fs.writeFile(path, new TextEncoder().encode(String(level)));
    } catch (e) {
      if (errnoOf(e) !== 'EINVAL') throw tsmError('write', path, e);
      let floor = 'unknown';
      try {
        floor = new TextDecoder().decode(await this.#fs.readFile(posix.join(entry, 'privlevel_floor'))).trim();
      } catch {
        // the floor only improves the message
      }
      throw new TeeDeviceError(`configfs-tsm write ${path}: privilege level ${level} is outside privlevel_floor..${PRIVLEVEL_MAX} (privlevel_floor is ${floor}) (EINVAL)`, {
        errno: 'EINVAL',
        field: 'privlevel',
        cause: e,
      });
    }
  }
}

class GenerationRace {
  constructor(
    readonly entry: string,
    readonly before: bigint,
    readonly after: bigint,
    readonly writes: bigint,
  ) {}
}

/** Creates `<root>/<name>`, runs `body` on it, and removes it whatever happened. */
async function withEntry<T>(fs: TsmFs, root: string, name: string, body: (entry: string) => Promise<T>): Promise<T> {
  if (name.length === 0 || name.includes('/') || name === '.' || name === '..') throw new CloisterError('MALFORMED_FIELD', `report entry name must be a single path component, got "${name}"`, { field: 'entryName' });
  const entry = posix.join(root, name);
  await attempt('mkdir', entry, () => fs.mkdir(entry), root);
  let result: T;
  try {
    result = await body(entry);
  } catch (e) {
    try {
      await fs.rmdir(entry);
    } catch (cleanup) {
      if (e instanceof TeeDeviceError) {
        throw new TeeDeviceError(`${e.message}; removing ${entry} also failed (${errnoOf(cleanup) ?? String(cleanup)})`, {
          ...(e.errno === undefined ? {} : { errno: e.errno }),
          ...(e.field === undefined ? {} : { field: e.field }),
          cause: e,
        });
      }
    }
    throw e;
  }
  await attempt('rmdir', entry, () => fs.rmdir(entry));
  return result;
}

async function readProvider(fs: TsmFs, entry: string): Promise<string> {
  const path = posix.join(entry, 'provider');
  return new TextDecoder().decode(await attempt('read', path, () => fs.readFile(path))).replace(/\n$/, '');
}

async function readGeneration(fs: TsmFs, entry: string): Promise<bigint> {
  const path = posix.join(entry, 'generation');
  const text = new TextDecoder().decode(await attempt('read', path, () => fs.readFile(path)));
  // sysfs_emit("%lu\n")
  if (!/^\d+\n?$/.test(text)) throw new TeeDeviceError(`configfs-tsm read ${path}: expected a decimal counter, got ${JSON.stringify(text)}`, { field: 'generation' });
  return BigInt(text.trim());
}

/** Runs one filesystem step; its errno becomes a TeeDeviceError naming the step. */
async function attempt<T>(action: string, path: string, step: () => Promise<T>, root?: string): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof CloisterError) throw e;
    throw tsmError(action, path, e, root);
  }
}

const PROVIDER_MISSING = new Set(['ENXIO', 'ENOTTY', 'EOPNOTSUPP', 'ENODEV']);

/** A filesystem error from a configfs-tsm step as a TeeDeviceError carrying the errno name. */
export function tsmError(action: string, path: string, error: unknown, root?: string): TeeDeviceError {
  const errno = errnoOf(error);
  const field = posix.basename(path);
  if (errno === undefined) return new TeeDeviceError(`configfs-tsm ${action} ${path} failed: ${String(error)}`, { field, cause: error });
  let why: string;
  if (errno === 'ENOENT' && root !== undefined) why = `root ${root} does not exist (configfs-tsm needs Linux 6.7+ with CONFIG_TSM_REPORTS and configfs mounted on /sys/kernel/config)`;
  else if (errno === 'ENOENT') why = 'no such file or directory';
  else if (errno === 'EACCES' || errno === 'EPERM') why = 'permission denied';
  else if (PROVIDER_MISSING.has(errno)) why = 'no attestation provider is registered with configfs-tsm (is the sev-guest or tdx-guest driver loaded?)';
  else if (errno === 'EBUSY') why = 'busy';
  else if (errno === 'EIO') why = 'the firmware or the host failed to produce the report';
  else if (errno === 'EINVAL') why = 'the provider rejected the request';
  else if (errno === 'EFBIG') why = 'the report is larger than configfs-tsm allows';
  else why = 'failed';
  return new TeeDeviceError(`configfs-tsm ${action} ${path}: ${why} (${errno})`, { errno, field, cause: error });
}
