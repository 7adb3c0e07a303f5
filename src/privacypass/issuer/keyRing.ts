// The issuer's keys over time. Without rotation the keys given are all served, always. With rotation
// (--rotate R, --overlap O, keys kept in a KeyDirectory), each key has a not-before time T and:
//
//   T - O        the key is generated and listed in the directory, with "not-before": T in the future,
//                so that clients and origins holding a directory at most O seconds old know it before use
//   T .. T + R   it is the newest key in force: requests name it
//   T + R + O    its successor took over at T + R; after O more seconds it leaves the directory and the
//                issuer no longer signs with it
//
// Every view (listed, in force) is computed from the time asked about, so a late refresh() never serves a
// retired key; refresh() only generates and deletes. Times are unix seconds; `now` is injected for tests.
import { createPrivateKey } from 'node:crypto';
import { RuntimeError } from '../../base/runtimeErrors.js';
import type { KeyDirectory, StoredKey } from './keyFiles.js';
import type { IssuerTokenType, TypedIssuerKey } from './tokenTypes.js';

/** How long a directory may be cached when keys do not rotate. */
export const STATIC_DIRECTORY_MAX_AGE = 3600;
/** The longest a rotating directory may be cached, however far its next change: a restart may change the schedule. */
export const MAX_DIRECTORY_MAX_AGE = 86400;

export interface HeldKey {
  readonly key: TypedIssuerKey;
  /** Unix seconds; the key is used from then on. */
  readonly notBefore: number;
  /** Unix seconds after which it is neither listed nor used; undefined: not scheduled to retire. */
  readonly retireAt: number | undefined;
  readonly stored?: StoredKey;
}

export interface RotationOptions {
  readonly directory: KeyDirectory;
  readonly type: IssuerTokenType;
  readonly rotateSeconds: number;
  readonly overlapSeconds: number;
}

