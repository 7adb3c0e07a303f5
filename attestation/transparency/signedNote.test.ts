import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromBase64 } from '../bytes.js';
import { ParseError, VerificationError } from '../errors.js';
import { ed25519TestKey, testNoteSigner } from '../testing/noteSigners.js';
import { onlyParseErrors } from '../testing/parseErrors.js';
import { TRANSPARENCY_VECTORS } from '../testing/vectors.js';
import { ed25519NoteSigner, noteVerifier, parseVkey } from './noteKeys.js';
import { formatSignatureLine, parseSignedNote, serializeSignedNote, signNote, verifyNote, type NoteVerifier } from './signedNote.js';

interface NoteVectors {
  readonly 'c2sp-signed-note': { readonly vkey: string; readonly note: string };
  readonly 'go-sumdb-note': {
    readonly text: string;
    readonly peterKey: string;
    readonly peterPrivateKey: string;
    readonly peterSig: string;
    readonly enochKey: string;
    readonly enochSig: string;
  };
}

const vectors = JSON.parse(readFileSync(`${TRANSPARENCY_VECTORS}signed-note-vectors.json`, 'utf8')) as NoteVectors;
const go = vectors['go-sumdb-note'];

const rejectsWith = (p: Promise<unknown>, code: string): Promise<void> => assert.rejects(p, (e: unknown) => e instanceof VerificationError && e.code === code);
const throwsParse = (f: () => unknown, code = 'MALFORMED_NOTE'): void => {
  assert.throws(f, (e: unknown) => e instanceof ParseError && e.code === code);
};

describe('signed notes (C2SP signed-note)', () => {
  it('verifies the example of the specification with its vkey', async () => {
    const v = vectors['c2sp-signed-note'];
    const note = parseSignedNote(v.note);
    assert.equal(note.text, 'This is an example message.\n');
    const [verified] = await verifyNote(note, [await noteVerifier(v.vkey)]);
    assert.equal(verified?.verifier.name, 'example.com/foo');
    assert.equal(serializeSignedNote(note), v.note);
  });

  it('signs the Go sumdb example byte for byte from its private key (Ed25519 is deterministic)', async () => {
    const seed = fromBase64(go.peterPrivateKey.split('+').slice(4).join('+')).subarray(1);
    const key = await ed25519TestKey(seed);
    const signer = await ed25519NoteSigner('PeterNeumann', key.publicKey, key.sign);
    assert.equal(signer.vkey, go.peterKey);
    assert.equal(serializeSignedNote(await signNote(go.text, [signer])), `${go.text}\n${go.peterSig}`);
  });

  it('follows the verification rules of the Go sumdb note tests: unknown keys ignored, a bad known signature refused, duplicates counted once', async () => {
    const peter = await noteVerifier(go.peterKey);
    const enoch = await noteVerifier(go.enochKey);
    const both = `${go.text}\n${go.peterSig}${go.enochSig}`;
    assert.deepEqual((await verifyNote(parseSignedNote(both), [peter])).map((s) => s.verifier.name), ['PeterNeumann']);
    assert.deepEqual((await verifyNote(parseSignedNote(both), [peter, enoch])).map((s) => s.verifier.name), ['PeterNeumann', 'EnochRoot']);
    await rejectsWith(verifyNote(parseSignedNote(both), []), 'NOTE_UNVERIFIED');
    const corrupt = `${go.peterSig.slice(0, 60)}ABCD${go.peterSig.slice(60)}`;
    await rejectsWith(verifyNote(parseSignedNote(`${go.text}\n${corrupt}`), [peter]), 'NOTE_SIGNATURE_INVALID');
    const enochCorrupt = `${go.enochSig.slice(0, 60)}ABCD${go.enochSig.slice(60)}`;
    const mixed = parseSignedNote(`${go.text}\n${go.peterSig}${go.peterSig}${go.enochSig}${go.enochSig}${enochCorrupt}`);
    assert.equal(mixed.signatures.length, 5);
    assert.deepEqual((await verifyNote(mixed, [peter])).map((s) => s.verifier.name), ['PeterNeumann']);
    const renamed = go.peterSig.replace('PeterNeumann', 'CarmenSandiego');
    await rejectsWith(verifyNote(parseSignedNote(`${go.text}\n${renamed}`), [peter]), 'NOTE_UNVERIFIED');
  });

  it('refuses the malformed notes of the Go sumdb tests, and other shapes signed-note forbids', () => {
    const bad = [
      go.text,
      `${go.text}\n`,
      `${go.text}\n${go.peterSig.slice(0, -1)}`,
      `\x01${go.text}\n${go.peterSig}`,
      `${go.text}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
      `${go.text}\n${go.peterSig}Unexpected line.\n`,
      `${go.text}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n`,
      `${go.text}\n— a+b x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
      `${go.text}\n— PeterNeumann AQID\n`,
      `${go.text}\r\n${go.peterSig}`,
      `${go.text}\n${go.peterSig.repeat(65)}`,
    ];
    for (const note of bad) throwsParse(() => parseSignedNote(note));
    throwsParse(() => parseSignedNote(Uint8Array.of(0xff, 0x0a, 0x0a, 0xe2, 0x80, 0x94, 0x20, 0x61, 0x20, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x3d, 0x3d, 0x0a)));
    throwsParse(() => parseSignedNote('a\n\n— k AAAAAAA=\n', { maxBytes: 8, maxSignatures: 4 }));
  });

  it('accepts 16 signatures, takes the last empty line as the separator, and round-trips', async () => {
    const signers = await Promise.all(Array.from({ length: 16 }, (_, i) => testNoteSigner(`example.com/k${i}`)));
    const text = 'first\n\nafter an empty line\n';
    const note = await signNote(text, signers);
    const again = parseSignedNote(serializeSignedNote(note));
    assert.equal(again.text, text);
    assert.equal(again.signatures.length, 16);
    const verifiers: NoteVerifier[] = await Promise.all(signers.map((s) => noteVerifier(s.vkey)));
    assert.equal((await verifyNote(again, verifiers)).length, 16);
    assert.equal(formatSignatureLine(again.signatures[0] ?? assert.fail()), `${serializeSignedNote(note).split('\n').at(-17) ?? ''}\n`);
  });

  it('parses arbitrary input or raises ParseError, nothing else (property)', () => {
    const pieces = fc.constantFrom('\n', '\n\n', '— ', 'a', ' ', '+', 'AAAA', '=', 'x08go/ZJ', '\u2014', '\u00a0', '\t');
    fc.assert(fc.property(fc.array(pieces, { maxLength: 30 }), (p) => { onlyParseErrors(() => parseSignedNote(p.join(''))); }), { numRuns: 500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => { onlyParseErrors(() => parseSignedNote(b)); }), { numRuns: 300 });
    fc.assert(fc.property(fc.string(), (s) => { onlyParseErrors(() => parseVkey(s)); }), { numRuns: 300 });
  });
});
