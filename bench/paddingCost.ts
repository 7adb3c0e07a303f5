// The price of padding to size classes (docs/ohttp.md "Padding"), in-process, each padded case beside the
// same request unpadded, cases interleaved call by call (gateway.handle: decapsulate, route, encode, pad,
// encapsulate, wipe):
//   ocr      POST /v1/ocr with a receipt PNG: the request padded by the client's default classes, the
//            answer by the pack's (the default), against both sent at their own lengths;
//   tensors  the recognition model through the tensor endpoint (180 KiB in, 1 MiB out): default classes,
//            and fine steps (8 per doubling from 64 KiB) on both sides, against none;
//   echo     POST /v1/echo with 1 KiB and 64 KiB: the bare exchange, where padding is the largest share
//            of the cost, at its worst (each body just over a power of two once framed).
import { encodeRequest, encapsulateRequest, requestOverhead, paddedLength, cipherSuite, AEAD_AES_128_GCM, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256, DEFAULT_PADDING, type BhttpRequest, type GatewayKey, type KeyConfig, type PaddingPolicy, type SizeClasses } from '../attestation/protocols/index.js';
import { afterRequest, nodeHpke } from '../src/base/index.js';
import { closePacks, encodeTensors, inferenceRoutes, InferenceQueue, inThread, loadModelPack, openPack, PACKS_DIR, TENSORS_MEDIA_TYPE, type LoadedPack } from '../src/inference/index.js';
import { echoRoute, OhttpGateway, targetRouter, type TargetRoute } from '../src/ohttp/index.js';
import { renderTextImages } from '../src/testing/renderText.js';
import { measureInterleaved, pairedRatio, type Measurement, type SuiteReport } from './measure.js';

const FINE: SizeClasses = Object.freeze({ floor: 1024, fineFrom: 64 * 1024, steps: 8 });
const TARGET = 0.02;
const REQUEST_OVERHEAD = requestOverhead(KEM_X25519_HKDF_SHA256);

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

async function gatewayKey(): Promise<{ key: GatewayKey; config: KeyConfig }> {
  const suite = cipherSuite(nodeHpke, KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_128_GCM);
  if (suite === undefined) throw new Error('no suite');
  const pair = await suite.kem.generateKeyPair();
  const config: KeyConfig = { keyId: 1, kemId: KEM_X25519_HKDF_SHA256, publicKey: new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)), suites: [{ kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM }] };
  return { key: { config, privateKey: pair.privateKey }, config };
}

interface Variant {
  readonly label: string;
  /** For the request (the client's) and for every response (the routes' and the gateway's). */
  readonly padding: PaddingPolicy;
}

const VARIANTS: Readonly<Record<'none' | 'default' | 'fine', Variant>> = {
  none: { label: 'unpadded', padding: 'none' },
  default: { label: 'padded, default classes', padding: DEFAULT_PADDING },
  fine: { label: 'padded, fine steps above 64 KiB', padding: FINE },
};

/** One case: the gateway with `variant`'s classes on `routes`, answering one request encapsulated with them. */
async function exchangeCase(name: string, routes: readonly TargetRoute[], message: BhttpRequest, variant: Variant, keys: { key: GatewayKey; config: KeyConfig }): Promise<{ name: string; fn: () => Promise<void> }> {
  const padding = variant.padding;
  const gateway = new OhttpGateway({ keys: () => keys.key, target: targetRouter(routes.map((r) => ({ ...r, padding }))), primitives: nodeHpke, afterRequest, padding });
  const request = await encapsulateRequest(keys.config, encodeRequest(message, { padTo: (n) => paddedLength(padding, n, REQUEST_OVERHEAD) }), { primitives: nodeHpke });
  const check = await gateway.handle(request.bytes);
  if (check.kind !== 'encapsulated' || check.status !== 200) throw new Error(`${name} failed: ${JSON.stringify(check)}`);
  return {
    name: `${name}, ${variant.label} (${request.bytes.length} B in, ${check.bodyLength} B out)`,
    fn: async () => {
      const r = await gateway.handle(request.bytes);
      if (r.kind !== 'encapsulated') throw new Error('failed');
    },
  };
}

/** What padding costs `padded` against `unpadded` over the same rounds. */
function costNote(what: string, unpadded: Measurement, padded: Measurement, target?: number): string {
  const r = pairedRatio(unpadded, padded);
  const per = 1 - r.perRound.value;
  const total = 1 - r.total.value;
  const verdict = target === undefined ? '' : ` (target < ${pct(target)}: ${per < target && total < target ? 'PASS' : 'MISS'})`;
  return `${what}: padded throughput ${pct(r.perRound.value)} of unpadded per round (95% CI ${pct(r.perRound.low)}-${pct(r.perRound.high)}), ${pct(r.total.value)} in total; padding costs ${pct(per)} per round, ${pct(total)} in total${verdict}`;
}

