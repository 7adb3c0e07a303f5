import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { decodeSnpEvidence } from '../../../attestation/evidence/platforms.js';
import { verifySnpEvidence } from '../../../attestation/snp/evidence.js';
import { parseReport } from '../../../attestation/snp/report.js';
import { SnpVerifier } from '../../../attestation/snp/verify.js';
import { parseCertificate } from '../../../attestation/x509.js';
import { nodeEcdsa } from '../../base/crypto/nodeEcdsa.js';
import { createDevChain, loadOrCreateDevChain, readDevRoot, SIMULATED_ORGANIZATION, type DevChain } from './devChain.js';
import { SimulatedSnp, SimulatedSnpProvider } from './snpSimulator.js';

const reportData = new Uint8Array(64).map((_, i) => i);
let milan: DevChain;

before(async () => {
  milan = await createDevChain({ product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
});

describe('simulated SEV-SNP', () => {
  it('produces a version 3 report that parses, binds the report data and verifies under the trusted development root', async () => {
    const sim = await SimulatedSnp.create({}, { chain: milan });
    const bytes = await sim.report(reportData, 1);
    const r = parseReport(bytes);
    assert.equal(r.version, 3);
    assert.equal(r.vmpl, 1);
    assert.deepEqual(r.reportData, reportData);
    assert.deepEqual(r.cpuid, { family: 0x19, model: 0x01, stepping: 1 });
    const evidence = decodeSnpEvidence(Uint8Array.from([...bytes, ...sim.certTable()]));
    const trusted = await verifySnpEvidence(evidence, { vmpl: 1 }, { verifier: new SnpVerifier({ trustedRoots: [milan.ark], ecdsa: nodeEcdsa }) });
    assert.equal(trusted.accepted, true, trusted.error?.message);
  });

  it('is rejected by a verifier that trusts only AMD (UNTRUSTED_ROOT)', async () => {
    const sim = await SimulatedSnp.create({}, { chain: milan });
    const evidence = decodeSnpEvidence(Uint8Array.from([...(await sim.report(reportData)), ...sim.certTable()]));
    const v = await verifySnpEvidence(evidence);
    assert.equal(v.error?.code, 'UNTRUSTED_ROOT');
  });

  it('says SIMULATED in every certificate name', () => {
    for (const der of [milan.ark, milan.ask, milan.vcek]) assert.ok(new TextDecoder().decode(parseCertificate(der).subject).includes(SIMULATED_ORGANIZATION));
  });

  it('produces version 5 reports and honours measurement, policy and host data', async () => {
    const measurement = new Uint8Array(48).fill(0x42);
    const sim = await SimulatedSnp.create({ version: 5, measurement, policy: 0xb0000n, hostData: new Uint8Array(32).fill(9) }, { chain: milan });
    const bytes = await sim.report(reportData);
    const r = parseReport(bytes);
    assert.equal(r.version, 5);
    assert.equal(r.launchMitVector, 0n);
    assert.equal(r.policy.debug, true);
    const verifier = new SnpVerifier({ trustedRoots: [milan.ark] });
    const evidence = { report: bytes, certificates: [milan.vcek, milan.ask, milan.ark], crls: [], simulated: true };
    assert.equal((await verifySnpEvidence(evidence, {}, { verifier })).error?.code, 'POLICY_DEBUG');
    const ok = await verifySnpEvidence(evidence, { allowDebug: true, measurements: ['42'.repeat(48)], hostData: '09'.repeat(32) }, { verifier });
    assert.equal(ok.accepted, true, ok.error?.message);
    assert.equal(ok.simulated, true);
  });

  it('simulates Turin: FMC in the TCB, an 8-byte hwID, PLATFORM_INFO 0x65', async () => {
    const turin = await createDevChain({ product: 'Turin', tcb: { fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 }, hwId: new Uint8Array(8).fill(7) }, 2048);
    const sim = await SimulatedSnp.create({ product: 'Turin', version: 5 }, { chain: turin });
    const bytes = await sim.report(reportData);
    assert.equal(parseReport(bytes).platformInfo.raw, 0x65n);
    const v = await verifySnpEvidence({ report: bytes, certificates: [turin.vcek, turin.ask, turin.ark], crls: [], simulated: true }, {}, { verifier: new SnpVerifier({ trustedRoots: [turin.ark] }) });
    assert.equal(v.accepted, true, v.error?.message);
  });

  it('creates the development root at first use and reuses it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-state-'));
    assert.equal(await readDevRoot(dir, 'Genoa'), undefined);
    const spec = { product: 'Genoa' as const, tcb: { bootloader: 10, tee: 0, snp: 23, microcode: 84 }, hwId: new Uint8Array(64).fill(1) };
    const first = await loadOrCreateDevChain(dir, spec, 2048);
    const again = await loadOrCreateDevChain(dir, { ...spec, hwId: new Uint8Array(64).fill(2) }, 2048);
    assert.deepEqual(again.ark, first.ark);
    assert.deepEqual(again.hwId, first.hwId, 'the stored hwID is what the VCEK certifies');
    assert.deepEqual(await readDevRoot(dir, 'Genoa'), first.ark);
    const sim = await SimulatedSnp.create({ product: 'Genoa' }, { chain: again });
    const provider = new SimulatedSnpProvider(sim);
    const raw = await provider.getEvidence({ reportData });
    assert.equal(raw.simulated, true);
    const v = await verifySnpEvidence({ report: raw.evidence, certificates: [again.vcek, again.ask], crls: [], simulated: true }, {}, { verifier: new SnpVerifier({ trustedRoots: [first.ark] }) });
    assert.equal(v.accepted, true, v.error?.message);
  });

  it('refuses report data that is not 64 bytes', async () => {
    const sim = await SimulatedSnp.create({}, { chain: milan });
    await assert.rejects(sim.report(new Uint8Array(32)), /report data must be 64 bytes/);
  });
});
