import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../bytes.js';
import type { ErrorCode } from '../errors.js';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { vector } from '../testing/vectors.js';
import { COLLATERAL_NOT_VERIFIED, verifyTdxEvidence, type TdxEvidence } from './evidence.js';
import { assertTdxPolicy, parseTdxPolicyJson } from './policy.js';
import { readTdxCollateral } from './collateral.js';
import { parseQuote } from './quote.js';
import type { TdxPolicy } from './validate.js';

const rows = tdxVectorRows();
const row = (id: string) => rows.find((r) => r.id === id) ?? assert.fail(id);
const T8 = row('T8');
const T4 = row('T4');
const ev = (quote: Uint8Array, extra: Partial<TdxEvidence> = {}): TdxEvidence => ({ quote, certificates: [], crls: [], simulated: false, ...extra });
const q8 = parseQuote(T8.quote).body;
const COLLATERAL = readTdxCollateral(JSON.parse(new TextDecoder().decode(vector('dcap-qvl/tdx_quote_collateral.json'))), '$').collateral;

describe('verifyTdxEvidence', () => {
  it('accepts every real quote T1..T8 at a time inside its PCK validity (debug allowed), collateral and CRLs skipped', async () => {
    for (const r of rows) {
      const v = await verifyTdxEvidence(ev(r.quote), { allowDebug: true }, { at: r.at });
      assert.equal(v.accepted, true, `${r.id}: ${v.error?.message ?? ''}`);
      assert.equal(v.platform, 'tdx');
      assert.deepEqual(v.checks.find((c) => c.id === 'collateral'), { id: 'collateral', status: 'skipped', detail: COLLATERAL_NOT_VERIFIED });
      assert.equal(v.checks.find((c) => c.id === 'crl')?.status, 'skipped');
      assert.equal(v.checks.find((c) => c.id === 'quote.signature')?.status, 'pass');
    }
  });

  it('reports T8 claims as hex and JSON, with the chain and the carried collateral dates', async () => {
    const v = await verifyTdxEvidence(ev(T8.quote, { collateral: COLLATERAL ?? assert.fail('collateral') }), {}, { at: T8.at });
    assert.equal(v.accepted, true, v.error?.message);
    const c = v.claims as Record<string, unknown>;
    assert.equal(c.version, 4);
    assert.equal(c.bodyType, 'TDX 1.0');
    assert.equal(c.mrTd, toHex(q8.mrTd));
    assert.deepEqual(c.rtmrs, q8.rtmrs.map(toHex));
    assert.equal(c.reportData, toHex(q8.reportData));
    assert.equal(c.qeVendorId, '939a7233f79c4ca9940a0db3957f0607');
    assert.equal(c.tcbStatus, 'unknown');
    assert.deepEqual(c.tdAttributes, { raw: `0x${q8.tdAttributes.raw.toString(16).padStart(16, '0')}`, debug: false, septVeDisable: q8.tdAttributes.septVeDisable, migratable: false, pks: q8.tdAttributes.pks, kl: false, perfmon: q8.tdAttributes.perfmon });
    assert.equal((c.chain as { root: string }).root, 'Intel SGX Root CA');
    assert.deepEqual(c.collateral, { verified: false, tcbInfoIssueDate: '2025-06-19T10:16:03.000Z', tcbInfoNextUpdate: '2025-07-19T10:16:03.000Z', qeIdentityIssueDate: '2025-06-19T10:32:27.000Z', qeIdentityNextUpdate: '2025-07-19T10:32:27.000Z' });
    const odd = await verifyTdxEvidence(ev(T8.quote, { collateral: { ...(COLLATERAL ?? assert.fail('c')), tcbInfo: 'x' } }), {}, { at: T8.at });
    assert.deepEqual((odd.claims as Record<string, unknown>).collateral, { verified: false, dates: null });
  });

  const expect = (v: { accepted: boolean; error?: { code: string } }, code: ErrorCode | undefined, what: string): void => {
    assert.equal(v.accepted, code === undefined, `${what}: ${v.error?.code ?? 'accepted'}`);
    assert.equal(v.error?.code, code, what);
  };
  const mrtd = toHex(q8.mrTd);
  const rtmrs = q8.rtmrs.map(toHex);
  const cases: [string, Uint8Array, TdxPolicy, ErrorCode | undefined, string?][] = [
    ['T4 under the default policy', T4.quote, {}, 'POLICY_DEBUG', 'policy.debug'],
    ['T4 with allowDebug', T4.quote, { allowDebug: true }, undefined],
    ['T8 with its MRTD among others', T8.quote, { mrtds: ['00'.repeat(48), mrtd.toUpperCase()] }, undefined],
    ['T8 with another MRTD', T8.quote, { mrtds: ['00'.repeat(48)] }, 'POLICY_MEASUREMENT', 'policy.mrtd'],
    ['T8 with its RTMRs', T8.quote, { rtmrs }, undefined],
    ['T8 with RTMR2 only', T8.quote, { rtmrs: [null, null, rtmrs[2] ?? '', null] }, undefined],
    ['T8 with no RTMR pinned', T8.quote, { rtmrs: [null, null, null, null] }, undefined],
    ['T8 with a wrong RTMR3', T8.quote, { rtmrs: [null, null, null, 'ab'.repeat(48)] }, 'POLICY_MEASUREMENT', 'policy.rtmrs'],
    ['T8 with its REPORTDATA', T8.quote, { reportData: toHex(q8.reportData) }, undefined],
    ['T8 with another REPORTDATA', T8.quote, { reportData: '00'.repeat(64) }, 'POLICY_REPORT_DATA', 'policy.report-data'],
    ['a bad policy', T8.quote, { mrtds: ['zz'] }, 'MALFORMED_POLICY', 'policy.shape'],
  ];
  for (const [name, quote, policy, code, check] of cases) {
    it(`${code ?? 'accepts'}: ${name}`, async () => {
      const v = await verifyTdxEvidence(ev(quote), policy, { at: quote === T4.quote ? T4.at : T8.at });
      expect(v, code, name);
      if (check !== undefined) assert.equal(v.checks.find((c) => c.status === 'fail')?.id, check);
    });
  }

  it('names TDATTRIBUTES.DEBUG, the RTMR and the expected values in policy errors', async () => {
    const d = await verifyTdxEvidence(ev(T4.quote), {}, { at: T4.at });
    assert.deepEqual([d.error?.field, d.error?.expected, d.error?.actual], ['TDATTRIBUTES.DEBUG', '0', '1']);
    const r = await verifyTdxEvidence(ev(T8.quote), { rtmrs: [null, 'AB'.repeat(48), null, null] }, { at: T8.at });
    assert.deepEqual([r.error?.field, r.error?.expected, r.error?.actual], ['RTMR1', 'ab'.repeat(48), rtmrs[1]]);
    assert.equal(r.checks.find((c) => c.id === 'policy.debug')?.status, 'pass');
  });

  it('turns malformed quotes, bad endorsements, untrusted roots and expired chains into verdicts', async () => {
    expect(await verifyTdxEvidence(ev(T8.quote.subarray(0, 100)), {}, { at: T8.at }), 'TRUNCATED', 'truncated');
    expect(await verifyTdxEvidence(ev(T8.quote, { certificates: [new Uint8Array([0x30, 0x01])] }), {}, { at: T8.at }), 'MALFORMED_DER', 'junk certificate');
    expect(await verifyTdxEvidence(ev(T8.quote), {}, { at: new Date('2040-01-01') }), 'CERT_EXPIRED', 'expired');
    const trunc = await verifyTdxEvidence(ev(T8.quote.subarray(0, 100)), {}, { at: T8.at });
    assert.equal(trunc.claims, undefined);
    assert.equal(trunc.simulated, false);
  });
});

