// Sizes through the whole stack (docs/ohttp.md "Padding"): the client, `cloister relay` and `cloister serve`
// with the Silero VAD pack. Requests and answers of different sizes within one class cross the relay at one
// length, the class, and that is all the relay's and the gateway's logs record; a pack whose floor is above
// its answers sends its 400s and its 200s at one length.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { OhttpClient, type OhttpClientOptions } from '../../attestation/client/ohttpClient.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { PACKS_DIR } from '../inference/manifest.js';
import { encodeTensors, TENSORS_MEDIA_TYPE } from '../inference/tensorCodec.js';
import { startRelay, type Relay } from '../relay/relay.js';
import { createRelayLogger } from '../relay/relayLog.js';
import { availableSimulatedRoots } from '../tee/sim/devRoots.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import { unauthenticatedFetch, type HttpFetchResponse } from '../testing/unauthenticatedFetch.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';

process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-padding-'));

/** Log lines as JSON objects, from a pino destination. */
function sink(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const text: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text.push(chunk.toString());
      done();
    },
  });
  return { stream, lines: () => text.join('').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** The encapsulated request and response of each POST, by length, as the relay's client side sees them. */
const wire: { request: number; response: number }[] = [];
async function recordingFetch(url: string, init: { method: string; headers: Record<string, string>; body?: Uint8Array; signal?: AbortSignal }): Promise<HttpFetchResponse> {
  const r = await unauthenticatedFetch(url, init);
  if (init.method !== 'POST') return r;
  const body = await r.arrayBuffer();
  wire.push({ request: init.body?.length ?? 0, response: body.byteLength });
  return { status: r.status, headers: r.headers, arrayBuffer: () => Promise.resolve(body) };
}

const gatewayLog = sink();
const relayLog = sink();
let close: (() => Promise<void>) | undefined;
let relay: Relay | undefined;
let options: OhttpClientOptions;

before(async () => {
  const models = mkdtempSync(join(tmpdir(), 'cloister-padding-models-'));
  copyFileSync(join(PACKS_DIR, 'vad.json'), join(models, 'vad.json'));
  let url = '';
  const code = await serveCommand(['--simulated', '--port', '0', '--models', models], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u), logDestination: gatewayLog.stream });
  assert.equal(code, 0);
  relay = await startRelay({ gateways: [{ name: 'default', origin: url }], port: 0, logger: createRelayLogger({ destination: relayLog.stream }) });
  options = { relay: `${relay.url}/default`, policy: await simulatedMeasurementPolicy(), snpVerifier: new SnpVerifier({ additionalRoots: (await availableSimulatedRoots()).snp }), fetch: recordingFetch, primitives: nodeHpke };
});

after(async () => {
  await relay?.close();
  await close?.();
});

/** The lengths of the exchanges `send` makes, and the relay's and the gateway's log lines for them. */
async function observe(send: () => Promise<unknown>): Promise<{ wire: { request: number; response: number }[]; relay: unknown[]; gateway: unknown[] }> {
  const [w, r, g] = [wire.length, relayLog.lines().length, gatewayLog.lines().length];
  await send();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const requests = (lines: Record<string, unknown>[]): Record<string, unknown>[] => lines.filter((l) => l.kind === 'request' || l.msg === 'private request');
  return {
    wire: wire.slice(w),
    relay: requests(relayLog.lines().slice(r)).map((l) => l.bytes),
    gateway: requests(gatewayLog.lines().slice(g)).map((l) => [l.requestBytes, l.responseBytes]),
  };
}

describe('padding through the relay and the gateway', () => {
  it('sends echo requests of 1, 300 and 900 bytes, and their answers, at 1 KiB each; the logs hold only the class', async () => {
    const client = new OhttpClient(options);
    const seen = await observe(async () => {
      for (const size of [1, 300, 900]) {
        const body = new Uint8Array(size).fill(0x61);
        const r = await client.fetch({ url: 'https://cloister/v1/echo', body: body.slice() });
        assert.deepEqual([r.status, r.content], [200, body]);
      }
    });
    assert.deepEqual(seen.wire, Array(3).fill({ request: 1024, response: 1024 }));
    assert.deepEqual(seen.relay, [1024, 1024, 1024]);
    assert.deepEqual(seen.gateway, Array(3).fill([1024, 1024]));
  });

  it('sends a 1 000-byte and a 1 900-byte echo in the next class, 2 KiB', async () => {
    const client = new OhttpClient(options);
    const seen = await observe(async () => {
      for (const size of [1000, 1900]) assert.equal((await client.fetch({ url: 'https://cloister/v1/echo', body: new Uint8Array(size) })).status, 200);
    });
    assert.deepEqual(seen.wire, Array(2).fill({ request: 2048, response: 2048 }));
    assert.deepEqual(seen.relay, [2048, 2048]);
  });

  it("answers the VAD pack's 400 and 200 at one length, its 2 KiB floor; a 404 at the default 1 KiB", async () => {
    const client = new OhttpClient(options);
    const send = (body: Uint8Array, path = '/v1/models/vad/vad') => client.fetch({ url: `https://cloister${path}`, headers: [['content-type', TENSORS_MEDIA_TYPE]], body });
    const good = encodeTensors([
      { name: 'input', type: 'float32', dims: [1, 576], data: new Float32Array(576) },
      { name: 'state', type: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
      { name: 'sr', type: 'int64', dims: [], data: BigInt64Array.from([16000n]) },
    ]);
    const statuses: number[] = [];
    const seen = await observe(async () => {
      for (const [body, path] of [[good], [new Uint8Array([1, 2, 3])], [new Uint8Array(3), '/v1/models/nope/nope']] as const) statuses.push((await send(body, path)).status);
    });
    assert.deepEqual(statuses, [200, 400, 404]);
    assert.deepEqual(seen.wire.map((w) => w.response), [2048, 2048, 1024]);
    assert.deepEqual(seen.wire.map((w) => w.request), [4096, 1024, 1024]);
  });

  it("a client with padding 'none' sends its request at its own length (the relay then logs it rounded up)", async () => {
    const client = new OhttpClient({ ...options, padding: 'none' });
    const seen = await observe(() => client.fetch({ url: 'https://cloister/v1/echo', body: new Uint8Array(10) }));
    assert.ok((seen.wire[0]?.request ?? 0) < 128, JSON.stringify(seen.wire));
    assert.equal(seen.wire[0]?.response, 1024, 'the gateway pads its answer all the same');
    assert.deepEqual(seen.relay, [128]);
  });
});
