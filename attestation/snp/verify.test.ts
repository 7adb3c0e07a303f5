import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { caExtensions, createDevChain, createDevCrl, devReportFields, signDevReport, type DevChain, type ReportFields } from '../testing/devSnp.js';
import { certs, snpVectorRows, vector } from '../testing/vectors.js';
import { CERT_GUID, serializeCertTable } from './certTable.js';
import { decodeSnpEvidence } from '../evidence/platforms.js';
import { verifySnpEvidence, type SnpEvidence } from './evidence.js';
import type { SnpPolicy } from './validate.js';
import { SnpVerifier } from './verify.js';

const AT = new Date('2025-06-01T00:00:00Z');

let dev: DevChain;
let turin: DevChain;
let devVerifier: SnpVerifier;

before(async () => {
  [dev, turin] = await Promise.all([createDevChain(), createDevChain({ product: 'Turin', tcb: { fmc: 2, bootloader: 1, tee: 1, snp: 3, microcode: 4 } })]);
  devVerifier = new SnpVerifier({ trustedRoots: [dev.ark, turin.ark] });
});

async function devEvidence(overrides: Partial<ReportFields> = {}, chain: DevChain = dev): Promise<SnpEvidence> {
  const report = await signDevReport(chain, devReportFields(chain, overrides));
  return { report, certificates: [chain.vcek, chain.ask, chain.ark], crls: [], simulated: true };
}

async function code(evidence: SnpEvidence, verifier?: SnpVerifier, policy: SnpPolicy = {}, at = AT): Promise<string | undefined> {
  const v = await verifySnpEvidence(evidence, policy, { at, ...(verifier === undefined ? {} : { verifier }) });
  return v.error?.code;
}

describe('trust: only given or embedded roots', () => {
  it('rejects a report signed under a development root by default (UNTRUSTED_ROOT)', async () => {
    const v = await verifySnpEvidence(await devEvidence(), {}, { at: AT });
    assert.equal(v.error?.code, 'UNTRUSTED_ROOT');
    assert.match(v.error.message, /ARK-Milan/);
  });

  it('rejects it when only the development VCEK and ASK are given (their issuer is no trusted root)', async () => {
    const e = await devEvidence();
    assert.equal(await code({ ...e, certificates: [dev.vcek, dev.ask] }), 'UNTRUSTED_ROOT');
  });

  it('accepts it when the caller explicitly trusts the development root', async () => {
    assert.equal(await code(await devEvidence(), devVerifier), undefined);
  });

  it('accepts a Turin chain: FMC in the TCB, an 8-byte hwID', async () => {
    assert.equal(await code(await devEvidence({}, turin), devVerifier), undefined);
  });

  it('a verifier trusting only the Genoa ARK rejects a real Milan report', async () => {
    const [genoaArk] = certs('virtee-sev/builtin_snp/genoa/ark.pem');
    assert.ok(genoaArk);
    const row = snpVectorRows().find((r) => r.id === 'S2');
    assert.ok(row);
    assert.equal(await code(row.evidence, new SnpVerifier({ trustedRoots: [genoaArk] })), 'UNTRUSTED_ROOT');
  });
});

describe('chain', () => {
  it('rejects an ASK not signed by the ARK (CHAIN_SIGNATURE_INVALID)', async () => {
    const other = await createDevChain();
    const broken = await createDevChain({ askSignedBy: other.arkKey });
    const evidence = await devEvidence({}, broken);
    assert.equal(await code(evidence, new SnpVerifier({ trustedRoots: [broken.ark] })), 'CHAIN_SIGNATURE_INVALID');
  });

  it('evaluates validity at the given time, also when the chain is cached', async () => {
    const evidence = await devEvidence();
    assert.equal(await code(evidence, devVerifier, {}, new Date('2030-01-01T00:00:00Z')), undefined);
    assert.equal(await code(evidence, devVerifier, {}, new Date('2050-01-01T00:00:00Z')), 'CERT_EXPIRED');
    assert.equal(await code(evidence, devVerifier, {}, new Date('2023-01-01T00:00:00Z')), 'CERT_NOT_YET_VALID');
  });

  it('does not serve another VCEK from the cache', async () => {
    const evidence = await devEvidence();
    assert.equal(await code(evidence, devVerifier), undefined);
    const stranger = await createDevChain();
    assert.equal(await code({ ...evidence, certificates: [stranger.vcek, dev.ask, dev.ark] }, devVerifier), 'CHAIN_SIGNATURE_INVALID');
  });

  it('re-verifies a certificate array changed in place after it was cached', async () => {
    const evidence = await devEvidence();
    const vcek = dev.vcek.slice();
    const certificates = [vcek, dev.ask, dev.ark];
    assert.equal(await code({ ...evidence, certificates }, devVerifier), undefined);
    vcek[vcek.length - 1] = (vcek[vcek.length - 1] as number) ^ 1; // inside the ASK's signature over the VCEK
    assert.equal(await code({ ...evidence, certificates }, devVerifier), 'CHAIN_SIGNATURE_INVALID');
  });

  it('names a missing VCEK (MISSING_CERTIFICATE)', async () => {
    const row = snpVectorRows().find((r) => r.id === 'S2');
    assert.ok(row);
    const v = await verifySnpEvidence({ ...row.evidence, certificates: [] }, {}, { at: AT });
    assert.equal(v.error?.code, 'MISSING_CERTIFICATE');
    assert.match(v.error.message, /no VCEK certificate/);
  });

  it('finds the embedded ASK when only the VCEK is supplied', async () => {
    const row = snpVectorRows().find((r) => r.id === 'S2');
    assert.ok(row);
    assert.equal(await code({ ...row.evidence, certificates: [vector('virtee-sev/certs_data/vcek_milan.der')] }), undefined);
  });

  it('names the missing issuer of a VCEK whose ASK is neither supplied nor embedded', async () => {
    const odd = await createDevChain({ askCommonName: 'SEV-Milan-Lab' });
    const v = await verifySnpEvidence({ ...(await devEvidence({}, odd)), certificates: [odd.vcek] }, {}, { at: AT, verifier: new SnpVerifier({ trustedRoots: [odd.ark] }) });
    assert.equal(v.error?.code, 'MISSING_CERTIFICATE');
    assert.equal(v.error.expected, 'SEV-Milan-Lab');
  });
});

