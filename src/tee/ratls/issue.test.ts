// RA-TLS certificates end to end with the simulated SEV-SNP TEE: issued in "the VM", verified by the
// browser-safe verifier; each way a certificate can be wrong is rejected with its own code.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { decodePem, fromHex, toArrayBufferView } from '../../../attestation/bytes.js';
import { raTlsReportData } from '../../../attestation/ratls/certificateBinding.js';
import { decodeRaTlsExtension, encodeRaTlsExtension, ID_PE_CMW } from '../../../attestation/protocols/ratlsExtension.js';
import { verifyAttestedCertificate, type RaTlsPolicy, type VerifyRaTlsOptions } from '../../../attestation/ratls/verifyCertificate.js';
import { parseReport } from '../../../attestation/snp/report.js';
import { SnpVerifier } from '../../../attestation/snp/verify.js';
import { TdxVerifier } from '../../../attestation/tdx/verify.js';
import { parseCertificate } from '../../../attestation/x509.js';
import { decodeEvidenceBundle } from '../../../attestation/evidence/platforms.js';
import { createDevChain, type DevChain } from '../sim/devChain.js';
import { SimulatedSnp, SimulatedSnpProvider } from '../sim/snpSimulator.js';
import { createSimulatedCollateral } from '../sim/simulatedCollateral.js';
import { parseQuote } from '../../../attestation/tdx/quote.js';
import { createTdxDevChain } from '../sim/tdxDevChain.js';
import { SimulatedTdx, SimulatedTdxProvider } from '../sim/tdxSimulator.js';
import { createRaTlsCertificate, issueAttestedCertificate, spkiOf, type AttestedCertificate } from './issue.js';

const now = new Date('2026-06-01T12:00:00Z');
const at = new Date(now.getTime() + 60_000);
const keyConfigs = [fromHex('01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003'), fromHex(`020020${'22'.repeat(32)}000400010001`)];

let chain: DevChain;
let verifier: SnpVerifier;
let genuine: AttestedCertificate;

async function issue(config: Parameters<typeof SimulatedSnp.create>[0] = {}): Promise<AttestedCertificate> {
  const sim = await SimulatedSnp.create(config, { chain });
  return issueAttestedCertificate({ provider: new SimulatedSnpProvider(sim), keyConfigs, now });
}

const cmwOf = (der: Uint8Array): Uint8Array => {
  const ext = parseCertificate(der).extensions.get(ID_PE_CMW);
  assert.ok(ext !== undefined);
  return ext.value;
};

const verify = (der: Uint8Array, policy: RaTlsPolicy = {}, options: VerifyRaTlsOptions = {}) => verifyAttestedCertificate(der, policy, { at, snpVerifier: verifier, ...options });

before(async () => {
  chain = await createDevChain({ product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(3) }, 2048);
  verifier = new SnpVerifier({ trustedRoots: [chain.ark] });
  genuine = await issue();
});

