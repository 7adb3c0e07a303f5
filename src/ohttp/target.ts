// The target resources behind the gateway (RFC 9458 "Target Resource"), called in-process with the
// decapsulated Binary HTTP request: plaintext never passes through an HTTP parser or a socket. A route
// answers with a Binary HTTP response whose content it owns; the gateway wipes both after encapsulation.
import type { BhttpRequest, BhttpResponse } from '../../attestation/protocols/bhttp.js';
import { wipe } from '../base/memory/wipe.js';

/**
 * A response may carry the `model` it ran (a pack name: the one fact about a request the log may hold),
 * and `release`, which wipes the content and gives its memory back to where it came from (a buffer
 * pool); the gateway calls it instead of wiping the content itself.
 */
export type TargetResponse = BhttpResponse & { readonly model?: string; readonly release?: () => void };

/** Wipes a response's content (or has its owner wipe and reclaim it). */
export function disposeContent(response: TargetResponse | undefined): void {
  if (response?.release !== undefined) response.release();
  else wipe(response?.content);
}

export type TargetHandler = (request: BhttpRequest, signal: AbortSignal) => Promise<TargetResponse>;

export interface TargetRoute {
  readonly method: string;
  readonly path: string;
  readonly handler: TargetHandler;
  /** The model pack this route runs, for the log. */
  readonly model?: string;
}

const encoder = new TextEncoder();

/** A response with a short, generic text body (no detail from the request). */
export function textResponse(status: number, text: string): BhttpResponse {
  return { status, informational: [], headers: [['content-type', 'text/plain; charset=utf-8']], content: encoder.encode(text), trailers: [] };
}

/** Routes by exact path and method; 404 / 405 (with allow) otherwise. */
export function targetRouter(routes: readonly TargetRoute[]): TargetHandler {
  return (request, signal) => {
    const path = request.path.split('?')[0] ?? '';
    const matching = routes.filter((r) => r.path === path);
    if (matching.length === 0) return Promise.resolve(textResponse(404, 'not found'));
    const route = matching.find((r) => r.method === request.method);
    if (route === undefined) {
      const r = textResponse(405, 'method not allowed');
      return Promise.resolve({ ...r, headers: [...r.headers, ['allow', matching.map((m) => m.method).join(', ')]] });
    }
    const model = route.model;
    return model === undefined ? route.handler(request, signal) : route.handler(request, signal).then((r) => ({ ...r, model }));
  };
}

/** POST /v1/echo: answers with the request's content (tests, and trying the full path by hand). */
export const echoRoute: TargetRoute = {
  method: 'POST',
  path: '/v1/echo',
  handler: (request) => Promise.resolve({ status: 200, informational: [], headers: [['content-type', 'application/octet-stream']], content: request.content.slice(), trailers: [] }),
};
