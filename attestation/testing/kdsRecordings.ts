// Test support: AMD KDS answers recorded in testdata/attestation (the VCEKs and cert_chain files peers fetched
// from KDS; SOURCES.md), by the exact URL KDS serves each at, and a fetch that serves them with no network.
// The VCEK URLs are written out rather than computed, so that a test comparing against them checks the URL
// builder: S1's is the one go-sev-guest's verify_test.go maps to the same VCEK.
import type { KdsFetch, KdsResponse } from '../snp/kds.js';
import { certs, vector } from './vectors.js';

const KDS = 'https://kdsintf.amd.com';

/** The VCEK URL of each real SEV-SNP row, from its CHIP_ID and REPORTED_TCB. */
export const RECORDED_VCEK_URLS: Readonly<Record<string, string>> = {
  S1: `${KDS}/vcek/v1/Milan/3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68`,
  S2: `${KDS}/vcek/v1/Milan/d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
  S3: `${KDS}/vcek/v1/Milan/c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0bcd9a5d9286612bad4aadfb4426205a3b9e4fea82301135a170e477524e?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
  S5: `${KDS}/vcek/v1/Genoa/0506ffba875e939c2729d20c74eb72b4c5ba6bf7ea1faaa640141f12c6d64782fb487f68ce69dcd021e914cc0d9244327bc121f0242d6470903ad1d4aaea4ad1?blSPL=10&teeSPL=0&snpSPL=23&ucodeSPL=84`,
  S6: `${KDS}/vcek/v1/Milan/19752a447db501a32ade46428a46e92639bd3515dbb45e2e67bbcb0934ffcf1f3e3c004ccb4a99c9fa7e4ffb09da6b324ac58acedaf679f24ba7db5f838c6cca?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
  /** virtee-sev/certs_data/vcek_turin.der: its 8-byte hwID and TCB {fmc=0 bl=0 tee=0 snp=0 ucode=9}. */
  turin: `${KDS}/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=0&blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9`,
};

/** Every recorded answer by URL: the VCEKs (DER; the Azure ones were stored as PEM of the same DER) and the cert_chain PEM files. */
export function recordedKds(): Map<string, Uint8Array> {
  const first = (path: string): Uint8Array => certs(path)[0] as Uint8Array;
  return new Map<string, Uint8Array>([
    [RECORDED_VCEK_URLS.S1 as string, vector('go-sev-guest/vcek_milan.der')],
    [RECORDED_VCEK_URLS.S2 as string, vector('virtee-sev/certs_data/vcek_milan.der')],
    [RECORDED_VCEK_URLS.S3 as string, vector('trustee/snp/test-vcek.der')],
    [RECORDED_VCEK_URLS.S5 as string, first('trustee/az-snp-vtpm/vcek-genoa.pem')],
    [RECORDED_VCEK_URLS.S6 as string, first('trustee/az-snp-vtpm/vcek.pem')],
    [RECORDED_VCEK_URLS.turin as string, vector('virtee-sev/certs_data/vcek_turin.der')],
    [`${KDS}/vcek/v1/Milan/cert_chain`, vector('go-sev-guest/ask_ark_milan_vcek.pem')],
    [`${KDS}/vlek/v1/Milan/cert_chain`, vector('go-sev-guest/ask_ark_milan_vlek.pem')],
    [`${KDS}/vcek/v1/Genoa/cert_chain`, vector('go-sev-guest/trust/ask_ark_genoa.pem')],
    [`${KDS}/vcek/v1/Turin/cert_chain`, vector('virtee-sev/certs_data/cert_chain_turin')],
  ]);
}

/** A fetch that answers 200 with the recorded body for a known URL and 404 otherwise; every URL asked is pushed to `asked`. */
export function recordedFetch(responses: ReadonlyMap<string, Uint8Array> = recordedKds(), asked: string[] = []): KdsFetch {
  return (url) => {
    asked.push(url);
    const body = responses.get(url);
    const response: KdsResponse = {
      status: body === undefined ? 404 : 200,
      statusText: body === undefined ? 'Not Found' : 'OK',
      arrayBuffer: () => Promise.resolve((body ?? new Uint8Array(0)).slice().buffer),
    };
    return Promise.resolve(response);
  };
}
