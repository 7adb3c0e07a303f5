import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePem, fromHex, toHex } from '../bytes.js';
import { CloisterError, ParseError } from '../errors.js';
import { RECORDED_PCS_URLS, recordedPcsFetch, recordedPcsResponses, type RecordedResponse } from '../testing/recordedPcs.js';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { vector } from '../testing/vectors.js';
import { parseCertificate } from '../x509.js';
import { tdxCollateralJson } from './collateral.js';
import { fetchPckCollateral, fetchQuoteCollateral, INTEL_ROOT_CA_CRL_URL, pcsTarget, pcsUrls, type PcsClientOptions, type PcsFetch, type PcsUpdateType } from './pcsClient.js';
import { parseQuote, type TdxQuote } from './quote.js';

const quote = (id: string): TdxQuote => {
  const row = tdxVectorRows().find((r) => r.id === id);
  assert.ok(row);
  return parseQuote(row.quote);
};
const T1 = quote('T1');
const t1Pck = parseCertificate(T1.pckCertificates[0] as Uint8Array);
const derived = (name: string): unknown => JSON.parse(new TextDecoder().decode(vector(`derived/tdx-collateral-dcapqvl-format/${name}`)));

/** The error `fetchQuoteCollateral(T1)` gives with `change` applied to the recorded responses. */
async function failure(change: (responses: Map<string, RecordedResponse>) => void, options: PcsClientOptions = {}): Promise<CloisterError> {
  const responses = recordedPcsResponses();
  change(responses);
  try {
    await fetchQuoteCollateral(T1, { fetch: recordedPcsFetch(responses), ...options });
  } catch (e) {
    assert.ok(e instanceof CloisterError, String(e));
    return e;
  }
  assert.fail('fetchQuoteCollateral succeeded');
}

