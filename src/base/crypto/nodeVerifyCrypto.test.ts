import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { webCryptoEd25519 } from '../../../attestation/ed25519.js';
import { cachedNodeEcdsa, cachedNodeEd25519 } from './nodeVerifyCrypto.js';
import { nodeEd25519 } from './nodeEd25519.js';

describe('node:crypto verifier backends with keys imported once', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
  const message = new TextEncoder().encode('checkpoint text');
  const signature = new Uint8Array(sign(null, message, privateKey));

  it('nodeEd25519 agrees with WebCrypto on a good signature, a flipped bit, and a signature of another length', async () => {
    const ours = await nodeEd25519(raw);
    const theirs = await webCryptoEd25519(raw);
    const flipped = signature.map((b, i) => (i === 3 ? b ^ 1 : b));
    for (const s of [signature, flipped, signature.subarray(1)]) assert.equal(ours.verify(s, message), await theirs.verify(s, message));
    await assert.rejects(nodeEd25519(raw.subarray(1)), (e: Error & { code: string }) => e.code === 'UNSUPPORTED_ALGORITHM');
  });

  it('imports a key once, and does not keep a key that failed to import', async () => {
    assert.equal(cachedNodeEd25519(raw), cachedNodeEd25519(Uint8Array.from(raw)));
    assert.equal((await cachedNodeEd25519(raw)).verify(signature, message), true);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    const spki = new Uint8Array(ec);
    assert.equal(cachedNodeEcdsa(spki, 'P-256', 'SHA-256'), cachedNodeEcdsa(spki, 'P-256', 'SHA-256'));
    const wrongCurve = cachedNodeEcdsa(spki, 'P-384', 'SHA-384');
    await assert.rejects(wrongCurve);
    assert.notEqual(cachedNodeEcdsa(spki, 'P-384', 'SHA-384'), wrongCurve, 'a failed import is tried afresh');
    await assert.rejects(cachedNodeEcdsa(spki, 'P-384', 'SHA-384'));
  });
});
