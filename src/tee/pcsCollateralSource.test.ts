import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { recordedPcsFetch } from '../../attestation/testing/recordedPcs.js';
import { tdxVectorRows } from '../../attestation/testing/tdxVectors.js';
import { vector } from '../../attestation/testing/vectors.js';
import { parseQuote } from '../../attestation/tdx/quote.js';
import { PcsCollateralSource } from './pcsCollateralSource.js';

describe('PcsCollateralSource', () => {
  const T1 = parseQuote(tdxVectorRows().find((r) => r.id === 'T1')?.quote ?? assert.fail('T1'));

  it('fetches a quote\'s collateral from the recorded PCS answers and schedules the refresh at 80% of the earliest window', async () => {
    const source = new PcsCollateralSource({ fetch: recordedPcsFetch() });
    assert.equal(source.simulated, false);
    assert.equal(source.name, 'Intel PCS (https://api.trustedservices.intel.com)');
    const f = await source.fetch(T1);
    const derived = JSON.parse(new TextDecoder().decode(vector('derived/tdx-collateral-dcapqvl-format/go-tdx-guest_sample_v4_50806f000000.json'))) as Record<string, string>;
    assert.equal(f.collateral.tcbInfo, derived.tcb_info);
    assert.ok(f.refreshAt < f.nextUpdate);
  });

  it('names the PCCS it asks, and fails with COLLATERAL_UNAVAILABLE when it cannot answer', async () => {
    const source = new PcsCollateralSource({ baseUrl: 'https://pccs.internal:8081', fetch: () => Promise.resolve(new Response('', { status: 503 })) });
    assert.equal(source.name, 'Intel PCS (https://pccs.internal:8081)');
    await assert.rejects(source.fetch(T1), (e: unknown) => e instanceof CloisterError && e.code === 'COLLATERAL_UNAVAILABLE' && e.message.includes('pccs.internal'));
  });
});