function edit(responses: Map<string, RecordedResponse>, url: string, change: Partial<RecordedResponse>): void {
  const r = responses.get(url);
  assert.ok(r);
  responses.set(url, { ...r, ...change });
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const tcbBody = (): string => new TextDecoder().decode(recordedPcsResponses().get(RECORDED_PCS_URLS.tcbInfoT1)?.body);

describe('the Intel PCS v4 URLs', () => {
  it("T1's PCK certificate: FMSPC 50806f000000 from the Platform CA, the URLs go-tdx-guest's pcs package builds", () => {
    assert.deepEqual(pcsTarget(t1Pck), { fmspc: '50806f000000', ca: 'platform' });
    assert.deepEqual(pcsUrls(pcsTarget(t1Pck)), {
      tcbInfo: RECORDED_PCS_URLS.tcbInfoT1,
      qeIdentity: RECORDED_PCS_URLS.qeIdentity,
      pckCrl: RECORDED_PCS_URLS.pckCrl,
      rootCaCrl: RECORDED_PCS_URLS.rootCaCrl,
    });
  });

  it('update=early on TCB info and QE identity only; the processor CA; a PCCS base with or without its /sgx/certification/v4 suffix', () => {
    const early = pcsUrls({ fmspc: '00906ED50000', ca: 'processor' }, { update: 'early' });
    assert.equal(early.tcbInfo, 'https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=00906ED50000&update=early');
    assert.equal(early.qeIdentity, 'https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity?update=early');
    assert.equal(early.pckCrl, 'https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der');
    assert.equal(pcsUrls({ fmspc: '50806f000000', ca: 'platform' }, { update: 'standard' }).tcbInfo, RECORDED_PCS_URLS.tcbInfoT1);
    for (const base of ['https://pccs.example:8081', 'https://pccs.example:8081/', 'https://pccs.example:8081/sgx/certification/v4/', 'https://pccs.example:8081/tdx/certification/v4']) {
      const u = pcsUrls({ fmspc: '50806f000000', ca: 'platform' }, { baseUrl: base, rootCaCrlUrl: 'https://pccs.example:8081/sgx/certification/v4/rootcacrl' });
      assert.equal(u.tcbInfo, 'https://pccs.example:8081/tdx/certification/v4/tcb?fmspc=50806f000000', base);
      assert.equal(u.pckCrl, 'https://pccs.example:8081/sgx/certification/v4/pckcrl?ca=platform&encoding=der');
      assert.equal(u.rootCaCrl, 'https://pccs.example:8081/sgx/certification/v4/rootcacrl');
    }
    assert.equal(pcsUrls({ fmspc: '50806f000000', ca: 'platform' }, { baseUrl: 'http://127.0.0.1:8081/pcs' }).qeIdentity, 'http://127.0.0.1:8081/pcs/tdx/certification/v4/qe/identity');
    assert.equal(pcsUrls({ fmspc: '50806f000000', ca: 'platform' }).rootCaCrl, INTEL_ROOT_CA_CRL_URL);
  });

  it('refuses a base URL that is not http(s) or has a query or fragment, a root CA CRL URL that is not http(s), an FMSPC that is not 6 bytes of hex, an unknown update type', () => {
    const target = { fmspc: '50806f000000', ca: 'platform' } as const;
    const cases: [() => unknown, string][] = [
      [() => pcsUrls(target, { baseUrl: 'not a url' }), 'baseUrl'],
      [() => pcsUrls(target, { baseUrl: 'ftp://pcs.example' }), 'baseUrl'],
      [() => pcsUrls(target, { baseUrl: 'https://pcs.example/?x=1' }), 'baseUrl'],
      [() => pcsUrls(target, { baseUrl: 'https://pcs.example/#top' }), 'baseUrl'],
      [() => pcsUrls(target, { rootCaCrlUrl: 'certificates.trustedservices.intel.com/IntelSGXRootCA.der' }), 'rootCaCrlUrl'],
      [() => pcsUrls({ ...target, fmspc: '50806f00' }), 'fmspc'],
      [() => pcsUrls(target, { update: 'late' as PcsUpdateType }), 'update'],
    ];
    for (const [fn, field] of cases) assert.throws(fn, (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_FIELD' && e.field === field);
  });

  it('a PCK certificate from neither PCK CA is refused before any request', () => {
    assert.throws(() => pcsTarget({ ...t1Pck, issuerCommonName: 'Intel SGX PCK Somewhere CA' }), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_FIELD' && /neither Intel SGX PCK Platform CA/.test(e.message));
    assert.deepEqual(pcsTarget({ ...t1Pck, issuerCommonName: 'Intel SGX PCK Processor CA' }).ca, 'processor');
  });
});

describe('fetchQuoteCollateral on go-tdx-guest\'s recorded PCS responses', () => {
  it('T1: asks for exactly the four URLs, and builds the collateral of derived/.../go-tdx-guest_sample_v4_50806f000000.json member for member', async () => {
    const requested: string[] = [];
    const c = await fetchQuoteCollateral(T1, { fetch: recordedPcsFetch(undefined, requested) });
    assert.deepEqual(requested.toSorted(), Object.values(pcsUrls(pcsTarget(t1Pck))).toSorted());
    assert.deepEqual(tdxCollateralJson(c), derived('go-tdx-guest_sample_v4_50806f000000.json'));
  });

  it('T2 (FMSPC 90c06f000000): the collateral of derived/.../go-tdx-guest_sample_v5_90c06f000000_QEID_EXPIRED_2023.json', async () => {
    const c = await fetchQuoteCollateral(quote('T2'), { fetch: recordedPcsFetch() });
    assert.deepEqual(tdxCollateralJson(c), derived('go-tdx-guest_sample_v5_90c06f000000_QEID_EXPIRED_2023.json'));
  });

  it('the TCB info and QE identity texts are the bytes Intel signed: their signatures verify with the issuer chains\' signing keys', async () => {
    const c = await fetchPckCollateral(t1Pck, { fetch: recordedPcsFetch() });
    for (const [text, chain, signature] of [[c.tcbInfo, c.tcbInfoIssuerChain, c.tcbInfoSignature], [c.qeIdentity, c.qeIdentityIssuerChain, c.qeIdentitySignature]] as const) {
      const signer = parseCertificate((decodePem(chain)[0] as { der: Uint8Array }).der);
      const key = await crypto.subtle.importKey('spki', Uint8Array.from(signer.spki), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
      assert.ok(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, Uint8Array.from(fromHex(signature)), utf8(text) as Uint8Array<ArrayBuffer>));
      assert.equal(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, Uint8Array.from(fromHex(signature)), utf8(` ${text}`) as Uint8Array<ArrayBuffer>), false);
    }
  });

  it('takes the TCB info issuer chain from the PCS v3 header name too, and a root CA CRL served as hex (as a PCCS serves it)', async () => {
    const responses = recordedPcsResponses();
    const tcb = responses.get(RECORDED_PCS_URLS.tcbInfoT1);
    assert.ok(tcb);
    edit(responses, RECORDED_PCS_URLS.tcbInfoT1, { headers: { 'SGX-TCB-Info-Issuer-Chain': tcb.headers['TCB-Info-Issuer-Chain'] as string } });
    const root = responses.get(RECORDED_PCS_URLS.rootCaCrl);
    assert.ok(root);
    const pccsRoot = 'https://pccs.example/sgx/certification/v4/rootcacrl';
    responses.set(pccsRoot, { status: 200, body: utf8(`${toHex(root.body)}\n`), headers: {} });
    const c = await fetchQuoteCollateral(T1, { fetch: recordedPcsFetch(responses), rootCaCrlUrl: pccsRoot });
    assert.deepEqual(tdxCollateralJson(c), derived('go-tdx-guest_sample_v4_50806f000000.json'));
  });
});

describe('fetchQuoteCollateral failures: COLLATERAL_UNAVAILABLE, one line naming the URL and the status', () => {
  it('404 (an FMSPC PCS does not know), 503', async () => {
    const e = await failure((r) => r.delete(RECORDED_PCS_URLS.tcbInfoT1));
    assert.equal(e.code, 'COLLATERAL_UNAVAILABLE');
    assert.equal(e.message, `GET ${RECORDED_PCS_URLS.tcbInfoT1}: HTTP 404`);
    assert.deepEqual([e.field, e.actual], ['tcbInfo', '404']);
    const busy = await failure((r) => { edit(r, RECORDED_PCS_URLS.pckCrl, { status: 503 }); });
    assert.deepEqual([busy.message, busy.field], [`GET ${RECORDED_PCS_URLS.pckCrl}: HTTP 503`, 'pckCrl']);
  });

  it('a network failure, with its cause; a timeout', async () => {
    const down: PcsFetch = () => Promise.reject(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:443') }));
    await assert.rejects(fetchQuoteCollateral(T1, { fetch: down }), (e: unknown) => e instanceof CloisterError && e.code === 'COLLATERAL_UNAVAILABLE' && / failed: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:443\)$/.test(e.message) && e.message.startsWith('GET https://') && e.actual === 'TypeError' && e.cause instanceof TypeError);
    const hang: PcsFetch = (_url, init) => new Promise((_resolve, reject) => { init.signal.addEventListener('abort', () => { reject(init.signal.reason as Error); }); });
    await assert.rejects(fetchQuoteCollateral(T1, { fetch: hang, timeoutMs: 5 }), (e: unknown) => e instanceof CloisterError && e.code === 'COLLATERAL_UNAVAILABLE' && e.actual === 'TimeoutError');
  });

  it('a 200 whose body has no top-level tcbInfo, repeats a key, is not JSON or not UTF-8, or lacks the signature', async () => {
    const cases: [string, RegExp][] = [
      [tcbBody().replace('"tcbInfo"', '"tcbinfo"'), /: HTTP 200 but body: the object has no member "tcbInfo"$/],
      [`{"wrapped":${tcbBody()}}`, /no member "tcbInfo"/],
      [tcbBody().replace('"fmspc":', '"id":"TDX","fmspc":'), /key "id" appears twice/],
      [tcbBody().slice(0, 100), /body: not valid JSON/],
      [tcbBody().replace(/,"signature":"[0-9a-f]+"/, ''), /"signature" is missing/],
      [tcbBody().replace(/"signature":"[0-9a-f]+"/, '"signature":"abcd"'), /tcb_info_signature: must be 64 bytes of hex/],
      [tcbBody().replace(/"issueDate":"[^"]+",/, ''), /tcb_info: must have ISO 8601 issueDate and nextUpdate/],
    ];
    for (const [body, line] of cases) {
      const e = await failure((r) => { edit(r, RECORDED_PCS_URLS.tcbInfoT1, { body: utf8(body) }); });
      assert.equal(e.code, 'COLLATERAL_UNAVAILABLE');
      assert.ok(e.message.startsWith(`GET ${RECORDED_PCS_URLS.tcbInfoT1}: HTTP 200 but `), e.message);
      assert.match(e.message, line);
      assert.doesNotMatch(e.message, /\n/);
    }
    const notUtf8 = await failure((r) => { edit(r, RECORDED_PCS_URLS.qeIdentity, { body: Uint8Array.of(0x7b, 0xff, 0x7d) }); });
    assert.equal(notUtf8.message, `GET ${RECORDED_PCS_URLS.qeIdentity}: HTTP 200 but the body is not UTF-8 text`);
  });

  it('an endless body without content-length is abandoned at the limit, not read into memory', async () => {
    let sent = 0;
    const endless = (): ReadableStream<Uint8Array> => new ReadableStream<Uint8Array>({
      pull(c) {
        sent += 1 << 16;
        c.enqueue(new Uint8Array(1 << 16));
      },
    });
    const fetch: PcsFetch = () => Promise.resolve(new Response(endless(), { status: 200 }));
    await assert.rejects(fetchQuoteCollateral(T1, { fetch }), (e: unknown) => e instanceof CloisterError && e.code === 'COLLATERAL_UNAVAILABLE' && /over the limit of 4194304 bytes$/.test(e.message));
    assert.ok(sent < 4 * 5 * 1024 * 1024, `read ${sent} bytes for four requests`);
  });

  it('a missing issuer chain header, a malformed URL encoding, a header that is not PEM certificates', async () => {
    const header = 'SGX-Enclave-Identity-Issuer-Chain';
    const missing = await failure((r) => { edit(r, RECORDED_PCS_URLS.qeIdentity, { headers: {} }); });
    assert.equal(missing.message, `GET ${RECORDED_PCS_URLS.qeIdentity}: HTTP 200 but the ${header} header is missing`);
    assert.equal(missing.field, 'qeIdentity');
    const chain = recordedPcsResponses().get(RECORDED_PCS_URLS.qeIdentity)?.headers[header] ?? '';
    const broken = await failure((r) => { edit(r, RECORDED_PCS_URLS.qeIdentity, { headers: { [header]: chain.replace('%0A', '%0G') } }); });
    assert.match(broken.message, /HTTP 200 but the SGX-Enclave-Identity-Issuer-Chain header is not valid URL encoding/);
    const crlChain = await failure((r) => { edit(r, RECORDED_PCS_URLS.pckCrl, { headers: { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent('-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n') } }); });
    assert.match(crlChain.message, /pckcrl\?ca=platform&encoding=der: HTTP 200 but the SGX-PCK-CRL-Issuer-Chain header is not PEM CERTIFICATE blocks$/);
    const extra = await failure((r) => { edit(r, RECORDED_PCS_URLS.qeIdentity, { headers: { [header]: `${chain}trailing` } }); });
    assert.match(extra.message, /header has text outside its PEM blocks$/);
    const badCert = await failure((r) => { edit(r, RECORDED_PCS_URLS.qeIdentity, { headers: { [header]: encodeURIComponent('-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n') } }); });
    assert.match(badCert.message, /: HTTP 200 but the SGX-Enclave-Identity-Issuer-Chain header's certificate 1 is not valid: /);
  });

  it('a CRL body that is not a CRL; a body over the size limit', async () => {
    const e = await failure((r) => { edit(r, RECORDED_PCS_URLS.rootCaCrl, { body: utf8('<html>moved</html>') }); });
    assert.equal(e.message, `GET ${INTEL_ROOT_CA_CRL_URL}: HTTP 200 but the body is neither a DER CRL nor its hex`);
    const cert = await failure((r) => { edit(r, RECORDED_PCS_URLS.pckCrl, { body: T1.pckCertificates[0] as Uint8Array }); });
    assert.match(cert.message, /pckcrl\?ca=platform&encoding=der: HTTP 200 but the body is not a DER CRL: /);
    const big = await failure((r) => { edit(r, RECORDED_PCS_URLS.pckCrl, { body: new Uint8Array(4 * 1024 * 1024 + 1) }); });
    assert.match(big.message, /HTTP 200 with a body over the limit of 4194304 bytes$/);
  });

  it('a quote without a PCK certificate', async () => {
    await assert.rejects(fetchQuoteCollateral({ ...T1, pckCertificates: [] }, { fetch: recordedPcsFetch() }), (e: unknown) => e instanceof ParseError && e.field === 'pckCertificates');
  });
});
