import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { decodeSnpEvidence } from '../../attestation/evidence/platforms.js';
import { CERT_GUID, parseCertTable, serializeCertTable } from '../../attestation/snp/certTable.js';
import { verifySnpEvidence } from '../../attestation/snp/evidence.js';
import { KdsError, type KdsFetch } from '../../attestation/snp/kds.js';
import { createDevChain, createDevCrl } from '../../attestation/testing/devSnp.js';
import { RECORDED_VCEK_URLS, recordedFetch, recordedKds } from '../../attestation/testing/kdsRecordings.js';
import { certs, snpVectorRows, vector } from '../../attestation/testing/vectors.js';
import { assembleSnpBundle } from './assembleBundle.js';
import { KDS_SOURCE_SUFFIX, KdsCertificateProvider, type KdsCertificateOptions } from './kdsCertificates.js';
import type { EvidenceProvider, RawEvidence } from './provider.js';

const AT = new Date('2025-06-01T00:00:00Z');
const REQUEST = { reportData: new Uint8Array(64) };
const rows = new Map(snpVectorRows().map((r) => [r.id, r.evidence.report]));
const report = (id: string): Uint8Array => rows.get(id) ?? assert.fail(id);

/** The machine's TEE as a host without SNP_SET_EXT_CONFIG shows it: the report, and the certificate table given (none by default). */
function host(evidence: Uint8Array, certTable?: Uint8Array): EvidenceProvider {
  const raw: RawEvidence = { platform: 'sev-snp', evidence, source: 'configfs-tsm/sev_guest', simulated: false, ...(certTable === undefined ? {} : { certTable }) };
  return { name: 'host', platform: 'sev-snp', simulated: false, getEvidence: () => Promise.resolve(raw) };
}

function filled(inner: EvidenceProvider, options: KdsCertificateOptions = {}): { provider: KdsCertificateProvider; asked: string[]; errors: CloisterError[] } {
  const asked: string[] = [];
  const errors: CloisterError[] = [];
  const provider = new KdsCertificateProvider(inner, { fetch: recordedFetch(recordedKds(), asked), onError: (e) => errors.push(e), ...options });
  return { provider, asked, errors };
}

const guids = (raw: RawEvidence): string[] => (raw.certTable === undefined ? [] : parseCertTable(raw.certTable).map((e) => e.guid));

