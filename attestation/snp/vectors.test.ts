// Every SEV-SNP row of testdata/attestation/README.md, with the verdict peers agree on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { certs, snpVectorRows, vector } from '../testing/vectors.js';
import { parseCertificate } from '../x509.js';
import { parseReport, serializeReport } from './report.js';
import { encodeTcb } from './tcb.js';
import { parseVekExtensions } from './vek.js';
import { decodeSnpEvidence } from '../evidence/platforms.js';
import { verifySnpEvidence, type SnpEvidence } from './evidence.js';
import type { SnpPolicy } from './validate.js';

const NOW = new Date('2026-11-23T00:00:00Z'); // "now" in the README: after the S4 VLEK expired
const IN_WINDOW = new Date('2025-06-01T00:00:00Z'); // inside every certificate's validity
const ALLOW_PROVISIONAL: SnpPolicy = { allowProvisionalFirmware: true };

interface Case {
  readonly row: string;
  readonly name: string;
  readonly policy?: SnpPolicy;
  readonly at: Date;
  readonly mutate?: (report: Uint8Array) => void;
  /** undefined: accepted; otherwise the error code of the rejection. */
  readonly expect: string | undefined;
}

const CASES: Case[] = [
  { row: 'S1', name: 'debug policy, default policy', at: NOW, expect: 'POLICY_DEBUG' },
  { row: 'S1', name: 'debug explicitly allowed', policy: { allowDebug: true }, at: NOW, expect: undefined },
  { row: 'S2', name: 'default policy', at: NOW, expect: undefined },
  { row: 'S2', name: 'bit 7 of byte 21 flipped', at: NOW, mutate: (r) => { r[21] = (r[21] as number) ^ 0x80; }, expect: 'REPORT_SIGNATURE_INVALID' },
  { row: 'S2', name: 'signature R low byte flipped', at: NOW, mutate: (r) => { r[0x2a0] = (r[0x2a0] as number) ^ 1; }, expect: 'REPORT_SIGNATURE_INVALID' },
  { row: 'S2', name: 'signature S high byte flipped', at: NOW, mutate: (r) => { r[0x2e8 + 47] = (r[0x2e8 + 47] as number) ^ 0x40; }, expect: 'REPORT_SIGNATURE_INVALID' },
  { row: 'S2', name: 'policy DEBUG bit set (signed field)', policy: { allowDebug: true }, at: NOW, mutate: (r) => { r[0x0a] = (r[0x0a] as number) | 0x08; }, expect: 'REPORT_SIGNATURE_INVALID' },
  { row: 'S2', name: 'measurement byte changed', at: NOW, mutate: (r) => { r[0x90] = (r[0x90] as number) ^ 0xff; }, expect: 'REPORT_SIGNATURE_INVALID' },
  { row: 'S2', name: 'report data byte changed', at: NOW, mutate: (r) => { r[0x50] = (r[0x50] as number) ^ 0xff; }, expect: 'REPORT_SIGNATURE_INVALID' },
  { row: 'S2', name: 'CHIP_ID byte changed', at: NOW, mutate: (r) => { r[0x1a0] = (r[0x1a0] as number) ^ 1; }, expect: 'CHIP_ID_MISMATCH' },
  { row: 'S2', name: 'version 2 -> 3', at: NOW, mutate: (r) => { r[0] = 3; }, expect: 'PRODUCT_MISMATCH' },
  { row: 'S3', name: 'provisional firmware, default policy', at: NOW, expect: 'POLICY_PROVISIONAL_FIRMWARE' },
  { row: 'S3', name: 'provisional firmware allowed', policy: ALLOW_PROVISIONAL, at: NOW, expect: undefined },
  { row: 'S3', name: 'byte 42 + 1', policy: ALLOW_PROVISIONAL, at: NOW, mutate: (r) => { r[42] = (r[42] as number) + 1; }, expect: 'REPORT_SIGNATURE_INVALID' },
  { row: 'S3', name: 'byte 384 + 1 (REPORTED_TCB)', policy: ALLOW_PROVISIONAL, at: NOW, mutate: (r) => { r[384] = (r[384] as number) + 1; }, expect: 'TCB_MISMATCH' },
  { row: 'S4', name: 'now: VLEK expired', policy: ALLOW_PROVISIONAL, at: NOW, expect: 'CERT_EXPIRED' },
  { row: 'S4', name: 'inside the VLEK window, default policy', at: IN_WINDOW, expect: 'POLICY_PROVISIONAL_FIRMWARE' },
  { row: 'S4', name: 'inside the VLEK window, provisional allowed', policy: ALLOW_PROVISIONAL, at: IN_WINDOW, expect: undefined },
  { row: 'S5', name: 'Azure Genoa, default policy', at: NOW, expect: undefined },
  { row: 'S6', name: 'Azure Milan, default policy', at: NOW, expect: 'POLICY_PROVISIONAL_FIRMWARE' },
  { row: 'S6', name: 'Azure Milan, provisional allowed', policy: ALLOW_PROVISIONAL, at: NOW, expect: undefined },
  // The policy fields of go-sev-guest's validate.Options that the reports' own values decide.
  { row: 'S2', name: 'SMT disabled required (POLICY 0x30000 allows SMT)', policy: { requireSmtDisabled: true }, at: NOW, expect: 'POLICY_PLATFORM_FEATURE' },
  { row: 'S4', name: 'TSME required (PLATFORM_INFO 0x27), provisional allowed', policy: { ...ALLOW_PROVISIONAL, requireTsme: true }, at: IN_WINDOW, expect: undefined },
  { row: 'S5', name: 'TSME required (PLATFORM_INFO 0x24)', policy: { requireTsme: true }, at: NOW, expect: 'POLICY_PLATFORM_FEATURE' },
  { row: 'S5', name: 'ciphertext hiding required', policy: { requireCiphertextHiding: true }, at: NOW, expect: 'POLICY_PLATFORM_FEATURE' },
  { row: 'S5', name: 'firmware 1.55 build 40 at the minimum', policy: { minVersion: '1.55', minBuild: 40 }, at: NOW, expect: undefined },
  { row: 'S6', name: 'launch TCB at the minimum, provisional allowed', policy: { ...ALLOW_PROVISIONAL, minLaunchTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 } }, at: NOW, expect: undefined },
  { row: 'S6', name: 'launch TCB below the minimum, provisional allowed', policy: { ...ALLOW_PROVISIONAL, minLaunchTcb: { microcode: 116 } }, at: NOW, expect: 'POLICY_TCB_TOO_LOW' },
];

