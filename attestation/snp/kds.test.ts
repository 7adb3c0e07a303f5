import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesEqual } from '../bytes.js';
import { createDevChain, createDevCrl } from '../testing/devSnp.js';
import { RECORDED_VCEK_URLS, recordedFetch, recordedKds } from '../testing/kdsRecordings.js';
import { certs, snpVectorRows, vector } from '../testing/vectors.js';
import { parseCertificate } from '../x509.js';
import { verifySnpEvidence } from './evidence.js';
import { certChainUrl, crlUrl, fetchCertChain, fetchCrl, fetchVcek, fetchVcekForReport, KdsError, vcekUrl, type KdsFetch } from './kds.js';
import { productFromCpuId, type Product } from './product.js';
import { parseReport } from './report.js';
import { decodeTcb } from './tcb.js';
import { parseVekExtensions } from './vek.js';

const rows = new Map(snpVectorRows().map((r) => [r.id, r]));

function realReport(id: string): { report: ReturnType<typeof parseReport>; product: Product } {
  const row = rows.get(id);
  assert.ok(row);
  const report = parseReport(row.evidence.report);
  return { report, product: report.cpuid === undefined ? 'Milan' : (productFromCpuId(report.cpuid) ?? 'Milan') };
}

/** A fetch that answers every URL with `status` and `body`. */
const answering = (status: number, body: Uint8Array | string, statusText = ''): KdsFetch => () =>
  Promise.resolve({ status, statusText, arrayBuffer: () => Promise.resolve((typeof body === 'string' ? new TextEncoder().encode(body) : body).slice().buffer) });

const rejection = (url: string, status: number | undefined, pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof KdsError, String(e));
  assert.equal(e.code, 'KDS_REQUEST_FAILED');
  assert.equal(e.url, url);
  assert.equal(e.status, status);
  assert.match(e.message, pattern);
  assert.ok(e.message.includes(url) && !e.message.includes('\n'), 'one line naming the URL');
  return true;
};

describe('AMD KDS URLs', () => {
  it('matches go-sev-guest kds.VCEKCertURL (its kds_test.go vector: hwid fe 00.. c0, TCB 0)', () => {
    const hwid = new Uint8Array(64);
    hwid[0] = 0xfe;
    hwid[63] = 0xc0;
    assert.equal(vcekUrl('Milan', hwid, { bootloader: 0, tee: 0, snp: 0, microcode: 0 }), `https://kdsintf.amd.com/vcek/v1/Milan/fe${'00'.repeat(62)}c0?blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=0`);
  });

  for (const id of ['S1', 'S2', 'S3', 'S5', 'S6']) {
    it(`${id}: the VCEK URL from the real report's CHIP_ID and REPORTED_TCB`, () => {
      const { report, product } = realReport(id);
      assert.equal(vcekUrl(product, report.chipId, decodeTcb(report.reportedTcb, product)), RECORDED_VCEK_URLS[id]);
    });
  }

  it('Turin: the first 8 bytes of CHIP_ID as hwid, and fmcSPL first', () => {
    const info = parseVekExtensions(parseCertificate(vector('virtee-sev/certs_data/vcek_turin.der')));
    const chipId = new Uint8Array(64);
    chipId.set(info.hwId ?? []);
    assert.equal(vcekUrl('Turin', chipId, info.tcb), RECORDED_VCEK_URLS.turin);
  });

  it('the chain and CRL URLs for VCEK and VLEK, against a mirror too', () => {
    assert.equal(certChainUrl('Genoa', 'vcek'), 'https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain');
    assert.equal(certChainUrl('Milan', 'vlek'), 'https://kdsintf.amd.com/vlek/v1/Milan/cert_chain');
    assert.equal(crlUrl('Turin', 'vcek'), 'https://kdsintf.amd.com/vcek/v1/Turin/crl');
    assert.equal(crlUrl('Milan', 'vlek', { baseUrl: 'http://kds-cache.internal:8080/' }), 'http://kds-cache.internal:8080/vlek/v1/Milan/crl');
  });
});

