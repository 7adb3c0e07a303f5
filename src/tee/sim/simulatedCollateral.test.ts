import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decodePem, fromHex, toArrayBufferView, toHex } from '../../../attestation/bytes.js';
import { decodeEvidenceBundle } from '../../../attestation/evidence/platforms.js';
import { CloisterError } from '../../../attestation/errors.js';
import { signatureScheme, verifySignedBy, importPublicKey } from '../../../attestation/signatures.js';
import { readTdxCollateral, tdxCollateralJson, type TdxCollateral } from '../../../attestation/tdx/collateral.js';
import { verifyTdxEvidence } from '../../../attestation/tdx/evidence.js';
import { parsePckExtensions } from '../../../attestation/tdx/pckExtensions.js';
import { parseQuote, type TdxQuote } from '../../../attestation/tdx/quote.js';
import { TdxVerifier } from '../../../attestation/tdx/verify.js';
import { vector } from '../../../attestation/testing/vectors.js';
import { parseCertificate, parseCrl, type Certificate } from '../../../attestation/x509.js';
import { assembleTdxBundle } from '../assembleBundle.js';
import { createSimulatedCollateral, SIMULATED_ADVISORY_ID, SimulatedCollateralSource } from './simulatedCollateral.js';
import { createTdxDevChain, SIMULATED_FMSPC, type TdxDevChain } from './tdxDevChain.js';
import { SimulatedTdx, SimulatedTdxProvider } from './tdxSimulator.js';

const NOW = Date.parse('2030-03-01T12:00:00.250Z');
const DAY = 86_400_000;
const reportData = new Uint8Array(64).fill(0x21);
let chain: TdxDevChain;
let other: TdxDevChain;
let quote: TdxQuote;
let collateral: TdxCollateral;

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;
const text = (path: string): string => new TextDecoder().decode(vector(path));
const DCAP_QVL = json(text('dcap-qvl/tdx_quote_collateral.json')) as Record<string, string>;

/** Every member path with its JSON type, array elements merged under "[]": the shape a parser relies on. */
function shape(value: unknown, path = '$', out = new Set<string>()): Set<string> {
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  out.add(`${path}:${type}`);
  if (Array.isArray(value)) for (const v of value) shape(v, `${path}[]`, out);
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) shape(v, `${path}.${k}`, out);
  return out;
}

const difference = (a: Set<string>, b: Set<string>): string[] => [...a].filter((x) => !b.has(x));

before(async () => {
  [chain, other] = await Promise.all([createTdxDevChain(), createTdxDevChain()]);
  quote = parseQuote(await (await SimulatedTdx.create({}, { chain })).quote(reportData));
  collateral = await createSimulatedCollateral(chain, quote, NOW);
});