const rows = new Map(snpVectorRows().map((r) => [r.id, r]));

async function verdictFor(c: Case, evidence: SnpEvidence): Promise<string | undefined> {
  const report = evidence.report.slice();
  c.mutate?.(report);
  const v = await verifySnpEvidence({ ...evidence, report }, c.policy ?? {}, { at: c.at });
  assert.equal(v.accepted, v.error === undefined);
  if (!v.accepted) assert.equal(v.checks.at(-1)?.status, 'fail', 'the last check recorded is the failing one');
  return v.error?.code;
}

describe('SEV-SNP vectors (testdata/attestation/README.md)', () => {
  for (const c of CASES) {
    const row = rows.get(c.row);
    assert.ok(row);
    it(`${c.row} ${c.name}: ${c.expect ?? 'ACCEPT'}`, async () => {
      assert.equal(await verdictFor(c, row.evidence), c.expect);
    });
    if (row.extended !== undefined && c.mutate === undefined) {
      const file = row.extended;
      it(`${c.row} ${c.name}, as the extended report ${file}: ${c.expect ?? 'ACCEPT'}`, async () => {
        const evidence = decodeSnpEvidence(vector(`derived/snp-extended-reports/${file}`));
        assert.ok(evidence.certificates.length >= 2, 'the certificate table carries the VCEK/VLEK and its chain');
        assert.equal(await verdictFor(c, evidence), c.expect);
      });
    }
  }

  it('verifies the real Turin chain (virtee-sev vcek_turin.der -> cert_chain_turin -> embedded ARK-Turin)', async () => {
    const vcek = vector('virtee-sev/certs_data/vcek_turin.der');
    const info = parseVekExtensions(parseCertificate(vcek));
    const fields = parseReport(vector('virtee-sev/certs_data/report_milan.bin'));
    const tcb = encodeTcb(info.tcb, 'Turin');
    const chipId = new Uint8Array(64);
    chipId.set(info.hwId ?? []);
    // No Turin report is public: a Milan report re-labelled as Turin, so everything up to the report signature passes.
    const report = serializeReport({ ...fields, version: 3, cpuid: { family: 0x1a, model: 0x02, stepping: 0 }, reportedTcb: tcb, chipId });
    const v = await verifySnpEvidence({ report, certificates: [vcek, ...certs('virtee-sev/certs_data/cert_chain_turin')], crls: [], simulated: false }, {}, { at: NOW });
    const status = new Map(v.checks.map((c) => [c.id, c.status]));
    assert.equal(status.get('product'), 'pass');
    assert.equal(status.get('chain.signatures'), 'pass');
    assert.equal(status.get('vek.tcb'), 'pass');
    assert.equal(status.get('vek.chip-id'), 'pass');
    assert.equal(v.error?.code, 'REPORT_SIGNATURE_INVALID');
  });

  it('an accepted verdict lists every check that ran, and the ones not requested as skipped', async () => {
    const row = rows.get('S5');
    assert.ok(row);
    const v = await verifySnpEvidence(row.evidence, { measurements: [Buffer.from(row.evidence.report.subarray(0x90, 0xc0)).toString('hex')] }, { at: NOW });
    assert.equal(v.accepted, true);
    const byId = new Map(v.checks.map((c) => [c.id, c.status]));
    for (const id of ['parse', 'chain.leaf', 'product', 'chain.signatures', 'chain.validity', 'vek.tcb', 'vek.chip-id', 'report.signature', 'policy.debug', 'policy.measurement']) {
      assert.equal(byId.get(id), 'pass', id);
    }
    for (const id of ['crl', 'policy.host-data', 'policy.report-data', 'policy.min-tcb']) assert.equal(byId.get(id), 'skipped', id);
    assert.equal((v.claims as { product: string }).product, 'Genoa');
  });
});