describe('certificate constraints (CERT_CONSTRAINTS)', () => {
  const cases: [string, Parameters<typeof createDevChain>[0]][] = [
    ['an ASK that is not a CA', { askExtensions: [new x509.BasicConstraintsExtension(false, undefined, true)] }],
    ['an ASK without basicConstraints', { askExtensions: [] }],
    ['an ASK whose keyUsage lacks keyCertSign', { askExtensions: caExtensions(x509.KeyUsageFlags.digitalSignature) }],
    ['an ARK with pathLenConstraint 0', { arkExtensions: [new x509.BasicConstraintsExtension(true, 0, true)] }],
    ['an ASK with an unknown critical extension', { askExtensions: [...caExtensions(), new x509.Extension('1.2.3.4.5', true, new Uint8Array([5, 0]))] }],
  ];
  for (const [name, options] of cases) {
    it(`rejects ${name}`, async () => {
      const chain = await createDevChain(options);
      const v = await verifySnpEvidence(await devEvidence({}, chain), {}, { at: AT, verifier: new SnpVerifier({ trustedRoots: [chain.ark] }) });
      assert.equal(v.error?.code, 'CERT_CONSTRAINTS', v.error?.message);
    });
  }

  it('rejects a CRL from an ARK whose keyUsage lacks cRLSign', async () => {
    const chain = await createDevChain({ arkExtensions: caExtensions(x509.KeyUsageFlags.keyCertSign) });
    const crl = await createDevCrl(chain);
    const verifier = new SnpVerifier({ trustedRoots: [chain.ark] });
    assert.equal(await code(await devEvidence({}, chain), verifier), undefined);
    assert.equal(await code({ ...(await devEvidence({}, chain)), crls: [crl] }, verifier), 'CERT_CONSTRAINTS');
  });
});

describe('product detection', () => {
  it('rejects a Genoa report with a Milan VCEK (PRODUCT_MISMATCH)', async () => {
    const genoa = snpVectorRows().find((r) => r.id === 'S5');
    assert.ok(genoa);
    const v = await verifySnpEvidence({ ...genoa.evidence, certificates: certs('go-sev-guest/vcek_milan.der') }, {}, { at: AT });
    assert.equal(v.error?.code, 'PRODUCT_MISMATCH');
    assert.match(v.error.message, /CPUID says Genoa .* Milan-B0/);
  });

  it('rejects a Milan VCEK with a Genoa ASK/ARK supplied (PRODUCT_MISMATCH)', async () => {
    const milan = snpVectorRows().find((r) => r.id === 'S2');
    assert.ok(milan);
    const evidence = { ...milan.evidence, certificates: certs('virtee-sev/certs_data/vcek_milan.der', 'go-sev-guest/trust/ask_ark_genoa.pem') };
    assert.equal(await code(evidence), 'PRODUCT_MISMATCH');
  });

  it('rejects a CPUID that is no SEV-SNP product', async () => {
    assert.equal(await code(await devEvidence({ cpuid: { family: 0x17, model: 0x31, stepping: 0 } }), devVerifier), 'PRODUCT_MISMATCH');
  });
});