describe('issueAttestedCertificate', () => {
  it('issues a short-lived self-signed P-256 certificate with a non-critical id-pe-cmw extension', () => {
    const cert = parseCertificate(genuine.certificateDer);
    assert.equal(cert.subjectCommonName, 'cloister');
    assert.equal(cert.issuerCommonName, 'cloister');
    assert.equal(cert.notBefore.toISOString(), now.toISOString());
    assert.equal(cert.notAfter.getTime(), now.getTime() + 3600_000);
    assert.equal(genuine.notAfter.getTime(), cert.notAfter.getTime());
    assert.equal(cert.extensions.get(ID_PE_CMW)?.critical, false);
    assert.deepEqual(decodePem(genuine.certificatePem)[0]?.der, genuine.certificateDer);
    assert.deepEqual(spkiOf(createPublicKey(genuine.privateKey)), cert.spki);
    assert.equal(genuine.privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  it('binds the SPKI and key configs into the REPORT_DATA of the embedded simulated SEV-SNP evidence', async () => {
    const cert = parseCertificate(genuine.certificateDer);
    const { bundle, keyConfigs: carried } = decodeRaTlsExtension(cmwOf(genuine.certificateDer));
    assert.deepEqual(carried, keyConfigs);
    const decoded = decodeEvidenceBundle(bundle);
    assert.equal(decoded.platform, 'sev-snp');
    assert.deepEqual(parseReport(decoded.evidence.report).reportData, await raTlsReportData(cert.spki, keyConfigs));
  });

  it('honours validitySeconds and dnsNames, and refuses a non-positive validity', async () => {
    const sim = await SimulatedSnp.create({}, { chain });
    const c = await issueAttestedCertificate({ provider: new SimulatedSnpProvider(sim), keyConfigs: [], now, validitySeconds: 300, dnsNames: ['cloister.example'] });
    assert.equal(c.notAfter.getTime(), now.getTime() + 300_000);
    const san = new x509.X509Certificate(toArrayBufferView(c.certificateDer)).getExtension(x509.SubjectAlternativeNameExtension);
    assert.deepEqual(san?.names.items.map((n) => n.value), ['cloister.example']);
    assert.equal((await verify(c.certificateDer)).accepted, true);
    await assert.rejects(issueAttestedCertificate({ provider: new SimulatedSnpProvider(sim), keyConfigs, validitySeconds: 0 }), RangeError);
  });
});

describe('verifyAttestedCertificate', () => {
  it('accepts a genuine certificate, with and without the expected key configs', async () => {
    for (const options of [{}, { expectedKeyConfigs: keyConfigs }]) {
      const v = await verify(genuine.certificateDer, {}, options);
      assert.equal(v.accepted, true, v.error?.message);
      assert.equal(v.platform, 'sev-snp');
      assert.equal(v.simulated, true);
      assert.ok(v.checks.some((c) => c.id === 'ratls.binding' && c.status === 'pass'));
      assert.ok(v.checks.some((c) => c.id === 'evidence.parse' && c.status === 'pass'));
      assert.deepEqual((v.claims?.keyConfigs as string[]).length, 2);
    }
  });

  it('accepts the measurement the policy allows', async () => {
    const measurement = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-384', new TextEncoder().encode('cloister simulated launch')));
    const v = await verify(genuine.certificateDer, { snp: { measurements: [Buffer.from(measurement).toString('hex')] } });
    assert.equal(v.accepted, true, v.error?.message);
  });

  const rejections: [string, () => Promise<{ der: Uint8Array; policy?: RaTlsPolicy; options?: VerifyRaTlsOptions }>, string][] = [
    [
      'evidence for another key: certificate A\'s extension in a certificate for key B',
      async () => {
        const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return { der: await createRaTlsCertificate({ publicKey: b.publicKey, signingKey: b.privateKey, cmw: cmwOf(genuine.certificateDer), notBefore: now, notAfter: genuine.notAfter }) };
      },
      'KEY_BINDING_MISMATCH',
    ],
    [
      'certificate A re-signed with a different key',
      async () => {
        const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return { der: await createRaTlsCertificate({ publicKey: createPublicKey(genuine.privateKey), signingKey: b.privateKey, cmw: cmwOf(genuine.certificateDer), notBefore: now, notAfter: genuine.notAfter }) };
      },
      'CHAIN_SIGNATURE_INVALID',
    ],
    [
      'an OHTTP key config other than the one the client fetched',
      () => {
        const changed = keyConfigs.map((k) => k.slice());
        const first = changed[0] as Uint8Array;
        first[10] = (first[10] as number) ^ 0xff;
        return Promise.resolve({ der: genuine.certificateDer, options: { expectedKeyConfigs: changed } });
      },
      'KEY_CONFIG_MISMATCH',
    ],
    [
      'a carried OHTTP key config changed and the certificate re-signed with its own key',
      async () => {
        const { bundle } = decodeRaTlsExtension(cmwOf(genuine.certificateDer));
        const changed = [keyConfigs[1] as Uint8Array];
        const cmw = encodeRaTlsExtension({ bundle, keyConfigs: changed });
        return { der: await createRaTlsCertificate({ publicKey: createPublicKey(genuine.privateKey), signingKey: genuine.privateKey, cmw, notBefore: now, notAfter: genuine.notAfter }) };
      },
      'KEY_BINDING_MISMATCH',
    ],
    ['an expired certificate', () => Promise.resolve({ der: genuine.certificateDer, options: { at: new Date(genuine.notAfter.getTime() + 1000) } }), 'CERT_EXPIRED'],
    ['a certificate not valid yet', () => Promise.resolve({ der: genuine.certificateDer, options: { at: new Date(now.getTime() - 1000) } }), 'CERT_NOT_YET_VALID'],
    ['a measurement not in the policy', () => Promise.resolve({ der: genuine.certificateDer, policy: { snp: { measurements: ['00'.repeat(48)] } } }), 'POLICY_MEASUREMENT'],
    ['a debug guest policy', async () => ({ der: (await issue({ policy: 0xb0000n })).certificateDer }), 'POLICY_DEBUG'],
    ['the simulated root under the default verifier', () => Promise.resolve({ der: genuine.certificateDer, options: { snpVerifier: new SnpVerifier() } }), 'UNTRUSTED_ROOT'],
    [
      'a certificate without the extension',
      async () => {
        const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return { der: await createRaTlsCertificate({ publicKey: k.publicKey, signingKey: k.privateKey, cmw: undefined, notBefore: now, notAfter: genuine.notAfter }) };
      },
      'NO_ATTESTATION',
    ],
    ['bytes that are not a certificate', () => Promise.resolve({ der: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) }), 'MALFORMED_DER'],
  ];
  for (const [what, make, code] of rejections) {
    it(`rejects ${what} (${code})`, async () => {
      const { der, policy, options } = await make();
      const v = await verify(der, policy ?? {}, options ?? {});
      assert.equal(v.accepted, false);
      assert.equal(v.error?.code, code, v.error?.message);
      assert.equal(v.checks.at(-1)?.status, 'fail');
    });
  }

  it('reports platform "unknown" when no evidence was found, and the evidence platform otherwise', async () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bare = await createRaTlsCertificate({ publicKey: k.publicKey, signingKey: k.privateKey, cmw: undefined, notBefore: now, notAfter: genuine.notAfter });
    assert.equal((await verify(bare)).platform, 'unknown');
    assert.equal((await verify(genuine.certificateDer, {}, { at: new Date(0) })).platform, 'sev-snp');
  });
});

describe('RA-TLS with the simulated TDX TEE', () => {
  it('accepts a genuine certificate and rejects evidence for another key', async () => {
    const dev = await createTdxDevChain();
    const sim = await SimulatedTdx.create({}, { chain: dev });
    const provider = new SimulatedTdxProvider(sim);
    const collateral = await createSimulatedCollateral(dev, parseQuote((await provider.getEvidence({ reportData: new Uint8Array(64) })).evidence), now.getTime());
    const tdx = await issueAttestedCertificate({ provider, keyConfigs, now, bundleInputs: { collateral } });
    const tdxVerifier = new TdxVerifier({ trustedRoots: [dev.root] });
    const ok = await verifyAttestedCertificate(tdx.certificateDer, {}, { at, tdxVerifier, expectedKeyConfigs: keyConfigs });
    assert.equal(ok.accepted, true, ok.error?.message);
    assert.equal(ok.platform, 'tdx');
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const moved = await createRaTlsCertificate({ publicKey: b.publicKey, signingKey: b.privateKey, cmw: cmwOf(tdx.certificateDer), notBefore: now, notAfter: tdx.notAfter });
    assert.equal((await verifyAttestedCertificate(moved, {}, { at, tdxVerifier })).error?.code, 'KEY_BINDING_MISMATCH');
  });
});
