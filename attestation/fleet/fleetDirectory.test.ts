// The fleet directory (docs/fleet.md "The directory"): serialize then parse gives the same directory; every
// malformed input is one MALFORMED_FLEET_DIRECTORY error whose field and message name the JSON path at fault;
// and arbitrary bytes (or arbitrary JSON, or a valid directory with one member replaced) parse or throw that
// ParseError, nothing else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toBase64 } from '../bytes.js';
import { ParseError } from '../errors.js';
import { AEAD_AES_128_GCM, encodeKeyConfig, encodeOhttpKeys, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256 } from '../protocols/ohttp/keyConfig.js';
import { assertFleetDirectory, FLEET_SCHEMA, MAX_FLEET_DIRECTORY_BYTES, parseFleetDirectory, serializeFleetDirectory, type FleetDirectory } from './fleetDirectory.js';

const keyConfig = (keyId: number): Uint8Array => encodeKeyConfig({ keyId, kemId: KEM_X25519_HKDF_SHA256, publicKey: new Uint8Array(32).fill(keyId), suites: [{ kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM }] });
const keys = (...ids: number[]): string => toBase64(encodeOhttpKeys(ids.map(keyConfig)));

/** A valid directory as JSON: two nodes on one gateway, ranges 0-3 and 4-7. */
function valid(): { schema: string; issued: string; nodes: Record<string, unknown>[] } {
  return {
    schema: FLEET_SCHEMA,
    issued: '2026-12-07T22:00:00.000Z',
    nodes: [
      { name: 'node-0', gateway: 'https://fleet.example', keyIds: [0, 3], keyConfigs: keys(1, 0), attestation: toBase64(new Uint8Array([0x30, 1, 2])), evidence: `sha256:${'ab'.repeat(32)}` },
      { name: 'node-1', gateway: 'https://fleet.example', keyIds: [4, 7], keyConfigs: keys(4), attestation: toBase64(new Uint8Array([0x30, 3, 4, 5])), evidence: `sha256:${'cd'.repeat(32)}` },
    ],
  };
}

const bytesOf = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** Asserts a MALFORMED_FLEET_DIRECTORY ParseError whose field is `field` and whose message names every path of `paths`. */
function assertMalformed(fn: () => unknown, field: string, paths: readonly string[] = [field]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ParseError, String(e));
    assert.equal(e.code, 'MALFORMED_FLEET_DIRECTORY');
    assert.equal(e.field, field, e.message);
    for (const p of paths) assert.ok(e.message.includes(`${p}:`), `${e.message} names ${p}`);
    return true;
  });
}

