// The fleet client (docs/fleet.md "The model"): fetch the fleet directory twice, directly and through the relay,
// and refuse when the two differ past every cache; verify every node's RA-TLS certificate as OhttpClient verifies a
// single gateway's, and use only the nodes that pass; send each request to a node picked uniformly at random, and
// once more to another node, freshly encapsulated, when the first is busy (503), does not answer (the relay's
// 502, 503 or 504, or no answer at all), or refuses its key even after a reload (422). Browser-safe, like OhttpClient.
import { bytesListsEqual, toHex } from '../bytes.js';
import { CloisterError, VerificationError } from '../errors.js';
import { certificateBinding, FLEET_DIRECTORY_MEDIA_TYPE, FLEET_DIRECTORY_PATH, MAX_FLEET_DIRECTORY_BYTES, parseFleetDirectory, type FleetDirectory, type FleetNode } from '../fleet/fleetDirectory.js';
import { webCryptoHasher } from '../hash.js';
import { mediaType } from '../protocols/httpText.js';
import { decodeKeyConfig, decodeOhttpKeys } from '../protocols/ohttp/keyConfig.js';
import { exchange, globalFetch, type FetchLike } from './httpFetch.js';
import { clientPolicy } from './measurementSource.js';
import { OhttpClient, type OhttpClientOptions, type OhttpRequest, type OhttpResponse } from './ohttpClient.js';

export interface FleetClientOptions extends Omit<OhttpClientOptions, 'relay' | 'gateway' | 'certificate'> {
  /** The fleet directory's URL, fetched directly (the fleet's gateway, or a CDN in front of it). */
  readonly directory: string | URL;
  /** The relay's resource for the fleet's gateway; `relays` names another for a node whose gateway is another shard. */
  readonly relay: string | URL;
  /**
   * The relay's resource per gateway origin (sharded fleets), matched as origins (scheme and host in any case, a
   * default port or a trailing slash make no difference); a gateway not listed uses `relay`.
   */
  readonly relays?: Readonly<Record<string, string>>;
  /** A uniform integer in [0, n): default crypto.getRandomValues. */
  readonly randomIndex?: (n: number) => number;
}

export interface FleetNodeVerdict {
  readonly name: string;
  readonly gateway: string;
  /** Absent for a node that passed. */
  readonly error?: CloisterError;
}

interface VerifiedNode {
  readonly node: FleetNode;
  readonly client: OhttpClient;
}

interface LoadedFleet {
  readonly directory: FleetDirectory;
  /** SHA-256 of the directory's bytes, in hex. */
  readonly digest: string;
  readonly nodes: readonly VerifiedNode[];
  readonly verdicts: readonly FleetNodeVerdict[];
}

/**
 * Outer statuses after which the same request goes to another node: the node is busy or gone (502, 503, 504), or
 * it still refuses the key after OhttpClient reloaded the directory past every cache (422: docs/fleet.md).
 */
const RETRY_STATUSES = new Set([422, 502, 503, 504]);

function uniformIndex(n: number): number {
  // Rejection sampling: the largest multiple of n below 2^32 keeps every index equally likely.
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const word = new Uint32Array(1);
  for (;;) {
    globalThis.crypto.getRandomValues(word);
    if ((word[0] as number) < limit) return (word[0] as number) % n;
  }
}

