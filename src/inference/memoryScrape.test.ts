// Nothing left behind: the server runs as its own process with the memory hygiene settings of npm start
// (node --expose-gc --clear-free-memory, glibc malloc perturb, ORT arena off). After warm-up requests and
// one request whose image carries a random canary, this process reads the server's memory through
// /proc/PID/mem and counts copies of the input (image bytes, decoded pixels, float32 windows of the
// detection tensor) and of the output (the recognised text as ASCII and UTF-16LE, and its 16-byte tail):
// 0 of each. A second test does the same after tensor requests (float32 windows of the input and of its
// 1 MiB answer) and a JPEG (its bytes and decoded pixels). In each scan a positive control (model bytes
// the server must hold) shows the scan sees what is there. The server's log must not contain the canary
// either. A third suite releases bursts of 40 OCR requests at once, each image with a fresh random
// canary, and scans 2 s after the last answer of each round for every recognised text: with inference in
// worker threads (the default) and in the server's thread. Skipped without Chromium (it renders the
// images).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import type { OhttpClient } from '../../attestation/client/ohttpClient.js';
import { startServerProcess, type ServerProcess } from '../testing/serverProcess.js';
import { CHROMIUM, renderTextImages } from '../testing/renderText.js';
import { assertNoResidue, inkRowPatterns, randomCanary, textPatterns } from '../testing/residue.js';
import { detectionInput } from './ocr/detect.js';
import { decodeImage } from './ocr/image.js';
import { decodeTensors, encodeTensors, TENSORS_MEDIA_TYPE } from './tensorCodec.js';