describe('fetching from AMD KDS (recorded answers)', () => {
  for (const id of ['S1', 'S2', 'S3', 'S5', 'S6']) {
    it(`${id}: the VCEK and the chain, as served, verify the real report`, async () => {
      const { report, product } = realReport(id);
      const asked: string[] = [];
      const options = { fetch: recordedFetch(recordedKds(), asked) };
      const vcek = await fetchVcekForReport(report, product, options);
      const chain = await fetchCertChain(product, 'vcek', options);
      assert.deepEqual(asked, [RECORDED_VCEK_URLS[id], `https://kdsintf.amd.com/vcek/v1/${product}/cert_chain`]);
      assert.equal(vcek.url, RECORDED_VCEK_URLS[id]);
      assert.ok(bytesEqual(vcek.bytes, vcek.value.der), 'the bytes served are the certificate');
      assert.equal(chain.value.ask.subjectCommonName, `SEV-${product}`);
      assert.equal(chain.value.ark.subjectCommonName, `ARK-${product}`);
      const v = await verifySnpEvidence(
        { report: report.raw, certificates: [vcek.value.der, chain.value.ask.der, chain.value.ark.der], crls: [], simulated: false },
        { allowDebug: true, allowProvisionalFirmware: true },
        { at: new Date('2025-06-01T00:00:00Z') },
      );
      assert.equal(v.error?.code, undefined, v.error?.message);
    });
  }

  it('the Turin VCEK and chain', async () => {
    const info = parseVekExtensions(parseCertificate(vector('virtee-sev/certs_data/vcek_turin.der')));
    const chipId = new Uint8Array(64);
    chipId.set(info.hwId ?? []);
    const options = { fetch: recordedFetch() };
    const vcek = await fetchVcek('Turin', chipId, info.tcb, options);
    assert.ok(bytesEqual(vcek.bytes, vector('virtee-sev/certs_data/vcek_turin.der')));
    assert.equal((await fetchCertChain('Turin', 'vcek', options)).value.ark.subjectCommonName, 'ARK-Turin');
  });

  it('the VLEK chain (ASVK and ARK)', async () => {
    const chain = await fetchCertChain('Milan', 'vlek', { fetch: recordedFetch() });
    assert.equal(chain.value.ask.subjectCommonName, 'SEV-VLEK-Milan');
    assert.ok(bytesEqual(chain.bytes, vector('go-sev-guest/ask_ark_milan_vlek.pem')));
  });

  it('a CRL issued by the ARK (no AMD CRL is recorded: one in the same shape from a development ARK-Milan)', async () => {
    const crl = await createDevCrl(await createDevChain());
    const url = 'https://kdsintf.amd.com/vcek/v1/Milan/crl';
    const got = await fetchCrl('Milan', 'vcek', { fetch: recordedFetch(new Map([[url, crl]])) });
    assert.equal(got.url, url);
    assert.equal(got.value.issuerCommonName, 'ARK-Milan');
    await assert.rejects(fetchCrl('Genoa', 'vcek', { fetch: answering(200, crl) }), rejection('https://kdsintf.amd.com/vcek/v1/Genoa/crl', 200, /not a DER CRL issued by ARK-Genoa: its issuer is ARK-Milan/));
  });
});