/** A gateway as an origin, the form the relays are looked up by; undefined for what is no http(s) URL. */
function originOf(gateway: string): string | undefined {
  try {
    const url = new URL(gateway);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** `relays` keyed by origin; a gateway written two ways is refused rather than settled by the last one. */
function relaysByOrigin(relays: Readonly<Record<string, string>> | undefined): ReadonlyMap<string, string> {
  const byOrigin = new Map<string, string>();
  for (const [gateway, relay] of Object.entries(relays ?? {})) {
    const origin = originOf(gateway);
    if (origin === undefined) throw new RangeError(`relays: "${gateway}" is not a gateway origin (http:// or https://)`);
    if (byOrigin.has(origin)) throw new RangeError(`relays give the gateway ${origin} twice`);
    byOrigin.set(origin, relay);
  }
  return byOrigin;
}

const sha256Hex = async (bytes: Uint8Array): Promise<string> => toHex(await webCryptoHasher.digest('SHA-256', [bytes]));

/** An answer from the fleet: which node gave it, and through which relay resource (its shard's). */
export type FleetResponse = OhttpResponse & { readonly node: string; readonly relay: string };

/** The longest a client waits for the relay's copy of the directory to be renewed before it compares again. */
const MAX_CONSISTENCY_WAIT_S = 15;


/**
 * What the directory says of a node beyond its certificate must be what the certificate binds: its key
 * configurations, their IDs inside its range, the digest of its evidence. Otherwise one verified node could be
 * listed under many names (each with a range of its own) and draw many shares of the uniform choice.
 */
async function checkEntry(node: FleetNode): Promise<void> {
  const bound = await certificateBinding(node.attestation);
  const mismatch = (what: string, expected: string, actual: string): VerificationError =>
    new VerificationError('FLEET_ENTRY_MISMATCH', `fleet node "${node.name}": ${what}`, { field: `fleet.${node.name}`, expected, actual });
  if (bound === undefined) throw mismatch('its certificate carries no attestation', 'a CMW extension', 'none');
  if (!bytesListsEqual(decodeOhttpKeys(node.keyConfigs), bound.keyConfigs)) throw mismatch('the directory lists key configurations its certificate does not bind', `${bound.keyConfigs.length} bound`, 'others');
  for (const config of bound.keyConfigs) {
    const { keyId } = decodeKeyConfig(config);
    if (keyId < node.keyIds[0] || keyId > node.keyIds[1]) throw mismatch(`its certificate binds key ID ${keyId}, outside the range ${node.keyIds[0]}-${node.keyIds[1]} the directory gives it`, `${node.keyIds[0]}-${node.keyIds[1]}`, String(keyId));
  }
  if (bound.evidence !== node.evidence) throw mismatch('the evidence digest differs from the evidence its certificate carries', bound.evidence, node.evidence);
}

/**
 * Whether a failed send may go to another node: the relay's 422/502/503/504, no answer, or a node that the
 * directory reloaded after its 422 no longer lists (FLEET_NO_NODE from #nodeCertificate).
 */
function nodeUnavailable(e: unknown): boolean {
  if (e instanceof VerificationError && e.code === 'FLEET_NO_NODE') return true;
  if (!(e instanceof VerificationError) || e.code !== 'OHTTP_REQUEST_FAILED') return false;
  const status = Number(/^(\d{3})\b/.exec(e.actual ?? '')?.[1]);
  return Number.isNaN(status) ? !/^\d/.test(e.actual ?? '') : RETRY_STATUSES.has(status);
}

export class FleetClient {
  readonly #options: FleetClientOptions;
  readonly #fetch: FetchLike;
  readonly #randomIndex: (n: number) => number;
  readonly #relays: ReadonlyMap<string, string>;
  #fleet: Promise<LoadedFleet> | undefined;
  /** Whether the load under way goes past caches: reloads asked for meanwhile (the 422s of concurrent requests after one rotation) join it. */
  #reloading = false;

  constructor(options: FleetClientOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? globalFetch;
    this.#randomIndex = options.randomIndex ?? uniformIndex;
    this.#relays = relaysByOrigin(options.relays);
    // Fails as OhttpClient does (MEASUREMENT_SOURCE_MISSING) before anything is fetched.
    clientPolicy(options);
  }

  #relayFor(gateway: string): string {
    const origin = originOf(gateway);
    return (origin === undefined ? undefined : this.#relays.get(origin)) ?? String(this.#options.relay);
  }

  async #getDirectory(url: string, reload: boolean): Promise<{ body: Uint8Array; freshSeconds: number }> {
    const init = reload ? { method: 'GET', headers: { accept: FLEET_DIRECTORY_MEDIA_TYPE, 'cache-control': 'no-cache' }, cache: 'no-store' as const } : { method: 'GET', headers: { accept: FLEET_DIRECTORY_MEDIA_TYPE } };
    let r;
    try {
      r = await exchange(this.#fetch, url, init, this.#options.timeoutMs ?? 35_000, MAX_FLEET_DIRECTORY_BYTES + 1);
    } catch (cause) {
      throw new VerificationError('OHTTP_REQUEST_FAILED', `GET ${url} failed: ${(cause as Error).message}`, { field: 'fleet', actual: (cause as Error).name, cause });
    }
    const type = mediaType(r.headers.get('content-type'));
    if (r.status !== 200 || type !== FLEET_DIRECTORY_MEDIA_TYPE) throw new VerificationError('OHTTP_REQUEST_FAILED', `GET ${url} answered ${r.status} ${type || '(no content type)'}, expected 200 ${FLEET_DIRECTORY_MEDIA_TYPE}`, { field: 'fleet', actual: String(r.status) });
    const maxAge = /(?:^|,)\s*max-age=(\d{1,9})\s*(?:,|$)/i.exec(r.headers.get('cache-control') ?? '')?.[1];
    return { body: r.body, freshSeconds: maxAge === undefined ? 0 : Number(maxAge) };
  }

  /**
   * The directory's bytes, the same directly and through the relay. The relay serves every client one copy per
   * lifetime, whatever a client's cache-control says (src/relay/relay.ts); so when the two differ (a directory that
   * changed since the relay's copy, or one shown to this client alone) both are fetched again once that copy has
   * expired (at most MAX_CONSISTENCY_WAIT_S later), and a difference then is FLEET_DIRECTORY_INCONSISTENT.
   */
  async #consistentDirectory(reload: boolean): Promise<{ bytes: Uint8Array; digest: string }> {
    const direct = String(this.#options.directory);
    const relayed = `${String(this.#options.relay).replace(/\/+$/, '')}${FLEET_DIRECTORY_PATH}`;
    const compare = async (pastCaches: boolean): Promise<{ bytes: Uint8Array; direct: string; relayed: string; relayFreshSeconds: number }> => {
      // The relay's copy first: the directory cannot then answer this client with what it has just given the relay.
      const b = await this.#getDirectory(relayed, pastCaches);
      const a = await this.#getDirectory(direct, pastCaches);
      const [da, db] = await Promise.all([sha256Hex(a.body), sha256Hex(b.body)]);
      return { bytes: a.body, direct: da, relayed: db, relayFreshSeconds: b.freshSeconds };
    };
    const first = await compare(reload);
    if (first.direct === first.relayed) return { bytes: first.bytes, digest: first.direct };
    await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_CONSISTENCY_WAIT_S, first.relayFreshSeconds + 0.5) * 1000));
    const second = await compare(true);
    if (second.direct === second.relayed) return { bytes: second.bytes, digest: second.direct };
    throw new VerificationError('FLEET_DIRECTORY_INCONSISTENT', `the fleet directory at ${direct} (sha256 ${second.direct}) differs from the one the relay serves (sha256 ${second.relayed}), also once the relay's copy was renewed: this client may be shown a directory of its own`, { field: 'fleet', expected: second.relayed, actual: second.direct });
  }

  async #load(reload: boolean): Promise<LoadedFleet> {
    const { bytes, digest } = await this.#consistentDirectory(reload);
    const directory = parseFleetDirectory(bytes);
    const verdicts: FleetNodeVerdict[] = [];
    const nodes: VerifiedNode[] = [];
    await Promise.all(
      directory.nodes.map(async (node) => {
        const client = new OhttpClient({
          ...this.#options,
          relay: this.#relayFor(node.gateway),
          // After a 422 or past the certificate's expiry: the node's entry in a directory fetched again.
          certificate: async (again) => (again ? await this.#nodeCertificate(node.name) : node.attestation),
        });
        try {
          await client.keys();
          await checkEntry(node);
          nodes.push({ node, client });
          verdicts.push({ name: node.name, gateway: node.gateway });
        } catch (e) {
          if (!(e instanceof CloisterError)) throw e;
          verdicts.push({ name: node.name, gateway: node.gateway, error: e });
        }
      }),
    );
    const order = new Map(directory.nodes.map((n, i) => [n.name, i]));
    const byOrder = <T extends { name: string } | { node: FleetNode }>(list: T[]): T[] => list.sort((x, y) => (order.get('name' in x ? x.name : x.node.name) ?? 0) - (order.get('name' in y ? y.name : y.node.name) ?? 0));
    return { directory, digest, nodes: byOrder(nodes), verdicts: byOrder(verdicts) };
  }

  async #nodeCertificate(name: string): Promise<Uint8Array> {
    const fleet = await this.fleet(true);
    const entry = fleet.directory.nodes.find((n) => n.name === name);
    if (entry === undefined) throw new VerificationError('FLEET_NO_NODE', `node "${name}" is no longer in the fleet directory`, { field: 'fleet', actual: name });
    return entry.attestation;
  }

  /** The directory and its verified nodes (fetched and verified at first use, and again, past caches, on `reload`). */
  fleet(reload = false): Promise<LoadedFleet> {
    if (reload && this.#fleet !== undefined && this.#reloading) return this.#fleet;
    if (reload || this.#fleet === undefined) {
      const loading = this.#load(reload);
      this.#fleet = loading;
      this.#reloading = reload;
      const settled = (): void => {
        if (this.#fleet === loading) this.#reloading = false;
      };
      loading.then(settled, settled);
      // Forget a failed load, but not a newer one that replaced it meanwhile.
      loading.catch(() => {
        if (this.#fleet === loading) this.#fleet = undefined;
      });
    }
    return this.#fleet;
  }

  /** Each node's verdict, in directory order. */
  async verdicts(): Promise<readonly FleetNodeVerdict[]> {
    return (await this.fleet()).verdicts;
  }

  /** Sends one request to a node picked uniformly at random; a busy or unreachable node's request goes once more to another. */
  async fetch(request: OhttpRequest): Promise<FleetResponse> {
    const fleet = await this.fleet();
    if (fleet.nodes.length === 0) {
      const why = fleet.verdicts.map((v) => `${v.name}: ${v.error?.code ?? 'ok'}`).join(', ');
      throw new VerificationError('FLEET_NO_NODE', `no node of the fleet directory passed verification (${why || 'the directory lists none'})`, { field: 'fleet' });
    }
    const first = this.#pick(fleet.nodes);
    try {
      const response = await first.client.fetch(request);
      if (response.status !== 503 || fleet.nodes.length < 2) return { ...response, node: first.node.name, relay: this.#relayFor(first.node.gateway) };
      response.content.fill(0);
    } catch (e) {
      if (!nodeUnavailable(e) || fleet.nodes.length < 2) throw e;
    }
    const others = fleet.nodes.filter((n) => n !== first);
    const second = this.#pick(others);
    return { ...(await second.client.fetch(request)), node: second.node.name, relay: this.#relayFor(second.node.gateway) };
  }

  #pick(nodes: readonly VerifiedNode[]): VerifiedNode {
    const i = this.#randomIndex(nodes.length);
    const node = Number.isInteger(i) ? nodes[i] : undefined;
    if (node === undefined) throw new RangeError(`randomIndex(${nodes.length}) returned ${i}, not a whole number from 0 to ${nodes.length - 1}`);
    return node;
  }
}