describe('simulated TDX collateral', () => {
  it('has the member names, order and value types of Intel\'s TCB info v3 for TDX', () => {
    const mine = json(collateral.tcbInfo);
    const reals = [json(DCAP_QVL.tcb_info ?? ''), json(text('go-tdx-guest/sample_tcbinfo_response_v5')).tcbInfo as Record<string, unknown>];
    for (const real of reals) {
      assert.deepEqual(Object.keys(mine), Object.keys(real));
      assert.deepEqual(difference(shape(real), shape(mine)), []);
    }
    // Nothing Intel does not write: dcap-qvl's sample has no advisories on module identity levels, the 2026 one does.
    assert.deepEqual(difference(shape(mine), new Set(reals.flatMap((r) => [...shape(r)]))), []);
    assert.equal(mine.id, 'TDX');
    assert.equal(mine.version, 3);
    assert.equal(mine.tcbType, 0);
    assert.equal(mine.issueDate, '2030-03-01T12:00:00Z', 'whole seconds, as Intel writes dates');
    assert.equal(mine.nextUpdate, '2030-03-31T12:00:00Z');
  });

  it('has the member names, order and value types of Intel\'s TD_QE identity v2', () => {
    const mine = json(collateral.qeIdentity);
    for (const real of [json(DCAP_QVL.qe_identity ?? ''), json(text('go-tdx-guest/sample_qeIdentity_response')).enclaveIdentity as Record<string, unknown>]) {
      assert.deepEqual(Object.keys(mine), Object.keys(real));
      assert.deepEqual(difference(shape(real), shape(mine)), []);
      // Intel's current QE identities list only UpToDate levels; the simulated one adds an OutOfDate level with its advisory.
      assert.deepEqual(difference(shape(mine), shape(real)), ['$.tcbLevels[].advisoryIDs:array', '$.tcbLevels[].advisoryIDs[]:string']);
    }
    assert.equal(mine.id, 'TD_QE');
    assert.equal(mine.version, 2);
  });

  it('matches the quote: FMSPC, PCE ID, an UpToDate level at exactly its SVNs, an OutOfDate one below with INTEL-SA-SIMULATED', () => {
    const tcbInfo = json(collateral.tcbInfo) as { fmspc: string; pceId: string; tcbLevels: { tcb: { sgxtcbcomponents: { svn: number }[]; pcesvn: number; tdxtcbcomponents: { svn: number }[] }; tcbStatus: string; advisoryIDs?: string[] }[]; tdxModule: { mrsigner: string; attributes: string }; tdxModuleIdentities: { id: string; tcbLevels: { tcb: { isvsvn: number }; tcbStatus: string }[] }[] };
    const pck = parsePckExtensions(parseCertificate(quote.pckCertificates[0] as Uint8Array));
    assert.equal(tcbInfo.fmspc, SIMULATED_FMSPC);
    assert.equal(tcbInfo.fmspc, toHex(pck.fmspc));
    assert.equal(tcbInfo.pceId, '0000');
    const [upToDate, outOfDate, ...rest] = tcbInfo.tcbLevels;
    assert.ok(upToDate && outOfDate);
    assert.equal(rest.length, 0);
    assert.equal(upToDate.tcbStatus, 'UpToDate');
    assert.deepEqual(upToDate.tcb.sgxtcbcomponents.map((c) => c.svn), pck.cpuSvnComponents);
    assert.equal(upToDate.tcb.pcesvn, pck.pceSvn);
    assert.deepEqual(upToDate.tcb.tdxtcbcomponents.map((c) => c.svn), [...quote.body.teeTcbSvn]);
    assert.equal(outOfDate.tcbStatus, 'OutOfDate');
    assert.deepEqual(outOfDate.advisoryIDs, [SIMULATED_ADVISORY_ID]);
    assert.ok(outOfDate.tcb.pcesvn < upToDate.tcb.pcesvn);
    assert.ok(outOfDate.tcb.sgxtcbcomponents.every((c, i) => c.svn <= (upToDate.tcb.sgxtcbcomponents[i]?.svn ?? -1)));
    assert.deepEqual(outOfDate.tcb.tdxtcbcomponents.map((c) => c.svn), [2, 0, 3, ...new Array<number>(13).fill(0)]);
    assert.equal(tcbInfo.tdxModule.mrsigner, toHex(quote.body.mrSignerSeam).toUpperCase());
    assert.equal(tcbInfo.tdxModule.attributes, '0000000000000000');
    // TEE_TCB_SVN 03 00 04 ..: byte 1 is 0, so no module identity applies; Intel's list is there all the same.
    assert.deepEqual(tcbInfo.tdxModuleIdentities.map((m) => m.id), ['TDX_03', 'TDX_01']);
    assert.deepEqual(tcbInfo.tdxModuleIdentities[0]?.tcbLevels.map((l) => [l.tcb.isvsvn, l.tcbStatus]), [[3, 'UpToDate'], [2, 'OutOfDate']]);
  });

  it('matches the QE report: MRSIGNER, ISVPRODID 2, masked MISCSELECT and ATTRIBUTES, levels by ISVSVN', () => {
    const identity = json(collateral.qeIdentity) as { mrsigner: string; isvprodid: number; miscselect: string; miscselectMask: string; attributes: string; attributesMask: string; tcbLevels: { tcb: { isvsvn: number }; tcbStatus: string }[] };
    assert.equal(identity.mrsigner, toHex(quote.qeReport.mrSigner).toUpperCase());
    assert.equal(identity.isvprodid, 2);
    assert.equal(identity.miscselect, '00000000');
    assert.equal(identity.miscselectMask, 'FFFFFFFF');
    const mask = fromHex(identity.attributesMask);
    assert.equal(toHex(quote.qeReport.attributes.map((b, i) => b & (mask[i] ?? 0))).toUpperCase(), identity.attributes);
    assert.equal(identity.attributes, '11000000000000000000000000000000');
    assert.deepEqual(identity.tcbLevels.map((l) => [l.tcb.isvsvn, l.tcbStatus]), [[quote.qeReport.isvSvn, 'UpToDate'], [quote.qeReport.isvSvn - 1, 'OutOfDate']]);
  });

  it('names the module identity TEE_TCB_SVN[1] selects, levels by TEE_TCB_SVN[0]; no OutOfDate level below zero', async () => {
    const teeTcbSvn = fromHex('00050000000000000000000000000000');
    const q = parseQuote(await (await SimulatedTdx.create({ teeTcbSvn }, { chain })).quote(reportData));
    const c = json((await createSimulatedCollateral(chain, q, NOW)).tcbInfo) as { tdxModuleIdentities: { id: string; tcbLevels: { tcb: { isvsvn: number }; tcbStatus: string }[] }[]; tcbLevels: { tcb: { tdxtcbcomponents: { svn: number }[] } }[] };
    assert.deepEqual(c.tdxModuleIdentities.map((m) => m.id), ['TDX_05', 'TDX_03', 'TDX_01']);
    assert.deepEqual(c.tdxModuleIdentities[0]?.tcbLevels.map((l) => [l.tcb.isvsvn, l.tcbStatus]), [[0, 'UpToDate']]);
    // The module series (byte 1) stays in the older level.
    assert.deepEqual(c.tcbLevels[1]?.tcb.tdxtcbcomponents.map((x) => x.svn).slice(0, 3), [0, 5, 0]);
  });

  it('is signed over the exact JSON text by the TCB Signing key, whose chain is signing certificate || root (WebCrypto)', async () => {
    for (const [body, chainPem, signature] of [[collateral.tcbInfo, collateral.tcbInfoIssuerChain, collateral.tcbInfoSignature], [collateral.qeIdentity, collateral.qeIdentityIssuerChain, collateral.qeIdentitySignature]] as const) {
      const [signing, root] = decodePem(chainPem).map((b) => parseCertificate(b.der)) as [Certificate, Certificate];
      assert.equal(signing.subjectCommonName, 'Cloister SIMULATED SGX TCB Signing');
      assert.deepEqual(root.der, chain.root);
      assert.equal(await verifySignedBy(signing, root), true);
      assert.match(signature, /^[0-9a-f]{128}$/);
      const key = await globalThis.crypto.subtle.importKey('spki', toArrayBufferView(signing.spki), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
      const verify = (t: string): Promise<boolean> => globalThis.crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, toArrayBufferView(fromHex(signature)), new TextEncoder().encode(t));
      assert.equal(await verify(body), true);
      assert.equal(await verify(JSON.stringify(JSON.parse(body), null, 1)), false, 'the same JSON re-serialized is not what was signed');
      assert.equal(await verify(body.replace('"UpToDate"', '"OutOfDate"')), false);
    }
  });

  it('carries empty CRLs that parseCrl reads: the root CA CRL signed by the root, the PCK CRL by the PCK CA, current for 30 days', async () => {
    const [root, pckCa] = [chain.root, chain.pckCa].map((d) => parseCertificate(d)) as [Certificate, Certificate];
    const rootCrl = parseCrl(fromHex(collateral.rootCaCrl ?? ''));
    const pckCrl = parseCrl(fromHex(collateral.pckCrl ?? ''));
    for (const [crl, issuer, wrong] of [[rootCrl, root, pckCa], [pckCrl, pckCa, root]] as const) {
      assert.deepEqual(crl.issuer, issuer.subject);
      assert.match(crl.issuerCommonName ?? '', /SIMULATED/);
      assert.equal(crl.revokedSerialsHex.size, 0);
      assert.equal(crl.thisUpdate.toISOString(), '2030-03-01T12:00:00.000Z');
      assert.equal(crl.nextUpdate?.getTime(), crl.thisUpdate.getTime() + 30 * DAY);
      assert.equal(signatureScheme(crl.signatureAlgorithm).kind, 'ecdsa');
      assert.equal(await verifySignedBy(crl, issuer), true);
      assert.equal(await verifySignedBy(crl, wrong), false);
    }
    assert.ok(await importPublicKey(pckCa, signatureScheme(pckCrl.signatureAlgorithm)));
    assert.deepEqual(decodePem(collateral.pckCrlIssuerChain ?? '').map((b) => b.der), [chain.pckCa, chain.root]);
    assert.match(collateral.rootCaCrl ?? '', /^[0-9a-f]+$/);
  });

  it('goes through the bundle reader unchanged, and a bundle carrying it still verifies under the development root', async () => {
    const read = readTdxCollateral(tdxCollateralJson(collateral), '$');
    assert.deepEqual(read, { collateral, problems: [] });
    const raw = await new SimulatedTdxProvider(await SimulatedTdx.create({}, { chain })).getEvidence({ reportData });
    const bundle = assembleTdxBundle(raw, { collateral: await createSimulatedCollateral(chain, parseQuote(raw.evidence), Date.now()) });
    const decoded = decodeEvidenceBundle(bundle.bytes);
    assert.equal(decoded.platform, 'tdx');
    const verdict = await verifyTdxEvidence(decoded.evidence, { reportData: toHex(reportData) }, { verifier: new TdxVerifier({ additionalRoots: [chain.root] }) });
    assert.equal(verdict.accepted, true, verdict.error?.message);
  });

  it('vouches only for its own root\'s quotes: with both roots trusted, Intel\'s quote with it, or its quote with Intel\'s collateral, is UNTRUSTED_ROOT', async () => {
    const verifier = new TdxVerifier({ additionalRoots: [chain.root] });
    const raw = await new SimulatedTdxProvider(await SimulatedTdx.create({}, { chain })).getEvidence({ reportData });
    const intel = readTdxCollateral(DCAP_QVL, '$').collateral ?? assert.fail('collateral');
    const simulatedWithIntel = await verifyTdxEvidence({ quote: raw.evidence, certificates: [], crls: [], simulated: true, collateral: intel }, {}, { verifier, at: new Date('2025-06-25T00:00:00Z') });
    assert.deepEqual([simulatedWithIntel.error?.code, simulatedWithIntel.error?.field], ['UNTRUSTED_ROOT', 'tcb_info_issuer_chain']);
    const T8 = vector('dcap-qvl/tdx_quote');
    const forged = await createSimulatedCollateral(chain, parseQuote(raw.evidence), Date.parse('2025-06-24T00:00:00Z'));
    const intelWithSimulated = await verifyTdxEvidence({ quote: T8, certificates: [], crls: [], simulated: false, collateral: { ...forged, rootCaCrl: intel.rootCaCrl ?? '', pckCrl: intel.pckCrl ?? '' } }, {}, { verifier, at: new Date('2025-06-25T00:00:00Z') });
    assert.deepEqual([intelWithSimulated.error?.code, intelWithSimulated.error?.field], ['UNTRUSTED_ROOT', 'tcb_info_issuer_chain']);
    assert.match(intelWithSimulated.error?.message ?? '', /not in the root of the quote's PCK chain \("Intel SGX Root CA"\)/);
  });

  it('is refused for a quote of another platform (COLLATERAL_UNAVAILABLE): the development keys vouch for nothing else', async () => {
    const foreign = parseQuote(await (await SimulatedTdx.create({}, { chain: other })).quote(reportData));
    for (const q of [foreign, { ...quote, pckCertificates: [] }]) {
      await assert.rejects(createSimulatedCollateral(chain, q, NOW), (e: unknown) => e instanceof CloisterError && e.code === 'COLLATERAL_UNAVAILABLE');
    }
  });
});

describe('SimulatedCollateralSource', () => {
  it('says SIMULATED, issues at its clock, and asks to be refreshed at 80% of the 30 days', async () => {
    const source = new SimulatedCollateralSource(chain, { now: () => NOW });
    assert.equal(source.simulated, true);
    assert.match(source.name, /SIMULATED/);
    const fetched = await source.fetch(quote);
    const issued = Math.floor(NOW / 1000) * 1000;
    assert.equal(fetched.nextUpdate.getTime(), issued + 30 * DAY);
    assert.equal(fetched.refreshAt.getTime(), issued + 24 * DAY);
    assert.equal(json(fetched.collateral.tcbInfo).issueDate, '2030-03-01T12:00:00Z');
    const short = await new SimulatedCollateralSource(chain, { now: () => NOW, days: 10 }).fetch(quote);
    assert.equal(short.refreshAt.getTime(), issued + 8 * DAY);
  });
});
