// The gateway's OHTTP keys (docs/ohttp.md "Keys"): X25519 key pairs generated in memory at boot, one
// RFC 9458 key configuration each (HKDF-SHA256 with AES-128-GCM and ChaCha20-Poly1305), rotated on a
// schedule. A rotated-out key keeps decapsulating for an overlap window, so that clients holding the
// previous configuration are not refused, and is then retired: removed, and its key object released.
// Private keys are generated inside OpenSSL and never exist as JavaScript bytes; OpenSSL clears a key's
// memory when its key object is freed (ecx_key_free), which releasing the last reference allows.
import { randomBytes } from 'node:crypto';
import type { GatewayKey } from '../../attestation/protocols/ohttp/encapsulation.js';
import { cipherSuite, type HpkePrimitives } from '../../attestation/protocols/ohttp/hpke.js';
import { AEAD_AES_128_GCM, AEAD_CHACHA20_POLY1305, encodeKeyConfig, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256, type KeyConfig, type SymmetricSuite } from '../../attestation/protocols/ohttp/keyConfig.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { unrefTimer, type TimerHandle } from '../base/timer.js';
import { ALL_KEY_IDS, type KeyIdRange } from './rotationSchedule.js';
import { bytesEqual } from '../../attestation/bytes.js';
import { CloisterError, VerificationError } from '../../attestation/errors.js';

export const DEFAULT_SUITES: readonly SymmetricSuite[] = [
  { kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM },
  { kdfId: KDF_HKDF_SHA256, aeadId: AEAD_CHACHA20_POLY1305 },
];
export const DEFAULT_ROTATE_SECONDS = 24 * 3600;
export const DEFAULT_OVERLAP_SECONDS = 3600;

export interface OhttpKeyStoreOptions {
  readonly primitives?: HpkePrimitives;
  readonly suites?: readonly SymmetricSuite[];
  /** A new key every this many seconds (default 86 400); 0 never rotates on its own. */
  readonly rotateSeconds?: number;
  /** How long a rotated-out key still decapsulates (default 3600 s). */
  readonly overlapSeconds?: number;
  /** The key IDs to draw from (default all 256): a fleet node's own range, so that IDs are unique across the fleet. */
  readonly keyIds?: KeyIdRange;
  readonly now?: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => TimerHandle;
  /** Called after the set of keys changed (rotation, retirement): re-issue what binds the configs. */
  readonly onChange?: (store: OhttpKeyStore) => void | Promise<void>;
  readonly onError?: (error: unknown) => void;
}

interface Entry {
  readonly key: GatewayKey;
  readonly encoded: Uint8Array;
  readonly createdAt: number;
  retireAt: number | undefined;
  timer: TimerHandle | undefined;
}

export class OhttpKeyStore {
  readonly #primitives: HpkePrimitives;
  readonly #suites: readonly SymmetricSuite[];
  readonly #rotateMs: number;
  readonly #overlapMs: number;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => TimerHandle;
  readonly #options: OhttpKeyStoreOptions;
  /** Newest first. */
  #entries: Entry[] = [];
  #rotation: TimerHandle | undefined;
  readonly #keyIds: KeyIdRange;
  #nextId: number;
  #closed = false;