describe('what KDS answers that is not what was asked', () => {
  const { report } = realReport('S2');
  const url = RECORDED_VCEK_URLS.S2 as string;
  const tcb = decodeTcb(report.reportedTcb, 'Milan');

  it('an HTTP error: one line with the URL and status', async () => {
    await assert.rejects(fetchVcekForReport(report, 'Milan', { fetch: answering(404, '', 'Not Found') }), rejection(url, 404, /^AMD KDS answered 404 Not Found for https:/));
    await assert.rejects(fetchVcekForReport(report, 'Milan', { fetch: answering(204, '') }), rejection(url, 204, /^AMD KDS answered 204 for https:/));
    await assert.rejects(fetchCertChain('Milan', 'vcek', { fetch: answering(429, 'slow down', 'Too Many Requests') }), rejection('https://kdsintf.amd.com/vcek/v1/Milan/cert_chain', 429, /answered 429 Too Many Requests/));
  });

  it('no answer: the network error and its code', async () => {
    const refused: KdsFetch = () => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }));
    await assert.rejects(fetchVcekForReport(report, 'Milan', { fetch: refused }), rejection(url, undefined, /request to .* failed: fetch failed \(ECONNREFUSED\)/));
    const hanging: KdsFetch = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal.addEventListener('abort', () => {
          reject(new Error(`aborted: ${(init.signal.reason as Error).message}`));
        });
      });
    await assert.rejects(fetchVcekForReport(report, 'Milan', { fetch: hanging, timeoutMs: 5 }), rejection(url, undefined, /failed: aborted: .*timeout/));
    const unread: KdsFetch = () => Promise.resolve({ status: 200, statusText: 'OK', arrayBuffer: () => Promise.reject(new Error('body stream aborted')) });
    await assert.rejects(fetchVcekForReport(report, 'Milan', { fetch: unread }), rejection(url, 200, /could not be read: body stream aborted/));
  });

  it('a body that is not the VCEK of that chip at that TCB', async () => {
    const other = vector('go-sev-guest/vcek_milan.der');
    await assert.rejects(fetchVcekForReport(report, 'Milan', { fetch: answering(200, 'not DER') }), rejection(url, 200, /is not the VCEK asked for: /));
    await assert.rejects(fetchVcekForReport(report, 'Milan', { fetch: answering(200, other) }), rejection(url, 200, /its hwID is 3ac3fe21/));
    await assert.rejects(fetchVcek('Milan', report.chipId, { ...tcb, microcode: 116 }, { fetch: answering(200, vector('virtee-sev/certs_data/vcek_milan.der')) }), /its TCB is \{bl=3 tee=0 snp=8 ucode=115\}, not \{bl=3 tee=0 snp=8 ucode=116\}/);
    await assert.rejects(fetchVcek('Genoa', report.chipId, tcb, { fetch: answering(200, vector('virtee-sev/certs_data/vcek_milan.der')) }), /it is a VCEK for Milan-B0/);
    await assert.rejects(fetchVcek('Milan', report.chipId, tcb, { fetch: answering(200, vector('trustee/snp/test-vlek.der')) }), /it is a VLEK for Milan/);
  });

  it('a chain that is not two PEM certificates of the product', async () => {
    const chainUrl = 'https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain';
    await assert.rejects(fetchCertChain('Genoa', 'vcek', { fetch: answering(200, vector('go-sev-guest/ask_ark_milan_vcek.pem')) }), rejection(chainUrl, 200, /it names SEV-Milan and ARK-Milan/));
    await assert.rejects(fetchCertChain('Genoa', 'vcek', { fetch: answering(200, '') }), rejection(chainUrl, 200, /it holds no PEM block/));
    const three = new TextDecoder().decode(vector('trustee/az-snp-vtpm/vcek.pem'));
    await assert.rejects(fetchCertChain('Milan', 'vcek', { fetch: answering(200, three) }), /it holds CERTIFICATE, CERTIFICATE, CERTIFICATE/);
  });

  it('a report with an all-zero CHIP_ID has no VCEK to fetch (MISSING_CERTIFICATE, nothing asked)', async () => {
    const { report: vlek } = realReport('S4');
    const asked: string[] = [];
    await assert.rejects(fetchVcekForReport(vlek, 'Milan', { fetch: recordedFetch(recordedKds(), asked) }), (e: Error & { code?: string }) => e.code === 'MISSING_CERTIFICATE' && /MASK_CHIP_ID/.test(e.message));
    assert.deepEqual(asked, []);
  });

  it('the body bytes are those served: a cache keyed by URL gets back what KDS sent', async () => {
    const recorded = recordedKds();
    const got = await fetchCertChain('Milan', 'vcek', { fetch: recordedFetch(recorded) });
    assert.ok(bytesEqual(got.bytes, recorded.get(got.url) ?? new Uint8Array(0)));
    assert.equal(certs('go-sev-guest/ask_ark_milan_vcek.pem').length, 2);
    assert.ok(bytesEqual(got.value.ark.der, certs('go-sev-guest/ask_ark_milan_vcek.pem')[1] ?? new Uint8Array(0)));
  });
});
