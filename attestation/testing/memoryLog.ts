// Test support: a tile log in memory (TileBuilder over a map, checkpoints signed by test keys), what a client of a
// static tile server sees.
import { webCryptoHasher } from '../hash.js';
import { serializeCheckpoint } from '../transparency/checkpoint.js';
import type { KeyedSigner } from '../transparency/noteKeys.js';
import { serializeSignedNote, signNote, type NoteSigner } from '../transparency/signedNote.js';
import { TileBuilder } from '../transparency/tileBuilder.js';
import { TileReader, type TileFetcher } from '../transparency/tiles.js';

export class MemoryLog {
  readonly origin: string;
  readonly signer: KeyedSigner;
  readonly files = new Map<string, Uint8Array>();
  readonly #builder = TileBuilder.empty(webCryptoHasher);

  constructor(origin: string, signer: KeyedSigner) {
    this.origin = origin;
    this.signer = signer;
  }

  get size(): number {
    return this.#builder.size;
  }

  readonly fetch: TileFetcher = (path) => {
    const data = this.files.get(path);
    return data === undefined ? Promise.reject(new Error(`no ${path}`)) : Promise.resolve(data);
  };

  async append(...entries: Uint8Array[]): Promise<void> {
    for (const w of await this.#builder.append(entries)) this.files.set(w.path, w.data);
  }

  /** The signed checkpoint of the current tree, with the log's signature and then the cosigners'. */
  async checkpoint(cosigners: readonly NoteSigner[] = []): Promise<string> {
    const text = serializeCheckpoint({ origin: this.origin, size: this.size, rootHash: await this.#builder.rootHash(), extensions: [] });
    return serializeSignedNote(await signNote(text, [this.signer, ...cosigners]));
  }

  reader(size = this.size): TileReader {
    return new TileReader(this.fetch, size, webCryptoHasher);
  }
}

/** `n` distinct entries of a few bytes each. */
export const entries = (n: number, tag = 0): Uint8Array[] => Array.from({ length: n }, (_, i) => Uint8Array.of(tag, i & 0xff, (i >> 8) & 0xff, i >> 16));
