import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ParseError, VerificationError, type ErrorCode } from '../errors.js';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { vector } from '../testing/vectors.js';
import { parseCertificate } from '../x509.js';
import { readTdxCollateral } from './collateral.js';
import type { TcbStatus } from './collateralJson.js';
import { parsePckExtensions } from './pckExtensions.js';
import { parseQeIdentity, type QeIdentity } from './qeIdentity.js';
import { parseQuote, type TdxQuote } from './quote.js';
import { evaluateTcb } from './tcbEvaluation.js';
import { parseTcbInfo, type TcbInfo, type TcbLevel } from './tcbInfo.js';

const T8 = tdxVectorRows().find((r) => r.id === 'T8') ?? assert.fail('T8');
const quote = parseQuote(T8.quote);
const pck = parsePckExtensions(parseCertificate(quote.pckCertificates[0] as Uint8Array));
const collateral = readTdxCollateral(JSON.parse(new TextDecoder().decode(vector('dcap-qvl/tdx_quote_collateral.json'))), '$').collateral ?? assert.fail('collateral');
const tcbInfo = parseTcbInfo(collateral.tcbInfo);
const qe = parseQeIdentity(collateral.qeIdentity);
const [upToDate, outOfDate] = tcbInfo.tcbLevels as [TcbLevel, TcbLevel];

const withLevels = (levels: TcbLevel[]): TcbInfo => ({ ...tcbInfo, tcbLevels: levels });
const withModuleStatus = (status: TcbStatus): TcbInfo => ({
  ...tcbInfo,
  tdxModuleIdentities: tcbInfo.tdxModuleIdentities.map((m) => ({ ...m, tcbLevels: m.tcbLevels.map((l) => ({ ...l, tcbStatus: status, advisoryIds: status === 'UpToDate' ? [] : ['INTEL-SA-MODULE'] })) })),
});
const withQeStatus = (status: TcbStatus): QeIdentity => ({ ...qe, tcbLevels: qe.tcbLevels.map((l) => ({ ...l, tcbStatus: status, advisoryIds: ['INTEL-SA-QE'] })) });
const withTee = (bytes: number[]): TdxQuote => ({ ...quote, body: { ...quote.body, teeTcbSvn: Uint8Array.from([...bytes, ...new Array<number>(16 - bytes.length).fill(0)]) } });

function fails(run: () => unknown, code: ErrorCode, field: string): void {
  assert.throws(run, (e: unknown) => e instanceof VerificationError && e.code === code && e.field === field && !e.message.includes('\n'));
}

