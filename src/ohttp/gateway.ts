// The Oblivious Gateway Resource (RFC 9458 sections 5 and 6): decapsulates a message/ohttp-req with one
// of the live keys, decodes the Binary HTTP request, calls the target in-process, and encapsulates its
// Binary HTTP response. Failures before decapsulation are answered in the clear (a problem code: the
// relay and the gateway see them anyway); every failure after it is an encapsulated response with a
// generic message. Each request's plaintext has one owner, the RequestScope opened here at
// decapsulation: the message, the decoded request, the target's response and its encoding are all in
// it, and it is closed once, after encapsulation, or when a target that outlived its deadline ends.
// Every encapsulated response, errors included, is padded inside the encryption so that its length on the
// wire is a size class: its route's (a model pack's), or the gateway's default.
import { decodeRequest, encodeResponseParts, isPadding, type BhttpRequest, type BhttpResponse } from '../../attestation/protocols/bhttp.js';
import { decapsulateRequest, type DecapsulatedRequest, type GatewayKey } from '../../attestation/protocols/ohttp/encapsulation.js';
import type { HpkePrimitives } from '../../attestation/protocols/ohttp/hpke.js';
import { assertPaddingPolicy, DEFAULT_PADDING, paddedLength, type PaddingPolicy } from '../../attestation/protocols/padding.js';
import { CloisterError } from '../../attestation/errors.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import type { ProblemCode } from '../base/problems.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import { RequestScope } from '../base/memory/requestScope.js';
import { textResponse, type TargetHandler, type TargetResponse } from './target.js';

/** Below the relay's 30 s, so that a slow target gets the encapsulated 504, not the relay's. */
export const DEFAULT_TARGET_TIMEOUT_MS = 25_000;

export interface GatewayOptions {
  readonly keys: (keyId: number) => GatewayKey | undefined;
  readonly target: TargetHandler;
  readonly primitives?: HpkePrimitives;
  /** Per-request deadline for the target (default 25 s); past it the client gets an encapsulated 504. */
  readonly targetTimeoutMs?: number;
  /** Called once a request's plaintext is wiped (memory hygiene: a minor GC). */
  readonly afterRequest?: () => void;
  /** Opens each request's scope (default: one that wipes); a benchmark that prices wiping injects its own. */
  readonly openScope?: () => RequestScope;
  /**
   * The size classes of responses whose route names none: unknown paths, routes without a pack, and the
   * gateway's own 400, 417, 500 and 504 (default DEFAULT_PADDING; 'none' for a benchmark's baseline).
   */
  readonly padding?: PaddingPolicy;
  /**
   * Runs on each decoded request before the target (Privacy Pass redemption): undefined lets it through, a
   * response refuses it, and the target never starts. The refusal is encapsulated like any answer.
   */
  readonly admit?: (request: BhttpRequest) => Promise<BhttpResponse | undefined>;
}

export type GatewayOutcome =
  | { readonly kind: 'encapsulated'; readonly body: readonly Uint8Array[]; readonly bodyLength: number; readonly status: number; readonly model?: string }
  | { readonly kind: 'problem'; readonly code: ProblemCode; readonly detail: string };

const PROBLEM_OF: Readonly<Record<string, ProblemCode>> = {
  MALFORMED_OHTTP: 'OHTTP_MALFORMED',
  OHTTP_UNKNOWN_KEY: 'OHTTP_KEY',
  OHTTP_UNSUPPORTED_SUITE: 'OHTTP_KEY',
  OHTTP_DECRYPT_FAILED: 'OHTTP_KEY',
};


class TargetTimeout extends RuntimeError {
  constructor(ms: number) {
    super('TARGET_TIMEOUT', `the target did not answer within ${ms} ms`);
  }
}

/** The job's answer, or TargetTimeout after `ms` (the job is aborted and keeps running to its end). */
function withDeadline(job: Promise<TargetResponse>, controller: AbortController, ms: number): Promise<TargetResponse> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new TargetTimeout(ms));
    }, ms);
  });
  return Promise.race([job, deadline]).finally(() => {
    clearTimeout(timer);
  });
}

