import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { noteVerifier, parseVkey, SIGNATURE_TYPE } from '../../attestation/transparency/noteKeys.js';
import { parseSignedNote, serializeSignedNote, signNote, verifyNote } from '../../attestation/transparency/signedNote.js';
import { generateNoteKey, logNoteSigner, witnessCosigner } from './nodeNoteKeys.js';

const TEXT = 'log.example/cloister\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n';
const invalid = (e: unknown): boolean => e instanceof CloisterError && e.code === 'NOTE_KEY_INVALID';

describe('note keys on node:crypto', () => {
  it('signs as the log (type 0x01) and cosigns as a witness (type 0x04, with the injected time), both verifying with their vkeys', async () => {
    const key = generateNoteKey();
    const log = await logNoteSigner('log.example/cloister', key);
    const witness = await witnessCosigner('witness.example/w1', generateNoteKey(), () => 1_760_000_000);
    assert.equal(parseVkey(log.vkey).type, SIGNATURE_TYPE.ed25519);
    assert.equal(parseVkey(witness.vkey).type, SIGNATURE_TYPE.cosignatureV1);
    const note = parseSignedNote(serializeSignedNote(await signNote(TEXT, [log, witness])));
    const verified = await verifyNote(note, [await noteVerifier(log.vkey), await noteVerifier(witness.vkey)]);
    assert.deepEqual(verified.map((v) => v.timestamp), [undefined, 1_760_000_000]);
  });

  it('refuses a key that is not an Ed25519 private key, and a name signed-note does not allow (NOTE_KEY_INVALID)', async () => {
    await assert.rejects(logNoteSigner('log.example', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), invalid);
    await assert.rejects(witnessCosigner('w', createPublicKey(generateNoteKey())), invalid);
    await assert.rejects(logNoteSigner('log example', generateNoteKey()), invalid);
  });
});