describe('TDX TCB evaluation (QVL\'s rules) on T8 and dcap-qvl\'s collateral', () => {
  it('T8 as collected: UpToDate, TDX_01, QE ISVSVN 6, no advisories', () => {
    const e = evaluateTcb(quote, pck, tcbInfo, qe);
    assert.deepEqual([e.status, e.module.id, e.qe.isvSvn, e.advisoryIds, e.platform.tcbDate, e.tcbEvaluationDataNumber], ['UpToDate', 'TDX_01', 6, [], '2024-03-13T00:00:00.000Z', 17]);
  });

  it('a platform met only by the older level is OutOfDate since 2018-01-04 with that level\'s advisories', () => {
    const e = evaluateTcb(quote, pck, withLevels([{ ...upToDate, pceSvn: 99 }, outOfDate]), qe);
    assert.equal(e.status, 'OutOfDate');
    assert.equal(e.platform.tcbDate, '2018-01-04T00:00:00.000Z');
    assert.deepEqual(e.advisoryIds, outOfDate.advisoryIds);
  });

  const converge: [TcbStatus, TcbStatus, TcbStatus, TcbStatus, string][] = [
    // platform level, module level, QE level -> overall (QVL's converge functions)
    ['UpToDate', 'OutOfDate', 'UpToDate', 'OutOfDate', 'an OutOfDate module'],
    ['SWHardeningNeeded', 'OutOfDate', 'UpToDate', 'OutOfDate', 'an OutOfDate module over SW hardening'],
    ['ConfigurationNeeded', 'OutOfDate', 'UpToDate', 'OutOfDateConfigurationNeeded', 'an OutOfDate module over configuration'],
    ['ConfigurationAndSWHardeningNeeded', 'UpToDate', 'OutOfDate', 'OutOfDateConfigurationNeeded', 'an OutOfDate QE over configuration'],
    ['UpToDate', 'Revoked', 'UpToDate', 'Revoked', 'a revoked module'],
    ['UpToDate', 'UpToDate', 'Revoked', 'Revoked', 'a revoked QE'],
    ['OutOfDate', 'OutOfDate', 'OutOfDate', 'OutOfDate', 'everything OutOfDate'],
    ['SWHardeningNeeded', 'UpToDate', 'UpToDate', 'SWHardeningNeeded', 'a platform needing SW hardening'],
    ['Revoked', 'UpToDate', 'UpToDate', 'Revoked', 'a revoked platform'],
  ];
  for (const [platform, module, qeStatus, overall, name] of converge) {
    it(`${name}: ${platform} + module ${module} + QE ${qeStatus} = ${overall}`, () => {
      const e = evaluateTcb(quote, pck, { ...withModuleStatus(module), tcbLevels: [{ ...upToDate, tcbStatus: platform }] }, withQeStatus(qeStatus));
      assert.equal(e.status, overall);
      assert.deepEqual([e.platform.status, e.module.status, e.qe.status], [platform, module, qeStatus]);
      assert.ok(e.advisoryIds.includes('INTEL-SA-QE'));
    });
  }

  it('TEE_TCB_SVN bytes 0-1 are the module\'s (matched against its identity) when byte 1 is set, the platform level\'s otherwise', () => {
    const strictFirst = withLevels([{ ...upToDate, tdxComponents: [99, ...upToDate.tdxComponents.slice(1)] }, outOfDate]);
    assert.equal(evaluateTcb(quote, pck, strictFirst, qe).status, 'UpToDate'); // byte 1 = 1: byte 0 is the module's SVN
    const major0 = withTee([6, 0, 3]);
    assert.equal(evaluateTcb({ ...major0, body: { ...major0.body } }, pck, strictFirst, qe).status, 'OutOfDate');
    fails(() => evaluateTcb(withTee([1, 1, 3]), pck, tcbInfo, qe), 'TCB_NOT_SUPPORTED', 'TEE_TCB_SVN[0]');
    fails(() => evaluateTcb(withTee([6, 7, 3]), pck, tcbInfo, qe), 'TDX_MODULE_MISMATCH', 'tcb_info.tdxModuleIdentities');
    fails(() => evaluateTcb(withTee([6, 1, 1]), pck, tcbInfo, qe), 'TCB_NOT_SUPPORTED', 'TEE_TCB_SVN');
  });

  it('names the mismatching platform, module signer and QE fields', () => {
    fails(() => evaluateTcb(quote, pck, { ...tcbInfo, fmspc: new Uint8Array(6) }, qe), 'COLLATERAL_MISMATCH', 'tcb_info.fmspc');
    fails(() => evaluateTcb(quote, pck, { ...tcbInfo, pceId: Uint8Array.of(0, 1) }, qe), 'COLLATERAL_MISMATCH', 'tcb_info.pceId');
    fails(() => evaluateTcb({ ...quote, body: { ...quote.body, mrSignerSeam: new Uint8Array(48).fill(1) } }, pck, tcbInfo, qe), 'TDX_MODULE_MISMATCH', 'MRSIGNERSEAM');
    fails(() => evaluateTcb({ ...quote, body: { ...quote.body, seamAttributes: 1n } }, pck, tcbInfo, qe), 'TDX_MODULE_MISMATCH', 'SEAMATTRIBUTES');
    fails(() => evaluateTcb(quote, pck, tcbInfo, { ...qe, mrSigner: new Uint8Array(32) }), 'QE_IDENTITY_MISMATCH', 'QE Report.MRSIGNER');
    fails(() => evaluateTcb(quote, pck, tcbInfo, { ...qe, isvProdId: 1 }), 'QE_IDENTITY_MISMATCH', 'QE Report.ISVPRODID');
    fails(() => evaluateTcb(quote, pck, tcbInfo, { ...qe, miscSelect: 1 }), 'QE_IDENTITY_MISMATCH', 'QE Report.MISCSELECT');
    fails(() => evaluateTcb(quote, pck, tcbInfo, { ...qe, attributes: new Uint8Array(16).fill(0xff) }), 'QE_IDENTITY_MISMATCH', 'QE Report.ATTRIBUTES');
    fails(() => evaluateTcb(quote, pck, tcbInfo, { ...qe, tcbLevels: qe.tcbLevels.map((l) => ({ ...l, isvSvn: 9 })) }), 'TCB_NOT_SUPPORTED', 'QE Report.ISVSVN');
    fails(() => evaluateTcb(quote, { ...pck, pceSvn: 1 }, tcbInfo, qe), 'TCB_NOT_SUPPORTED', 'PCK SGX TCB');
  });
});

