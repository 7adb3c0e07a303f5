// The target resources behind the gateway (RFC 9458 "Target Resource"), called in-process with the
// decapsulated Binary HTTP request: plaintext never passes through an HTTP parser or a socket. This is the
// interface the gateway defines and the features behind it (inference) implement. A target gets the
// request's RequestScope: whatever it allocates from the request, its response content included, it
// makes or adopts through that scope, which the gateway closes (wiping it all) after encapsulation.
import type { BhttpRequest, BhttpResponse } from '../../attestation/protocols/bhttp.js';
import { assertPaddingPolicy, type PaddingPolicy } from '../../attestation/protocols/padding.js';
import type { RequestScope } from '../base/memory/requestScope.js';

/**
 * A response may carry the `model` it ran (a pack name: the one fact about a request the log may hold)
 * and the size classes it is padded to (its pack's; without them, the gateway's default).
 */
export type TargetResponse = BhttpResponse & { readonly model?: string };

export interface TargetContext {
  /** Aborted when the gateway's deadline passes: the client has its 504, the work may stop. */
  readonly signal: AbortSignal;
  /** The owner of this request's plaintext, open until the target's job ends. */
  readonly scope: RequestScope;
  /**
   * Sets the size classes of every answer to this request: the target's, and the 500 or 504 the gateway
   * answers when the target throws or runs past its deadline (default: the gateway's own).
   */
  readonly padWith: (policy: PaddingPolicy) => void;
}

export type TargetHandler = (request: BhttpRequest, context: TargetContext) => Promise<TargetResponse>;

export interface TargetRoute {
  readonly method: string;
  readonly path: string;
  readonly handler: TargetHandler;
  /** The model pack this route runs, for the log. */
  readonly model?: string;
  /**
   * The size classes of every answer to a request for this route's path (its pack's): its own, a 405, and
   * the gateway's 500 or 504 for it; default: the gateway's.
   */
  readonly padding?: PaddingPolicy;
}

const encoder = new TextEncoder();

/** A response with a short, generic text body (no detail from the request). */
export function textResponse(status: number, text: string): BhttpResponse {
  return { status, informational: [], headers: [['content-type', 'text/plain; charset=utf-8']], content: encoder.encode(text), trailers: [] };
}

/** Routes by exact path and method; 404 / 405 (with allow) otherwise. */
export function targetRouter(routes: readonly TargetRoute[]): TargetHandler {
  for (const r of routes) if (r.padding !== undefined) assertPaddingPolicy(r.padding);
  return (request, context) => {
    const path = request.path.split('?')[0] ?? '';
    const matching = routes.filter((r) => r.path === path);
    if (matching.length === 0) return Promise.resolve(textResponse(404, 'not found'));
    const padding = matching.find((r) => r.padding !== undefined)?.padding;
    if (padding !== undefined) context.padWith(padding);
    const route = matching.find((r) => r.method === request.method);
    if (route === undefined) {
      const r = textResponse(405, 'method not allowed');
      return Promise.resolve({ ...r, headers: [...r.headers, ['allow', matching.map((m) => m.method).join(', ')]] });
    }
    const model = route.model;
    return model === undefined ? route.handler(request, context) : route.handler(request, context).then((r) => ({ ...r, model }));
  };
}

/** POST /v1/echo: answers with the request's content (tests, and trying the full path by hand). */
export const echoRoute: TargetRoute = {
  method: 'POST',
  path: '/v1/echo',
  handler: (request) => Promise.resolve({ status: 200, informational: [], headers: [['content-type', 'application/octet-stream']], content: request.content, trailers: [] }),
};
