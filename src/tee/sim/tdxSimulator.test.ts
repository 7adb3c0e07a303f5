import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { encodePem, toArrayBufferView, toHex } from '../../../attestation/bytes.js';
import { CheckLog } from '../../../attestation/checks.js';
import { CloisterError, type ErrorCode } from '../../../attestation/errors.js';
import { parsePckExtensions } from '../../../attestation/tdx/pckExtensions.js';
import { parseQuote, quoteSignedBytes, serializeQeReport, serializeQuote, TD_BODY_TYPE, type QeReportFields, type TdxQuote } from '../../../attestation/tdx/quote.js';
import { expectedQeReportData, TdxVerifier } from '../../../attestation/tdx/verify.js';
import { parseCertificate } from '../../../attestation/x509.js';
import { nodeEcdsa } from '../../base/crypto/nodeEcdsa.js';
import { createTdxDevChain, SIMULATED_CPUSVN, type TdxDevChain } from './tdxDevChain.js';
import { SimulatedTdx, SimulatedTdxProvider } from './tdxSimulator.js';

const subtle = globalThis.crypto.subtle;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const reportData = new Uint8Array(64).map((_, i) => 0x80 + i);
const at = new Date('2030-01-01T00:00:00Z');
let dev: TdxDevChain;
let other: TdxDevChain;
let trusting: TdxVerifier;

before(async () => {
  [dev, other] = await Promise.all([createTdxDevChain(), createTdxDevChain()]);
  trusting = new TdxVerifier({ trustedRoots: [dev.root] });
});

