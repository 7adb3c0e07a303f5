// One round of `cloister fleet` against a real simulated node (cloister serve, key IDs 4-7) and stand-ins that
// misbehave: the node is listed with what it serves; a node that does not answer, one that serves key
// configurations its certificate does not bind, one declared with a range that does not hold its key IDs, and
// one the judge refuses are each left out with FLEET_NODE_UNAVAILABLE (or the judge's own code), in order.
// Here in src/cli/ rather than beside src/fleet/assembleDirectory.ts: it starts a server, which src/fleet/ may not import.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { toHex } from '../../attestation/bytes.js';
import { VerificationError } from '../../attestation/errors.js';
import { parseFleetDirectory, serializeFleetDirectory } from '../../attestation/fleet/fleetDirectory.js';
import { decodeKeyConfig, decodeOhttpKeys, encodeOhttpKeys } from '../../attestation/protocols/ohttp/keyConfig.js';
import { ATTESTATION_CERTIFICATE_PATH } from '../../attestation/protocols/ohttp/paths.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../../attestation/protocols/ratlsExtension.js';
import { parseCertificate } from '../../attestation/x509.js';
import { createServer, type CloisterServer } from '../server/createServer.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { unauthenticatedFetch } from '../testing/unauthenticatedFetch.js';
import { assembleDirectory, type FleetNodeSource } from '../fleet/assembleDirectory.js';

process.env.CLOISTER_STATE_DIR = temporaryDirectories('cloister-assemble-directory-')();

const silent = (): Writable =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

let node: CloisterServer;
let origin = '';
let certificate: Uint8Array;
/** A stand-in node: the real node's certificate, with key configurations the test chooses. */
let standIn: http.Server;
let standInOrigin = '';
let standInKeys: Uint8Array = new Uint8Array(0);
let closedOrigin = '';

const NOW = new Date('2026-12-07T22:00:00.000Z');
const GATEWAY = 'https://fleet.example';

