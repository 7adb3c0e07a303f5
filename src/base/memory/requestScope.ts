// The one owner of a request's plaintext. The gateway opens a scope where it decapsulates a request and
// hands it to the target; every buffer that holds request data is made through the scope (alloc, borrow)
// or adopted by it (the decrypted message, a library's output, ONNX Runtime's copies). The scope is closed
// once, after the response is encapsulated or, when the target outlived its deadline, when the target's
// job finally ends; closing wipes everything it owns, frees what it made whole, and gives borrowed pool
// buffers back. `dispose` ends one buffer's life early (long pipelines keep their memory low that way).
import { CloisterError } from '../../../attestation/errors.js';
import { RuntimeError } from '../runtimeErrors.js';
import type { BufferPool } from './bufferPool.js';
import { free, wipe } from './wipe.js';

/** How a scope zeroes memory; a benchmark that prices wiping injects one that does nothing. */
export type Wiper = (view: ArrayBufferView) => void;

export interface RequestScopeOptions {
  readonly wipe?: Wiper;
}

type Ownership =
  /** A buffer the scope made, or adopted through a view that covers it whole: wiped whole, then freed. */
  | { readonly kind: 'whole' }
  /** Part of someone else's buffer (a slice of Node's pool, a view into a larger message): those bytes wiped, never freed. */
  | { readonly kind: 'views'; readonly views: ArrayBufferView[] }
  /** A pool's buffer: given back, wiped, to the pool. */
  | { readonly kind: 'borrowed'; readonly pool: BufferPool };

type TypedArrayOf<T> = new (buffer: ArrayBuffer, byteOffset: number, length: number) => T;
type TypedArrayType<T> = TypedArrayOf<T> & { readonly BYTES_PER_ELEMENT: number };

/**
 * Where code that handles request data makes, takes and gives up its buffers. A RequestScope is one; code
 * called outside a request (a test, a tool) gets `unscoped`, which allocates plainly and wipes on dispose.
 */
export interface RequestMemory {
  alloc(length: number): Uint8Array;
  alloc<T extends ArrayBufferView>(length: number, type: TypedArrayType<T>): T;
  adopt<T extends ArrayBufferView | undefined>(view: T): T;
  dispose(...views: (ArrayBufferView | undefined)[]): void;
}

/** Outside any request: plain allocations, wiped when disposed of; nothing owns them afterwards. */
export const unscoped: RequestMemory = {
  alloc(length: number, type: TypedArrayType<ArrayBufferView> = Uint8Array): Uint8Array {
    return new type(new ArrayBuffer(length * type.BYTES_PER_ELEMENT), 0, length) as Uint8Array;
  },
  adopt: (view) => view,
  dispose: (...views) => {
    wipe(...views);
  },
};

export class RequestScopeClosedError extends RuntimeError {
  constructor() {
    super('REQUEST_SCOPE_CLOSED', 'the request scope is closed: its memory was already wiped');
  }
}

export class RequestScope implements RequestMemory {
  readonly #owned = new Map<ArrayBufferLike, Ownership>();
  /** Buffers this scope gave back to a pool: another request may hold them now, so they are never touched again. */
  readonly #returned = new WeakSet<ArrayBufferLike>();
  readonly #wipe: Wiper;
  #closed = false;

