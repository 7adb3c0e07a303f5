import { parseQuote } from '../../attestation/tdx/quote.js';
import { createSimulatedCollateral } from './sim/simulatedCollateral.js';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeEvidenceBundle } from '../../attestation/evidence/platforms.js';
import { readTdxCollateral } from '../../attestation/tdx/collateral.js';
import { verifyTdxEvidence } from '../../attestation/tdx/evidence.js';
import { TdxVerifier } from '../../attestation/tdx/verify.js';
import { vector } from '../../attestation/testing/vectors.js';
import { assembleBundle, assembleSnpBundle, assembleTdxBundle } from './assembleBundle.js';
import { SimulatedTdx, SimulatedTdxProvider } from './sim/tdxSimulator.js';

const T8 = vector('dcap-qvl/tdx_quote');
const COLLATERAL = readTdxCollateral(JSON.parse(new TextDecoder().decode(vector('dcap-qvl/tdx_quote_collateral.json'))), '$').collateral ?? assert.fail('collateral');
const PCK_CRL = Uint8Array.from(Buffer.from((JSON.parse(new TextDecoder().decode(vector('dcap-qvl/tdx_quote_collateral.json'))) as { pck_crl: string }).pck_crl, 'hex'));
const raw = { platform: 'tdx', evidence: T8, source: 'test', simulated: false } as const;

describe('TDX evidence bundles', () => {
  it('assembles T8 with collateral: no certificates, collateral under dcap-qvl names, fresh until the earliest nextUpdate', () => {
    const b = assembleTdxBundle(raw, { collateral: COLLATERAL });
    const doc = JSON.parse(new TextDecoder().decode(b.bytes)) as Record<string, unknown>;
    assert.equal(doc.platform, 'tdx');
    assert.deepEqual(doc.certificates, []);
    assert.equal((doc.collateral as Record<string, string>).tcb_info, COLLATERAL.tcbInfo);
    // TCB info nextUpdate 2025-07-19T10:16:03Z comes before the PCK certificate's notAfter.
    assert.equal(b.freshUntil.toISOString(), '2025-07-19T10:16:03.000Z');
    assert.equal(doc.freshUntil, '2025-07-19T10:16:03.000Z');
    assert.match(b.id, /^sha256:[0-9a-f]{64}$/);
    const d = decodeEvidenceBundle(b.bytes);
    assert.equal(d.platform, 'tdx');
    assert.deepEqual(d.evidence.collateral, COLLATERAL);
  });

  it('without collateral is fresh until the PCK chain expires; a CRL nextUpdate counts', () => {
    const plain = assembleTdxBundle(raw);
    assert.ok(plain.freshUntil.getTime() > Date.parse('2025-07-19T10:16:03Z'), plain.freshUntil.toISOString());
    assert.equal('collateral' in (JSON.parse(new TextDecoder().decode(plain.bytes)) as object), false);
    const withCrl = assembleBundle(raw, { crls: [PCK_CRL] });
    assert.ok(withCrl.freshUntil < plain.freshUntil, withCrl.freshUntil.toISOString());
    const d = decodeEvidenceBundle(withCrl.bytes);
    assert.equal(d.platform === 'tdx' ? d.evidence.crls.length : -1, 1);
  });

  it('refuses the other platform, an unparsable quote and collateral without dates', () => {
    assert.throws(() => assembleTdxBundle({ ...raw, platform: 'sev-snp' }), /takes TDX evidence/);
    assert.throws(() => assembleSnpBundle(raw), /takes SEV-SNP evidence/);
    assert.throws(() => assembleTdxBundle({ ...raw, evidence: T8.subarray(0, 50) }), (e: Error & { code: string }) => e.code === 'TRUNCATED');
    assert.throws(() => assembleTdxBundle(raw, { collateral: { ...COLLATERAL, qeIdentity: '{}' } }), /nextUpdate/);
  });

  it('assembleBundle hands SEV-SNP evidence to assembleSnpBundle with its certificates and CRLs', () => {
    const snp = { platform: 'sev-snp', evidence: vector('go-sev-guest/attestation.bin'), source: 'test', simulated: false } as const;
    const vcek = vector('go-sev-guest/vcek_milan.der');
    assert.deepEqual(assembleBundle(snp, { certificates: [vcek] }).bytes, assembleSnpBundle(snp, { certificates: [vcek] }).bytes);
    assert.deepEqual(assembleBundle(snp, { crls: [] }).bytes, assembleSnpBundle(snp).bytes);
  });

  it('assembleBundle dispatches on the platform; a simulated TDX bundle verifies under its development root only', async () => {
    const sim = await SimulatedTdx.create({}, { stateDir: mkdtempSync(join(tmpdir(), 'cloister-bundle-')) });
    const evidence = await new SimulatedTdxProvider(sim).getEvidence({ reportData: new Uint8Array(64).fill(7) });
    const issued = Date.now();
    const collateral = await createSimulatedCollateral(sim.chain, parseQuote(evidence.evidence), issued);
    const b = assembleBundle(evidence, { certificates: [new Uint8Array(1)], collateral });
    const d = decodeEvidenceBundle(b.bytes);
    assert.equal(d.platform, 'tdx');
    assert.equal(d.evidence.simulated, true);
    // Fresh until the collateral's nextUpdate, 30 days on, before the chain's 2050.
    assert.ok(b.freshUntil.getTime() <= issued + 30 * 86_400_000 + 1000, b.freshUntil.toISOString());
    const trusted = await verifyTdxEvidence(d.evidence, { reportData: '07'.repeat(64) }, { verifier: new TdxVerifier({ additionalRoots: [sim.chain.root] }) });
    assert.equal(trusted.accepted, true, trusted.error?.message);
    assert.equal(trusted.simulated, true);
    const untrusted = await verifyTdxEvidence(d.evidence);
    assert.equal(untrusted.error?.code, 'UNTRUSTED_ROOT');
  });
});
