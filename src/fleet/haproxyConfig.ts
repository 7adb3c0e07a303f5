// The fleet's gateway as an HAProxy configuration (docs/fleet.md "Routing: HAProxy"), for HAProxy 2.6 and later
// (Debian bookworm's): an encapsulated request goes to the node whose key ID range holds its first body byte
// (RFC 9458 section 4.3), read after waiting for one body byte and looked up in a map file of key ID to node;
// an unknown key ID is answered 422 exactly as a node answers it, so the client refetches its keys; a key whose
// node is down is 503, never another node (it could not decrypt). GETs of key configurations and attestation go to
// any healthy node (standard OHTTP clients then encapsulate to that node's keys), GET of the directory to
// `cloister fleet`. Health checks on GET /status; draining and maintenance through the runtime API socket. The
// request log has option httplog's fields but names a request only by method and path, and only those it serves.
import { problem, PROBLEMS, type ProblemCode } from '../base/problems.js';
import type { KeyIdRange } from '../ohttp/rotationSchedule.js';

export interface HaproxyNode {
  readonly name: string;
  /** The node's own origin, http:// or https:// (HAProxy then speaks TLS to it without verifying: RA-TLS certificates are self-signed, and OHTTP is end to end). */
  readonly origin: string;
  readonly keyIds: KeyIdRange;
}

export interface HaproxyOptions {
  readonly nodes: readonly HaproxyNode[];
  /** ADDRESS:PORT the gateway listens on (plain HTTP, unless `tlsCertificate`). */
  readonly listen: string;
  /** A PEM file holding the gateway's certificate chain and private key: the relay's hop is then HTTPS. */
  readonly tlsCertificate?: string;
  /** The origin of `cloister fleet` (plain HTTP). */
  readonly directory: string;
  /** The map file's path as HAProxy will read it. */
  readonly mapFile: string;
  /** The runtime API socket's path. */
  readonly socket: string;
  /** The node's largest encapsulated request, in bytes (default 1 MiB + 4 KiB, the gateway's limit). */
  readonly maxBodyBytes?: number;
  /** Per-exchange server timeout in seconds (default 30, above the gateway's 25 s target deadline). */
  readonly timeoutSeconds?: number;
}

// HAProxy's `string` argument is in single quotes: the JSON must hold none, and `%[...]` only where lf-string is used.
const quoted = (text: string): string => {
  if (text.includes("'")) throw new Error(`a problem text holds a single quote: ${text}`);
  return `'${text}'`;
};

/** A problem of the registry (src/base/problems.ts) as HAProxy answers it: the same JSON a node would write. */
const problemText = (code: ProblemCode, detail?: string): string => quoted(JSON.stringify(problem(code, detail)));

/** An `http-error` line: HAProxy's own answer of that status, as the problem a node would answer; a 503 says when to retry. */
export function haproxyHttpError(code: ProblemCode, detail?: string): string {
  const status = PROBLEMS[code].status;
  return `http-error status ${status} content-type application/problem+json${status === 503 ? ' hdr retry-after 1' : ''} string ${problemText(code, detail)}`;
}

/** HAProxy's answers when a node cannot be reached (502) or does not answer in time (504). */
export const haproxyUpstreamErrors = (): string[] => [haproxyHttpError('BAD_GATEWAY'), haproxyHttpError('GATEWAY_TIMEOUT')];

/** The 503 of each backend of the fleet when no server of it is up. */
export const HAPROXY_UNAVAILABLE = {
  /** A key's node. */
  node: haproxyHttpError('NODE_UNAVAILABLE'),
  /** Any node, for key configurations, attestation and status. */
  anyNode: haproxyHttpError('NODE_UNAVAILABLE', 'no node of the fleet is up'),
  directory: haproxyHttpError('FLEET_DIRECTORY_UNAVAILABLE', 'the fleet directory service is not answering'),
} as const;

