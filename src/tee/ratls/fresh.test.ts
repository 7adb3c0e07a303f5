// Fresh evidence against an RA-TLS certificate (attestation/ratls/verifyFresh.ts), produced by the simulated
// TEEs the way the server's fresh-evidence endpoint produces it; each way it can be wrong has its code.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { bootReportData, freshReportData, keysDigest } from '../../../attestation/evidence/reportData.js';
import { fromHex } from '../../../attestation/bytes.js';
import { verifyFreshEvidence } from '../../../attestation/ratls/verifyFresh.js';
import type { RaTlsPolicy } from '../../../attestation/ratls/verifyCertificate.js';
import { SnpVerifier } from '../../../attestation/snp/verify.js';
import type { TdxCollateral } from '../../../attestation/tdx/collateral.js';
import { parseQuote } from '../../../attestation/tdx/quote.js';
import { TdxVerifier } from '../../../attestation/tdx/verify.js';
import { parseCertificate } from '../../../attestation/x509.js';
import { assembleBundle } from '../assembleBundle.js';
import type { EvidenceProvider } from '../provider.js';
import { createDevChain, type DevChain } from '../sim/devChain.js';
import { SimulatedSnp, SimulatedSnpProvider } from '../sim/snpSimulator.js';
import { createSimulatedCollateral } from '../sim/simulatedCollateral.js';
import { createTdxDevChain, type TdxDevChain } from '../sim/tdxDevChain.js';
import { SimulatedTdx, SimulatedTdxProvider } from '../sim/tdxSimulator.js';
import { createRaTlsCertificate, issueAttestedCertificate, spkiOf, type AttestedCertificate } from './issue.js';

const now = new Date('2026-06-01T12:00:00Z');
const at = new Date(now.getTime() + 60_000);
const keyConfigs = [fromHex('01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003')];
const nonce = new Uint8Array(32).fill(0x5a);
const TCB = { bootloader: 4, tee: 0, snp: 24, microcode: 219 };

let chain: DevChain;
let otherChip: DevChain;
let tdxChain: TdxDevChain;
let snp: SimulatedSnpProvider;
let tdx: SimulatedTdxProvider;
let snpCert: AttestedCertificate;
let tdxCert: AttestedCertificate;
let verifiers: { snpVerifier: SnpVerifier; tdxVerifier: TdxVerifier; at: Date };
let tdxCollateral: TdxCollateral;

/** What POST /v1/attestation/fresh answers: a bundle whose REPORT_DATA binds the nonce and the keys. */
async function freshBundle(provider: EvidenceProvider, cert: AttestedCertificate, options: { nonce?: Uint8Array; reportData?: Uint8Array } = {}): Promise<Uint8Array> {
  const spki = parseCertificate(cert.certificateDer).spki;
  const reportData = options.reportData ?? (await freshReportData(options.nonce ?? nonce, await keysDigest(spki, keyConfigs)));
  return assembleBundle(await provider.getEvidence({ reportData }), provider.platform === 'tdx' ? { collateral: tdxCollateral } : {}).bytes;
}

const check = (bundle: Uint8Array, cert = snpCert, policy: RaTlsPolicy = {}, snpVerifier = verifiers.snpVerifier) => verifyFreshEvidence(cert.certificateDer, nonce, bundle, policy, { ...verifiers, snpVerifier });

before(async () => {
  chain = await createDevChain({ product: 'Milan', tcb: TCB, hwId: new Uint8Array(64).fill(3) }, 2048);
  otherChip = await createDevChain({ product: 'Milan', tcb: TCB, hwId: new Uint8Array(64).fill(4) }, 2048);
  tdxChain = await createTdxDevChain();
  snp = new SimulatedSnpProvider(await SimulatedSnp.create({}, { chain }));
  tdx = new SimulatedTdxProvider(await SimulatedTdx.create({}, { chain: tdxChain }));
  snpCert = await issueAttestedCertificate({ provider: snp, keyConfigs, now });
  tdxCollateral = await createSimulatedCollateral(tdxChain, parseQuote((await tdx.getEvidence({ reportData: new Uint8Array(64) })).evidence), now.getTime());
  tdxCert = await issueAttestedCertificate({ provider: tdx, keyConfigs, now, bundleInputs: { collateral: tdxCollateral } });
  verifiers = { snpVerifier: new SnpVerifier({ trustedRoots: [chain.ark] }), tdxVerifier: new TdxVerifier({ trustedRoots: [tdxChain.root] }), at };
});