export class OhttpGateway {
  readonly #options: GatewayOptions;
  readonly #primitives: HpkePrimitives;
  readonly #padding: PaddingPolicy;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#primitives = options.primitives ?? nodeHpke;
    this.#padding = assertPaddingPolicy(options.padding ?? DEFAULT_PADDING);
  }

  /** Handles one message/ohttp-req body; never throws. */
  async handle(body: Uint8Array): Promise<GatewayOutcome> {
    let decapsulated: DecapsulatedRequest;
    try {
      decapsulated = await decapsulateRequest(body, this.#options.keys, this.#primitives);
    } catch (e) {
      const code = e instanceof CloisterError ? PROBLEM_OF[e.code] : undefined;
      if (code === undefined) return { kind: 'problem', code: 'INTERNAL', detail: 'decapsulation failed' };
      return { kind: 'problem', code, detail: (e as Error).message };
    }
    const { message, responder } = decapsulated;
    const scope = this.#options.openScope?.() ?? new RequestScope();
    scope.adopt(message);
    let ended: Promise<unknown> = Promise.resolve();
    // The route's classes once the target's router has found it; every answer to this request takes them.
    let padding = this.#padding;
    const padWith = (policy: PaddingPolicy): void => {
      padding = policy;
    };
    try {
      const answered = await this.#respond(message, scope, padWith);
      ended = answered.ended;
      const response = answered.response;
      const overhead = responder.overhead;
      // The padding is a view of one shared zero block, never written: not the request's to wipe.
      const encoded = encodeResponseParts(response, { padTo: (length) => paddedLength(padding, length, overhead) }).map((part) => (isPadding(part) ? part : scope.adopt(part)));
      const chunks = await responder.encapsulateChunks(encoded);
      return { kind: 'encapsulated', body: chunks, bodyLength: chunks.reduce((n, c) => n + c.length, 0), status: response.status, ...(response.model === undefined ? {} : { model: response.model }) };
    } catch {
      responder.discard();
      return { kind: 'problem', code: 'INTERNAL', detail: 'the response could not be encapsulated' };
    } finally {
      // A target still running past its deadline keeps the scope open until it ends.
      void ended.finally(() => {
        scope.close();
        this.#options.afterRequest?.();
      });
    }
  }

  /** The response to send, and when the target's job is over (later than the response after a timeout). */
  async #respond(message: Uint8Array, scope: RequestScope, padWith: (policy: PaddingPolicy) => void): Promise<{ response: TargetResponse; ended: Promise<unknown> }> {
    let request;
    try {
      request = decodeRequest(message);
    } catch {
      return { response: textResponse(400, 'malformed request'), ended: Promise.resolve() };
    }
    // Indeterminate-length content is a joined copy, not a view of the message.
    scope.adopt(request.content);
    if (request.headers.some(([name, value]) => name === 'expect' && value.toLowerCase().includes('100-continue'))) return { response: textResponse(417, 'expectation failed'), ended: Promise.resolve() };
    const admit = this.#options.admit;
    if (admit !== undefined) {
      let refusal: BhttpResponse | undefined;
      try {
        refusal = await admit(request);
      } catch {
        refusal = textResponse(500, 'internal error');
      }
      if (refusal !== undefined) return { response: refusal, ended: Promise.resolve() };
    }
    const controller = new AbortController();
    const target = this.#options.target;
    // Whatever the target answers, in time or late, is the scope's.
    const job = Promise.resolve()
      .then(() => target(request, { signal: controller.signal, scope, padWith }))
      .then((response) => {
        scope.adopt(response.content);
        return response;
      });
    const ended = job.then(
      () => undefined,
      () => undefined,
    );
    try {
      return { response: await withDeadline(job, controller, this.#options.targetTimeoutMs ?? DEFAULT_TARGET_TIMEOUT_MS), ended };
    } catch (e) {
      return { response: textResponse(e instanceof TargetTimeout ? 504 : 500, e instanceof TargetTimeout ? 'timeout' : 'internal error'), ended };
    }
  }
}