export interface GatewayRuleOptions {
  /** The key map (haproxyKeyMap) as HAProxy reads it. */
  readonly mapFile: string;
  /** The node's largest encapsulated request, in bytes (default 1 MiB + 4 KiB, the gateway's limit). */
  readonly maxBodyBytes?: number;
  /**
   * On a frontend that serves other sites too (an Ingress controller's): the fleet's host name. Every rule then
   * holds only for requests to that host, and the ACL names start with `cloister_`.
   */
  readonly host?: string;
}

const DEFAULT_MAX_BODY_BYTES = 1_052_672;

/**
 * The request log's format: option httplog's fields without the request line (it holds the query string, and an
 * unknown path or method as sent) and the captured headers and cookies (none are captured); a request's method and
 * path only when they are ones the gateway serves (set by haproxyGatewayRules before any answer), "-" otherwise.
 * On a shared frontend (`host`) the variables are the `cloister_` ones. Unquoted: HAProxy's configuration wants it
 * in double quotes with the inner ones escaped.
 */
export function haproxyLogFormat(options: { readonly host?: string } = {}): string {
  const prefix = options.host === undefined ? '' : 'cloister_';
  return `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq "%[var(txn.${prefix}method)] %[var(txn.${prefix}path)] %HV"`;
}

/**
 * The frontend's rules before a request is routed: the fleet's paths and methods, the answers a node would give
 * to a wrong method, media type or size, and for a POST the key ID (the first body byte, RFC 9458 section 4.3)
 * looked up in the key map into `txn.node`, or 422 when no node holds it. Routing on `txn.node` is the caller's.
 */
export function haproxyGatewayRules(options: GatewayRuleOptions): string[] {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const prefix = options.host === undefined ? '' : 'cloister_';
  const [get, post, ohttp, pub, fleet, host] = ['get', 'post', 'ohttp', 'public', 'fleet', 'host'].map((n) => `${prefix}${n}`) as [string, string, string, string, string, string];
  // Each alternative of a condition, with the host's ACL in front when the frontend is shared.
  const when = (...alternatives: string[]): string => `if ${alternatives.map((a) => (options.host === undefined ? a : `${host} ${a}`)).join(' or ')}`;
  return [
    ...(options.host === undefined ? [] : [`acl ${host} req.hdr(host),field(1,:),lower -m str ${options.host.toLowerCase()}`]),
    `acl ${get} method GET HEAD`,
    `acl ${post} method POST`,
    `acl ${ohttp} path /.well-known/ohttp-gateway`,
    `acl ${pub} path /.well-known/ohttp-gateway /.well-known/cloister/attestation /status`,
    `acl ${fleet} path /.well-known/cloister/fleet`,
    // Before any answer, so that the log names the method and path of answered requests too (haproxyLogFormat).
    `http-request set-var(txn.${prefix}method) method ${when(get, post)}`,
    `http-request set-var(txn.${prefix}path) path ${when(pub, fleet)}`,
    `http-request return status 404 content-type application/problem+json string ${problemText('NOT_FOUND', 'the fleet gateway serves the OHTTP gateway, its key configurations, attestation and the fleet directory')} ${when(`!${pub} !${fleet}`)}`,
    `http-request return status 405 content-type application/problem+json hdr allow "GET, POST" string ${problemText('METHOD_NOT_ALLOWED', 'POST an encapsulated request, or GET the key configurations')} ${when(`!${get} !${ohttp}`, `!${get} !${post}`)}`,
    `http-request return status 415 content-type application/problem+json string ${problemText('UNSUPPORTED_MEDIA_TYPE', 'send message/ohttp-req')} ${when(`${post} !{ req.hdr(content-type) -m beg message/ohttp-req }`)}`,
    `http-request return status 413 content-type application/problem+json string ${problemText('PAYLOAD_TOO_LARGE')} ${when(`${post} { req.hdr_val(content-length) gt ${maxBody} }`)}`,
    '# The key ID is the first byte of the body: wait for it, not for the whole body.',
    `http-request wait-for-body time 5s at-least 1 ${when(post)}`,
    `http-request set-var(txn.keyid) req.body,bytes(0,1),hex ${when(post)}`,
    `http-request set-var(txn.node) var(txn.keyid),map("${options.mapFile}") ${when(post)}`,
    `http-request return status 400 content-type application/problem+json string ${problemText('OHTTP_MALFORMED', 'empty body')} ${when(`${post} { req.body_len eq 0 }`)}`,
    `http-request return status 422 content-type application/problem+json hdr cache-control no-store string ${problemText('OHTTP_KEY')} ${when(`${post} !{ var(txn.node) -m found }`)}`,
  ];
}