describe('the collateral JSON parsers', () => {
  const tcbText = collateral.tcbInfo;
  it('read every real TCB info and QE identity in testdata', () => {
    for (const path of ['dcap-qvl/tdx_quote_collateral.json', 'derived/tdx-collateral-dcapqvl-format/go-tdx-guest_sample_v4_50806f000000.json', 'derived/tdx-collateral-dcapqvl-format/go-tdx-guest_sample_v5_90c06f000000_QEID_EXPIRED_2023.json']) {
      const c = readTdxCollateral(JSON.parse(new TextDecoder().decode(vector(path))), '$').collateral ?? assert.fail(path);
      assert.ok(parseTcbInfo(c.tcbInfo).tcbLevels.length > 0, path);
      assert.ok(parseQeIdentity(c.qeIdentity).tcbLevels.length > 0, path);
    }
  });

  it('name the JSON path of a bad member', () => {
    const bad = (mutate: (o: Record<string, unknown>) => void, path: string): void => {
      const o = JSON.parse(tcbText) as Record<string, unknown>;
      mutate(o);
      assert.throws(() => parseTcbInfo(JSON.stringify(o)), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_COLLATERAL' && e.field === path);
    };
    bad((o) => { o.id = 'SGX'; }, 'tcb_info.id');
    bad((o) => { o.fmspc = 'zz'; }, 'tcb_info.fmspc');
    bad((o) => { o.tcbType = 1; }, 'tcb_info.tcbType');
    bad((o) => { o.nextUpdate = 'soon'; }, 'tcb_info.nextUpdate');
    bad((o) => { ((o.tcbLevels as { tcb: { pcesvn: unknown } }[])[1] as { tcb: { pcesvn: unknown } }).tcb.pcesvn = -1; }, 'tcb_info.tcbLevels[1].tcb.pcesvn');
    bad((o) => { ((o.tcbLevels as { tcbStatus: unknown }[])[0] as { tcbStatus: unknown }).tcbStatus = 'Fine'; }, 'tcb_info.tcbLevels[0].tcbStatus');
    bad((o) => { ((o.tcbLevels as { tcb: { sgxtcbcomponents: unknown[] } }[])[0] as { tcb: { sgxtcbcomponents: unknown[] } }).tcb.sgxtcbcomponents.pop(); }, 'tcb_info.tcbLevels[0].tcb.sgxtcbcomponents');
    assert.throws(() => parseQeIdentity('[]'), (e: unknown) => e instanceof ParseError && e.field === 'qe_identity');
    assert.throws(() => parseQeIdentity('{'), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_COLLATERAL');
  });

  it('never throw anything but a ParseError on arbitrary JSON (property)', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      for (const parse of [parseTcbInfo, parseQeIdentity]) {
        try {
          parse(JSON.stringify(v));
        } catch (e) {
          if (!(e instanceof ParseError)) throw e;
        }
      }
    }), { numRuns: 300 });
    // The real document with any one member replaced by an arbitrary value: parses or is a ParseError naming it.
    const keys = Object.keys(JSON.parse(tcbText) as object);
    fc.assert(fc.property(fc.constantFrom(...keys), fc.jsonValue(), (key, value) => {
      const o = JSON.parse(tcbText) as Record<string, unknown>;
      o[key] = value;
      try {
        parseTcbInfo(JSON.stringify(o));
      } catch (e) {
        if (!(e instanceof ParseError) || !(e.field ?? '').startsWith(`tcb_info.${key}`)) throw e;
      }
    }), { numRuns: 300 });
  });
});
