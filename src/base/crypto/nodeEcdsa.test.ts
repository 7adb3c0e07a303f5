import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { webCryptoEcdsa } from '../../../attestation/ecdsa.js';
import { ParseError } from '../../../attestation/errors.js';
import { verifySnpEvidence } from '../../../attestation/snp/evidence.js';
import { SnpVerifier } from '../../../attestation/snp/verify.js';
import { snpVectorRows } from '../../../attestation/testing/vectors.js';
import { nodeEcdsa } from './nodeEcdsa.js';

const AT = new Date('2025-06-01T00:00:00Z');

describe('node:crypto ECDSA backend', () => {
  for (const row of snpVectorRows()) {
    it(`${row.id}: same verdict as WebCrypto, also with a tampered signature`, async () => {
      const tampered = row.evidence.report.slice();
      tampered[0x2a0] = (tampered[0x2a0] as number) ^ 1;
      for (const report of [row.evidence.report, tampered]) {
        const policy = { allowDebug: true, allowProvisionalFirmware: true };
        const viaNode = await verifySnpEvidence({ ...row.evidence, report }, policy, { at: AT, verifier: new SnpVerifier({ ecdsa: nodeEcdsa }) });
        const viaWeb = await verifySnpEvidence({ ...row.evidence, report }, policy, { at: AT, verifier: new SnpVerifier({ ecdsa: webCryptoEcdsa }) });
        assert.equal(viaNode.error?.code, viaWeb.error?.code);
        assert.equal(viaNode.accepted, report === row.evidence.report);
      }
    });
  }

  it('refuses a key on another curve or of another type', async () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    await assert.rejects(nodeEcdsa(new Uint8Array(p256), 'P-384', 'SHA-384'), /not an EC key on P-384/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' });
    await assert.rejects(nodeEcdsa(new Uint8Array(rsa), 'P-256', 'SHA-256'), /not an EC key on P-256/);
    await assert.rejects(nodeEcdsa(new Uint8Array(p256), 'P-384', 'SHA-384'), (e: unknown) => e instanceof ParseError && e.code === 'UNSUPPORTED_ALGORITHM' && e.expected === 'P-384' && e.actual === 'prime256v1');
    await assert.rejects(nodeEcdsa(new Uint8Array(rsa), 'P-256', 'SHA-256'), (e: unknown) => e instanceof ParseError && e.code === 'UNSUPPORTED_ALGORITHM' && e.actual === 'rsa');
  });
});
