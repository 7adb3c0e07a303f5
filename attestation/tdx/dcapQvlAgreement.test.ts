// Agreement with Phala's dcap-qvl (a dev dependency, never used at run time) on every quote + collateral pair of
// testdata/attestation/README.md: the same accept or reject, and on acceptance the same TCB status and advisories.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { vector } from '../testing/vectors.js';
import { readTdxCollateral } from './collateral.js';
import { verifyTdxEvidence } from './evidence.js';

interface DcapQvl {
  verify(quote: Uint8Array, collateral: Record<string, unknown>, nowSeconds: number): { status: string; advisory_ids: string[] };
}
const dcapQvl = createRequire(import.meta.url)('@phala/dcap-qvl') as DcapQvl;

const PAIRS: [string, string, string | undefined][] = [
  ['T8', 'dcap-qvl/tdx_quote_collateral.json', '2025-06-25T00:00:00Z'],
  ['T8', 'dcap-qvl/tdx_quote_collateral.json', undefined],
  ['T1', 'derived/tdx-collateral-dcapqvl-format/go-tdx-guest_sample_v4_50806f000000.json', '2023-07-01T00:00:00Z'],
];

describe('agreement with @phala/dcap-qvl', () => {
  for (const [id, path, at] of PAIRS) {
    it(`${id} with ${path} at ${at ?? 'now'}`, async () => {
      const row = tdxVectorRows().find((r) => r.id === id) ?? assert.fail(id);
      const json = JSON.parse(new TextDecoder().decode(vector(path))) as Record<string, unknown>;
      const when = at === undefined ? new Date() : new Date(at);
      let theirs: { status: string; advisory_ids: string[] } | Error;
      try {
        theirs = dcapQvl.verify(row.quote, json, Math.floor(when.getTime() / 1000));
      } catch (e) {
        theirs = e as Error;
      }
      const collateral = readTdxCollateral(json, '$').collateral ?? assert.fail(path);
      const ours = await verifyTdxEvidence({ quote: row.quote, certificates: [], crls: [], simulated: false, collateral }, {}, { at: when });
      if (theirs instanceof Error) {
        assert.equal(ours.accepted, false, `dcap-qvl rejects (${theirs.message}), we accept`);
      } else {
        assert.equal(ours.accepted, true, `dcap-qvl accepts (${theirs.status}), we reject: ${ours.error?.message ?? ''}`);
        const tcb = (ours.claims as { tcb: { status: string; advisoryIds: string[] } }).tcb;
        assert.deepEqual([tcb.status, [...tcb.advisoryIds].sort()], [theirs.status, [...theirs.advisory_ids].sort()]);
      }
    });
  }
});
