// The transport the browser-safe clients take: the part of fetch they use, so that the global fetch, a Node
// agent's or a test's can stand in; and one exchange with a time limit, read to the end.
export interface FetchInit {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
  readonly signal?: AbortSignal;
  readonly cache?: 'no-store';
}

export interface FetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** The global fetch. Called unbound, a browser's fetch throws "Illegal invocation". */
export const globalFetch: FetchLike = (url, init) => globalThis.fetch(url, init as RequestInit);

export interface Exchanged {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: Uint8Array;
}

/** One request and its whole answer within `timeoutMs`; whatever fails (network, time limit) is rethrown as fetch threw it. */
export async function exchange(fetch: FetchLike, url: string, init: Omit<FetchInit, 'signal'>, timeoutMs: number): Promise<Exchanged> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, headers: r.headers, body: new Uint8Array(await r.arrayBuffer()) };
}