  constructor(options: RequestScopeOptions = {}) {
    this.#wipe = options.wipe ?? wipe;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes the scope holds now (its own and borrowed buffers whole, adopted views by their length). */
  get bytes(): number {
    let n = 0;
    for (const [buffer, o] of this.#owned) n += o.kind === 'views' ? o.views.reduce((s, v) => s + v.byteLength, 0) : buffer.byteLength;
    return n;
  }

  /** A zero-filled array of `length` elements in a buffer of its own, which the scope owns. */
  alloc(length: number): Uint8Array;
  alloc<T extends ArrayBufferView>(length: number, type: TypedArrayType<T>): T;
  alloc(length: number, type: TypedArrayType<ArrayBufferView> = Uint8Array): ArrayBufferView {
    this.#open();
    const buffer = new ArrayBuffer(length * type.BYTES_PER_ELEMENT);
    this.#owned.set(buffer, { kind: 'whole' });
    return new type(buffer, 0, length);
  }

  /** A buffer of `size` bytes from `pool` (zero-filled), given back to it when this scope closes or disposes of it. */
  borrow(pool: BufferPool, size: number): ArrayBuffer {
    this.#open();
    const buffer = pool.acquire(size);
    this.#returned.delete(buffer);
    this.#owned.set(buffer, { kind: 'borrowed', pool });
    return buffer;
  }

  /** Takes `view`'s bytes into the scope. Adopting what the scope already holds changes nothing. */
  adopt<T extends ArrayBufferView | undefined>(view: T): T {
    if (view === undefined) return view;
    if (this.#returned.has(view.buffer)) throw new CloisterError('INVALID_STATE', 'this buffer was given back to its pool: it may belong to another request now');
    if (this.#closed) {
      // Too late to own it: whoever hands plaintext to a closed scope still gets it wiped.
      this.#wipe(view);
      throw new RequestScopeClosedError();
    }
    const held = this.#owned.get(view.buffer);
    if (held === undefined) {
      this.#owned.set(view.buffer, coversWhole(view) ? { kind: 'whole' } : { kind: 'views', views: [view] });
    } else if (held.kind === 'views') {
      if (coversWhole(view)) this.#owned.set(view.buffer, { kind: 'whole' });
      else held.views.push(view);
    }
    return view;
  }

  /** Whether `view` lies in memory this scope owns: what a library hands back that is not, is a copy of its own. */
  owns(view: ArrayBufferView): boolean {
    const held = this.#owned.get(view.buffer);
    if (held === undefined) return false;
    return held.kind !== 'views' || held.views.some((v) => v.byteOffset <= view.byteOffset && view.byteOffset + view.byteLength <= v.byteOffset + v.byteLength);
  }

  /**
   * Ends these buffers' lives now: wiped and freed (or given back to their pool); a view into part of a
   * buffer the scope holds whole is only wiped, the rest stays owned. A view the scope did not hold (a
   * copy a library made) is wiped and, when it covers its buffer whole, freed. A view of a buffer this
   * scope already gave back to its pool is left alone: it may be another request's by now.
   */
  dispose(...views: (ArrayBufferView | undefined)[]): void {
    for (const view of views) {
      if (view === undefined || isDetached(view) || this.#returned.has(view.buffer)) continue;
      const held = this.#owned.get(view.buffer);
      if (held === undefined || held.kind === 'views') {
        this.#wipe(view);
        if (held === undefined) {
          if (coversWhole(view)) free(view);
        } else {
          const rest = held.views.filter((v) => v !== view);
          if (rest.length === 0) this.#owned.delete(view.buffer);
          else this.#owned.set(view.buffer, { kind: 'views', views: rest });
        }
      } else if (!coversWhole(view)) {
        this.#wipe(view);
      } else {
        this.#owned.delete(view.buffer);
        this.#release(view.buffer, held);
      }
    }
  }

  /** Wipes and frees everything the scope owns, and gives borrowed buffers back. Once: later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [buffer, held] of this.#owned) this.#release(buffer, held);
    this.#owned.clear();
  }

  #release(buffer: ArrayBufferLike, held: Ownership): void {
    if (held.kind === 'views') {
      for (const v of held.views) if (!isDetached(v)) this.#wipe(v);
      return;
    }
    if (buffer instanceof ArrayBuffer && buffer.detached) return;
    if (held.kind === 'borrowed') {
      this.#returned.add(buffer);
      held.pool.release(buffer as ArrayBuffer, this.#wipe);
      return;
    }
    const whole = new Uint8Array(buffer);
    this.#wipe(whole);
    free(whole);
  }

  #open(): void {
    if (this.#closed) throw new RequestScopeClosedError();
  }
}

const coversWhole = (v: ArrayBufferView): boolean => v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;
const isDetached = (v: ArrayBufferView): boolean => v.buffer instanceof ArrayBuffer && v.buffer.detached;