describe('TDX policy files', () => {
  it('accepts the documented fields', () => {
    const p = parseTdxPolicyJson(JSON.stringify({ allowDebug: false, mrtds: ['ab'.repeat(48)], rtmrs: [null, 'cd'.repeat(48), null, null], reportData: 'ef'.repeat(64) }));
    assert.equal(p.rtmrs?.[1], 'cd'.repeat(48));
    assert.ok(Object.isFrozen(p));
  });

  it('lists every bad field path at once', () => {
    assert.throws(
      () => assertTdxPolicy({ foo: 1, allowDebug: 'yes', mrtds: [], rtmrs: [null, 'zz', null], reportData: 'ab', measurements: ['ab'] }),
      (e: Error & { code: string; field: string }) =>
        e.code === 'MALFORMED_POLICY' && e.field === '$.foo,$.measurements,$.allowDebug,$.reportData,$.mrtds,$.rtmrs',
    );
    assert.throws(() => assertTdxPolicy({ mrtds: ['zz'], rtmrs: [null, null, 'zz', null] }), (e: Error & { field: string }) => e.field === '$.mrtds[0],$.rtmrs[2]');
    assert.throws(() => assertTdxPolicy([]), /policy must be a JSON object/);
    assert.throws(() => parseTdxPolicyJson('{'), (e: Error & { code: string; name: string }) => e.code === 'MALFORMED_POLICY' && e.name === 'ParseError');
  });
});
