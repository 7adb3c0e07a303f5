// Where a client keeps the tokens it obtained ahead of use: by the challenge they answer (its digest) and the issuer
// key that signed them (its token key ID), since a token is only good for that pair. Taking a token removes it
// first, so no token is ever given out twice, whatever the store; a browser application may put one on IndexedDB
// behind the same interface.
import { toHex } from '../../bytes.js';

export interface TokenSlot {
  /** SHA-256 of the TokenChallenge. */
  readonly challengeDigest: Uint8Array;
  readonly tokenKeyId: Uint8Array;
}

export interface TokenStore {
  add(slot: TokenSlot, tokens: readonly Uint8Array[]): Promise<void>;
  /** Removes one token of the slot and returns it; undefined when the slot is empty. */
  take(slot: TokenSlot): Promise<Uint8Array | undefined>;
  count(slot: TokenSlot): Promise<number>;
}

const slotKey = (slot: TokenSlot): string => `${toHex(slot.challengeDigest)}:${toHex(slot.tokenKeyId)}`;

/** Tokens in this process's memory, lost when it ends. */
export class MemoryTokenStore implements TokenStore {
  readonly #slots = new Map<string, Uint8Array[]>();

  add(slot: TokenSlot, tokens: readonly Uint8Array[]): Promise<void> {
    if (tokens.length > 0) this.#slots.set(slotKey(slot), [...(this.#slots.get(slotKey(slot)) ?? []), ...tokens.map((t) => t.slice())]);
    return Promise.resolve();
  }

  take(slot: TokenSlot): Promise<Uint8Array | undefined> {
    const key = slotKey(slot);
    const tokens = this.#slots.get(key);
    const token = tokens?.shift();
    if (tokens?.length === 0) this.#slots.delete(key);
    return Promise.resolve(token);
  }

  count(slot: TokenSlot): Promise<number> {
    return Promise.resolve(this.#slots.get(slotKey(slot))?.length ?? 0);
  }
}
