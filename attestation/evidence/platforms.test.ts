import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';
import { parseReport } from '../snp/report.js';
import { parseQuote } from '../tdx/quote.js';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { snpVectorRows } from '../testing/vectors.js';
import { BUNDLE_PLATFORMS, decodeEvidence, decodePlatformEvidence, PLATFORM_LIST, PLATFORMS, platformOf, verifyDecoded, type PlatformName } from './platforms.js';

const bundleOf = (platform: PlatformName, evidence: Uint8Array): Uint8Array =>
  new TextEncoder().encode(JSON.stringify({ format: 'cloister-evidence/v1', platform, evidence: toBase64(evidence), simulated: true }));

// Raw evidence per platform: every real vector the other tests use.
const RAW: { readonly [N in PlatformName]: readonly { id: string; bytes: Uint8Array; reportData: Uint8Array; measurement: Uint8Array; chip?: Uint8Array }[] } = {
  'sev-snp': snpVectorRows().map((r) => {
    const report = parseReport(r.evidence.report);
    return { id: r.id, bytes: r.evidence.report, reportData: report.reportData, measurement: report.measurement, chip: report.chipId };
  }),
  tdx: tdxVectorRows().map((r) => {
    const body = parseQuote(r.quote).body;
    return { id: r.id, bytes: r.quote, reportData: body.reportData, measurement: body.mrTd };
  }),
};

describe('the platform table', () => {
  it('has one entry per bundle platform name, each under its own name', () => {
    assert.deepEqual(BUNDLE_PLATFORMS, ['sev-snp', 'tdx']);
    for (const p of PLATFORM_LIST) assert.equal(PLATFORMS[p.name], p);
    assert.deepEqual(PLATFORM_LIST.map((p) => p.measurement.field), ['MEASUREMENT', 'MRTD']);
    assert.deepEqual(PLATFORM_LIST.map((p) => p.chip?.field), ['CHIP_ID', undefined]);
  });

  for (const platform of PLATFORM_LIST) {
    it(`${platform.name}: detects its own real evidence and no other platform's`, () => {
      for (const other of PLATFORM_LIST) {
        for (const r of RAW[other.name]) assert.equal(platform.detect(r.bytes), other === platform, `${platform.name} detect on ${r.id}`);
      }
      assert.equal(platform.detect(new Uint8Array(3)), false);
    });

    it(`${platform.name}: raw bytes and a bundle decode to the same evidence, with its REPORT_DATA, measurement and chip`, () => {
      for (const r of RAW[platform.name]) {
        const raw = decodeEvidence(r.bytes);
        const bundled = decodeEvidence(bundleOf(platform.name, r.bytes));
        assert.equal(raw.platform, platform.name, r.id);
        assert.equal(bundled.platform, platform.name, r.id);
        assert.equal(bundled.evidence.simulated, true);
        const entry = platformOf(bundled);
        assert.equal(entry, platform);
        assert.deepEqual(entry.reportData(bundled.evidence), r.reportData, r.id);
        assert.deepEqual(entry.measurement.of(raw.evidence), r.measurement, r.id);
        assert.deepEqual(entry.chip?.of(raw.evidence), r.chip, r.id);
        const claims = entry.claims(raw.evidence);
        assert.equal(claims.reportData, toHex(r.reportData), r.id);
        assert.deepEqual(decodePlatformEvidence(platform, r.bytes), raw.evidence);
      }
    });

    it(`${platform.name}: its decoder refuses every other platform's bundle, naming both`, () => {
      for (const other of PLATFORM_LIST.filter((p) => p !== platform)) {
        const first = RAW[other.name][0];
        assert.ok(first !== undefined);
        assert.throws(
          () => decodePlatformEvidence(platform, bundleOf(other.name, first.bytes)),
          (e) => e instanceof ParseError && e.code === 'MALFORMED_EVIDENCE' && e.field === '$.platform' && e.message.includes(other.label) && e.message.includes(other.decoderName),
        );
      }
    });
  }

  it('policy options name fields of each platform policy, and a policy file is read by its platform', () => {
    const snpOptions = ['allowDebug', 'measurements', 'reportData', 'allowProvisionalFirmware', 'minTcb', 'minLaunchTcb', 'minVersion', 'requireSmtDisabled', 'requireTsme', 'requireCiphertextHiding'];
    assert.deepEqual(PLATFORMS['sev-snp'].policyOptions, Object.fromEntries(snpOptions.map((o) => [o, o])));
    assert.deepEqual(PLATFORMS.tdx.policyOptions, { allowDebug: 'allowDebug', measurements: 'mrtds', reportData: 'reportData', acceptedTcbStatuses: 'acceptedTcbStatuses' });
    assert.deepEqual(PLATFORMS.tdx.parsePolicyJson('{"mrtds":["' + 'ab'.repeat(48) + '"]}'), { mrtds: ['ab'.repeat(48)] });
    assert.throws(() => PLATFORMS.tdx.parsePolicyJson('{"measurements":[]}'), /unknown field/);
  });

  it('verifies decoded evidence with its own platform verifier (a policy-shape failure, before any chain)', async () => {
    for (const platform of PLATFORM_LIST) {
      const first = RAW[platform.name][0];
      assert.ok(first !== undefined);
      const verdict = await verifyDecoded(decodeEvidence(first.bytes), { bogus: true } as never, { verifier: platform.createVerifier({}) });
      assert.equal(verdict.platform, platform.name);
      assert.equal(verdict.accepted, false);
      assert.equal(verdict.error?.code, 'MALFORMED_POLICY');
    }
  });
});