async function rejection(bytes: Uint8Array, verifier = trusting, when = at): Promise<CloisterError> {
  try {
    await verifier.verify(parseQuote(bytes), { at: when });
  } catch (e) {
    assert.ok(e instanceof CloisterError, `expected a CloisterError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the simulated quote to be rejected');
}

/** Re-signs parts of a quote the way an attacker (or a buggy QE) might; whatever is not given is kept. */
async function forge(q: TdxQuote, parts: { attestationKeys?: CryptoKeyPair; qeReport?: QeReportFields; pck?: TdxDevChain; chain?: Uint8Array[] }): Promise<Uint8Array> {
  const attestationKey = parts.attestationKeys === undefined ? q.attestationKey : new Uint8Array(await subtle.exportKey('raw', parts.attestationKeys.publicKey)).subarray(1);
  const qeReport = parts.qeReport ?? q.qeReport;
  const qeReportSignature = parts.pck === undefined ? q.qeReportSignature : new Uint8Array(await subtle.sign(SIGN, parts.pck.pckKey, toArrayBufferView(serializeQeReport(qeReport))));
  const pckCertChain = parts.chain === undefined ? q.pckCertChain : new TextEncoder().encode(parts.chain.map((d) => encodePem('CERTIFICATE', d)).join(''));
  const fields = { ...q, attestationKey, qeReport, qeReportSignature, pckCertChain };
  if (parts.attestationKeys === undefined) return serializeQuote(fields);
  const signature = new Uint8Array(await subtle.sign(SIGN, parts.attestationKeys.privateKey, toArrayBufferView(quoteSignedBytes(fields))));
  return serializeQuote({ ...fields, signature });
}

describe('simulated TDX', () => {
  it('produces a version 4 quote with the configured MRTD, RTMRs, TD attributes, XFAM and report data', async () => {
    const mrTd = new Uint8Array(48).fill(0x11);
    const rtmrs = [1, 2, 3, 4].map((n) => new Uint8Array(48).fill(n)) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const sim = await SimulatedTdx.create({ mrTd, rtmrs, tdAttributes: 0x10000001n, xfam: 0xe7n, mrOwner: new Uint8Array(48).fill(0xaa) }, { chain: dev });
    const q = parseQuote(await sim.quote(reportData));
    assert.equal(sim.version, 4);
    assert.equal(q.header.version, 4);
    assert.equal(q.body.bodyType, TD_BODY_TYPE.tdx10);
    assert.deepEqual(q.body.mrTd, mrTd);
    assert.deepEqual(q.body.rtmrs, rtmrs);
    assert.deepEqual(q.body.reportData, reportData);
    assert.deepEqual(q.body.mrOwner, new Uint8Array(48).fill(0xaa));
    assert.equal(q.body.tdAttributes.debug, true);
    assert.equal(q.body.tdAttributes.septVeDisable, true);
    assert.equal(q.body.xfam, 0xe7n);
    assert.equal(q.paddingSize, 0);
    assert.equal(q.pckCertificates.length, 3);
    assert.deepEqual(serializeQuote(q), q.raw);
  });

  it('defaults to a non-debug TD', async () => {
    const q = parseQuote(await (await SimulatedTdx.create({}, { chain: dev })).quote(reportData));
    assert.equal(q.body.tdAttributes.raw, 0x10000000n);
    assert.equal(q.body.tdAttributes.debug, false);
  });

  it('verifies under the trusted development root, with the WebCrypto and node:crypto backends', async () => {
    const bytes = await (await SimulatedTdx.create({}, { chain: dev })).quote(reportData);
    for (const verifier of [trusting, new TdxVerifier({ trustedRoots: [dev.root], ecdsa: nodeEcdsa }), new TdxVerifier({ additionalRoots: [dev.root] })]) {
      const log = new CheckLog();
      const result = await verifier.verify(parseQuote(bytes), { at }, log);
      assert.equal(result.chain.root, 'Cloister SIMULATED SGX Root CA');
      assert.ok(log.checks.every((c) => c.status === 'pass'));
      assert.equal(log.checks.length, 7);
    }
  });

  it('is rejected by a verifier that trusts only Intel (UNTRUSTED_ROOT)', async () => {
    const bytes = await (await SimulatedTdx.create({}, { chain: dev })).quote(reportData);
    const e = await rejection(bytes, new TdxVerifier());
    assert.equal(e.code, 'UNTRUSTED_ROOT');
    assert.equal(e.actual, 'Cloister SIMULATED SGX Root CA');
    assert.equal((await rejection(bytes, new TdxVerifier({ ecdsa: nodeEcdsa }))).code, 'UNTRUSTED_ROOT');
  });

  it('puts the CPUSVN its PCK certificate certifies into the QE report', async () => {
    const q = parseQuote(await (await SimulatedTdx.create({}, { chain: dev })).quote(reportData));
    assert.deepEqual(q.qeReport.cpuSvn, parsePckExtensions(parseCertificate(dev.pck)).cpuSvn);
    assert.equal(toHex(q.qeReport.cpuSvn), SIMULATED_CPUSVN);
  });

  it('produces version 5 quotes with a TDX 1.5 body', async () => {
    const sim = await SimulatedTdx.create({ version: 5 }, { chain: dev });
    const q = parseQuote(await sim.quote(reportData));
    assert.equal(q.header.version, 5);
    assert.equal(q.body.bodyType, TD_BODY_TYPE.tdx15);
    assert.deepEqual(q.body.teeTcbSvn2, q.body.teeTcbSvn);
    await trusting.verify(q, { at });
  });

  it('binds a fresh attestation key per simulator in its QE report', async () => {
    const [a, b] = await Promise.all([SimulatedTdx.create({}, { chain: dev }), SimulatedTdx.create({}, { chain: dev })]);
    const qa = parseQuote(await a.quote(reportData));
    const qb = parseQuote(await b.quote(reportData));
    assert.notDeepEqual(qa.attestationKey, qb.attestationKey);
    assert.deepEqual(qa.qeReport.reportData, await expectedQeReportData(qa.attestationKey, qa.qeAuthData));
  });
});

describe('mutated simulated quotes fail the right check', () => {
  let q: TdxQuote;
  before(async () => {
    q = parseQuote(await (await SimulatedTdx.create({}, { chain: dev })).quote(reportData));
  });

  const flip = (offset: (q: TdxQuote) => number) => (): Promise<Uint8Array> => {
    const b = q.raw.slice();
    const i = offset(q);
    b[i] = (b[i] as number) ^ 0x01;
    return Promise.resolve(b);
  };
  const qeStart = (x: TdxQuote): number => x.signedBytes.length + 4 + 0x86;
  const cases: [string, () => Promise<Uint8Array>, ErrorCode, string | undefined][] = [
    ['a REPORTDATA bit', flip(() => 0x30 + 0x208), 'REPORT_SIGNATURE_INVALID', 'Quote Signature'],
    ['an MRTD bit', flip(() => 0x30 + 0x088), 'REPORT_SIGNATURE_INVALID', 'Quote Signature'],
    ['the DEBUG bit of TDATTRIBUTES', flip(() => 0x30 + 0x078), 'REPORT_SIGNATURE_INVALID', 'Quote Signature'],
    ['a QE report ISVSVN bit', flip((x) => qeStart(x) + 0x102), 'REPORT_SIGNATURE_INVALID', 'QE Report Signature'],
    ['a QE report signature bit', flip((x) => qeStart(x) + 0x180), 'REPORT_SIGNATURE_INVALID', 'QE Report Signature'],
    ['a QE authentication data bit', flip((x) => qeStart(x) + 0x1c2), 'QE_REPORT_DATA_MISMATCH', 'QE Report.REPORTDATA'],
    ['the quote re-signed by a key the QE never certified', async () => forge(q, { attestationKeys: await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) }), 'QE_REPORT_DATA_MISMATCH', 'QE Report.REPORTDATA'],
    [
      'a QE report REPORTDATA with a non-zero upper half, signed by the PCK',
      () => {
        const data = q.qeReport.reportData.slice();
        data[40] = 1;
        return forge(q, { qeReport: { ...q.qeReport, reportData: data }, pck: dev });
      },
      'QE_REPORT_DATA_MISMATCH',
      'QE Report.REPORTDATA',
    ],
    [
      'an attestation key off the curve, bound by a QE report signed by the PCK',
      async () => {
        const bad = new Uint8Array(64).fill(1);
        const fields = { ...q, attestationKey: bad };
        return forge(parseQuote(serializeQuote(fields)), { qeReport: { ...q.qeReport, reportData: await expectedQeReportData(bad, q.qeAuthData) }, pck: dev });
      },
      'MALFORMED_FIELD',
      'ECDSA Attestation Key',
    ],
    ['another development chain with the same names (its own root)', () => forge(q, { pck: other, chain: [other.pck, other.pckCa, other.root] }), 'UNTRUSTED_ROOT', 'Root CA'],
    ['a PCK certificate from another chain under this chain\'s CA', () => forge(q, { pck: other, chain: [other.pck, dev.pckCa, dev.root] }), 'CHAIN_SIGNATURE_INVALID', 'Cloister SIMULATED SGX PCK Certificate'],
    ['a QE report signed by another chain\'s PCK key', () => forge(q, { pck: other }), 'REPORT_SIGNATURE_INVALID', 'QE Report Signature'],
  ];
  for (const [what, make, code, field] of cases) {
    it(`${what} -> ${code}`, async () => {
      const e = await rejection(await make());
      assert.equal(e.code, code, e.message);
      assert.equal(e.field, field, e.message);
    });
  }

  it('another chain with the same names says its key differs', async () => {
    const e = await rejection(await forge(q, { pck: other, chain: [other.pck, other.pckCa, other.root] }));
    assert.match(e.message, /whose key differs from the trusted root of that name/);
  });

  it('outside the development chain\'s validity: CERT_EXPIRED / CERT_NOT_YET_VALID', async () => {
    assert.equal((await rejection(q.raw, trusting, new Date('2051-01-01T00:00:00Z'))).code, 'CERT_EXPIRED');
    assert.equal((await rejection(q.raw, trusting, new Date('2024-06-01T00:00:00Z'))).code, 'CERT_NOT_YET_VALID');
  });
});

describe('SimulatedTdxProvider', () => {
  it('is an EvidenceProvider for platform tdx that says simulated', async () => {
    const provider = new SimulatedTdxProvider(await SimulatedTdx.create({}, { chain: dev }));
    assert.equal(provider.platform, 'tdx');
    assert.equal(provider.simulated, true);
    assert.equal(provider.name, 'simulated-tdx');
    const raw = await provider.getEvidence({ reportData, privilegeLevel: 0 });
    assert.equal(raw.platform, 'tdx');
    assert.equal(raw.source, 'simulated');
    assert.equal(raw.simulated, true);
    assert.equal(raw.certTable, undefined);
    assert.deepEqual(parseQuote(raw.evidence).body.reportData, reportData);
  });

  it('refuses report data that is not 64 bytes and privilege levels other than 0', async () => {
    const provider = new SimulatedTdxProvider(await SimulatedTdx.create({}, { chain: dev }));
    await assert.rejects(provider.getEvidence({ reportData: new Uint8Array(32) }), /report data must be 64 bytes/);
    await assert.rejects(provider.getEvidence({ reportData, privilegeLevel: 1 }), (e: unknown) => e instanceof CloisterError && e.field === 'privilegeLevel');
  });

  it('refuses configurations of the wrong size', async () => {
    await assert.rejects(SimulatedTdx.create({ mrTd: new Uint8Array(32) }, { chain: dev }), /mrTd must be 48 bytes, got 32/);
    await assert.rejects(SimulatedTdx.create({ rtmrs: [new Uint8Array(48), new Uint8Array(48), new Uint8Array(48), new Uint8Array(47)] }, { chain: dev }), /rtmrs\[3\] must be 48 bytes/);
    const three = [new Uint8Array(48), new Uint8Array(48), new Uint8Array(48)] as unknown as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    await assert.rejects(SimulatedTdx.create({ rtmrs: three }, { chain: dev }), /rtmrs must hold 4 registers, got 3/);
    await assert.rejects(SimulatedTdx.create({ tdAttributes: 1n << 64n }, { chain: dev }), /tdAttributes must fit in 64 bits/);
  });
});
