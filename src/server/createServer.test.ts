// The targets behind the gateway depend on the TEE: POST /v1/echo is served on the simulated TEE only. A
// configuration whose evidence provider is not simulated (here the simulated SEV-SNP behind a provider
// that says it is hardware, as the machine's TEE would) answers it 404 inside the encapsulation. TDX
// collateral: the simulated TDX TEE's, kept current, in every bundle and on /status.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { decodeResponse, encodeRequest } from '../../attestation/protocols/bhttp.js';
import { encapsulateRequest } from '../../attestation/protocols/ohttp/encapsulation.js';
import { OHTTP_GATEWAY_PATH, OHTTP_REQUEST_MEDIA_TYPE } from '../../attestation/protocols/ohttp/paths.js';
import { readTdxCollateral, tdxCollateralJson } from '../../attestation/tdx/collateral.js';
import { vector } from '../../attestation/testing/vectors.js';
import { nodeHpke } from '../base/crypto/nodeHpke.js';
import type { EvidenceProvider } from '../tee/provider.js';
import { openSimulatedConfigfsProvider } from '../tee/sim/simulatedTsm.js';
import { SimulatedSnp } from '../tee/sim/snpSimulator.js';
import { EVIDENCE_PATH } from './app.js';
import { recordedFetch } from '../../attestation/testing/kdsRecordings.js';
import { snpVectorRows } from '../../attestation/testing/vectors.js';
import { createServer, kdsOptions, type CloisterServer, type TeeConfig } from './createServer.js';

const stateDir = mkdtempSync(join(tmpdir(), 'cloister-create-server-'));
process.env.CLOISTER_STATE_DIR = stateDir;

/** The simulated SEV-SNP, presented as the machine's own TEE. */
async function hardwareStandIn(): Promise<EvidenceProvider> {
  const simulated = await openSimulatedConfigfsProvider(await SimulatedSnp.create({ product: 'Milan' }, { stateDir }));
  return { name: 'hardware stand-in', platform: simulated.platform, simulated: false, getEvidence: async (request) => ({ ...(await simulated.getEvidence(request)), simulated: false }) };
}

const quiet = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});

/** POST /v1/echo inside the encapsulation, to a server built from `tee`; the inner status and content. */
async function echoThrough(tee: TeeConfig): Promise<{ simulated: boolean; status: number; content: string }> {
  const server = await createServer({ tee, tls: false, models: null, logDestination: quiet });
  try {
    const key = server.keyStore.keys[0];
    assert.ok(key !== undefined);
    const message = encodeRequest({ method: 'POST', scheme: 'https', authority: 'cloister', path: '/v1/echo', headers: [], content: new TextEncoder().encode('hello'), trailers: [] });
    const request = await encapsulateRequest(key.config, message, { primitives: nodeHpke });
    const r = await server.app.inject({ method: 'POST', url: OHTTP_GATEWAY_PATH, headers: { 'content-type': OHTTP_REQUEST_MEDIA_TYPE }, payload: Buffer.from(request.bytes) });
    assert.equal(r.statusCode, 200, r.body);
    const inner = decodeResponse(await request.opener.open(new Uint8Array(r.rawPayload)));
    return { simulated: server.provider.simulated, status: inner.status, content: new TextDecoder().decode(inner.content) };
  } finally {
    await server.close();
  }
}

describe('the targets behind the gateway', () => {
  it('serves POST /v1/echo on the simulated TEE', async () => {
    assert.deepEqual(await echoThrough({ kind: 'simulated', platform: 'sev-snp' }), { simulated: true, status: 200, content: 'hello' });
  });

  it('does not route POST /v1/echo on a TEE that is not simulated: 404 inside the encapsulation', async () => {
    assert.deepEqual(await echoThrough({ kind: 'provider', open: hardwareStandIn }), { simulated: false, status: 404, content: 'not found' });
  });
});

/** The boot bundle the server serves, as JSON. */
async function bootBundle(server: CloisterServer): Promise<{ simulated: boolean; collateral?: Record<string, string> }> {
  const r = await server.app.inject({ method: 'GET', url: `${EVIDENCE_PATH}/${server.evidence.boot.id}` });
  assert.equal(r.statusCode, 200, r.body);
  return JSON.parse(r.body) as { simulated: boolean; collateral?: Record<string, string> };
}