describe('report to VCEK/VLEK binding', () => {
  it('rejects a REPORTED_TCB that differs from the VCEK (TCB_MISMATCH)', async () => {
    assert.equal(await code(await devEvidence({ reportedTcb: 0x7308000000000004n }), devVerifier), 'TCB_MISMATCH');
  });

  it('rejects a CHIP_ID that differs from the hwID (CHIP_ID_MISMATCH)', async () => {
    assert.equal(await code(await devEvidence({ chipId: new Uint8Array(64).fill(9) }), devVerifier), 'CHIP_ID_MISMATCH');
  });

  it('skips the chip-id check when CHIP_ID is all zero (MASK_CHIP_ID platforms)', async () => {
    const v = await verifySnpEvidence(await devEvidence({ chipId: new Uint8Array(64) }), {}, { at: AT, verifier: devVerifier });
    assert.equal(v.accepted, true);
    assert.equal(v.checks.find((c) => c.id === 'vek.chip-id')?.status, 'skipped');
  });

  it('rejects a VLEK-signed report when only a VCEK is supplied (SIGNING_KEY_MISMATCH)', async () => {
    assert.equal(await code(await devEvidence({ keyInfo: 1 << 2 }), devVerifier), 'SIGNING_KEY_MISMATCH');
  });

  it('rejects a report with SIGNING_KEY "none" (SIGNING_KEY_MISMATCH)', async () => {
    assert.equal(await code(await devEvidence({ keyInfo: 7 << 2 }), devVerifier), 'SIGNING_KEY_MISMATCH');
  });

  it('rejects a report signed by another VCEK (REPORT_SIGNATURE_INVALID)', async () => {
    const other = await createDevChain();
    const report = await signDevReport(other, devReportFields(dev));
    assert.equal(await code({ report, certificates: [dev.vcek, dev.ask, dev.ark], crls: [], simulated: true }, devVerifier), 'REPORT_SIGNATURE_INVALID');
  });
});

describe('CRLs', () => {
  it('checks a CRL from the root and reports it as checked', async () => {
    const crl = await createDevCrl(dev, { revoked: ['7777'] });
    const v = await verifySnpEvidence({ ...(await devEvidence()), crls: [crl] }, { requireCrl: true }, { at: AT, verifier: devVerifier });
    assert.equal(v.accepted, true);
    assert.equal((v.claims as { crlChecked: boolean }).crlChecked, true);
  });

  it('rejects an ASK the CRL revokes (CERT_REVOKED)', async () => {
    const crl = await createDevCrl(dev, { revoked: [dev.askSerial] });
    assert.equal(await code({ ...(await devEvidence()), crls: [crl] }, devVerifier), 'CERT_REVOKED');
  });

  it('rejects a CRL not signed by the root (CRL_INVALID)', async () => {
    const other = await createDevChain();
    const crl = await createDevCrl(dev, { signingKey: other.arkKey });
    assert.equal(await code({ ...(await devEvidence()), crls: [crl] }, devVerifier), 'CRL_INVALID');
  });

  it('rejects a CRL past its nextUpdate (CRL_EXPIRED)', async () => {
    const crl = await createDevCrl(dev, { thisUpdate: new Date('2024-01-01T00:00:00Z'), nextUpdate: new Date('2024-02-01T00:00:00Z') });
    assert.equal(await code({ ...(await devEvidence()), crls: [crl] }, devVerifier), 'CRL_EXPIRED');
  });

  it('takes the CRL from an extended report\'s certificate table', async () => {
    const e = await devEvidence();
    const table = serializeCertTable([
      { guid: CERT_GUID.vcek, data: dev.vcek },
      { guid: CERT_GUID.ask, data: dev.ask },
      { guid: CERT_GUID.ark, data: dev.ark },
      { guid: CERT_GUID.crl, data: await createDevCrl(dev) },
    ]);
    const decoded = decodeSnpEvidence(Uint8Array.from([...e.report, ...table]));
    assert.equal(decoded.crls.length, 1);
    const v = await verifySnpEvidence(decoded, { requireCrl: true }, { at: AT, verifier: devVerifier });
    assert.equal(v.accepted, true, v.error?.message);
  });

  it('fails with its own code when policy requires a CRL and none is given (CRL_UNAVAILABLE)', async () => {
    assert.equal(await code(await devEvidence(), devVerifier, { requireCrl: true }), 'CRL_UNAVAILABLE');
  });

  it('ignores a CRL from another root unless one is required', async () => {
    const other = await createDevChain({ product: 'Genoa' });
    const crl = await createDevCrl(other, { revoked: [dev.askSerial] });
    const evidence = { ...(await devEvidence()), crls: [crl] };
    assert.equal(await code(evidence, devVerifier), undefined);
    assert.equal(await code(evidence, devVerifier, { requireCrl: true }), 'CRL_UNAVAILABLE');
  });
});
