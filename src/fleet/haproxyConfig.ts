// The fleet's gateway as an HAProxy configuration (docs/fleet.md "Routing: HAProxy"), for HAProxy 2.6 and later
// (Debian bookworm's): an encapsulated request goes to the node whose key ID range holds its first body byte
// (RFC 9458 section 4.3), read after waiting for one body byte and looked up in a map file of key ID to node;
// an unknown key ID is answered 422 exactly as a node answers it, so the client refetches its keys; a key whose
// node is down is 503, never another node (it could not decrypt). GETs of key configurations and attestation go to
// any healthy node (standard OHTTP clients then encapsulate to that node's keys), GET of the directory to
// `cloister fleet`. Health checks on GET /status; draining and maintenance through the runtime API socket. The
// request log has option httplog's fields but names a request only by method and path, and only those it serves.
import { problem, type ProblemCode } from '../base/problems.js';
import type { KeyIdRange } from '../ohttp/rotationSchedule.js';

export interface HaproxyNode {
  readonly name: string;
  /** The node's own origin, http:// or https:// (HAProxy then speaks TLS to it without verifying: RA-TLS certificates are self-signed, and OHTTP is end to end). */
  readonly origin: string;
  readonly keyIds: KeyIdRange;
}

export interface HaproxyOptions {
  readonly nodes: readonly HaproxyNode[];
  /** ADDRESS:PORT the gateway listens on (plain HTTP: the relay's hop; put TLS in front, or add `ssl crt` to the bind). */
  readonly listen: string;
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

/** A problem of the registry (src/base/problems.ts) as HAProxy answers it: the same JSON a node would write. */
const problemText = (code: ProblemCode, detail?: string): string => quoted(JSON.stringify(problem(code, detail)));

// HAProxy's `string` argument is in single quotes: the JSON must hold none, and `%[...]` only where lf-string is used.
const quoted = (text: string): string => {
  if (text.includes("'")) throw new Error(`a problem text holds a single quote: ${text}`);
  return `'${text}'`;
};

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
  const maxBody = options.maxBodyBytes ?? 1_052_672;
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
    log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq \\"%[var(txn.method)] %[var(txn.path)] %HV\\""
    option dontlognull
    timeout connect 2s
    timeout client ${timeout + 5}s
    timeout server ${timeout}s
    timeout http-request 10s
    timeout http-keep-alive 30s
    timeout queue 2s
    timeout check 2s
    retries 1
    http-error status 408 content-type application/problem+json string ${problemText('REQUEST_TIMEOUT')}
    http-error status 502 content-type application/problem+json string ${problemText('BAD_GATEWAY')}
    http-error status 504 content-type application/problem+json string ${problemText('GATEWAY_TIMEOUT')}

frontend gateway
    bind "${options.listen}"
    acl get method GET HEAD
    acl post method POST
    acl ohttp path /.well-known/ohttp-gateway
    acl public path /.well-known/ohttp-gateway /.well-known/cloister/attestation /status
    acl fleet path /.well-known/cloister/fleet
    http-request set-var(txn.method) method if get or post
    http-request set-var(txn.path) path if public or fleet
    http-request return status 404 content-type application/problem+json string ${problemText('NOT_FOUND', 'the fleet gateway serves the OHTTP gateway, its key configurations, attestation and the fleet directory')} unless public or fleet
    http-request return status 405 content-type application/problem+json hdr allow "GET, POST" string ${problemText('METHOD_NOT_ALLOWED', 'POST an encapsulated request, or GET the key configurations')} unless get or ohttp post
    http-request return status 415 content-type application/problem+json string ${problemText('UNSUPPORTED_MEDIA_TYPE', 'send message/ohttp-req')} if post !{ req.hdr(content-type) -m beg message/ohttp-req }
    http-request return status 413 content-type application/problem+json string ${problemText('PAYLOAD_TOO_LARGE')} if post { req.hdr_val(content-length) gt ${maxBody} }
    # The key ID is the first byte of the body: wait for it, not for the whole body.
    http-request wait-for-body time 5s at-least 1 if post
    http-request set-var(txn.keyid) req.body,bytes(0,1),hex if post
    http-request set-var(txn.node) var(txn.keyid),map("${options.mapFile}") if post
    http-request return status 400 content-type application/problem+json string ${problemText('OHTTP_MALFORMED', 'empty body')} if post { req.body_len eq 0 }
    http-request return status 422 content-type application/problem+json hdr cache-control no-store string ${problemText('OHTTP_KEY')} if post !{ var(txn.node) -m found }
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
    http-error status 503 content-type application/problem+json hdr retry-after 1 string ${problemText('NODE_UNAVAILABLE')}
${options.nodes.map((n) => server(n, '')).join('\n')}

backend any_node
    balance roundrobin
    http-error status 503 content-type application/problem+json hdr retry-after 1 string ${problemText('NODE_UNAVAILABLE', 'no node of the fleet is up')}
${options.nodes.map((n) => server(n, ` track nodes_by_key/${n.name}`)).join('\n')}

backend directory
    http-error status 503 content-type application/problem+json hdr retry-after 1 string ${problemText('FLEET_DIRECTORY_UNAVAILABLE', 'the fleet directory service is not answering')}
    server fleet ${hostPort(options.directory)}
`;
}
