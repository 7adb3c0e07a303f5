// Every error the HTTP server answers with, one registry with its status (RFC 9457 problem details,
// application/problem+json); docs/errors.md lists the same codes.
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/** RFC 9458 section 5.3: a request used an outdated or incorrect key configuration (fetch it again). */
export const OHTTP_KEY_PROBLEM_TYPE = 'https://iana.org/assignments/http-problem-types#ohttp-key';

export const PROBLEMS = {
  NOT_FOUND: { status: 404, title: 'not found' },
  BAD_REQUEST: { status: 400, title: 'malformed request' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'unsupported media type' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'request body too large' },
  RATE_LIMITED: { status: 429, title: 'too many requests' },
  EVIDENCE_UNAVAILABLE: { status: 503, title: 'attestation evidence is unavailable' },
  OHTTP_MALFORMED: { status: 400, title: 'malformed encapsulated request' },
  OHTTP_KEY: { status: 422, title: 'key configuration unknown or outdated', type: OHTTP_KEY_PROBLEM_TYPE },
  METHOD_NOT_ALLOWED: { status: 405, title: 'method not allowed' },
  BAD_GATEWAY: { status: 502, title: 'the gateway could not be reached' },
  GATEWAY_TIMEOUT: { status: 504, title: 'the gateway did not answer in time' },
  PRIVACY_PASS_REQUIRED: { status: 401, title: 'a Privacy Pass token is required' },
  PRIVACY_PASS_MALFORMED: { status: 401, title: 'the Privacy Pass token or its header is malformed' },
  PRIVACY_PASS_UNSUPPORTED_TYPE: { status: 401, title: 'the Privacy Pass token type is not redeemed here' },
  PRIVACY_PASS_UNKNOWN_KEY: { status: 401, title: 'the Privacy Pass token is of no current issuer key' },
  PRIVACY_PASS_INVALID: { status: 401, title: 'the Privacy Pass token does not verify' },
  PRIVACY_PASS_REPLAYED: { status: 401, title: 'the Privacy Pass token was already redeemed' },
  PRIVACY_PASS_NO_KEYS: { status: 503, title: 'no Privacy Pass issuer key is current' },
  SPENT_TOKENS_UNAVAILABLE: { status: 503, title: 'Privacy Pass tokens cannot be checked for double spending' },
  INTERNAL: { status: 500, title: 'internal error' },
  ISSUANCE_UNAUTHORIZED: { status: 401, title: 'no valid account credential for token issuance' },
  TOKEN_KEY_UNKNOWN: { status: 400, title: 'the token request names no current issuer key' },
  FLEET_DIRECTORY_UNAVAILABLE: { status: 503, title: 'the fleet directory is not assembled yet' },
  NODE_UNAVAILABLE: { status: 503, title: 'the fleet node holding this key is unavailable' },
  REQUEST_TIMEOUT: { status: 408, title: 'the request did not arrive in time' },
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
  const p: { status: number; title: string; type?: string } = PROBLEMS[code];
  return { type: p.type ?? `urn:cloister:problem:${code.toLowerCase().replace(/_/g, '-')}`, title: p.title, status: p.status, code, ...(detail === undefined ? {} : { detail }) };
}

export function sendProblem(reply: FastifyReply, code: ProblemCode, detail?: string, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(PROBLEMS[code].status).headers(headers).type('application/problem+json').send(problem(code, detail));
}

/** The same answer on a node:http response (the relay, the fleet's directory service): no framework in between. */
export function writeProblem(res: ServerResponse, code: ProblemCode, detail?: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(problem(code, detail)));
  res.writeHead(PROBLEMS[code].status, { ...headers, 'content-type': 'application/problem+json', 'content-length': body.length });
  res.end(body);
}