describe('fleet directory (cloister-fleet/v1)', () => {
  it('round trip: serialize then parse gives the same directory, and the same bytes again', () => {
    const parsed = parseFleetDirectory(bytesOf(valid()));
    const bytes = serializeFleetDirectory(parsed);
    const again = parseFleetDirectory(bytes);
    assert.deepEqual(again, parsed);
    assert.deepEqual(serializeFleetDirectory(again), bytes);
    assert.equal(again.nodes.length, 2);
    const first = again.nodes[0];
    assert.ok(first !== undefined);
    assert.deepEqual(first.keyIds, [0, 3]);
    assert.deepEqual(first.attestation, new Uint8Array([0x30, 1, 2]));
    assert.ok(Object.isFrozen(again) && Object.isFrozen(again.nodes) && Object.isFrozen(first));
  });

  it('an empty list of nodes is a directory (a fleet whose nodes all failed)', () => {
    assert.deepEqual(parseFleetDirectory(bytesOf({ ...valid(), nodes: [] })).nodes, []);
  });

  it('the same key ID ranges on different gateways (shards) are allowed', () => {
    const d = valid();
    d.nodes[1] = { ...d.nodes[1], gateway: 'https://shard-2.fleet.example', keyIds: [0, 3], keyConfigs: keys(2) };
    assert.equal(parseFleetDirectory(bytesOf(d)).nodes.length, 2);
  });

  const node = (i: number, change: Record<string, unknown>) => () => {
    const d = valid();
    d.nodes[i] = { ...d.nodes[i], ...change };
    return d;
  };
  const cases: readonly (readonly [string, () => unknown, string, (readonly string[])?])[] = [
    ['not an object', () => [], '$', []],
    ['null', () => null, '$', []],
    ['another schema', () => ({ ...valid(), schema: 'cloister-fleet/v2' }), '$.schema'],
    ['no schema', () => ({ ...valid(), schema: undefined }), '$.schema'],
    ['issued not a time', () => ({ ...valid(), issued: 'yesterday' }), '$.issued'],
    ['issued a number', () => ({ ...valid(), issued: 1 }), '$.issued'],
    ['issued not ISO 8601 (Date.parse takes "1")', () => ({ ...valid(), issued: '1' }), '$.issued'],
    ['nodes not an array', () => ({ ...valid(), nodes: {} }), '$.nodes'],
    ['a node not an object', () => ({ ...valid(), nodes: [valid().nodes[0], 'node-1'] }), '$.nodes[1]'],
    ['an upper-case name', node(0, { name: 'Node-0' }), '$.nodes[0].name'],
    ['an empty name', node(1, { name: '' }), '$.nodes[1].name'],
    ['a name of 64 characters', node(1, { name: 'a'.repeat(64) }), '$.nodes[1].name'],
    ['a gateway with a path', node(0, { gateway: 'https://fleet.example/ohttp' }), '$.nodes[0].gateway'],
    ['a gateway of another scheme', node(0, { gateway: 'ftp://fleet.example' }), '$.nodes[0].gateway'],
    ['a gateway with credentials', node(0, { gateway: 'https://u@fleet.example' }), '$.nodes[0].gateway'],
    ['keyIds reversed', node(0, { keyIds: [3, 0] }), '$.nodes[0].keyIds'],
    ['keyIds above 255', node(1, { keyIds: [4, 256] }), '$.nodes[1].keyIds'],
    ['keyIds of three', node(1, { keyIds: [4, 5, 6] }), '$.nodes[1].keyIds'],
    ['keyIds not integers', node(1, { keyIds: [4, 5.5] }), '$.nodes[1].keyIds'],
    ['keyIds negative', node(0, { keyIds: [-1, 3] }), '$.nodes[0].keyIds'],
    ['keyConfigs not base64', node(0, { keyConfigs: '!!!!' }), '$.nodes[0].keyConfigs'],
    ['keyConfigs unpadded base64', node(0, { keyConfigs: 'AAE' }), '$.nodes[0].keyConfigs'],
    ['keyConfigs empty', node(0, { keyConfigs: '' }), '$.nodes[0].keyConfigs'],
    ['keyConfigs not application/ohttp-keys', node(0, { keyConfigs: toBase64(new Uint8Array([0, 9, 1])) }), '$.nodes[0].keyConfigs'],
    ['a key ID above the range', node(0, { keyConfigs: keys(0, 4) }), '$.nodes[0].keyConfigs'],
    ['a key ID below the range', node(1, { keyConfigs: keys(3) }), '$.nodes[1].keyConfigs'],
    ['attestation base64 with padding inside', node(1, { attestation: 'AA=A' }), '$.nodes[1].attestation'],
    ['attestation a number', node(1, { attestation: 5 }), '$.nodes[1].attestation'],
    ['evidence upper-case hex', node(0, { evidence: `sha256:${'AB'.repeat(32)}` }), '$.nodes[0].evidence'],
    ['evidence of another hash', node(0, { evidence: `sha384:${'ab'.repeat(48)}` }), '$.nodes[0].evidence'],
    ['a duplicate name', node(1, { name: 'node-0' }), '$.nodes'],
    ['overlapping ranges on one gateway', node(1, { keyIds: [3, 7] }), '$.nodes'],
    ['overlapping ranges on one gateway written two ways (capitals, its default port)', node(1, { keyIds: [3, 7], gateway: 'https://FLEET.example:443' }), '$.nodes'],
    ['one range inside another on one gateway', node(1, { keyIds: [1, 2], keyConfigs: keys(2) }), '$.nodes'],
    ['two bad members, both named (the first is the field)', node(1, { name: 'X', evidence: 'sha256:' }), '$.nodes[1].name', ['$.nodes[1].name', '$.nodes[1].evidence']],
    ['bad members of two nodes, both named', () => ({ ...valid(), schema: 'x', nodes: [{ ...valid().nodes[0], gateway: '' }, { ...valid().nodes[1], keyIds: [] }] }), '$.schema', ['$.schema', '$.nodes[0].gateway', '$.nodes[1].keyIds']],
  ];
  for (const [why, make, field, paths] of cases) {
    it(`refuses ${why}: MALFORMED_FLEET_DIRECTORY at ${field}`, () => {
      const value = make();
      assertMalformed(() => assertFleetDirectory(value), field, paths);
      assertMalformed(() => parseFleetDirectory(bytesOf(value)), field, paths);
    });
  }

  for (const [why, bytes] of [
    ['bytes that are not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
    ['a UTF-8 BOM-less JSON prefix only', new TextEncoder().encode('{"schema":')],
    ['an empty document', new Uint8Array(0)],
    ['JSON that is a string', new TextEncoder().encode('"cloister-fleet/v1"')],
    ['more than 1 MiB', (() => {
      const d = bytesOf({ ...valid(), pad: ' '.repeat(MAX_FLEET_DIRECTORY_BYTES) });
      return d;
    })()],
  ] as const) {
    it(`refuses ${why}: MALFORMED_FLEET_DIRECTORY at $`, () => {
      assertMalformed(() => parseFleetDirectory(bytes), '$', []);
    });
  }

  it('1 MiB exactly is read (the limit is inclusive)', () => {
    const base = bytesOf(valid());
    const padded = new Uint8Array(MAX_FLEET_DIRECTORY_BYTES).fill(0x20);
    padded.set(base);
    assert.equal(parseFleetDirectory(padded).nodes.length, 2);
  });

  it('arbitrary bytes, arbitrary JSON and a directory with one member replaced parse or throw MALFORMED_FLEET_DIRECTORY, nothing else (property)', () => {
    const onlyMalformed = (fn: () => FleetDirectory): void => {
      try {
        const d = fn();
        // What parses serializes and parses back to itself.
        assert.deepEqual(parseFleetDirectory(serializeFleetDirectory(d)), d);
      } catch (e) {
        if (!(e instanceof ParseError) || e.code !== 'MALFORMED_FLEET_DIRECTORY') throw e;
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => { onlyMalformed(() => parseFleetDirectory(b)); }), { numRuns: 300 });
    fc.assert(fc.property(fc.jsonValue(), (v) => { onlyMalformed(() => parseFleetDirectory(bytesOf(v))); }), { numRuns: 300 });
    const members = ['name', 'gateway', 'keyIds', 'keyConfigs', 'attestation', 'evidence'] as const;
    fc.assert(
      fc.property(fc.nat(1), fc.constantFrom(...members), fc.jsonValue(), (i, member, value) => {
        const d = valid();
        d.nodes[i] = { ...d.nodes[i], [member]: value };
        onlyMalformed(() => parseFleetDirectory(bytesOf(d)));
      }),
      { numRuns: 300 },
    );
    const base = bytesOf(valid());
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (list) => {
        const b = base.slice();
        for (const [at, v] of list) b[at] = v;
        onlyMalformed(() => parseFleetDirectory(b));
      }),
      { numRuns: 500 },
    );
  });
});
