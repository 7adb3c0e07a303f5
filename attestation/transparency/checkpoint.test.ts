import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CloisterError, ParseError, PolicyError, VerificationError } from '../errors.js';
import { MemoryLog, entries } from '../testing/memoryLog.js';
import { testCosigner, testNoteSigner } from '../testing/noteSigners.js';
import { onlyParseErrors } from '../testing/parseErrors.js';
import { sigstoreTlogCase } from '../testing/sigstoreVectors.js';
import { parseCheckpoint, serializeCheckpoint, verifyCheckpoint, type CheckpointTrust } from './checkpoint.js';
import { noteVerifier, noteVerifierFromSpki } from './noteKeys.js';
import { parseSignedNote, serializeSignedNote } from './signedNote.js';
import { verifyLogEntry } from './verifyEntry.js';

const ROOT = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';

function failsWith(code: string, field?: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof CloisterError, String(e));
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return true;
  };
}

describe('checkpoint bodies (C2SP tlog-checkpoint)', () => {
  it('parses and serializes the example of the specification, extension lines kept', () => {
    const text = `example.com/behind-the-sofa\n20852163\n${ROOT}\n`;
    const c = parseCheckpoint(text);
    assert.equal(c.origin, 'example.com/behind-the-sofa');
    assert.equal(c.size, 20852163);
    assert.equal(serializeCheckpoint(c), text);
    assert.deepEqual(parseCheckpoint(`${text}Timestamp: 1689177396617352539\n`).extensions, ['Timestamp: 1689177396617352539']);
  });

  const bad: [string, string, string][] = [
    ['no final newline', `o\n1\n${ROOT}`, 'checkpoint'],
    ['empty origin', `\n1\n${ROOT}\n`, 'origin'],
    ['leading zero', `o\n01\n${ROOT}\n`, 'size'],
    ['negative size', `o\n-1\n${ROOT}\n`, 'size'],
    ['size above 2^53-1', `o\n9007199254740993\n${ROOT}\n`, 'size'],
    ['root hash of 31 bytes', `o\n1\n${ROOT.slice(0, 40)}AA=\n`, 'rootHash'],
    ['root hash not canonical base64', `o\n1\n${ROOT.slice(0, -1)}\n`, 'rootHash'],
    ['empty extension line', `o\n1\n${ROOT}\next\n\n`, 'extensions'],
    ['no origin line (two lines: size, hash)', `1\n${ROOT}\n`, 'origin'],
    ['no size line (two lines: origin, hash)', `o\n${ROOT}\n`, 'size'],
    ['no root hash line (two lines: origin, size)', 'o\n1\n', 'rootHash'],
    ['one line', 'o\n', 'checkpoint'],
  ];
  for (const [what, text, field] of bad) {
    it(`refuses a body with ${what}: MALFORMED_CHECKPOINT on ${field}`, () => {
      assert.throws(() => parseCheckpoint(text), (e: unknown) => e instanceof ParseError && failsWith('MALFORMED_CHECKPOINT', field)(e));
    });
  }

  it('parses arbitrary text or raises ParseError (property)', () => {
    const line = fc.constantFrom('o', '0', '1', '01', ROOT, '', 'x y', '99999999999999999999');
    fc.assert(fc.property(fc.array(line, { maxLength: 6 }), (lines) => { onlyParseErrors(() => parseCheckpoint(lines.join('\n') + '\n')); }), { numRuns: 400 });
  });
});

