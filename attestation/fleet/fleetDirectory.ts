// The fleet directory (docs/fleet.md "The directory"), schema cloister-fleet/v1: per node its name, its
// gateway, its OHTTP key ID range and key configurations, the RA-TLS certificate that binds them to its evidence,
// and the digest of that evidence. One JSON document for every client; untrusted: a client verifies each
// entry's certificate before it uses the entry (fleetClient.ts).
import { fromBase64, toBase64, toHex } from '../bytes.js';
import { webCryptoHasher, type Hasher } from '../hash.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../protocols/ratlsExtension.js';
import { parseCertificate } from '../x509.js';
import { ParseError } from '../errors.js';
import { decodeKeyConfig, decodeOhttpKeys } from '../protocols/ohttp/keyConfig.js';

export const FLEET_SCHEMA = 'cloister-fleet/v1';
/** The well-known path the fleet's gateway (and the relay, mirroring it) serves the directory at. */
export const FLEET_DIRECTORY_PATH = '/.well-known/cloister/fleet';
export const FLEET_DIRECTORY_MEDIA_TYPE = 'application/json';
export const MAX_FLEET_DIRECTORY_BYTES = 1 << 20;

export interface FleetNode {
  /** Unique in the directory: [a-z0-9-], 1 to 63 characters. */
  readonly name: string;
  /** The fleet gateway (http(s) origin) that routes to this node: where the relay sends its requests. */
  readonly gateway: string;
  /** The node's key ID range, inclusive. */
  readonly keyIds: readonly [number, number];
  /** The node's key configurations as it serves them (application/ohttp-keys). */
  readonly keyConfigs: Uint8Array;
  /** DER of the RA-TLS certificate the node serves at /.well-known/cloister/attestation. */
  readonly attestation: Uint8Array;
  /** "sha256:<hex>" of the evidence bundle the certificate carries. */
  readonly evidence: string;
}

export interface FleetDirectory {
  readonly schema: typeof FLEET_SCHEMA;
  /** When `cloister fleet` assembled it (ISO 8601). */
  readonly issued: string;
  readonly nodes: readonly FleetNode[];
}

