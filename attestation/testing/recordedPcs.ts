// Test support: Intel PCS as go-tdx-guest recorded it (testdata/attestation/go-tdx-guest/, the responses its
// testing/test_cases.go serves), behind a PcsFetch that answers only the exact URLs go-tdx-guest keys them by
// and 404 to anything else. The issuer chain headers are the PEM files percent-encoded with
// encodeURIComponent, which gives back go-tdx-guest's recorded header values character for character.
import { toHex } from '../bytes.js';
import type { PcsFetch } from '../tdx/pcsClient.js';
import { vector } from './vectors.js';

export interface RecordedResponse {
  readonly status: number;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
}

const GTG = 'go-tdx-guest/';
const text = (path: string): string => new TextDecoder().decode(vector(GTG + path));
const chain = (path: string): string => encodeURIComponent(text(path));

export const RECORDED_PCS_URLS = {
  tcbInfoT1: 'https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000',
  tcbInfoT2: 'https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=90c06f000000',
  qeIdentity: 'https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity',
  pckCrl: 'https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
  rootCaCrl: 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der',
} as const;

/** URL -> response, a fresh map each call so a test may change it. */
export function recordedPcsResponses(): Map<string, RecordedResponse> {
  const json = (body: string, header: string, pem: string): RecordedResponse => ({ status: 200, body: vector(GTG + body), headers: { 'content-type': 'application/json', [header]: chain(pem) } });
  return new Map<string, RecordedResponse>([
    [RECORDED_PCS_URLS.tcbInfoT1, json('sample_tcbInfo_response', 'TCB-Info-Issuer-Chain', 'tcbInfoIssuerChain.pem')],
    [RECORDED_PCS_URLS.tcbInfoT2, json('sample_tcbinfo_response_v5', 'TCB-Info-Issuer-Chain', 'tcbInfoIssuerChain.pem')],
    [RECORDED_PCS_URLS.qeIdentity, json('sample_qeIdentity_response', 'SGX-Enclave-Identity-Issuer-Chain', 'qeIdentityIssuerChain.pem')],
    [RECORDED_PCS_URLS.pckCrl, { status: 200, body: vector(`${GTG}pckcrl`), headers: { 'content-type': 'application/pkix-crl', 'SGX-PCK-CRL-Issuer-Chain': chain('pckCrlIssuerChain.pem') } }],
    [RECORDED_PCS_URLS.rootCaCrl, { status: 200, body: vector(`${GTG}rootcrl.der`), headers: { 'content-type': 'application/pkix-crl' } }],
  ]);
}

/** A fetch serving `responses` (404 for any other URL); each URL asked for is appended to `requested`. */
export function recordedPcsFetch(responses = recordedPcsResponses(), requested: string[] = []): PcsFetch {
  return (url) => {
    requested.push(url);
    const r = responses.get(url);
    const body = r === undefined ? new Uint8Array() : r.body.slice();
    return Promise.resolve(new Response(body, { status: r?.status ?? 404, headers: r?.headers ?? {} }));
  };
}

/** T1's recorded responses as a collateral file of the Intel PCS responses shape (attestation/tdx/collateralFile.ts). */
export function recordedPcsResponsesFile(): Record<'tcbInfo' | 'qeIdentity' | 'pckCrl' | 'rootCaCrl', { body: string; issuerChain?: string }> {
  const r = recordedPcsResponses();
  const get = (url: string, header?: string): { body: Uint8Array; issuerChain?: string } => {
    const recorded = r.get(url);
    if (recorded === undefined) throw new Error(`no recorded response for ${url}`);
    return { body: recorded.body, ...(header === undefined ? {} : { issuerChain: recorded.headers[header] ?? '' }) };
  };
  const json = (url: string, header: string): { body: string; issuerChain?: string } => {
    const g = get(url, header);
    return { ...g, body: new TextDecoder().decode(g.body) };
  };
  const crl = (url: string, header?: string): { body: string; issuerChain?: string } => {
    const g = get(url, header);
    return { ...g, body: toHex(g.body) };
  };
  return {
    tcbInfo: json(RECORDED_PCS_URLS.tcbInfoT1, 'TCB-Info-Issuer-Chain'),
    qeIdentity: json(RECORDED_PCS_URLS.qeIdentity, 'SGX-Enclave-Identity-Issuer-Chain'),
    pckCrl: crl(RECORDED_PCS_URLS.pckCrl, 'SGX-PCK-CRL-Issuer-Chain'),
    rootCaCrl: crl(RECORDED_PCS_URLS.rootCaCrl),
  };
}
