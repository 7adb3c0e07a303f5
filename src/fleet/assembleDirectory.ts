// Assembles the fleet directory (docs/fleet.md) from what each node serves: its RA-TLS certificate at
// /.well-known/cloister/attestation and its key configurations at /.well-known/ohttp-gateway, fetched from the
// node's own address without authenticating TLS (the certificate is self-authenticating: a client verifies it, and
// so does `judge` here when given). A node that does not answer, serves configurations its certificate does not
// bind, draws key IDs outside its range, or fails `judge`, is left out and reported.
import { bytesListsEqual } from '../../attestation/bytes.js';
import { CloisterError } from '../../attestation/errors.js';
import { certificateBinding, FLEET_SCHEMA, type FleetDirectory, type FleetNode } from '../../attestation/fleet/fleetDirectory.js';
import { decodeKeyConfig, decodeOhttpKeys } from '../../attestation/protocols/ohttp/keyConfig.js';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH, OHTTP_KEYS_MEDIA_TYPE, PKIX_CERT_MEDIA_TYPE } from '../../attestation/protocols/ohttp/paths.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';
import { RuntimeError } from '../base/runtimeErrors.js';
import type { KeyIdRange } from '../ohttp/rotationSchedule.js';
import { createGatewayPool, forward, GatewayError, type GatewayPool } from '../relay/forward.js';

export interface FleetNodeSource {
  readonly name: string;
  /** The node's own origin, where `cloister fleet` reaches it (not the fleet's gateway). */
  readonly origin: string;
  readonly keyIds: KeyIdRange;
  /** The gateway of this node's shard, when it is not the fleet's `gateway`. */
  readonly gateway?: string;
}

export interface AssembleOptions {
  readonly nodes: readonly FleetNodeSource[];
  /** The fleet gateway (HAProxy) that nodes without a gateway of their own are reached through. */
  readonly gateway: string;
  /** Throws (a CloisterError) for a certificate the fleet must not list; absent, every well-formed node is listed. */
  readonly judge?: (certificate: Uint8Array) => Promise<void>;
  readonly timeoutMs?: number;
  readonly now?: () => Date;
  readonly pool?: GatewayPool;
}

export interface AssembledDirectory {
  readonly directory: FleetDirectory;
  /** The nodes left out, each with why. */
  readonly left: readonly { readonly name: string; readonly error: CloisterError }[];
}

const MAX_BYTES = 256 * 1024;

async function get(pool: GatewayPool, origin: string, path: string, accept: string, timeoutMs: number): Promise<Uint8Array> {
  let r;
  try {
    r = await forward(pool, { method: 'GET', url: new URL(path, origin), headers: { accept, 'cache-control': 'no-cache' }, timeoutMs, maxResponseBytes: MAX_BYTES });
  } catch (cause) {
    // forward's GatewayError (GATEWAY_FAILED) is the relay's code: here the node did not answer.
    throw new RuntimeError('FLEET_NODE_UNAVAILABLE', `GET ${origin}${path} failed: ${(cause as Error).message}`, { field: path, ...(cause instanceof GatewayError ? { actual: cause.reason } : {}), cause });
  }
  if (r.status !== 200 || r.contentType?.split(';')[0]?.trim() !== accept) throw new RuntimeError('FLEET_NODE_UNAVAILABLE', `GET ${origin}${path} answered ${r.status} ${r.contentType ?? '(no content type)'}`, { field: path, actual: String(r.status) });
  return new Uint8Array(r.body);
}

async function nodeEntry(source: FleetNodeSource, options: AssembleOptions, pool: GatewayPool): Promise<FleetNode> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const [attestation, keyConfigs] = await Promise.all([
    get(pool, source.origin, ATTESTATION_CERTIFICATE_PATH, PKIX_CERT_MEDIA_TYPE, timeoutMs),
    get(pool, source.origin, OHTTP_GATEWAY_PATH, OHTTP_KEYS_MEDIA_TYPE, timeoutMs),
  ]);
  const bound = await certificateBinding(attestation, nodeHasher);
  if (bound === undefined) throw new RuntimeError('FLEET_NODE_UNAVAILABLE', `${source.origin} serves a certificate without attestation (no CMW extension): is it a Cloister server over HTTPS?`, { field: 'attestation' });
  const served = decodeOhttpKeys(keyConfigs);
  // Rotation between the two GETs shows as a difference: the next round agrees.
  if (!bytesListsEqual(served, bound.keyConfigs)) throw new RuntimeError('FLEET_NODE_UNAVAILABLE', `${source.origin} serves key configurations its certificate does not bind (a rotation in between?)`, { field: 'keyConfigs' });
  for (const config of served) {
    const { keyId } = decodeKeyConfig(config);
    if (keyId < source.keyIds.first || keyId > source.keyIds.last) throw new RuntimeError('FLEET_NODE_UNAVAILABLE', `${source.name} uses key ID ${keyId}, outside its range ${source.keyIds.first}-${source.keyIds.last}: start it with --ohttp-key-ids ${source.keyIds.first}-${source.keyIds.last}`, { field: 'keyIds', actual: String(keyId) });
  }
  await options.judge?.(attestation);
  return {
    name: source.name,
    gateway: source.gateway ?? options.gateway,
    keyIds: [source.keyIds.first, source.keyIds.last],
    keyConfigs,
    attestation,
    evidence: bound.evidence,
  };
}

/** One round: every node asked at once; those that answer and pass are listed, in the order given. */
export async function assembleDirectory(options: AssembleOptions): Promise<AssembledDirectory> {
  const pool = options.pool ?? createGatewayPool();
  const nodes: FleetNode[] = [];
  const left: { name: string; error: CloisterError }[] = [];
  const results = await Promise.all(
    options.nodes.map(async (source) => {
      try {
        return { source, node: await nodeEntry(source, options, pool) };
      } catch (e) {
        return { source, error: e instanceof CloisterError ? e : new RuntimeError('FLEET_NODE_UNAVAILABLE', `${source.origin}: ${(e as Error).message}`, { cause: e }) };
      }
    }),
  );
  for (const r of results) {
    if ('node' in r) nodes.push(r.node);
    else left.push({ name: r.source.name, error: r.error });
  }
  return { directory: { schema: FLEET_SCHEMA, issued: (options.now?.() ?? new Date()).toISOString(), nodes }, left };
}