const NAME = /^[a-z0-9-]{1,63}$/;
/** An error names at most this many problems: a 1 MiB directory can hold thousands. */
const MAX_PROBLEMS = 20;
const ORIGIN = /^https?:\/\/[^/?#@\s]+$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
// RFC 3339 (the ISO 8601 profile toISOString writes): Date.parse alone takes "1" or "May 5".
const ISSUED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** A gateway as an origin (host in lower case, no default port), the form gateways are compared in. */
function gatewayOrigin(gateway: string): string {
  try {
    return new URL(gateway).origin;
  } catch {
    return gateway;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isKeyId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255;

function base64Member(e: Record<string, unknown>, key: string, at: string, problems: string[]): Uint8Array | undefined {
  const v = e[key];
  if (typeof v !== 'string' || v === '' || v.length % 4 !== 0 || !BASE64.test(v)) {
    problems.push(`${at}.${key}: must be non-empty padded base64`);
    return undefined;
  }
  return fromBase64(v);
}

function checkNode(e: unknown, at: string, problems: string[]): FleetNode | undefined {
  if (!isObject(e)) {
    problems.push(`${at}: must be an object`);
    return undefined;
  }
  const before = problems.length;
  if (typeof e.name !== 'string' || !NAME.test(e.name)) problems.push(`${at}.name: must be 1 to 63 of [a-z0-9-]`);
  if (typeof e.gateway !== 'string' || !ORIGIN.test(e.gateway)) problems.push(`${at}.gateway: must be an http(s) origin without path`);
  const ids = e.keyIds;
  if (!Array.isArray(ids) || ids.length !== 2 || !isKeyId(ids[0]) || !isKeyId(ids[1]) || ids[0] > ids[1]) problems.push(`${at}.keyIds: must be [first, last] with 0 <= first <= last <= 255`);
  const keyConfigs = base64Member(e, 'keyConfigs', at, problems);
  const attestation = base64Member(e, 'attestation', at, problems);
  if (typeof e.evidence !== 'string' || !DIGEST.test(e.evidence)) problems.push(`${at}.evidence: must be sha256:<64 hex digits>`);
  if (keyConfigs !== undefined && Array.isArray(ids) && isKeyId(ids[0]) && isKeyId(ids[1])) {
    try {
      for (const config of decodeOhttpKeys(keyConfigs)) {
        const { keyId } = decodeKeyConfig(config);
        if (keyId < ids[0] || keyId > ids[1]) problems.push(`${at}.keyConfigs: key ID ${keyId} is outside the node's range ${ids[0]}-${ids[1]}`);
      }
    } catch (cause) {
      problems.push(`${at}.keyConfigs: not application/ohttp-keys (${(cause as Error).message})`);
    }
  }
  if (problems.length > before || keyConfigs === undefined || attestation === undefined) return undefined;
  const [first, last] = ids as [number, number];
  return Object.freeze({ name: e.name as string, gateway: e.gateway as string, keyIds: Object.freeze([first, last] as const), keyConfigs, attestation, evidence: e.evidence as string });
}

/** Checks a parsed JSON value; every bad member is named by its path in one MALFORMED_FLEET_DIRECTORY error. */
export function assertFleetDirectory(value: unknown): FleetDirectory {
  if (!isObject(value)) throw new ParseError('MALFORMED_FLEET_DIRECTORY', 'the fleet directory must be a JSON object', { field: '$' });
  const problems: string[] = [];
  if (value.schema !== FLEET_SCHEMA) problems.push(`$.schema: must be "${FLEET_SCHEMA}"`);
  if (typeof value.issued !== 'string' || !ISSUED.test(value.issued) || Number.isNaN(Date.parse(value.issued))) problems.push('$.issued: must be an ISO 8601 time');
  const nodes: FleetNode[] = [];
  if (!Array.isArray(value.nodes)) problems.push('$.nodes: must be an array');
  else {
    value.nodes.forEach((e, i) => {
      const node = checkNode(e, `$.nodes[${i}]`, problems);
      if (node !== undefined) nodes.push(node);
    });
  }
  const names = new Set<string>();
  const evidence = new Map<string, string>();
  for (const n of nodes) {
    if (names.has(n.name)) problems.push(`$.nodes: the name "${n.name}" appears twice`);
    names.add(n.name);
    const other = evidence.get(n.evidence);
    if (other !== undefined) problems.push(`$.nodes: "${other}" and "${n.name}" list the same evidence: one node under two names`);
    else evidence.set(n.evidence, n.name);
  }
  // Per gateway (as an origin: one host written in capitals or with its default port is the same gateway), ranges
  // sorted by their first ID: where any two overlap, two neighbours do. n log n, not n².
  const byGateway = new Map<string, FleetNode[]>();
  for (const n of nodes) {
    const origin = gatewayOrigin(n.gateway);
    const list = byGateway.get(origin);
    if (list === undefined) byGateway.set(origin, [n]);
    else list.push(n);
  }
  for (const [gateway, list] of byGateway) {
    const sorted = [...list].sort((a, b) => a.keyIds[0] - b.keyIds[0]);
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1] as FleetNode;
      const b = sorted[i] as FleetNode;
      if (b.keyIds[0] <= a.keyIds[1]) problems.push(`$.nodes: the key ID ranges of "${a.name}" and "${b.name}" overlap at gateway ${gateway}`);
    }
  }
  if (problems.length > MAX_PROBLEMS) problems.splice(MAX_PROBLEMS, problems.length - MAX_PROBLEMS, `and ${problems.length - MAX_PROBLEMS} more`);
  if (problems.length > 0) throw new ParseError('MALFORMED_FLEET_DIRECTORY', `invalid fleet directory: ${problems.join('; ')}`, { field: problems[0]?.split(':')[0] ?? '$' });
  return Object.freeze({ schema: FLEET_SCHEMA, issued: value.issued as string, nodes: Object.freeze(nodes) });
}

/** The directory from its bytes (UTF-8 JSON, at most MAX_FLEET_DIRECTORY_BYTES). */
export function parseFleetDirectory(bytes: Uint8Array): FleetDirectory {
  if (bytes.length > MAX_FLEET_DIRECTORY_BYTES) throw new ParseError('MALFORMED_FLEET_DIRECTORY', `the fleet directory is ${bytes.length} bytes, more than ${MAX_FLEET_DIRECTORY_BYTES}`, { field: '$', actual: String(bytes.length) });
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new ParseError('MALFORMED_FLEET_DIRECTORY', `the fleet directory is not UTF-8 JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
  return assertFleetDirectory(value);
}

/** The directory's JSON bytes, members in a fixed order, so that the same directory is the same bytes. */
export function serializeFleetDirectory(directory: FleetDirectory): Uint8Array {
  const nodes = directory.nodes.map((n) => ({ name: n.name, gateway: n.gateway, keyIds: [n.keyIds[0], n.keyIds[1]], keyConfigs: toBase64(n.keyConfigs), attestation: toBase64(n.attestation), evidence: n.evidence }));
  return new TextEncoder().encode(`${JSON.stringify({ schema: directory.schema, issued: directory.issued, nodes }, null, 2)}\n`);
}

/** What a node's RA-TLS certificate binds, as a directory entry states it: its key configurations and its evidence digest; undefined without a CMW extension. */
export async function certificateBinding(certificate: Uint8Array, hasher: Hasher = webCryptoHasher): Promise<{ readonly keyConfigs: readonly Uint8Array[]; readonly evidence: string } | undefined> {
  const cmw = parseCertificate(certificate).extensions.get(ID_PE_CMW);
  if (cmw === undefined) return undefined;
  const bound = decodeRaTlsExtension(cmw.value);
  return { keyConfigs: bound.keyConfigs, evidence: `sha256:${toHex(await hasher.digest('SHA-256', [bound.bundle]))}` };
}
