// FleetClient without servers (an injected fetch): what it refuses before any node is verified. Against real
// simulated nodes, a relay and a key-ID router: src/cli/fleetClient.test.ts (attestation/ tests never import src/).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64 } from '../bytes.js';
import { FLEET_DIRECTORY_PATH, FLEET_SCHEMA, MAX_FLEET_DIRECTORY_BYTES } from '../fleet/fleetDirectory.js';
import { AEAD_AES_128_GCM, encodeKeyConfig, encodeOhttpKeys, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256 } from '../protocols/ohttp/keyConfig.js';
import { FleetClient } from './fleetClient.js';
import type { FetchInit, FetchLike, FetchResponse } from './httpFetch.js';

const DIRECT = 'https://fleet.example/.well-known/cloister/fleet';
const RELAY = 'https://relay.example/fleet';

const response = (status: number, type: string | undefined, body: Uint8Array): FetchResponse => ({
  status,
  headers: { get: (name) => (name.toLowerCase() === 'content-type' ? (type ?? null) : null) },
  arrayBuffer: () => Promise.resolve(body.slice().buffer),
});

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** A fetch that answers every GET of the directory with `answer`, and records what was asked. */
function fakeFetch(answer: (url: string, init: FetchInit) => FetchResponse | Promise<FetchResponse>): { fetch: FetchLike; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    fetch: async (url, init) => {
      asked.push(`${init.method} ${url}${init.headers['cache-control'] === undefined ? '' : ` ${init.headers['cache-control']}`}`);
      return await answer(url, init);
    },
  };
}

const client = (fetch: FetchLike, relay = RELAY): FleetClient => new FleetClient({ directory: DIRECT, relay, anyMeasurement: true, fetch });

const keyConfigs = toBase64(encodeOhttpKeys([encodeKeyConfig({ keyId: 0, kemId: KEM_X25519_HKDF_SHA256, publicKey: new Uint8Array(32), suites: [{ kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM }] })]));
const directory = (nodes: unknown[]): Uint8Array => json({ schema: FLEET_SCHEMA, issued: '2026-12-07T22:00:00.000Z', nodes });
const ECHO = { url: 'https://cloister/v1/echo', body: new Uint8Array([1]) };

describe('FleetClient (no servers)', () => {
  it('refuses relays that name one gateway origin twice, however it is written, or a gateway that is no URL', () => {
    const relays = { 'https://shard-b.example': 'https://relay.example/b', 'HTTPS://Shard-B.example:443/': 'https://relay.example/c' };
    assert.throws(() => new FleetClient({ directory: DIRECT, relay: RELAY, relays, anyMeasurement: true }), { name: 'RangeError', message: /relays give the gateway https:\/\/shard-b\.example twice/ });
    assert.throws(() => new FleetClient({ directory: DIRECT, relay: RELAY, relays: { 'shard-b': 'https://relay.example/b' }, anyMeasurement: true }), { name: 'RangeError', message: /relays: "shard-b" is not a gateway origin/ });
  });

  it('refuses to start without a launch measurement to accept, before fetching anything', () => {
    const { fetch, asked } = fakeFetch(() => assert.fail('fetched'));
    assert.throws(() => new FleetClient({ directory: DIRECT, relay: RELAY, fetch }), { code: 'MEASUREMENT_SOURCE_MISSING' });
    assert.deepEqual(asked, []);
  });

  it('fetches the directory at the relay\'s well-known path (one slash, whatever the relay URL ends with), then directly', async () => {
    const { fetch, asked } = fakeFetch(() => response(200, 'application/json', directory([])));
    await client(fetch, `${RELAY}/`).verdicts();
    assert.deepEqual(asked, [`GET ${RELAY}${FLEET_DIRECTORY_PATH}`, `GET ${DIRECT}`], 'the relay\'s copy first: the directory cannot answer the client with what it just gave the relay');
  });

  for (const [why, answer, actual] of [
    ['a 404', () => response(404, 'application/problem+json', json({ code: 'NOT_FOUND' })), '404'],
    ['a 503 (cloister fleet before its first round)', () => response(503, 'application/problem+json', json({ code: 'FLEET_DIRECTORY_UNAVAILABLE' })), '503'],
    ['another media type', () => response(200, 'text/html', json({})), '200'],
    ['no answer', () => Promise.reject(new TypeError('fetch failed')), 'TypeError'],
    ['more than 1 MiB', () => response(200, 'application/json', new Uint8Array(MAX_FLEET_DIRECTORY_BYTES + 2)), 'ResponseTooLarge'],
  ] as const) {
    it(`refuses a directory answered with ${why}: OHTTP_REQUEST_FAILED, field fleet`, async () => {
      const { fetch } = fakeFetch(answer);
      await assert.rejects(client(fetch).fetch(ECHO), { name: 'VerificationError', code: 'OHTTP_REQUEST_FAILED', field: 'fleet', actual });
    });
  }

  it('refuses a directory that is the same both ways but malformed: MALFORMED_FLEET_DIRECTORY', async () => {
    const { fetch } = fakeFetch(() => response(200, 'application/json; charset=utf-8', json({ schema: 'cloister-fleet/v0', nodes: [] })));
    await assert.rejects(client(fetch).verdicts(), { name: 'ParseError', code: 'MALFORMED_FLEET_DIRECTORY' });
  });

  it('an empty directory is FLEET_NO_NODE', async () => {
    const { fetch } = fakeFetch(() => response(200, 'application/json', directory([])));
    const c = client(fetch);
    assert.deepEqual(await c.verdicts(), []);
    await assert.rejects(c.fetch(ECHO), { code: 'FLEET_NO_NODE', message: /the directory lists none/ });
  });

  it('a node whose certificate is not one has a verdict with its error, is never sent to, and leaves FLEET_NO_NODE', async () => {
    const node = { name: 'node-0', gateway: 'https://fleet.example', keyIds: [0, 3], keyConfigs, attestation: toBase64(new Uint8Array([0x30, 0x03, 1, 2, 3])), evidence: `sha256:${'00'.repeat(32)}` };
    const { fetch, asked } = fakeFetch(() => response(200, 'application/json', directory([node])));
    const c = client(fetch);
    const [verdict] = await c.verdicts();
    assert.equal(verdict?.name, 'node-0');
    assert.ok(verdict.error !== undefined);
    await assert.rejects(c.fetch(ECHO), { code: 'FLEET_NO_NODE', message: new RegExp(`node-0: ${verdict.error.code}`) });
    assert.ok(asked.every((a) => a.startsWith('GET ')), 'no request was sent');
  });

  it('a failed load is not kept: the next call fetches again', async () => {
    let fail = true;
    const { fetch, asked } = fakeFetch(() => (fail ? response(503, 'application/problem+json', json({})) : response(200, 'application/json', directory([]))));
    const c = client(fetch);
    await assert.rejects(c.verdicts(), { code: 'OHTTP_REQUEST_FAILED' });
    fail = false;
    assert.deepEqual(await c.verdicts(), []);
    assert.equal(asked.length, 3, 'the relay\'s copy failed first, so the direct one was not asked for; then both');
  });
});
