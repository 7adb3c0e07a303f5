import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../bytes.js';
import type { ErrorCode } from '../errors.js';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { vector } from '../testing/vectors.js';
import { CHAIN_ONLY, verifyTdxEvidence, type TdxEvidence } from './evidence.js';
import { assertTdxPolicy, parseTdxPolicyJson } from './policy.js';
import { readTdxCollateral, type TdxCollateral } from './collateral.js';
import { parseQuote, serializeQuote } from './quote.js';
import type { TdxPolicy } from './validate.js';

const rows = tdxVectorRows();
const row = (id: string) => rows.find((r) => r.id === id) ?? assert.fail(id);
const T8 = row('T8');
const T4 = row('T4');
const ev = (quote: Uint8Array, extra: Partial<TdxEvidence> = {}): TdxEvidence => ({ quote, certificates: [], crls: [], simulated: false, ...extra });
const q8 = parseQuote(T8.quote).body;
const COLLATERAL = readTdxCollateral(JSON.parse(new TextDecoder().decode(vector('dcap-qvl/tdx_quote_collateral.json'))), '$').collateral;

const T1 = row('T1');
const T5 = row('T5');
const withCollateral = (quote: Uint8Array): TdxEvidence => ev(quote, { collateral: COLLATERAL ?? assert.fail('collateral') });
const T1_COLLATERAL = readTdxCollateral(JSON.parse(new TextDecoder().decode(vector('derived/tdx-collateral-dcapqvl-format/go-tdx-guest_sample_v4_50806f000000.json'))), '$').collateral;
// Policy relaxations that let each real quote through on the chain alone: T4 is a debug TD, T1 and T7 lack
// SEPT_VE_DISABLE, T5 binds a service TD.
const lenient = (id: string): TdxPolicy => {
  const q = parseQuote(row(id).quote).body;
  return { allowDebug: true, allowSeptVe: true, ...(q.mrServiceTd === undefined ? {} : { mrServiceTds: [toHex(q.mrServiceTd)] }) };
};