describe('TDX collateral', () => {
  for (const tls of [false, true]) {
    it(`the simulated TDX TEE serves its simulated collateral, SIMULATED on /status, and re-issues ${tls ? 'the certificate' : 'the boot bundle'} when it is refreshed`, async () => {
      const server = await createServer({ tee: { kind: 'simulated', platform: 'tdx' }, tls, models: null, logDestination: quiet });
      try {
        const cache = server.collateral ?? assert.fail('no collateral cache');
        assert.equal(cache.source.simulated, true);
        const before = await bootBundle(server);
        assert.equal(before.simulated, true);
        assert.deepEqual(before.collateral, tdxCollateralJson(cache.collateral));
        assert.ok(server.evidence.boot.freshUntil <= cache.current.nextUpdate);
        const status = JSON.parse((await server.app.inject({ method: 'GET', url: '/status' })).body) as { tee: string; collateral: { source: string; nextUpdate: string; refreshAt: string } };
        assert.match(status.tee, /^SIMULATED/);
        assert.match(status.collateral.source, /SIMULATED/);
        assert.equal(status.collateral.refreshAt, cache.current.refreshAt.toISOString());
        const certificate = server.identity?.certificate.certificateDer;
        await cache.refresh();
        const after = await bootBundle(server);
        assert.deepEqual(after.collateral, tdxCollateralJson(cache.collateral));
        assert.notEqual(after.collateral.tcb_info_signature, before.collateral.tcb_info_signature, 'ECDSA signatures differ between issues');
        if (tls) assert.notDeepEqual(server.identity?.certificate.certificateDer, certificate, 'a new RA-TLS certificate');
      } finally {
        await server.close();
      }
      const kept = server.collateral?.collateral;
      await server.collateral?.refresh();
      assert.equal(server.collateral?.collateral, kept, 'close() stopped the cache');
    });
  }

  it('given collateral is served as it is, with no source; SEV-SNP has none', async () => {
    const given = readTdxCollateral(JSON.parse(new TextDecoder().decode(vector('dcap-qvl/tdx_quote_collateral.json'))), '$').collateral ?? assert.fail('collateral');
    const tdx = await createServer({ tee: { kind: 'simulated', platform: 'tdx' }, collateral: given, tls: false, models: null, logDestination: quiet });
    try {
      assert.equal(tdx.collateral, undefined);
      assert.deepEqual((await bootBundle(tdx)).collateral, tdxCollateralJson(given));
      assert.equal('collateral' in (JSON.parse((await tdx.app.inject({ method: 'GET', url: '/status' })).body) as object), false);
    } finally {
      await tdx.close();
    }
    const snp = await createServer({ tee: { kind: 'simulated', platform: 'sev-snp' }, tls: false, models: null, logDestination: quiet });
    try {
      assert.equal(snp.collateral, undefined);
    } finally {
      await snp.close();
    }
  });
});

/** A SEV-SNP host that supplies no certificates, with the real Genoa report of row S5 (its REPORT_DATA binds nothing here). */
function bareHost(): Promise<EvidenceProvider> {
  const evidence = snpVectorRows().find((r) => r.id === 'S5')?.evidence.report;
  assert.ok(evidence);
  return Promise.resolve({ name: 'bare host', platform: 'sev-snp', simulated: false, getEvidence: () => Promise.resolve({ platform: 'sev-snp', evidence, source: 'sev-guest ioctl', simulated: false }) });
}

describe('SEV-SNP certificates from AMD KDS', () => {
  it('are fetched by default for the machine\'s TEE only', () => {
    assert.deepEqual(kdsOptions({ tee: { kind: 'hardware' } }), {});
    assert.equal(kdsOptions({ tee: { kind: 'hardware' }, kds: false }), false);
    assert.equal(kdsOptions({ tee: { kind: 'simulated', platform: 'sev-snp' } }), false);
    assert.equal(kdsOptions({ tee: { kind: 'provider', open: bareHost } }), false);
  });

  it('fill the boot bundle of a host that supplies none (recorded answers)', async () => {
    const server = await createServer({ tee: { kind: 'provider', open: bareHost }, kds: { fetch: recordedFetch() }, tls: false, models: null, logDestination: quiet });
    try {
      const bundle = JSON.parse(new TextDecoder().decode(server.evidence.boot.bytes)) as { certificates: string[]; source: string };
      assert.equal(bundle.certificates.length, 3);
      assert.match(bundle.source, /AMD KDS/);
    } finally {
      await server.close();
    }
  });

  it('are logged, not fatal, when KDS fails: the bundle goes out without them', async () => {
    const lines: string[] = [];
    const log = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const server = await createServer({ tee: { kind: 'provider', open: bareHost }, kds: { fetch: recordedFetch(new Map()) }, tls: false, models: null, logDestination: log });
    try {
      const bundle = JSON.parse(new TextDecoder().decode(server.evidence.boot.bytes)) as { certificates: string[] };
      assert.equal(bundle.certificates.length, 0);
      const warning = lines.map((l) => JSON.parse(l) as { msg: string; status?: number; url?: string }).find((l) => l.msg.startsWith('no SEV-SNP certificates from AMD KDS'));
      assert.equal(warning?.status, 404);
      assert.match(warning.url ?? '', /^https:\/\/kdsintf\.amd\.com\/vcek\/v1\/Genoa\//);
    } finally {
      await server.close();
    }
  });
});
