// The inference targets through the whole stack: `cloister serve` with model packs, a client through
// OHTTP, and a server that refuses to start on a pack whose bytes differ from its manifest.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OhttpClient } from '../../attestation/client/ohttpClient.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import { PACKS_DIR } from '../inference/manifest.js';
import { decodeTensors, encodeTensors, TENSORS_MEDIA_TYPE } from '../inference/tensorCodec.js';
import { availableSimulatedRoots } from '../tee/sim/devRoots.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';
import { tamperedVadPack } from '../testing/tamperedPack.js';
import { unauthenticatedFetch } from '../testing/unauthenticatedFetch.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';

const state = mkdtempSync(join(tmpdir(), 'cloister-inference-'));
process.env.CLOISTER_STATE_DIR = state;

describe('serve with model packs', () => {
  it('does not start with a pack whose model bytes differ from the manifest (MODEL_HASH_MISMATCH)', async () => {
    const dir = tamperedVadPack();
    let stderr = '';
    const c = await serveCommand(['--simulated', '--port', '0', '--models', dir], { ...processIo, stderr: (t) => (stderr += t) }, { stopSignal: () => undefined });
    assert.equal(c, 2, 'the server does not start with a refused pack');
    assert.match(stderr, /MODEL_HASH_MISMATCH/);
  });
});

describe('the tensor endpoint behind the gateway (Silero VAD)', () => {
  let url = '';
  let close: (() => Promise<void>) | undefined;
  let client: OhttpClient;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-vad-'));
    copyFileSync(join(PACKS_DIR, 'vad.json'), join(dir, 'vad.json'));
    assert.equal(await serveCommand(['--simulated', '--port', '0', '--models', dir], { ...processIo, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u) }), 0);
    client = new OhttpClient({ relay: url, gateway: url, policy: await simulatedMeasurementPolicy(), snpVerifier: new SnpVerifier({ additionalRoots: (await availableSimulatedRoots()).snp }), fetch: unauthenticatedFetch, primitives: nodeHpke });
  });
  after(async () => {
    await close?.();
  });

  const vadRequest = (samples: Float32Array): Uint8Array =>
    encodeTensors([
      { name: 'input', type: 'float32', dims: [1, 576], data: samples },
      { name: 'state', type: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
      { name: 'sr', type: 'int64', dims: [], data: BigInt64Array.from([16000n]) },
    ]);

  it('lists the packs, and runs the model on tensors sent through OHTTP', async () => {
    const list = await client.fetch({ url: 'https://cloister/v1/models' });
    assert.equal(list.status, 200);
    assert.deepEqual((JSON.parse(new TextDecoder().decode(list.content)) as { packs: { name: string }[] }).packs.map((p) => p.name), ['vad']);
    const silence = await client.fetch({ url: 'https://cloister/v1/models/vad/vad', headers: [['content-type', TENSORS_MEDIA_TYPE]], body: vadRequest(new Float32Array(576)) });
    assert.equal(silence.status, 200);
    const out = decodeTensors(silence.content, 1000);
    assert.deepEqual(out.map((t) => [t.name, t.dims]), [['output', [1, 1]], ['stateN', [2, 1, 128]]]);
    const p = (out[0]?.data as Float32Array)[0] as number;
    assert.ok(p >= 0 && p < 0.5, `silence has a low speech probability, got ${p}`);
  });

  it('answers malformed tensors, wrong inputs, a sample rate the model cannot take and the wrong media type inside the encapsulation, and keeps serving', async () => {
    const send = (body: Uint8Array, type = TENSORS_MEDIA_TYPE) => client.fetch({ url: 'https://cloister/v1/models/vad/vad', headers: [['content-type', type]], body });
    assert.equal((await send(new Uint8Array([1, 2, 3]))).status, 400);
    const wrongShape = encodeTensors([
      { name: 'input', type: 'float32', dims: [1, 100], data: new Float32Array(100) },
      { name: 'state', type: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
      { name: 'sr', type: 'int64', dims: [], data: BigInt64Array.from([16000n]) },
    ]);
    const r = await send(wrongShape);
    assert.equal(r.status, 400);
    assert.match(new TextDecoder().decode(r.content), /input input must have shape \[1, 576\]/);
    const otherRate = await send(
      encodeTensors([
        { name: 'input', type: 'float32', dims: [1, 576], data: new Float32Array(576) },
        { name: 'state', type: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
        { name: 'sr', type: 'int64', dims: [], data: BigInt64Array.from([-1n]) },
      ]),
    );
    assert.deepEqual([otherRate.status, new TextDecoder().decode(otherRate.content)], [400, 'input sr must hold only 16000'], 'a sample rate the model cannot take is 400, not 500');
    assert.equal((await send(vadRequest(new Float32Array(576)), 'application/json')).status, 415);
    assert.equal((await client.fetch({ url: 'https://cloister/v1/models/nope/nope', body: new Uint8Array(1) })).status, 404);
    assert.equal((await send(vadRequest(new Float32Array(576)))).status, 200);
  });
});