describe('verifyTdxEvidence', () => {
  it('accepts every real quote T1..T8 on the chain alone (chainOnly), saying the collateral and TCB were not evaluated', async () => {
    for (const r of rows) {
      const v = await verifyTdxEvidence(ev(r.quote), lenient(r.id), { at: r.at, chainOnly: true });
      assert.equal(v.accepted, true, `${r.id}: ${v.error?.message ?? ''}`);
      assert.equal(v.platform, 'tdx');
      for (const id of ['collateral', 'tcb']) assert.deepEqual(v.checks.find((c) => c.id === id), { id, status: 'skipped', detail: CHAIN_ONLY });
      assert.equal(v.checks.find((c) => c.id === 'policy.tcb-status')?.status, 'skipped');
      assert.equal(v.checks.find((c) => c.id === 'quote.signature')?.status, 'pass');
      assert.equal((v.claims as { tcbStatus: string }).tcbStatus, 'not evaluated');
    }
  });

  it('without collateral rejects with COLLATERAL_MISSING after the signatures pass', async () => {
    const v = await verifyTdxEvidence(ev(T8.quote), {}, { at: T8.at });
    assert.equal(v.error?.code, 'COLLATERAL_MISSING');
    assert.equal(v.checks.find((c) => c.status === 'fail')?.id, 'collateral.present');
    assert.equal(v.checks.find((c) => c.id === 'quote.signature')?.status, 'pass');
    const noCrl = await verifyTdxEvidence(ev(T8.quote, { collateral: { ...(COLLATERAL ?? assert.fail('c')), pckCrl: undefined } as unknown as TdxCollateral }), {}, { at: T8.at });
    assert.deepEqual([noCrl.error?.code, noCrl.error?.field], ['COLLATERAL_MISSING', 'pck_crl']);
  });

  // testdata/attestation/README.md, "Quote + collateral pairs with a known verdict".
  it('T8 with dcap-qvl\'s collateral at 2025-06-25: ACCEPT, TCB UpToDate, no advisories', async () => {
    const v = await verifyTdxEvidence(withCollateral(T8.quote), {}, { at: T8.at });
    assert.equal(v.accepted, true, v.error?.message);
    const tcb = (v.claims as { tcb: { status: string; advisoryIds: string[]; tcbDate: string; module: { id: string } } }).tcb;
    assert.deepEqual([tcb.status, tcb.advisoryIds, tcb.tcbDate, tcb.module.id], ['UpToDate', [], '2024-03-13T00:00:00.000Z', 'TDX_01']);
    for (const id of ['collateral.tcb-info', 'collateral.qe-identity', 'crl.root', 'crl.pck', 'tcb', 'policy.tcb-status']) assert.equal(v.checks.find((c) => c.id === id)?.status, 'pass', id);
  });

  it('T8 with its PCK chain re-written as DER certificates verifies the same', async () => {
    const q = parseQuote(T8.quote);
    const der = serializeQuote({ ...q, pckCertChain: new Uint8Array(q.pckCertificates.flatMap((d) => [...d])) });
    const v = await verifyTdxEvidence(withCollateral(der), {}, { at: T8.at });
    assert.equal(v.accepted, true, v.error?.message);
  });

  it('replays a CCEL event log against the RTMRs: T3 with its own log passes, T8 with it fails naming RTMR0', async () => {
    const log = vector('go-tdx-guest/ccel/ccel_data.dat');
    const T3 = row('T3');
    const ok = await verifyTdxEvidence(ev(T3.quote, { eventLog: log }), lenient('T3'), { at: T3.at, chainOnly: true });
    assert.equal(ok.accepted, true, ok.error?.message);
    assert.match(ok.checks.find((c) => c.id === 'event-log')?.detail ?? '', /^\d+ events replay to RTMR0\.\.RTMR3$/);
    const other = await verifyTdxEvidence(ev(T8.quote, { eventLog: log }), {}, { at: T8.at, chainOnly: true });
    assert.deepEqual([other.error?.code, other.error?.field, other.checks.find((c) => c.status === 'fail')?.id], ['POLICY_MEASUREMENT', 'RTMR0', 'event-log']);
    const junk = await verifyTdxEvidence(ev(T3.quote, { eventLog: new Uint8Array([1, 2, 3]) }), lenient('T3'), { at: T3.at, chainOnly: true });
    assert.equal(junk.accepted, false);
    assert.equal(junk.checks.find((c) => c.status === 'fail')?.id, 'event-log');
    assert.equal((await verifyTdxEvidence(ev(T3.quote), lenient('T3'), { at: T3.at, chainOnly: true })).checks.find((c) => c.id === 'event-log')?.status, 'skipped');
  });

  it('T8 with the same collateral now: REJECT, the TCB info expired', async () => {
    const v = await verifyTdxEvidence(withCollateral(T8.quote), {}, {});
    assert.deepEqual([v.error?.code, v.error?.field], ['COLLATERAL_EXPIRED', 'tcb_info.nextUpdate']);
    assert.match(v.error?.message ?? '', /^TCB info is valid 2025-06-19T10:16:03\.000Z\.\.2025-07-19T10:16:03\.000Z, evaluated at /);
  });

  it('T1 with go-tdx-guest\'s collateral at 2023-07-01: REJECT, no matching TCB level', async () => {
    const v = await verifyTdxEvidence(ev(T1.quote, { collateral: T1_COLLATERAL ?? assert.fail('c') }), {}, { at: T1.at });
    assert.deepEqual([v.error?.code, v.checks.find((c) => c.status === 'fail')?.id], ['TCB_NOT_SUPPORTED', 'tcb']);
    assert.match(v.error?.message ?? '', /no TCB level of FMSPC 50806f000000 is met/);
  });

  it('reports T8 claims as hex and JSON, with the chain and the TCB', async () => {
    const v = await verifyTdxEvidence(withCollateral(T8.quote), {}, { at: T8.at });
    assert.equal(v.accepted, true, v.error?.message);
    const c = v.claims as Record<string, unknown>;
    assert.equal(c.version, 4);
    assert.equal(c.bodyType, 'TDX 1.0');
    assert.equal(c.mrTd, toHex(q8.mrTd));
    assert.deepEqual(c.rtmrs, q8.rtmrs.map(toHex));
    assert.equal(c.reportData, toHex(q8.reportData));
    assert.equal(c.qeVendorId, '939a7233f79c4ca9940a0db3957f0607');
    assert.equal(c.tcbStatus, 'UpToDate');
    assert.deepEqual(c.tdAttributes, { raw: `0x${q8.tdAttributes.raw.toString(16).padStart(16, '0')}`, debug: false, septVeDisable: q8.tdAttributes.septVeDisable, migratable: false, pks: q8.tdAttributes.pks, kl: false, perfmon: q8.tdAttributes.perfmon });
    assert.equal((c.chain as { root: string }).root, 'Intel SGX Root CA');
    assert.equal((c.tcb as { summary: string }).summary, 'platform UpToDate since 2024-03-13; module TDX_01 UpToDate since 2024-03-13; QE (ISVSVN 6) UpToDate since 2024-03-13');
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
    ['T1 (SEPT_VE_DISABLE clear) under the default policy', T1.quote, {}, 'POLICY_TD_ATTRIBUTES', 'policy.td-attributes'],
    ['T1 with allowSeptVe', T1.quote, { allowSeptVe: true }, undefined],
    ['T5 (a service TD bound) under the default policy', T5.quote, {}, 'POLICY_TD_ATTRIBUTES', 'policy.td-attributes'],
    ['T5 with its MR_SERVICETD allowed', T5.quote, { mrServiceTds: [toHex(parseQuote(T5.quote).body.mrServiceTd ?? new Uint8Array(48))] }, undefined],
    ['T8 with its MRCONFIGID, MROWNER, MROWNERCONFIG and XFAM', T8.quote, { mrConfigId: toHex(q8.mrConfigId), mrOwner: toHex(q8.mrOwner), mrOwnerConfig: toHex(q8.mrOwnerConfig), xfam: q8.xfam.toString(16).padStart(16, '0') }, undefined],
    ['T8 with another MROWNER', T8.quote, { mrOwner: '11'.repeat(48) }, 'POLICY_TD_CONFIG', 'policy.mrowner'],
    ['T8 with another XFAM', T8.quote, { xfam: '0000000000000003' }, 'POLICY_TD_CONFIG', 'policy.xfam'],
    ['T8 with its MRSEAM allowed', T8.quote, { mrSeams: [toHex(q8.mrSeam)] }, undefined],
    ['T8 with another MRSEAM', T8.quote, { mrSeams: ['22'.repeat(48)] }, 'POLICY_MRSEAM', 'policy.mrseam'],
    ['T8 at its own TEE_TCB_SVN minimum', T8.quote, { minTeeTcbSvn: toHex(q8.teeTcbSvn) }, undefined],
    ['T8 below a higher TEE_TCB_SVN minimum', T8.quote, { minTeeTcbSvn: '07' + '00'.repeat(15) }, 'POLICY_TCB_TOO_LOW', 'policy.min-tee-tcb-svn'],
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
      const r = rows.find((x) => x.quote === quote) ?? T8;
      // Only T8 has collateral; the others are judged on the chain alone.
      const v = quote === T8.quote ? await verifyTdxEvidence(withCollateral(quote), policy, { at: T8.at }) : await verifyTdxEvidence(ev(quote), policy, { at: r.at, chainOnly: true });
      expect(v, code, name);
      if (check !== undefined) assert.equal(v.checks.find((c) => c.status === 'fail')?.id, check);
    });
  }

  it('names TDATTRIBUTES.DEBUG, the RTMR and the expected values in policy errors', async () => {
    const d = await verifyTdxEvidence(ev(T4.quote), {}, { at: T4.at, chainOnly: true });
    assert.deepEqual([d.error?.field, d.error?.expected, d.error?.actual], ['TDATTRIBUTES.DEBUG', '0', '1']);
    const r = await verifyTdxEvidence(withCollateral(T8.quote), { rtmrs: [null, 'AB'.repeat(48), null, null] }, { at: T8.at });
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