describe('Sigstore conformance checkpoints (Rekor v2 Ed25519 and Rekor v1 ECDSA)', () => {
  const V2_ORIGIN = 'log2025-alpha1.rekor.sigstage.dev';

  async function trustFor(name: string): Promise<CheckpointTrust> {
    const c = sigstoreTlogCase(name);
    const v2 = c.logs.find((l) => l.baseUrl === `https://${V2_ORIGIN}`);
    if (v2 !== undefined) return { log: { origin: V2_ORIGIN, keys: [await noteVerifierFromSpki(V2_ORIGIN, v2.spki)] } };
    const v1 = c.logs.find((l) => l.baseUrl === 'https://rekor.sigstore.dev') ?? assert.fail(`${name}: no Rekor key in its trusted root`);
    return { log: { keys: [await noteVerifierFromSpki('rekor.sigstore.dev', v1.spki)] } };
  }

  // [case, undefined when the entry verifies, else the code and field it fails with]
  const cases: [string, [string, string] | undefined][] = [
    ['rekor2-happy-path', undefined],
    ['rekor2-checkpoint-cosigned', undefined],
    ['rekor2-checkpoint-multiple-cosigs', undefined],
    ['rekor2-checkpoint-origin-not-first', undefined],
    ['rekor2-checkpoint-two-sigs-cosigned', undefined],
    ['rekor2-checkpoint-two-sigs-from-origin', undefined],
    ['rekor2-checkpoint-missing-log-signature_fail', ['MALFORMED_NOTE', 'signatures']],
    ['rekor2-checkpoint-missing-origin_fail', ['MALFORMED_CHECKPOINT', 'origin']],
    ['rekor2-checkpoint-missing-size_fail', ['MALFORMED_CHECKPOINT', 'size']],
    ['rekor2-checkpoint-missing-root-hash_fail', ['MALFORMED_CHECKPOINT', 'rootHash']],
    ['rekor2-checkpoint-no-matching-signature_fail', ['NOTE_UNVERIFIED', 'signatures']],
    ['happy-path-v0.3', undefined],
    ['checkpoint-bad-keyhint_fail', ['NOTE_UNVERIFIED', 'signatures']],
    ['invalid-checkpoint-signature_fail', ['NOTE_SIGNATURE_INVALID', 'signatures']],
    ['checkpoint-wrong-roothash_fail', ['INCLUSION_PROOF_INVALID', 'inclusionProof']],
    ['inclusion-proof-corrupted-hash_fail', ['INCLUSION_PROOF_INVALID', 'inclusionProof']],
  ];
  for (const [name, failure] of cases) {
    it(`${name}: ${failure === undefined ? 'the checkpoint and the inclusion of the entry verify' : failure.join(' on ')}`, async () => {
      const c = sigstoreTlogCase(name);
      const run = verifyLogEntry({ checkpoint: c.checkpoint, entry: { bytes: c.body }, index: c.logIndex, proof: c.hashes }, { trust: await trustFor(name) });
      if (failure === undefined) {
        const verdict = await run;
        assert.equal(verdict.checkpoint.checkpoint.size, c.treeSize);
        assert.equal(verdict.checkpoint.logSignatures.length, 1);
      } else {
        await assert.rejects(run, failsWith(...failure));
      }
    });
  }

  it('rekor2-checkpoint-cosigned: the witness line is ignored as an unknown key, and required it is missing', async () => {
    const c = sigstoreTlogCase('rekor2-checkpoint-cosigned');
    const trust = await trustFor('rekor2-checkpoint-cosigned');
    const stranger = await testCosigner('witness.example');
    const witnesses = { witnesses: [await noteVerifier(stranger.vkey)], threshold: 1 };
    await assert.rejects(verifyCheckpoint(c.checkpoint, { ...trust, witnesses }), failsWith('WITNESS_COSIGNATURES_MISSING', 'cosignatures'));
    await assert.rejects(verifyCheckpoint(c.checkpoint, { log: { origin: 'log2025-alpha2.rekor.sigstage.dev', keys: trust.log.keys } }), failsWith('CHECKPOINT_ORIGIN_MISMATCH', 'origin'));
  });
});

describe('checkpoint signatures: the log and k of n witnesses', async () => {
  const logSigner = await testNoteSigner('example.com/log');
  const log = new MemoryLog('example.com/log', logSigner);
  await log.append(...entries(5));
  const cosigners = await Promise.all(['w1', 'w2', 'w3'].map((w, i) => testCosigner(`witness.example/${w}`, () => 1_700_000_000 + i)));
  const witnesses = await Promise.all(cosigners.map((c) => noteVerifier(c.vkey)));
  const trust: CheckpointTrust = { log: { origin: 'example.com/log', keys: [await noteVerifier(logSigner.vkey)] }, witnesses: { witnesses, threshold: 2 } };

  it('accepts the log signature with 2 of 3 cosignatures, and returns each cosignature with its timestamp', async () => {
    const v = await verifyCheckpoint(await log.checkpoint([cosigners[2], cosigners[0]].map((c) => c ?? assert.fail())), trust);
    assert.deepEqual(v.cosignatures.map((s) => [s.verifier.name, s.timestamp]), [['witness.example/w3', 1_700_000_002], ['witness.example/w1', 1_700_000_000]]);
  });

  it('refuses 1 of 3 with WITNESS_COSIGNATURES_MISSING naming the witnesses that did not cosign', async () => {
    await assert.rejects(verifyCheckpoint(await log.checkpoint([cosigners[1] ?? assert.fail()]), trust), (e: unknown) => {
      assert.ok(e instanceof VerificationError);
      assert.equal(e.code, 'WITNESS_COSIGNATURES_MISSING');
      assert.match(e.message, /has 1 of the 2 witness cosignatures required; missing: witness\.example\/w1\+[0-9a-f]{8}, witness\.example\/w3\+[0-9a-f]{8}$/);
      assert.match(e.actual ?? '', /^witness\.example\/w1\+\w+, witness\.example\/w3\+\w+$/);
      return true;
    });
  });

  it('refuses a note with a bad cosignature of a listed witness, one signed by witnesses only, and a threshold above n', async () => {
    const note = parseSignedNote(await log.checkpoint(cosigners));
    const [logSig, w1, w2, w3] = note.signatures;
    assert.ok(logSig && w1 && w2 && w3);
    const badW2 = { ...w2, signature: w2.signature.map((b, i) => (i === 20 ? b ^ 1 : b)) };
    await assert.rejects(verifyCheckpoint({ ...note, signatures: [logSig, w1, badW2, w3] }, trust), failsWith('NOTE_SIGNATURE_INVALID'));
    await assert.rejects(verifyCheckpoint(serializeSignedNote({ ...note, signatures: [w1, w2, w3] }), trust), failsWith('NOTE_UNVERIFIED'));
    await assert.rejects(verifyCheckpoint(note, { ...trust, witnesses: { witnesses, threshold: 4 } }), (e: unknown) => e instanceof PolicyError && e.code === 'MALFORMED_POLICY');
  });
});