const hostPort = (origin: string): string => {
  const u = new URL(origin);
  // URL.hostname keeps an IPv6 address's brackets, as HAProxy wants them.
  return `${u.hostname}:${u.port === '' ? (u.protocol === 'https:' ? '443' : '80') : u.port}`;
};

/** The map file: one line per key ID, two upper-case hex digits (what HAProxy's `hex` converter prints) and the node. */
export function haproxyKeyMap(nodes: readonly HaproxyNode[]): string {
  const lines: string[] = ['# OHTTP key ID (hex) -> node (server of backend nodes_by_key); written by cloister fleet haproxy'];
  for (const n of nodes) {
    for (let id = n.keyIds.first; id <= n.keyIds.last; id++) lines.push(`${id.toString(16).toUpperCase().padStart(2, '0')} ${n.name}`);
  }
  return `${lines.join('\n')}\n`;
}

export function haproxyConfig(options: HaproxyOptions): string {
  const timeout = options.timeoutSeconds ?? 30;
  const server = (n: HaproxyNode, extra: string): string => `    server ${n.name} ${hostPort(n.origin)}${n.origin.startsWith('https:') ? ' ssl verify none' : ''}${extra}`;
  return `# The fleet's OHTTP gateway (docs/fleet.md); written by cloister fleet haproxy. Check: haproxy -c -f THIS_FILE
global
    log stdout format raw local0 info
    stats socket "${options.socket}" mode 600 level admin
    stats timeout 30s
    maxconn 4096
    # A second HAProxy on the same port (one left behind by a killed supervisor) fails to start instead of sharing it.
    noreuseport

defaults
    mode http
    log global
    # option httplog's fields without the request line (it holds the query string, and an unknown path or method
    # as sent) and the captured headers and cookies (none are captured): a request's method and path only when
    # they are ones the gateway serves (txn.method, txn.path, set first in the frontend), "-" otherwise.
    log-format "${haproxyLogFormat().replaceAll('"', '\\"')}"
    option dontlognull
    timeout connect 2s
    timeout client ${timeout + 5}s
    timeout server ${timeout}s
    timeout http-request 10s
    timeout http-keep-alive 30s
    timeout queue 2s
    timeout check 2s
    retries 1
    ${haproxyHttpError('REQUEST_TIMEOUT')}
${haproxyUpstreamErrors().map((l) => `    ${l}`).join('\n')}

frontend gateway
    bind "${options.listen}"${options.tlsCertificate === undefined ? '' : ` ssl crt "${options.tlsCertificate}"`}
${haproxyGatewayRules(options).map((l) => `    ${l}`).join('\n')}
    use_backend directory if fleet
    use_backend any_node if get
    default_backend nodes_by_key

backend nodes_by_key
    # Weight 0: the balancer never picks a server; only use-server does, so a key whose node is down is a 503.
    balance roundrobin
    use-server %[var(txn.node)] if { var(txn.node) -m found }
    option httpchk
    http-check send meth GET uri /status
    http-check expect status 200
    default-server weight 0 check inter 1s fastinter 500ms downinter 1s fall 2 rise 2
    ${HAPROXY_UNAVAILABLE.node}
${options.nodes.map((n) => server(n, '')).join('\n')}

backend any_node
    balance roundrobin
    ${HAPROXY_UNAVAILABLE.anyNode}
${options.nodes.map((n) => server(n, ` track nodes_by_key/${n.name}`)).join('\n')}

backend directory
    ${HAPROXY_UNAVAILABLE.directory}
    server fleet ${hostPort(options.directory)}
`;
}