before(async () => {
  node = await createServer({ tee: { kind: 'simulated', platform: 'sev-snp' }, models: null, ohttp: { keyIds: { first: 4, last: 7 } }, logDestination: silent() });
  origin = await node.listen('127.0.0.1', 0);
  const r = await unauthenticatedFetch(`${origin}${ATTESTATION_CERTIFICATE_PATH}`, { method: 'GET', headers: {} });
  certificate = new Uint8Array(await r.arrayBuffer());
  standIn = http.createServer((req, res) => {
    const [type, body] = req.url === ATTESTATION_CERTIFICATE_PATH ? ['application/pkix-cert', certificate] : ['application/ohttp-keys', standInKeys];
    res.writeHead(200, { 'content-type': type, 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  standInOrigin = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
  // A port nothing listens on: bound, then closed.
  const gone = http.createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  closedOrigin = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => gone.close(() => { resolve(); }));
});

after(async () => {
  await new Promise<void>((resolve) => standIn.close(() => { resolve(); }));
  await node.close();
});

const boundKeys = (): Uint8Array[] => {
  const cmw = parseCertificate(certificate).extensions.get(ID_PE_CMW);
  assert.ok(cmw !== undefined);
  return [...decodeRaTlsExtension(cmw.value).keyConfigs];
};

describe('assembleDirectory', () => {
  it('lists a node that answers with what it serves: its range, key configurations, certificate and evidence digest', async () => {
    const { directory, left } = await assembleDirectory({ nodes: [{ name: 'node-1', origin, keyIds: { first: 4, last: 7 } }], gateway: GATEWAY, now: () => NOW });
    assert.deepEqual(left, []);
    assert.equal(directory.issued, NOW.toISOString());
    const [entry] = directory.nodes;
    assert.ok(entry !== undefined);
    assert.equal(entry.name, 'node-1');
    assert.equal(entry.gateway, GATEWAY);
    assert.deepEqual(entry.keyIds, [4, 7]);
    assert.deepEqual(entry.attestation, certificate);
    assert.deepEqual(decodeOhttpKeys(entry.keyConfigs), boundKeys());
    for (const c of decodeOhttpKeys(entry.keyConfigs)) assert.ok(decodeKeyConfig(c).keyId >= 4 && decodeKeyConfig(c).keyId <= 7);
    const cmw = parseCertificate(certificate).extensions.get(ID_PE_CMW);
    assert.ok(cmw !== undefined);
    assert.equal(entry.evidence, `sha256:${toHex(createHash('sha256').update(decodeRaTlsExtension(cmw.value).bundle).digest())}`);
    // What it assembles is a valid cloister-fleet/v1 directory.
    assert.deepEqual(parseFleetDirectory(serializeFleetDirectory(directory)), directory);
  });

  it('leaves out, in the order given, the nodes that are down, inconsistent, out of range or refused, and lists the rest', async () => {
    standInKeys = encodeOhttpKeys([...boundKeys(), ...boundKeys()]);
    const refused = new VerificationError('MEASUREMENT_NOT_LOGGED', 'not the published image', { field: 'measurement' });
    let judged = 0;
    const nodes: FleetNodeSource[] = [
      { name: 'down', origin: closedOrigin, keyIds: { first: 0, last: 3 } },
      { name: 'good', origin, keyIds: { first: 4, last: 7 } },
      { name: 'unbound', origin: standInOrigin, keyIds: { first: 4, last: 7 } },
      { name: 'wrong-range', origin, keyIds: { first: 8, last: 11 } },
    ];
    const { directory, left } = await assembleDirectory({
      nodes,
      gateway: GATEWAY,
      timeoutMs: 5000,
      judge: async () => {
        judged++;
        await Promise.resolve();
      },
    });
    assert.deepEqual(directory.nodes.map((n) => n.name), ['good']);
    assert.deepEqual(left.map((l) => [l.name, l.error.code, l.error.field?.startsWith('/.well-known/') === true ? 'a well-known path' : l.error.field]), [
      ['down', 'FLEET_NODE_UNAVAILABLE', 'a well-known path'],
      ['unbound', 'FLEET_NODE_UNAVAILABLE', 'keyConfigs'],
      ['wrong-range', 'FLEET_NODE_UNAVAILABLE', 'keyIds'],
    ]);
    assert.match(left[2]?.error.message ?? '', /wrong-range uses key ID [4-7], outside its range 8-11: start it with --ohttp-key-ids 8-11/);
    assert.equal(judged, 1, 'the judge sees only nodes that passed the other checks');

    const judgedOut = await assembleDirectory({ nodes: [nodes[1] as FleetNodeSource], gateway: GATEWAY, judge: () => Promise.reject(refused) });
    assert.deepEqual(judgedOut.directory.nodes, []);
    assert.deepEqual(judgedOut.left.map((l) => [l.name, l.error]), [['good', refused]], "the judge's own error, as it threw it");
  });

  it('a stand-in that serves the bound key configurations (over plain HTTP) is listed', async () => {
    standInKeys = encodeOhttpKeys(boundKeys());
    const { directory, left } = await assembleDirectory({ nodes: [{ name: 'plain', origin: standInOrigin, keyIds: { first: 0, last: 255 } }], gateway: GATEWAY });
    assert.deepEqual(left, []);
    assert.deepEqual(directory.nodes.map((n) => n.name), ['plain']);
  });

  it("a node of another shard is listed with its shard's gateway", async () => {
    standInKeys = encodeOhttpKeys(boundKeys());
    const { directory } = await assembleDirectory({ nodes: [{ name: 'plain', origin: standInOrigin, keyIds: { first: 0, last: 255 }, gateway: 'https://shard-b.fleet.example' }], gateway: GATEWAY });
    assert.deepEqual(directory.nodes.map((n) => n.gateway), ['https://shard-b.fleet.example']);
  });

  it('a node answering 404 or another media type is left out with FLEET_NODE_UNAVAILABLE', async () => {
    const odd = http.createServer((req, res) => {
      if (req.url === ATTESTATION_CERTIFICATE_PATH) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('certificate');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    try {
      const { left } = await assembleDirectory({ nodes: [{ name: 'odd', origin: `http://127.0.0.1:${(odd.address() as AddressInfo).port}`, keyIds: { first: 0, last: 3 } }], gateway: GATEWAY });
      assert.deepEqual(left.map((l) => [l.name, l.error.code]), [['odd', 'FLEET_NODE_UNAVAILABLE']]);
    } finally {
      await new Promise<void>((resolve) => odd.close(() => { resolve(); }));
    }
  });
});
