import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fromBase64, toBase64, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';
import { webCryptoHasher } from '../hash.js';
import { ed25519TestKey, testCosigner, testNoteSigner } from '../testing/noteSigners.js';
import { sigstoreTlogCase } from '../testing/sigstoreVectors.js';
import { TRANSPARENCY_VECTORS } from '../testing/vectors.js';
import { cosignedMessage, decodeTimestampedSignature, encodeTimestampedSignature } from './cosignature.js';
import { cosignatureNoteSigner, formatVkey, noteKeyId, noteVerifier, noteVerifierFromSpki, parseVkey, SIGNATURE_TYPE } from './noteKeys.js';
import { parseSignedNote, signNote, verifyNote } from './signedNote.js';

interface FormatsVectors {
  readonly 'transparency-dev-formats': {
    readonly vkeys: readonly { vkey: string; type: number }[];
    readonly cosignature: { signature: string; timestamp: number };
  };
}

const formats = (JSON.parse(readFileSync(`${TRANSPARENCY_VECTORS}signed-note-vectors.json`, 'utf8')) as FormatsVectors)['transparency-dev-formats'];
const CHECKPOINT = 'example.com/log\n3\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n';

const throwsCode = async (p: Promise<unknown>, code: string): Promise<void> => assert.rejects(p, (e: unknown) => e instanceof ParseError && e.code === code);

describe('note keys (vkeys, key IDs, signature types)', () => {
  it('reads the vkeys of transparency-dev/formats, a "+" inside the key included, and derives their key IDs', async () => {
    for (const { vkey, type } of formats.vkeys) {
      const v = parseVkey(vkey);
      assert.equal(v.type, type);
      assert.equal(formatVkey(v), vkey);
      const verifier = await noteVerifier(vkey);
      assert.equal(verifier.type, type);
      assert.equal(verifier.vkey, vkey);
    }
  });

  it('refuses a vkey whose key ID is not its own, a key of the wrong size, and a type it does not implement', async () => {
    const { vkey } = formats.vkeys[1] ?? assert.fail();
    const v = parseVkey(vkey);
    await throwsCode(noteVerifier(formatVkey({ ...v, keyId: v.keyId ^ 1 })), 'MALFORMED_NOTE');
    const short = { ...v, key: v.key.subarray(1) };
    await throwsCode(noteVerifier({ ...short, keyId: await noteKeyId(v.name, v.type, short.key) }), 'MALFORMED_NOTE');
    await throwsCode(noteVerifier({ ...v, type: 0x03, keyId: await noteKeyId(v.name, 0x03, v.key) }), 'UNSUPPORTED_ALGORITHM');
    for (const bad of ['a+b', 'a+0000000g+AQ==', 'a b+00000000+AQID', 'a+00000000+AQ', '+00000000+AQID']) assert.throws(() => parseVkey(bad), ParseError, bad);
  });

  it('reads the timestamp of the transparency-dev/formats cosignature', () => {
    const sig = fromBase64(formats.cosignature.signature);
    assert.equal(decodeTimestampedSignature(sig.subarray(4))?.timestamp, formats.cosignature.timestamp);
    assert.equal(decodeTimestampedSignature(sig.subarray(5)), undefined);
    const huge = sig.subarray(4).slice();
    huge[0] = 0x7f;
    assert.equal(decodeTimestampedSignature(huge), undefined);
  });

  it('cosigns "cosignature/v1\\ntime <t>\\n" + the checkpoint: the timestamp comes back, extension lines are covered, and a 0x01 key does not stand in', async () => {
    const key = await ed25519TestKey();
    const cosigner = await cosignatureNoteSigner('witness.example/w1', key.publicKey, key.sign, () => 1679315147);
    const verifier = await noteVerifier(cosigner.vkey);
    assert.equal(verifier.type, SIGNATURE_TYPE.cosignatureV1);
    const text = `${CHECKPOINT}extension\n`;
    const note = await signNote(text, [cosigner]);
    const [verified] = await verifyNote(note, [verifier]);
    assert.equal(verified?.timestamp, 1679315147);
    const raw = note.signatures[0]?.signature ?? assert.fail();
    assert.equal(new TextDecoder().decode(cosignedMessage(1679315147, new TextEncoder().encode(text))), `cosignature/v1\ntime 1679315147\n${text}`);
    assert.equal((await verifier.verify(new TextEncoder().encode(`${CHECKPOINT}extensioN\n`), raw)).valid, false);
    const forged = encodeTimestampedSignature({ timestamp: 1679315148, signature: raw.subarray(8) });
    assert.equal((await verifier.verify(new TextEncoder().encode(text), forged)).valid, false);
    const asPlain = await noteVerifier(formatVkey({ name: 'witness.example/w1', type: 0x01, key: key.publicKey, keyId: await noteKeyId('witness.example/w1', 0x01, key.publicKey) }));
    assert.equal((await asPlain.verify(new TextEncoder().encode(text), raw)).valid, false);
  });

  it('makes Rekor log verifiers from the SubjectPublicKeyInfo of a Sigstore trusted root: Ed25519 (type 0x01) and ECDSA P-256 (type 0x02)', async () => {
    const v2 = sigstoreTlogCase('rekor2-happy-path');
    const alpha = v2.logs.find((l) => l.baseUrl === 'https://log2025-alpha1.rekor.sigstage.dev') ?? assert.fail();
    const ed = await noteVerifierFromSpki('log2025-alpha1.rekor.sigstage.dev', alpha.spki);
    assert.equal(ed.type, SIGNATURE_TYPE.ed25519);
    assert.equal(ed.keyId.toString(16).padStart(8, '0'), toHex(alpha.logId.subarray(0, 4)));
    const v1 = sigstoreTlogCase('happy-path-v0.3');
    const rekor = v1.logs.find((l) => l.baseUrl === 'https://rekor.sigstore.dev') ?? assert.fail();
    const ec = await noteVerifierFromSpki('rekor.sigstore.dev', rekor.spki);
    assert.equal(ec.type, SIGNATURE_TYPE.ecdsa);
    assert.equal(toBase64(Uint8Array.of(ec.keyId >>> 24, (ec.keyId >>> 16) & 0xff, (ec.keyId >>> 8) & 0xff, ec.keyId & 0xff)), toBase64(rekor.logId.subarray(0, 4)));
    assert.equal((await verifyNote(parseSignedNote(v1.checkpoint), [ec])).length, 1);
    await throwsCode(noteVerifierFromSpki('x', Uint8Array.of(0x30, 0x00)), 'UNSUPPORTED_ALGORITHM');
  });

  it('derives key IDs as SHA-256(name || 0x0A || type || key)[:4], so one key has another ID as a cosigner', async () => {
    const seed = new Uint8Array(32);
    for (const [signer, type] of [[await testNoteSigner('example.com/w', seed), 0x01], [await testCosigner('example.com/w', undefined, seed), 0x04]] as const) {
      const v = parseVkey(signer.vkey);
      const digest = await webCryptoHasher.digest('SHA-256', [new TextEncoder().encode('example.com/w\n'), Uint8Array.of(type), v.key]);
      assert.equal(v.keyId, new DataView(digest.buffer).getUint32(0));
    }
  });
});