  private constructor(options: OhttpKeyStoreOptions) {
    this.#options = options;
    this.#primitives = options.primitives ?? nodeHpke;
    this.#suites = options.suites ?? DEFAULT_SUITES;
    const rotate = options.rotateSeconds ?? DEFAULT_ROTATE_SECONDS;
    const overlap = options.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS;
    if (!(rotate >= 0) || !(overlap >= 0)) throw new RangeError('rotateSeconds and overlapSeconds must be >= 0');
    this.#rotateMs = rotate * 1000;
    this.#overlapMs = overlap * 1000;
    this.#now = options.now ?? Date.now;
    this.#setTimer = options.setTimer ?? unrefTimer;
    this.#keyIds = options.keyIds ?? ALL_KEY_IDS;
    const { first, last } = this.#keyIds;
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last > 255 || first > last) throw new RangeError(`keyIds must be a range within 0-255, got ${first}-${last}`);
    this.#nextId = first + ((randomBytes(1)[0] as number) % (last - first + 1));
  }

  static async create(options: OhttpKeyStoreOptions = {}): Promise<OhttpKeyStore> {
    const store = new OhttpKeyStore(options);
    store.#entries = [await store.#generate()];
    store.#scheduleRotation();
    return store;
  }

  async #generate(): Promise<Entry> {
    const suite = cipherSuite(this.#primitives, KEM_X25519_HKDF_SHA256, this.#suites[0]?.kdfId ?? KDF_HKDF_SHA256, this.#suites[0]?.aeadId ?? AEAD_AES_128_GCM);
    if (suite === undefined) throw new VerificationError('OHTTP_UNSUPPORTED_SUITE', `${this.#primitives.name} does not support the configured suites (first: KDF ${this.#suites[0]?.kdfId ?? KDF_HKDF_SHA256}, AEAD ${this.#suites[0]?.aeadId ?? AEAD_AES_128_GCM})`, { field: 'suites' });
    const pair = await suite.kem.generateKeyPair();
    const publicKey = new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey));
    const privateKey = pair.privateKey;
    const keyId = this.#freeId();
    const config: KeyConfig = { keyId, kemId: KEM_X25519_HKDF_SHA256, publicKey, suites: this.#suites };
    return { key: { config, privateKey }, encoded: encodeKeyConfig(config), createdAt: this.#now(), retireAt: undefined, timer: undefined };
  }

  #freeId(): number {
    const { first, last } = this.#keyIds;
    const size = last - first + 1;
    for (let i = 0; i < size; i++) {
      const id = first + ((this.#nextId - first + i) % size);
      if (!this.#entries.some((e) => e.key.config.keyId === id)) {
        this.#nextId = first + ((id - first + 1) % size);
        return id;
      }
    }
    throw new CloisterError('OHTTP_KEY_IDS_EXHAUSTED', `all ${size} key IDs of ${first}-${last} are in use by the ${this.#entries.length} live keys`);
  }

  /** The live keys, newest first: the current one, then those in their overlap window. */
  get keys(): readonly GatewayKey[] {
    return this.#entries.map((e) => e.key);
  }

  /** Encoded key configurations of the live keys, newest first (what a server serves and attests). */
  get configs(): readonly Uint8Array[] {
    return this.#entries.map((e) => e.encoded);
  }

  /** The key with this ID, if live. */
  lookup(keyId: number): GatewayKey | undefined {
    return this.#entries.find((e) => e.key.config.keyId === keyId)?.key;
  }

  /** Adds a new current key; the previous ones decapsulate until their overlap ends. */
  async rotate(): Promise<void> {
    if (this.#closed) return;
    const entry = await this.#generate();
    const retireAt = this.#now() + this.#overlapMs;
    for (const e of this.#entries) {
      if (e.retireAt === undefined) {
        e.retireAt = retireAt;
        e.timer = this.#setTimer(() => {
          void this.#retireAndNotify(e);
        }, this.#overlapMs);
      }
    }
    this.#entries = [entry, ...this.#entries];
    this.#scheduleRotation();
    await this.#notify();
  }

  /** Retires a key now (e.g. suspected compromise); the current key cannot be retired, rotate first. */
  async retire(keyId: number): Promise<boolean> {
    const e = this.#entries.find((x) => x.key.config.keyId === keyId);
    if (e === undefined || e === this.#entries[0]) return false;
    await this.#retireAndNotify(e);
    return true;
  }

  async #retireAndNotify(e: Entry): Promise<void> {
    if (!this.#entries.includes(e)) return;
    e.timer?.clear();
    this.#entries = this.#entries.filter((x) => x !== e);
    await this.#notify();
  }

  async #notify(): Promise<void> {
    try {
      await this.#options.onChange?.(this);
    } catch (e) {
      this.#options.onError?.(e);
    }
  }

  #scheduleRotation(): void {
    this.#rotation?.clear();
    if (this.#closed || this.#rotateMs === 0) return;
    this.#rotation = this.#setTimer(() => {
      this.rotate().catch((e: unknown) => this.#options.onError?.(e));
    }, this.#rotateMs);
  }

  /** The time the next rotation is due (ms since the epoch), or undefined when it never rotates. */
  get rotationDue(): number | undefined {
    const current = this.#entries[0];
    return this.#rotateMs === 0 || current === undefined ? undefined : current.createdAt + this.#rotateMs;
  }

  /**
   * When the live key with this ID stops decapsulating if the schedule holds (ms since the epoch): its
   * retirement once rotated out, the next rotation plus the overlap for the current key, Infinity for a
   * current key that is never rotated; undefined when no live key has this ID.
   */
  decryptsUntil(keyId: number): number | undefined {
    const e = this.#entries.find((x) => x.key.config.keyId === keyId);
    if (e === undefined) return undefined;
    if (e.retireAt !== undefined) return e.retireAt;
    const due = this.rotationDue;
    return due === undefined ? Infinity : due + this.#overlapMs;
  }

  /**
   * Whole seconds a cache may keep a copy of these encoded configurations (default: the live ones), or
   * of what carries or binds them: never past the moment one of them stops decapsulating (0 once one is
   * retired), and with rotation on never longer than the overlap, so that a copy taken just before a
   * rotation, even one made early by hand, decrypts for its whole cached life. Undefined when the
   * schedule sets no bound (no rotation, nothing rotated out).
   */
  cacheSeconds(configs: readonly Uint8Array[] = this.configs): number | undefined {
    let until = this.#rotateMs === 0 ? Infinity : this.#now() + this.#overlapMs;
    for (const config of configs) {
      const entry = this.#entries.find((e) => bytesEqual(e.encoded, config));
      until = Math.min(until, entry === undefined ? 0 : (this.decryptsUntil(entry.key.config.keyId) ?? 0));
    }
    return until === Infinity ? undefined : Math.max(0, Math.floor((until - this.#now()) / 1000));
  }

  close(): void {
    this.#closed = true;
    this.#rotation?.clear();
    for (const e of this.#entries) e.timer?.clear();
  }
}
