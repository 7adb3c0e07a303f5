// The key rotation outage of issue 13, end to end: a server rotating its OHTTP keys every 20 s with a
// 5 s overlap, on a clock the test drives, behind a relay on the same clock, and a client that holds
// the configuration of a key that has since been retired. The configurations used to be served with
// max-age=60 whatever the schedule, the relay kept its copy that long, and the client's one refetch
// got that same copy: every request failed with 422 until it expired. Now what carries or binds the
// keys is cached no longer than they decrypt, and the client's refetch goes past the relay's cache.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { bytesListsEqual } from '../../attestation/bytes.js';
import { OhttpClient } from '../../attestation/client/ohttpClient.js';
import { decodeKeyConfig, decodeOhttpKeys } from '../../attestation/protocols/ohttp/keyConfig.js';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../../attestation/protocols/ratlsExtension.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { parseCertificate } from '../../attestation/x509.js';
import type { TimerHandle } from '../base/timer.js';
import { startRelay, type Relay } from '../relay/relay.js';
import { createRelayLogger } from '../relay/relayLog.js';
import { createServer, type CloisterServer } from '../server/createServer.js';
import { unauthenticatedFetch } from '../testing/unauthenticatedFetch.js';
import { availableSimulatedRoots } from './trustSimulated.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import type { RaTlsPolicy } from '../../attestation/ratls/verifyCertificate.js';

process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-key-rotation-'));