async function ocrRows(keys: { key: GatewayKey; config: KeyConfig }, loaded: LoadedPack): Promise<{ rows: Measurement[]; notes: string[] }> {
  const [png] = await renderTextImages([['COFFEE 3.20', 'BAGEL 2.75', 'ORANGE JUICE 4.10', 'TOTAL 10.05']]);
  if (png === undefined) throw new Error('no image');
  const routes = inferenceRoutes(inThread([loaded], new InferenceQueue()));
  const message: BhttpRequest = { method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/ocr', headers: [['content-type', 'image/png']], content: png, trailers: [] };
  const cases = [await exchangeCase(`OCR, ${png.length} B PNG`, routes, message, VARIANTS.none, keys), await exchangeCase(`OCR, ${png.length} B PNG`, routes, message, VARIANTS.default, keys)];
  const rows = await measureInterleaved(cases, { budgetMs: 12_000, minIterations: 30, warmup: 3 });
  const [none, padded] = rows;
  if (none === undefined || padded === undefined) throw new Error('missing rows');
  return { rows, notes: [costNote('OCR (POST /v1/ocr)', none, padded, TARGET)] };
}

async function tensorRows(keys: { key: GatewayKey; config: KeyConfig }, loaded: LoadedPack): Promise<{ rows: Measurement[]; notes: string[] }> {
  const dims = [1, 3, 48, 320];
  const input = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37));
  const body = encodeTensors([{ name: 'x', type: 'float32', dims, data: input }]);
  const routes = inferenceRoutes(inThread([loaded], new InferenceQueue()));
  const message: BhttpRequest = { method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/models/ocr/recognition', headers: [['content-type', TENSORS_MEDIA_TYPE]], content: body, trailers: [] };
  const cases = await Promise.all([VARIANTS.none, VARIANTS.default, VARIANTS.fine].map((v) => exchangeCase('tensors', routes, message, v, keys)));
  const rows = await measureInterleaved(cases, { budgetMs: 15_000, minIterations: 100, warmup: 10 });
  const [none, padded, fine] = rows;
  if (none === undefined || padded === undefined || fine === undefined) throw new Error('missing rows');
  return { rows, notes: [costNote('tensor endpoint, default classes', none, padded, TARGET), costNote('tensor endpoint, fine steps', none, fine, TARGET)] };
}

async function echoRows(keys: { key: GatewayKey; config: KeyConfig }): Promise<{ rows: Measurement[]; notes: string[] }> {
  const message = (size: number): BhttpRequest => ({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/echo', headers: [], content: new Uint8Array(size).fill(0x61), trailers: [] });
  const cases = [
    await exchangeCase('echo 1 KiB', [echoRoute], message(1024), VARIANTS.none, keys),
    await exchangeCase('echo 1 KiB', [echoRoute], message(1024), VARIANTS.default, keys),
    await exchangeCase('echo 64 KiB', [echoRoute], message(64 * 1024), VARIANTS.none, keys),
    await exchangeCase('echo 64 KiB', [echoRoute], message(64 * 1024), VARIANTS.default, keys),
    await exchangeCase('echo 64 KiB', [echoRoute], message(64 * 1024), VARIANTS.fine, keys),
  ];
  const rows = await measureInterleaved(cases, { budgetMs: 8000, minIterations: 200, warmup: 100 });
  const [none1, padded1, none64, padded64, fine64] = rows;
  if (none1 === undefined || padded1 === undefined || none64 === undefined || padded64 === undefined || fine64 === undefined) throw new Error('missing rows');
  return {
    rows,
    notes: [costNote('echo 1 KiB (worst case, informational)', none1, padded1), costNote('echo 64 KiB (worst case, informational)', none64, padded64), costNote('echo 64 KiB, fine steps', none64, fine64)],
  };
}

export async function paddingSuite(): Promise<SuiteReport> {
  const keys = await gatewayKey();
  const loaded = await openPack(await loadModelPack(`${PACKS_DIR}/ocr.json`));
  try {
    const ocr = await ocrRows(keys, loaded);
    const tensors = await tensorRows(keys, loaded);
    const echo = await echoRows(keys);
    return {
      title: 'Padding to size classes: each request padded and unpadded, through gateway.handle (decapsulate, route, encode, pad, encapsulate, wipe), one core, cases interleaved call by call',
      rows: [...ocr.rows, ...tensors.rows, ...echo.rows],
      notes: [...ocr.notes, ...tensors.notes, ...echo.notes],
    };
  } finally {
    await closePacks([loaded]);
  }
}
