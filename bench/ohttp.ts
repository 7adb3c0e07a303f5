// Gateway throughput: one OHTTP exchange (decapsulate a request, encapsulate a response of the same
// size; DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM) with 1 KiB and 64 KiB bodies, measured as
//   raw node:crypto          bench/rawOhttp.ts, the same operations with no library between (the limit)
//   gateway                  @hpke/core's CipherSuite with the node:crypto primitives (src/base/crypto/nodeHpke.ts)
//   @hpke/core, WebCrypto    the same code on @hpke/core's own primitives (the browser client's path)
import { createPublicKey, KeyObject } from 'node:crypto';
import { decapsulateRequest, encapsulateRequest, type GatewayKey, cipherSuite, webCryptoHpke, AEAD_AES_128_GCM, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256, type KeyConfig } from '../attestation/protocols/index.js';
import { nodeHpke, rawPublicKey } from '../src/base/index.js';
import { measureInterleaved, type SuiteReport } from './measure.js';
import { rawDecapsulate } from './rawOhttp.js';

const OPTIONS = { budgetMs: 4000, minIterations: 200, warmup: 100 } as const;
const TARGET = 0.7;
const REQUESTS = 32;

export async function ohttpSuite(size: number): Promise<SuiteReport> {
  const suite = cipherSuite(nodeHpke, KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_128_GCM);
  if (suite === undefined) throw new Error('no suite');
  const pair = await suite.kem.generateKeyPair();
  const config: KeyConfig = { keyId: 7, kemId: KEM_X25519_HKDF_SHA256, publicKey: new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)), suites: [{ kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM }] };
  const key: GatewayKey = { config, privateKey: pair.privateKey };
  const webSuite = cipherSuite(webCryptoHpke, KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_128_GCM);
  if (webSuite === undefined) throw new Error('no suite');
  const webKey: GatewayKey = { config, privateKey: await webSuite.kem.deserializePrivateKey(await suite.kem.serializePrivateKey(pair.privateKey)) };
  const skR = KeyObject.from(pair.privateKey);
  const pkRm = rawPublicKey(createPublicKey(skR));
  {
    const body = new Uint8Array(size).fill(0x61);
    const requests = await Promise.all(Array.from({ length: REQUESTS }, () => encapsulateRequest(config, body, { primitives: nodeHpke })));
    // Each implementation must open what the client sealed, and the client must open each answer.
    for (const r of requests.slice(0, 2)) {
      const raw = await rawDecapsulate(r.bytes, skR, pkRm);
      if (Buffer.compare(raw.message, body) !== 0) throw new Error('raw decapsulation disagrees');
      const opened = await r.opener.open(raw.respond(body));
      if (opened.length !== size) throw new Error('raw response does not open');
    }
    let i = 0;
    const next = (): Uint8Array => (requests[i++ % REQUESTS] as { bytes: Uint8Array }).bytes;
    const label = `${size / 1024} KiB`;
    const measured = await measureInterleaved(
      [
        { name: `raw node:crypto, ${label}`, fn: async () => (await rawDecapsulate(next(), skR, pkRm)).respond(body) },
        {
          name: `gateway, ${label}`,
          fn: async () => {
            const d = await decapsulateRequest(next(), () => key, nodeHpke);
            await d.responder.encapsulateChunks(body);
            d.message.fill(0);
          },
        },
        {
          name: `@hpke/core WebCrypto, ${label}`,
          fn: async () => {
            const d = await decapsulateRequest(next(), () => webKey, webCryptoHpke);
            await d.responder.encapsulate(body);
          },
        },
      ],
      OPTIONS,
    );
    const [raw, gateway, web] = measured;
    if (raw === undefined || gateway === undefined || web === undefined) throw new Error('missing rows');
    const ratio = gateway.opsPerSec / raw.opsPerSec;
    return {
      title: `OHTTP gateway, ${label} bodies: decapsulate + encapsulate one exchange, one core (cases interleaved call by call)`,
      rows: measured,
      baseline: raw.name,
      notes: [
      `gateway ${gateway.opsPerSec.toFixed(0)}/s = ${(ratio * 100).toFixed(1)}% of raw node:crypto (target >= ${TARGET * 100}%: ${ratio >= TARGET ? 'PASS' : 'MISS'}); WebCrypto @hpke/core ${((web.opsPerSec / raw.opsPerSec) * 100).toFixed(1)}%`,
      ],
    };
  }
}