/** The clock of the key schedule and of the relay's cache; timers fire when the test advances it. */
class TestClock {
  now = 1_000_000;
  #timers: { fn: () => void; at: number }[] = [];
  setTimer = (fn: () => void, ms: number): TimerHandle => {
    const t = { fn, at: this.now + ms };
    this.#timers.push(t);
    return { clear: () => (this.#timers = this.#timers.filter((x) => x !== t)) };
  };
  advanceTo(at: number): void {
    this.now = at;
    for (const due of this.#timers.filter((t) => t.at <= at).sort((a, b) => a.at - b.at)) {
      this.#timers = this.#timers.filter((t) => t !== due);
      due.fn();
    }
  }
}

const silent = (): Writable =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

const clock = new TestClock();
const T0 = clock.now;
let server: CloisterServer;
let gateway = '';
let relay: Relay;
let roots: Uint8Array[];
let policy: RaTlsPolicy;

/** The exchanges a client made: method, path and the cache-control it sent. */
interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly cacheControl: string | undefined;
  readonly status: number;
}

function recordingClient(exchanges: Exchange[]): OhttpClient {
  return new OhttpClient({
    relay: `${relay.url}/default`,
    policy,
    snpVerifier: new SnpVerifier({ additionalRoots: roots }),
    fetch: async (url, init) => {
      const r = await unauthenticatedFetch(url, init);
      exchanges.push({ method: init.method, path: new URL(url).pathname.replace(/^\/default/, ''), cacheControl: init.headers['cache-control'], status: r.status });
      return r;
    },
  });
}

/** The key IDs the certificate at `url` binds, and the cache-control it came with. */
async function certificateAt(url: string, headers: Record<string, string> = {}): Promise<{ keyIds: number[]; cacheControl: string | null }> {
  const r = await unauthenticatedFetch(`${url}${ATTESTATION_CERTIFICATE_PATH}`, { method: 'GET', headers });
  assert.equal(r.status, 200);
  const cmw = parseCertificate(new Uint8Array(await r.arrayBuffer())).extensions.get(ID_PE_CMW);
  assert.ok(cmw !== undefined);
  return { keyIds: decodeRaTlsExtension(cmw.value).keyConfigs.map((c) => decodeKeyConfig(c).keyId), cacheControl: r.headers.get('cache-control') };
}

/** Waits until the certificate binds exactly the store's live keys, `count` of them (re-issuing takes real time). */
async function settled(count: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const identity = server.identity;
    assert.ok(identity !== undefined);
    if (server.keyStore.keys.length === count && bytesListsEqual(identity.keyConfigs, server.keyStore.configs)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`the certificate never bound the ${count} live keys`);
}

const echo = (client: OhttpClient, byte: number): ReturnType<OhttpClient['fetch']> => client.fetch({ url: 'https://cloister/v1/echo', body: new Uint8Array([byte]) });

before(async () => {
  server = await createServer({ tee: { kind: 'simulated', platform: 'sev-snp' }, models: null, ohttp: { rotateSeconds: 20, overlapSeconds: 5, now: () => clock.now, setTimer: clock.setTimer }, logDestination: silent() });
  gateway = await server.listen('127.0.0.1', 0);
  relay = await startRelay({ gateways: [{ name: 'default', origin: gateway }], port: 0, now: () => clock.now, logger: createRelayLogger({ destination: silent() }) });
  roots = (await availableSimulatedRoots()).snp;
  policy = await simulatedMeasurementPolicy();
});

after(async () => {
  await relay.close();
  await server.close();
});

describe('OHTTP key rotation behind a relay (issue 13)', () => {
  it('a client holding a retired key configuration succeeds after one refetch through the relay, and what binds the keys is cached no longer than they decrypt', async () => {
    const exchanges: Exchange[] = [];
    const client = recordingClient(exchanges);
    const first = await echo(client, 1);
    assert.equal(first.status, 200);
    const old = first.keyId;
    const viaRelay = await certificateAt(`${relay.url}/default`);
    assert.deepEqual(viaRelay, { keyIds: [old], cacheControl: 'public, max-age=5' }, 'served for the overlap, not 60 s');

    clock.advanceTo(T0 + 20_000);
    await settled(2);
    const current = server.keyStore.keys[0]?.config.keyId as number;
    clock.advanceTo(T0 + 21_000);
    // Both keys served: the old one decrypts 4 s more, so nothing that names it is kept longer.
    assert.deepEqual(await certificateAt(gateway), { keyIds: [current, old], cacheControl: 'public, max-age=4' });
    const keys = await unauthenticatedFetch(`${gateway}${OHTTP_GATEWAY_PATH}`, { method: 'GET', headers: { accept: 'application/ohttp-keys' } });
    assert.equal(keys.headers.get('cache-control'), 'public, max-age=4');
    assert.equal(decodeOhttpKeys(new Uint8Array(await keys.arrayBuffer())).length, 2);
    const index = await (await unauthenticatedFetch(`${gateway}/.well-known/cloister/evidence`, { method: 'GET', headers: {} })).arrayBuffer();
    const href = (JSON.parse(Buffer.from(index).toString()) as { bundles: { href: string }[] }).bundles[0]?.href ?? '';
    const bundle = await unauthenticatedFetch(`${gateway}${href}`, { method: 'GET', headers: {} });
    assert.equal(bundle.headers.get('cache-control'), 'public, max-age=4, immutable', 'the boot evidence binds the keys too');

    const bootHref = (): Promise<string> => unauthenticatedFetch(`${gateway}/.well-known/cloister/evidence`, { method: 'GET', headers: {} }).then(async (r) => (JSON.parse(Buffer.from(await r.arrayBuffer()).toString()) as { bundles: { href: string }[] }).bundles[0]?.href ?? '');

    clock.advanceTo(T0 + 25_000);
    await settled(1);
    clock.advanceTo(T0 + 26_000);
    assert.equal(server.keyStore.lookup(old), undefined, 'the old key is retired');
    const newBoot = await bootHref();
    assert.notEqual(newBoot, href, 'a new boot bundle binds the keys left');
    const stale = await unauthenticatedFetch(`${gateway}${href}`, { method: 'GET', headers: {} });
    assert.equal(stale.headers.get('cache-control'), 'public, max-age=0, immutable', 'an older bundle, which binds the retired key, is not to be kept at all');
    assert.deepEqual((await certificateAt(`${relay.url}/default`)).keyIds, [current], 'the relay kept its copy no longer than the gateway said');

    exchanges.length = 0;
    const r = await echo(client, 2);
    assert.equal(r.status, 200);
    assert.equal(r.keyId, current);
    assert.deepEqual(
      exchanges.map((e) => [e.method, e.path, e.cacheControl, e.status]),
      [
        ['POST', OHTTP_GATEWAY_PATH, undefined, 422],
        ['GET', ATTESTATION_CERTIFICATE_PATH, 'no-cache', 200],
        ['POST', OHTTP_GATEWAY_PATH, undefined, 200],
      ],
    );
  });

  it('a key retired early by hand (no schedule to follow): the client\'s refetch goes past the relay\'s fresh copy', async () => {
    const exchanges: Exchange[] = [];
    const client = recordingClient(exchanges);
    const old = (await echo(client, 3)).keyId;
    // The relay holds a copy naming only `old`, fresh for a few seconds more.
    assert.deepEqual((await certificateAt(`${relay.url}/default`)).keyIds, [old]);
    await server.keyStore.rotate();
    assert.equal(await server.keyStore.retire(old), true);
    await settled(1);
    const current = server.keyStore.keys[0]?.config.keyId as number;

    exchanges.length = 0;
    const r = await echo(client, 4);
    assert.equal(r.keyId, current);
    assert.deepEqual(
      exchanges.map((e) => [e.method, e.cacheControl, e.status]),
      [
        ['POST', undefined, 422],
        ['GET', 'no-cache', 200],
        ['POST', undefined, 200],
      ],
    );
    assert.deepEqual((await certificateAt(`${relay.url}/default`)).keyIds, [current], 'the relay kept the fresh answer for everyone');
  });
});