describe('SEV-SNP certificates from AMD KDS when the host supplies none (recorded answers)', () => {
  it('S5 (Genoa, CPUID in the report): the bundle carries the VCEK, ASK and ARK, and verifies', async () => {
    const { provider, asked, errors } = filled(host(report('S5')));
    const raw = await provider.getEvidence(REQUEST);
    assert.deepEqual(errors, []);
    assert.deepEqual(asked.sort(), [RECORDED_VCEK_URLS.S5, 'https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain'].sort());
    assert.deepEqual(guids(raw), [CERT_GUID.vcek, CERT_GUID.ask, CERT_GUID.ark]);
    assert.equal(raw.source, `configfs-tsm/sev_guest${KDS_SOURCE_SUFFIX}`);
    const bundle = assembleSnpBundle(raw);
    const v = await verifySnpEvidence(decodeSnpEvidence(bundle.bytes), {}, { at: AT });
    assert.equal(v.accepted, true, v.error?.message);
  });

  it('asks KDS once per chip and TCB, however many reports follow', async () => {
    const { provider, asked } = filled(host(report('S5')));
    for (let i = 0; i < 3; i++) await provider.getEvidence(REQUEST);
    assert.equal(asked.length, 2);
  });

  it('a version 2 report names no product: the configured one, else MISSING_CERTIFICATE and nothing asked', async () => {
    const configured = filled(host(report('S2')), { product: 'Milan' });
    assert.deepEqual(guids(await configured.provider.getEvidence(REQUEST)), [CERT_GUID.vcek, CERT_GUID.ask, CERT_GUID.ark]);
    const unknown = filled(host(report('S2')));
    const raw = await unknown.provider.getEvidence(REQUEST);
    assert.equal(raw.certTable, undefined);
    assert.equal(unknown.errors[0]?.code, 'MISSING_CERTIFICATE');
    assert.match(unknown.errors[0].message, /version 2\) names no product/);
    assert.deepEqual(unknown.asked, []);
  });

  it('leaves a host table with the VCEK alone, and completes one with only the ASK and ARK', async () => {
    const extended = vector('derived/snp-extended-reports/az_genoa.ext.bin');
    const table = extended.subarray(1184);
    const complete = filled(host(report('S5'), table));
    const raw = await complete.provider.getEvidence(REQUEST);
    assert.equal(raw.certTable, table);
    assert.deepEqual(complete.asked, []);
    const [ask, ark] = certs('go-sev-guest/trust/ask_ark_genoa.pem') as [Uint8Array, Uint8Array];
    const chainOnly = filled(host(report('S5'), serializeCertTable([{ guid: CERT_GUID.ask, data: ask }, { guid: CERT_GUID.ark, data: ark }])));
    assert.deepEqual(guids(await chainOnly.provider.getEvidence(REQUEST)), [CERT_GUID.ask, CERT_GUID.ark, CERT_GUID.vcek]);
  });

  it('adds the ARK CRL when asked', async () => {
    const crl = await createDevCrl(await createDevChain({ product: 'Genoa' }));
    const recorded = recordedKds().set('https://kdsintf.amd.com/vcek/v1/Genoa/crl', crl);
    const provider = new KdsCertificateProvider(host(report('S5')), { fetch: recordedFetch(recorded), crl: true });
    const raw = await provider.getEvidence(REQUEST);
    assert.deepEqual(guids(raw), [CERT_GUID.vcek, CERT_GUID.ask, CERT_GUID.ark, CERT_GUID.crl]);
    assert.equal(assembleSnpBundle(raw).freshUntil.toISOString(), '2025-12-31T00:00:00.000Z');
  });

  it('on a KDS failure: reports it, sends the evidence as the host gave it, and waits retryMs before asking again', async () => {
    let now = 1_000;
    let down = true;
    const asked: string[] = [];
    const recorded = recordedFetch(recordedKds(), asked);
    const fetch: KdsFetch = async (url, init) => (down ? { status: 429, statusText: 'Too Many Requests', arrayBuffer: () => Promise.resolve(new ArrayBuffer(0)) } : recorded(url, init));
    const errors: CloisterError[] = [];
    const provider = new KdsCertificateProvider(host(report('S5')), { fetch, onError: (e) => errors.push(e), retryMs: 60_000, now: () => now });
    assert.equal((await provider.getEvidence(REQUEST)).certTable, undefined);
    assert.ok(errors[0] instanceof KdsError);
    assert.equal(errors[0].status, 429);
    down = false;
    now += 59_999;
    assert.equal((await provider.getEvidence(REQUEST)).certTable, undefined, 'no new attempt inside retryMs');
    assert.deepEqual(asked, []);
    now += 1;
    assert.deepEqual(guids(await provider.getEvidence(REQUEST)), [CERT_GUID.vcek, CERT_GUID.ask, CERT_GUID.ark]);
    assert.equal(errors.length, 1);
  });

  it('a VLEK-signed report without certificates: MISSING_CERTIFICATE, nothing asked (KDS gives VLEKs to CSPs only)', async () => {
    const { provider, asked, errors } = filled(host(report('S4')));
    assert.equal((await provider.getEvidence(REQUEST)).certTable, undefined);
    assert.match(errors[0]?.message ?? '', /signed by the VLEK/);
    assert.deepEqual(asked, []);
  });

  it('passes TDX evidence through untouched', async () => {
    const tdx: RawEvidence = { platform: 'tdx', evidence: new Uint8Array(8), source: 'configfs-tsm/tdx_guest', simulated: false };
    const inner: EvidenceProvider = { name: 'tdx', platform: 'tdx', simulated: false, getEvidence: () => Promise.resolve(tdx) };
    const { provider, asked } = filled(inner);
    assert.equal(await provider.getEvidence(REQUEST), tdx);
    assert.deepEqual(asked, []);
    assert.deepEqual([provider.name, provider.platform, provider.simulated], ['tdx', 'tdx', false]);
  });
});
