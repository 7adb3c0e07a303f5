import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { ParseError } from './errors.js';
import { decodeOne, readTlv } from './der.js';
import { signatureScheme, verifySignedBy } from './signatures.js';
import { looksLikeCrl, parseCertificate, parseCrl } from './x509.js';

const subtle = globalThis.crypto.subtle;

async function selfSigned(alg: RsaHashedKeyGenParams | EcKeyGenParams, signingAlgorithm: Algorithm | EcdsaParams): Promise<Uint8Array> {
  const keys = (await subtle.generateKey(alg, true, ['sign', 'verify']));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '00ff01', name: 'CN=test', notBefore: new Date('2025-01-01'), notAfter: new Date('2026-01-01'), keys, signingAlgorithm });
  return new Uint8Array(cert.rawData);
}

describe('X.509 signatures', () => {
  const cases: [string, () => Promise<Uint8Array>][] = [
    ['ECDSA P-256 SHA-256', () => selfSigned({ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' })],
    ['ECDSA P-384 SHA-384', () => selfSigned({ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' })],
    ['RSA PKCS#1 v1.5 SHA-256', () => selfSigned({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5' })],
  ];
  for (const [name, make] of cases) {
    it(`verifies ${name} and detects a flipped signature bit`, async () => {
      const der = await make();
      const cert = parseCertificate(der);
      assert.equal(cert.serialHex, '00ff01'.replace(/^00/, ''));
      assert.equal(await verifySignedBy(cert, cert), true);
      const bad = { ...cert, signature: cert.signature.map((b, i) => (i === cert.signature.length - 1 ? b ^ 1 : b)) };
      assert.equal(await verifySignedBy(bad, cert), false);
    });
  }

  it('refuses algorithms it does not implement', () => {
    assert.throws(() => signatureScheme({ oid: '1.2.840.113549.1.1.5', params: undefined }), (e) => e instanceof ParseError && e.code === 'UNSUPPORTED_ALGORITHM');
    assert.throws(() => signatureScheme({ oid: '1.2.840.113549.1.1.10', params: undefined }), /RSASSA-PSS hash/);
  });
});

describe('DER and X.509 parsing', () => {
  it('rejects truncated, trailing and non-minimal DER', () => {
    assert.throws(() => readTlv(new Uint8Array([0x30, 0x05, 0x01]), 0), /claims 5 bytes/);
    assert.throws(() => decodeOne(new Uint8Array([0x05, 0x00, 0x00])), /trailing bytes/);
    assert.throws(() => readTlv(new Uint8Array([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]), 0), /non-minimal/);
    assert.throws(() => readTlv(new Uint8Array([0x1f, 0x01]), 0), /multi-byte/);
  });

  it('tells certificates from CRLs and reads a CRL', async () => {
    const keys = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const crl = await x509.X509CrlGenerator.create({
      issuer: 'CN=test', thisUpdate: new Date('2025-01-01'), nextUpdate: new Date('2025-02-01'),
      entries: [{ serialNumber: '0a0b', revocationDate: new Date('2025-01-01') }],
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' }, signingKey: keys.privateKey,
    });
    const der = new Uint8Array(crl.rawData);
    assert.equal(looksLikeCrl(der), true);
    assert.equal(looksLikeCrl(new Uint8Array([1, 2, 3])), false);
    const parsed = parseCrl(der);
    assert.deepEqual([...parsed.revokedSerialsHex], ['0a0b']);
    assert.equal(parsed.nextUpdate?.toISOString(), '2025-02-01T00:00:00.000Z');
  });

  it('rejects a certificate whose outer signature algorithm differs from the one it signed', async () => {
    const der = await selfSigned({ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' });
    const ecdsaSha256 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    const outer = Buffer.from(der).lastIndexOf(Buffer.from(ecdsaSha256));
    const forged = der.slice();
    forged[outer + ecdsaSha256.length - 1] = 0x03; // ecdsa-with-SHA384 outside, SHA-256 inside
    assert.throws(() => parseCertificate(forged), /signatureAlgorithm differs/);
  });

  it('wraps DER errors in a ParseError naming the structure', () => {
    assert.throws(() => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])), (e) => e instanceof ParseError && e.code === 'MALFORMED_DER' && /certificate/.test(e.message));
  });
});