/** Events a key ring reports, for the log: no key material, only public key IDs and times. */
export type KeyEvent = { readonly event: 'key-generated' | 'key-retired' | 'key-loaded'; readonly tokenKeyId: string; readonly notBefore: number };

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export class KeyRing {
  readonly #rotation: RotationOptions | undefined;
  readonly #now: () => number;
  readonly #onEvent: (e: KeyEvent) => void;
  #keys: { key: TypedIssuerKey; notBefore: number; stored?: StoredKey }[] = [];
  #refreshing: Promise<void> | undefined;

  private constructor(rotation: RotationOptions | undefined, now: () => number, onEvent: (e: KeyEvent) => void) {
    this.#rotation = rotation;
    this.#now = now;
    this.#onEvent = onEvent;
  }

  /** Fixed keys, served for as long as the issuer runs. */
  static fixed(keys: readonly { key: TypedIssuerKey; notBefore: number }[], options: { now?: () => number } = {}): KeyRing {
    if (keys.length === 0) throw new RuntimeError('ISSUER_KEY_INVALID', 'the issuer has no key');
    const ring = new KeyRing(undefined, options.now ?? unixNow, () => {});
    ring.#keys = [...keys].sort((a, b) => a.notBefore - b.notBefore);
    return ring;
  }

  /** Keys kept in `rotation.directory` and rotated on its schedule; loads what it holds, then refreshes. */
  static async rotating(rotation: RotationOptions, options: { now?: () => number; onEvent?: (e: KeyEvent) => void } = {}): Promise<KeyRing> {
    if (!(rotation.rotateSeconds > rotation.overlapSeconds && rotation.overlapSeconds >= 0)) {
      throw new RuntimeError('USAGE', `the overlap (${rotation.overlapSeconds} s) must be shorter than the rotation period (${rotation.rotateSeconds} s)`);
    }
    const ring = new KeyRing(rotation, options.now ?? unixNow, options.onEvent ?? (() => {}));
    for (const stored of await rotation.directory.list()) {
      if (stored.tokenType !== rotation.type.tokenType) continue;
      const key = await rotation.type.load(await rotation.directory.read(stored), `key file "${stored.path}"`);
      ring.#keys.push({ key, notBefore: stored.notBefore, stored });
      ring.#onEvent({ event: 'key-loaded', tokenKeyId: hex(key.tokenKeyId), notBefore: stored.notBefore });
    }
    await ring.refresh();
    return ring;
  }

  /** --key-dir without rotation: the keys the directory holds, or one generated there (in force at once) when it holds none. */
  static async fromDirectory(directory: KeyDirectory, type: IssuerTokenType, options: { now?: () => number; onEvent?: (e: KeyEvent) => void } = {}): Promise<KeyRing> {
    const now = options.now ?? unixNow;
    const onEvent = options.onEvent ?? (() => {});
    let stored = (await directory.list()).filter((k) => k.tokenType === type.tokenType);
    if (stored.length === 0) {
      stored = [await directory.save(type.tokenType, now(), type.generate())];
    }
    const keys = [];
    for (const s of stored) {
      const key = await type.load(await directory.read(s), `key file "${s.path}"`);
      onEvent({ event: 'key-loaded', tokenKeyId: hex(key.tokenKeyId), notBefore: s.notBefore });
      keys.push({ key, notBefore: s.notBefore, stored: s });
    }
    return KeyRing.fixed(keys, { now });
  }

  /** Every key with its retirement time, oldest first (retired ones included until refresh() drops them). */
  #schedule(): HeldKey[] {
    const overlap = this.#rotation?.overlapSeconds;
    return this.#keys.map((k, i) => {
      const next = this.#keys[i + 1];
      return { ...k, retireAt: overlap === undefined || next === undefined ? undefined : next.notBefore + overlap };
    });
  }

  /** The keys the directory lists at `now`: every key not yet retired, future ones included. */
  listed(now = this.#now()): HeldKey[] {
    return this.#schedule().filter((k) => k.retireAt === undefined || now < k.retireAt);
  }

  /** The keys the issuer signs with at `now`: listed, and past their not-before. */
  inForce(now = this.#now()): HeldKey[] {
    return this.listed(now).filter((k) => k.notBefore <= now);
  }

  /** Seconds until the directory's content changes (a key is announced or retired); a bound for its max-age. */
  secondsUntilChange(now = this.#now()): number {
    const rotation = this.#rotation;
    const newest = this.#keys.at(-1);
    if (rotation === undefined || newest === undefined) return STATIC_DIRECTORY_MAX_AGE;
    const announce = newest.notBefore + rotation.rotateSeconds - rotation.overlapSeconds;
    // Due but not generated yet (the refresh runs shortly): not cacheable until it has.
    if (announce <= now) return 0;
    const retirements = this.#schedule().flatMap((k) => (k.retireAt !== undefined && k.retireAt > now ? [k.retireAt] : []));
    return Math.min(MAX_DIRECTORY_MAX_AGE, Math.min(announce, ...retirements) - now);
  }

  /** Generates the next key when its announcement is due, and deletes retired ones. Runs one at a time. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const rotation = this.#rotation;
    if (rotation === undefined) return;
    const now = this.#now();
    let newest = this.#keys.at(-1);
    // The first key is used at once: there is no older key for clients to use meanwhile.
    if (newest === undefined) newest = await this.#generate(rotation, now);
    // After a long stop the successor is announced now, in force O seconds later; the stale key serves meanwhile.
    while (newest.notBefore + rotation.rotateSeconds - rotation.overlapSeconds <= now) {
      newest = await this.#generate(rotation, Math.max(newest.notBefore + rotation.rotateSeconds, now + rotation.overlapSeconds));
    }
    const retired = this.#schedule().filter((k) => k.retireAt !== undefined && k.retireAt <= now);
    for (const k of retired) {
      if (k.stored !== undefined) await rotation.directory.remove(k.stored);
      this.#onEvent({ event: 'key-retired', tokenKeyId: hex(k.key.tokenKeyId), notBefore: k.notBefore });
    }
    this.#keys = this.#keys.filter((k) => !retired.some((r) => r.key === k.key));
  }

  async #generate(rotation: RotationOptions, notBefore: number): Promise<{ key: TypedIssuerKey; notBefore: number; stored?: StoredKey }> {
    // A key whose truncated_token_key_id a held key has already would make requests ambiguous: draw another.
    const taken = (key: TypedIssuerKey): boolean => this.#keys.some((k) => k.key.tokenKeyId.at(-1) === key.tokenKeyId.at(-1));
    let pem = rotation.type.generate();
    let key = await rotation.type.load(createPrivateKey(pem));
    for (let i = 0; i < 16 && taken(key); i++) {
      pem = rotation.type.generate();
      key = await rotation.type.load(createPrivateKey(pem));
    }
    const stored = await rotation.directory.save(rotation.type.tokenType, notBefore, pem);
    const held = { key, notBefore, stored };
    this.#keys.push(held);
    this.#onEvent({ event: 'key-generated', tokenKeyId: hex(key.tokenKeyId), notBefore });
    return held;
  }
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
