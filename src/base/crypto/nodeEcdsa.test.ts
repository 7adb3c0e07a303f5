import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { webCryptoEcdsa } from '../../../attestation/ecdsa.js';
import { ParseError } from '../../../attestation/errors.js';
import { ecdsaDerToP1363, ecdsaP1363ToDer } from '../../../attestation/signatures.js';
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

  it('agrees with WebCrypto on r||s signatures: good, a flipped bit, another length, and r or s with leading zero bytes', async () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
      const hash = curve === 'P-256' ? 'SHA-256' : 'SHA-384';
      const [ours, theirs] = [await nodeEcdsa(spki, curve, hash), await webCryptoEcdsa(spki, curve, hash)];
      const data = new TextEncoder().encode('statement');
      const good = new Uint8Array(sign(hash === 'SHA-256' ? 'sha256' : 'sha384', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
      const flipped = good.map((b, i) => (i === 5 ? b ^ 1 : b));
      const zeroR = good.map((b, i) => (i < 2 ? 0 : b));
      for (const s of [good, flipped, zeroR, good.subarray(1), new Uint8Array(good.length)]) assert.equal(await ours.verify(s, data), await theirs.verify(s, data));
      assert.equal(await ours.verify(good, data), true);
    }
  });

  it('turns r||s into DER and back unchanged (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.nat(32), fc.nat(32), (p1363, zr, zs) => {
      p1363.fill(0, 0, zr);
      p1363.fill(0, 32, 32 + zs);
      assert.deepEqual(ecdsaDerToP1363(ecdsaP1363ToDer(p1363), 32), p1363);
    }), { numRuns: 500 });
  });

  it('refuses a key on another curve or of another type', async () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    await assert.rejects(nodeEcdsa(new Uint8Array(p256), 'P-384', 'SHA-384'), /not an EC key on P-384/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' });
    await assert.rejects(nodeEcdsa(new Uint8Array(rsa), 'P-256', 'SHA-256'), /not an EC key on P-256/);
    await assert.rejects(nodeEcdsa(new Uint8Array(p256), 'P-384', 'SHA-384'), (e: unknown) => e instanceof ParseError && e.code === 'UNSUPPORTED_ALGORITHM' && e.expected === 'P-384' && e.actual === 'prime256v1');
    await assert.rejects(nodeEcdsa(new Uint8Array(rsa), 'P-256', 'SHA-256'), (e: unknown) => e instanceof ParseError && e.code === 'UNSUPPORTED_ALGORITHM' && e.actual === 'rsa');
  });
});
