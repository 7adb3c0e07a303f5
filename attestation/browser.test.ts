// The verifier in a real browser: headless Chromium loads dist/attestation as plain ES modules and
// verifies real SEV-SNP evidence, and a Rekor checkpoint with an inclusion proof, with WebCrypto. Runs where
// Chromium is installed (.ci/run installs it); elsewhere it is skipped and says why.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, HPKE_IMPORT_MAP, pageResult } from './testing/chromium.js';
import { ATTESTATION_VECTORS, PROTOCOL_VECTORS } from './testing/vectors.js';

const DIST = fileURLToPath(new URL('../', import.meta.url));

const PAGE = `<!doctype html><meta charset="utf-8">${HPKE_IMPORT_MAP}<body>pending</body><script type="module">
import { splitCertificateFile, verifySnpEvidence } from '/dist/attestation/index.js';
const get = async (p) => new Uint8Array(await (await fetch('/vectors/' + p)).arrayBuffer());
const report = await get('virtee-sev/certs_data/report_milan.bin');
const certificates = [
  ...splitCertificateFile(await get('virtee-sev/certs_data/vcek_milan.der'), 'vcek').certificates,
  ...splitCertificateFile(await get('virtee-sev/certs_data/cert_chain_milan'), 'chain').certificates,
];
const at = new Date('2025-06-01T00:00:00Z');
const good = await verifySnpEvidence({ report, certificates, crls: [], simulated: false }, {}, { at });
const tampered = report.slice(); tampered[21] ^= 0x80;
const bad = await verifySnpEvidence({ report: tampered, certificates, crls: [], simulated: false }, {}, { at });
document.body.textContent = 'RESULT ' + JSON.stringify({ accepted: good.accepted, error: good.error?.code ?? null, tampered: bad.error?.code ?? null, agent: navigator.userAgent });
</script>`;

// A Rekor v2 checkpoint (Ed25519 through WebCrypto) and the inclusion proof of its entry, from the Sigstore conformance case.
const TRANSPARENCY_PAGE = `<!doctype html><meta charset="utf-8">${HPKE_IMPORT_MAP}<body>pending</body><script type="module">
import { fromBase64, noteVerifierFromSpki, verifyLogEntry } from '/dist/attestation/index.js';
const dir = '/protocols/sigstore-conformance/bundle-verify/rekor2-happy-path/';
const bundle = await (await fetch(dir + 'bundle.sigstore.json')).json();
const root = await (await fetch(dir + 'trusted_root.json')).json();
const origin = 'log2025-alpha1.rekor.sigstage.dev';
const key = root.tlogs.find((t) => t.baseUrl === 'https://' + origin).publicKey.rawBytes;
const trust = { log: { origin, keys: [await noteVerifierFromSpki(origin, fromBase64(key))] } };
const e = bundle.verificationMaterial.tlogEntries[0];
const claim = { checkpoint: e.inclusionProof.checkpoint.envelope, entry: { bytes: fromBase64(e.canonicalizedBody) }, index: Number(e.inclusionProof.logIndex), proof: e.inclusionProof.hashes.map((h) => fromBase64(h)) };
const good = await verifyLogEntry(claim, { trust }).then((v) => v.checkpoint.checkpoint.size, (err) => err.code ?? String(err));
const moved = await verifyLogEntry({ ...claim, index: claim.index - 1 }, { trust }).then(() => null, (err) => err.code ?? String(err));
document.body.textContent = 'RESULT ' + JSON.stringify({ good, moved });
</script>`;

const TYPES: Readonly<Record<string, string>> = { '.js': 'text/javascript', '.html': 'text/html' };

function serve(): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let file: string | undefined;
    if (url.pathname === '/' || url.pathname === '/transparency') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(url.pathname === '/' ? PAGE : TRANSPARENCY_PAGE);
      return;
    }
    if (url.pathname.startsWith('/dist/attestation/')) file = join(DIST, normalize(url.pathname.slice('/dist/'.length)));
    if (url.pathname.startsWith('/node_modules/@hpke/')) file = join(DIST, '..', normalize(url.pathname));
    if (url.pathname.startsWith('/vectors/')) file = join(ATTESTATION_VECTORS, normalize(url.pathname.slice('/vectors/'.length)));
    if (url.pathname.startsWith('/protocols/')) file = join(PROTOCOL_VECTORS, normalize(url.pathname.slice('/protocols/'.length)));
    if (file === undefined || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
}

describe('attestation/ in a browser', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CLOISTER_CHROMIUM)` }, () => {
  let server: Server;
  before(async () => {
    server = serve();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => { resolve(); })));

  it('verifies a real Milan report with WebCrypto and rejects a tampered one', async () => {
    const { port } = server.address() as AddressInfo;
    const result = (await pageResult(`http://127.0.0.1:${port}/`)) as { accepted: boolean; error: string | null; tampered: string | null; agent: string };
    assert.equal(result.accepted, true, String(result.error));
    assert.equal(result.tampered, 'REPORT_SIGNATURE_INVALID');
    assert.match(result.agent, /Chrome/);
  });

  it('verifies a Rekor v2 checkpoint (Ed25519) and its entry\'s inclusion proof, and refuses the proof at another index', async () => {
    const { port } = server.address() as AddressInfo;
    const result = (await pageResult(`http://127.0.0.1:${port}/transparency`)) as { good: number | string; moved: string | null };
    assert.equal(result.good, 736);
    assert.equal(result.moved, 'INCLUSION_PROOF_INVALID');
  });
});