describe('verifyFreshEvidence', () => {
  it('accepts SEV-SNP evidence binding the nonce and the certificate keys, from the same launch and chip', async () => {
    const v = await check(await freshBundle(snp, snpCert));
    assert.equal(v.accepted, true, v.error?.message);
    assert.equal(v.platform, 'sev-snp');
    assert.equal(v.simulated, true);
    const ids = v.checks.map((c) => `${c.id}:${c.status}`);
    for (const id of ['fresh.certificate:pass', 'fresh.evidence:pass', 'fresh.binding:pass', 'fresh.origin:pass']) assert.ok(ids.includes(id), ids.join(' '));
    assert.ok(ids.filter((c) => c.startsWith('fresh.') && c.endsWith(':pass')).length > 6, 'the platform checks run too');
    assert.equal((v.claims as { nonce: string }).nonce, '5a'.repeat(32));
  });

  it('accepts TDX evidence the same way', async () => {
    const v = await check(await freshBundle(tdx, tdxCert), tdxCert);
    assert.equal(v.accepted, true, v.error?.message);
    assert.equal(v.platform, 'tdx');
  });

  const other = (): Uint8Array => spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  const rejections: [string, () => Promise<{ bundle: Uint8Array; cert?: AttestedCertificate; policy?: RaTlsPolicy; snpVerifier?: SnpVerifier }>, string, string?][] = [
    ['evidence for another nonce (a replay)', async () => ({ bundle: await freshBundle(snp, snpCert, { nonce: new Uint8Array(32).fill(1) }) }), 'FRESHNESS_MISMATCH', 'REPORT_DATA'],
    ['evidence binding another key (relayed from another server)', async () => ({ bundle: await freshBundle(snp, snpCert, { reportData: await freshReportData(nonce, await keysDigest(other(), keyConfigs)) }) }), 'FRESHNESS_MISMATCH', 'REPORT_DATA'],
    ['evidence binding other key configs', async () => ({ bundle: await freshBundle(snp, snpCert, { reportData: await freshReportData(nonce, await keysDigest(parseCertificate(snpCert.certificateDer).spki, [])) }) }), 'FRESHNESS_MISMATCH', 'REPORT_DATA'],
    ['the boot evidence instead of fresh evidence', async () => ({ bundle: await freshBundle(snp, snpCert, { reportData: await bootReportData(await keysDigest(parseCertificate(snpCert.certificateDer).spki, keyConfigs)) }) }), 'FRESHNESS_MISMATCH', 'REPORT_DATA'],
    ['another launch measurement', async () => ({ bundle: await freshBundle(new SimulatedSnpProvider(await SimulatedSnp.create({ measurement: new Uint8Array(48).fill(9) }, { chain })), snpCert) }), 'EVIDENCE_MISMATCH', 'MEASUREMENT'],
    // Both development roots are named ARK-Milan, so a verifier trusts one of them at a time.
    ['another chip', async () => ({ bundle: await freshBundle(new SimulatedSnpProvider(await SimulatedSnp.create({}, { chain: otherChip })), snpCert), snpVerifier: new SnpVerifier({ trustedRoots: [otherChip.ark] }) }), 'EVIDENCE_MISMATCH', 'CHIP_ID'],
    ['another platform', async () => ({ bundle: await freshBundle(tdx, snpCert) }), 'EVIDENCE_MISMATCH', 'platform'],
    ['another TD (MRTD)', async () => ({ bundle: await freshBundle(new SimulatedTdxProvider(await SimulatedTdx.create({ mrTd: new Uint8Array(48).fill(7) }, { chain: tdxChain })), tdxCert), cert: tdxCert }), 'EVIDENCE_MISMATCH', 'MRTD'],
    ['a measurement outside the policy', async () => ({ bundle: await freshBundle(snp, snpCert), policy: { snp: { measurements: ['00'.repeat(48)] } } }), 'POLICY_MEASUREMENT'],
    ['a bundle that is not one', () => Promise.resolve({ bundle: new TextEncoder().encode('{"error":"nope"}') }), 'MALFORMED_EVIDENCE'],
    ['a certificate without attestation', async () => {
      const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const der = await createRaTlsCertificate({ publicKey: k.publicKey, signingKey: k.privateKey, cmw: undefined, notBefore: now, notAfter: snpCert.notAfter });
      return { bundle: await freshBundle(snp, snpCert), cert: { ...snpCert, certificateDer: der } };
    }, 'NO_ATTESTATION'],
  ];
  for (const [what, make, code, field] of rejections) {
    it(`rejects ${what} (${code})`, async () => {
      const { bundle, cert, policy, snpVerifier } = await make();
      const v = await check(bundle, cert, policy, snpVerifier);
      assert.equal(v.accepted, false);
      assert.equal(v.error?.code, code, v.error?.message);
      if (field !== undefined) assert.equal(v.error.field, field);
      assert.equal(v.checks.at(-1)?.status, 'fail');
    });
  }

  it('rejects evidence from an untrusted root (UNTRUSTED_ROOT)', async () => {
    const v = await verifyFreshEvidence(snpCert.certificateDer, nonce, await freshBundle(snp, snpCert), {}, { at, snpVerifier: new SnpVerifier() });
    assert.equal(v.error?.code, 'UNTRUSTED_ROOT');
  });
});
