// The transport the browser-safe clients take: the part of fetch they use, so that the global fetch, a Node
// agent's or a test's can stand in; and one exchange with a time limit, read to the end or to a size limit.
export interface FetchInit {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
  readonly signal?: AbortSignal;
  readonly cache?: 'no-store';
  readonly redirect?: 'error';
}

export interface FetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  /** Read as a stream where present (a Response), so that a body over a limit is abandoned, not held. */
  readonly body?: ReadableStream<Uint8Array> | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** The time limit of one exchange (request and whole answer) unless a caller sets its own. */
export const DEFAULT_EXCHANGE_TIMEOUT_MS = 10_000;

/** The global fetch. Called unbound, a browser's fetch throws "Illegal invocation". */
export const globalFetch: FetchLike = (url, init) => globalThis.fetch(url, init as RequestInit);

export interface Exchanged {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: Uint8Array;
}

/** An answer whose body passed the `maxBytes` its reader set: declared so, or read that far and abandoned. */
export class ResponseTooLarge extends Error {
  override readonly name = 'ResponseTooLarge';
  constructor(
    readonly status: number,
    readonly maxBytes: number,
  ) {
    super(`the answer (${status}) has more than ${maxBytes} bytes`);
  }
}

/** The body, read chunk by chunk and abandoned once it passes `maxBytes` (no content-length needed): ResponseTooLarge. */
export async function readCapped(r: FetchResponse, maxBytes: number): Promise<Uint8Array> {
  if (Number(r.headers.get('content-length') ?? 0) > maxBytes) {
    void r.body?.cancel().catch(() => undefined);
    throw new ResponseTooLarge(r.status, maxBytes);
  }
  if (r.body === undefined || r.body === null) {
    const body = new Uint8Array(await r.arrayBuffer());
    if (body.length > maxBytes) throw new ResponseTooLarge(r.status, maxBytes);
    return body;
  }
  const reader = r.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      void reader.cancel().catch(() => undefined);
      throw new ResponseTooLarge(r.status, maxBytes);
    }
    chunks.push(value);
  }
  // Joined here: a body of many small chunks is too many arguments for a spread.
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return body;
}

/**
 * One request and its whole answer within `timeoutMs`, its body at most `maxBytes` (ResponseTooLarge beyond); whatever
 * else fails (network, time limit) is rethrown as fetch threw it.
 */
export async function exchange(fetch: FetchLike, url: string, init: Omit<FetchInit, 'signal'>, timeoutMs: number, maxBytes = Number.POSITIVE_INFINITY): Promise<Exchanged> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, headers: r.headers, body: Number.isFinite(maxBytes) ? await readCapped(r, maxBytes) : new Uint8Array(await r.arrayBuffer()) };
}
