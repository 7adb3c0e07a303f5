// Every error the HTTP server answers with, one registry with its status (RFC 9457 problem details,
// application/problem+json); docs/errors.md lists the same codes.
import type { FastifyReply } from 'fastify';

export const PROBLEMS = {
  NOT_FOUND: { status: 404, title: 'not found' },
  BAD_REQUEST: { status: 400, title: 'malformed request' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'unsupported media type' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'request body too large' },
  RATE_LIMITED: { status: 429, title: 'too many requests' },
  EVIDENCE_UNAVAILABLE: { status: 503, title: 'attestation evidence is unavailable' },
  INTERNAL: { status: 500, title: 'internal error' },
} as const;

export type ProblemCode = keyof typeof PROBLEMS;

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: ProblemCode;
  readonly detail?: string;
}

export function problem(code: ProblemCode, detail?: string): Problem {
  const p = PROBLEMS[code];
  return { type: `urn:cloister:problem:${code.toLowerCase().replace(/_/g, '-')}`, title: p.title, status: p.status, code, ...(detail === undefined ? {} : { detail }) };
}

export function sendProblem(reply: FastifyReply, code: ProblemCode, detail?: string, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(PROBLEMS[code].status).headers(headers).type('application/problem+json').send(problem(code, detail));
}