describe('memory scrape after a private OCR request', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CLOISTER_CHROMIUM)` }, () => {
  let server: ServerProcess;
  let images: Uint8Array[];
  const canary = randomCanary(16);

  before(async () => {
    images = await renderTextImages([[`WARM ${randomCanary(12)}`, 'TOTAL 1.00'], [`WARM ${randomCanary(12)}`], [`CANARY ${canary}`, `TOTAL ${canary.slice(0, 6)}`]]);
    server = await startServerProcess({ models: ['ocr'] });
  });

  after(async () => {
    await server.stop();
  });

  const newClient = (): Promise<OhttpClient> => server.client();

  it('finds no copy of the input or the output in the server process, and none in its log', async () => {
    const client = await newClient();
    const send = (png: Uint8Array) => client.fetch({ url: 'https://cloister/v1/ocr', headers: [['content-type', 'image/png']], body: png });
    for (const png of images.slice(0, 2)) assert.equal((await send(png)).status, 200);
    const target = images[2] as Uint8Array;
    const response = await send(target);
    assert.equal(response.status, 200);
    const text = response.content;
    assert.ok(new TextDecoder().decode(text).includes(canary.slice(0, 8)), `the canary was recognised: ${new TextDecoder().decode(text)}`);
    await new Promise((r) => setTimeout(r, 500));

    const enc = new TextEncoder();
    const utf16 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf16le'));
    const recognised = new TextDecoder().decode(text);
    const patterns: Record<string, Uint8Array> = {
      'output text, ASCII': text,
      'output text, UTF-16LE': utf16(recognised),
      'output tail, 16 bytes': text.subarray(Math.max(0, text.length - 16)),
      'canary, ASCII': enc.encode(canary),
      'canary, UTF-16LE': utf16(canary),
    };
    for (const at of [64, Math.floor(target.length / 2), target.length - 96]) patterns[`input PNG bytes @${at}`] = target.slice(at, at + 32);
    Object.assign(patterns, inkRowPatterns(target, 'decoded pixels'));
    const det = detectionInput(decodeImage(target));
    const plane = det.dims[2] * det.dims[3];
    for (const [i, y] of [Math.floor(det.dims[2] * 0.12), Math.floor(det.dims[2] * 0.2)].entries()) {
      const start = y * det.dims[3] + 20;
      const window = det.data.slice(start, start + 8);
      if (new Set(window).size > 1 && start + 8 < plane) patterns[`detection tensor float32 window ${i}`] = new Uint8Array(window.buffer);
    }
    assert.ok(Object.keys(patterns).length >= 9, Object.keys(patterns).join(', '));
    assertNoResidue(server.pid, patterns);
    const log = server.stdout();
    assert.doesNotMatch(log, new RegExp(canary.slice(0, 8)));
    assert.match(log, /"route":"\/\.well-known\/ohttp-gateway","status":200/);
    assert.match(log, /"model":"ocr","status":200,"requestBytes":\d+,"responseBytes":\d+,"msg":"private request"/);
  });

  it('finds no copy of a tensor request or of its 1 MiB answer (pooled buffers are wiped), nor of a JPEG and its pixels', async () => {
    const client = await newClient();
    const dims = [1, 3, 48, 320];
    const tensorRequest = () => encodeTensors([{ name: 'x', type: 'float32', dims, data: Float32Array.from({ length: 3 * 48 * 320 }, () => Math.random() * 2 - 1) }]);
    const sendTensors = (body: Uint8Array) => client.fetch({ url: 'https://cloister/v1/models/ocr/recognition', headers: [['content-type', TENSORS_MEDIA_TYPE]], body });
    for (let i = 0; i < 2; i++) assert.equal((await sendTensors(tensorRequest())).status, 200);
    const body = tensorRequest();
    const input = (decodeTensors(body, 1 << 20)[0]?.data ?? new Float32Array(0)) as Float32Array;
    const answer = await sendTensors(body.slice());
    assert.equal(answer.status, 200);
    const logits = (decodeTensors(answer.content, 1 << 24)[0]?.data ?? new Float32Array(0)) as Float32Array;
    assert.equal(logits.length, 40 * 6625);

    const [rendered] = await renderTextImages([[`JPEG ${canary.slice(8)}`, 'TOTAL 2.00']]);
    const pixels = decodeImage(rendered as Uint8Array);
    const rgba = new Uint8Array(pixels.width * pixels.height * 4);
    for (let i = 0; i < pixels.width * pixels.height; i++) rgba.set([pixels.data[3 * i] ?? 0, pixels.data[3 * i + 1] ?? 0, pixels.data[3 * i + 2] ?? 0, 255], 4 * i);
    const photo = new Uint8Array(jpeg.encode({ width: pixels.width, height: pixels.height, data: rgba }, 95).data);
    const read = await client.fetch({ url: 'https://cloister/v1/ocr', headers: [['content-type', 'image/jpeg']], body: photo.slice() });
    assert.equal(read.status, 200);
    assert.ok(new TextDecoder().decode(read.content).includes(canary.slice(8, 14)), new TextDecoder().decode(read.content));
    await new Promise((r) => setTimeout(r, 500));

    const patterns: Record<string, Uint8Array> = {};
    const floats = (a: Float32Array, at: number): Uint8Array => new Uint8Array(a.buffer, a.byteOffset + at * 4, 32).slice();
    for (const at of [17, Math.floor(input.length / 2), input.length - 40]) patterns[`tensor input float32 @${at}`] = floats(input, at);
    // Windows of the answer where the logits vary (most of a softmax row is near 0).
    const varied = [...Array(40).keys()].map((row) => row * 6625).filter((start) => new Set(logits.subarray(start, start + 8)).size === 8);
    for (const start of varied.slice(0, 3)) patterns[`tensor answer float32 @${start}`] = floats(logits, start);
    assert.ok(varied.length >= 1, 'some answer rows vary');
    for (const at of [700, Math.floor(photo.length / 2)]) patterns[`input JPEG bytes @${at}`] = photo.slice(at, at + 32);
    Object.assign(patterns, inkRowPatterns(photo, 'JPEG decoded pixels'));
    assertNoResidue(server.pid, patterns);
  });
});

for (const [mode, args, rounds] of [
  ['in worker threads (the default)', [], 3],
  ['in the server thread (--inference-workers 0)', ['--inference-workers', '0'], 2],
] as const) {
  describe(`memory scrape after bursts of 40 concurrent OCR requests, inference ${mode}`, { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CLOISTER_CHROMIUM)` }, () => {
    let started: ServerProcess;
    before(async () => {
      // The burst queues 40 jobs; on a busy 2-core machine the last waits longer than the 25 s default deadline.
      started = await startServerProcess({ models: ['ocr'], args: ['--queue', '64', '--target-timeout', '180', ...args] });
    });
    after(async () => {
      await started.stop();
    });

    it(`finds no recognised text of any request, ${rounds} rounds, 2 s after each round's last answer`, async () => {
      const client = await started.client();
      assert.match(started.stdout(), new RegExp(args.length === 0 ? 'inference runs in worker threads' : 'inference runs in the server thread'));
      for (let round = 0; round < rounds; round++) {
        const canaries = Array.from({ length: 40 }, () => randomCanary(15));
        const images = await renderTextImages(canaries.map((c) => [c]));
        const answers = await Promise.all(images.map((png) => client.fetch({ url: 'https://cloister/v1/ocr', headers: [['content-type', 'image/png']], body: png })));
        const texts = answers.map((a) => a.content);
        assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200));
        const recognised = texts.filter((t, i) => new TextDecoder().decode(t).includes((canaries[i] as string).slice(0, 10)));
        assert.ok(recognised.length >= 36, `round ${round}: ${recognised.length} of 40 canaries recognised`);
        await new Promise((r) => setTimeout(r, 2000));
        const patterns: Record<string, Uint8Array> = {};
        for (const [i, text] of texts.entries()) {
          if (text.length < 8) continue;
          Object.assign(patterns, textPatterns(`request ${i}`, text, canaries[i] ?? ''));
        }
        assertNoResidue(started.pid, patterns);
        for (const c of canaries) assert.doesNotMatch(started.stdout(), new RegExp(c.slice(0, 10)));
      }
    });
  });
}
