import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fromHex, toHex } from '../../bytes.js';
import { CloisterError, ParseError } from '../../errors.js';
import { PROTOCOL_VECTORS } from '../../testing/vectors.js';
import { deserializeProof, serializeProof } from './dleq.js';
import { blind, blindEvaluate, blindEvaluateOprf, deriveKeyPair, evaluate, finalize, finalizeOprf } from './oprf.js';
import { bytesToBigint, deserializeElement, serializeElement, serializeScalar, type Point } from './p384.js';
import { OPRF_MODE, p384Sha384, type OprfMode, type RandomBytes } from './suite.js';

interface Rfc9497Vector {
  readonly Batch: number;
  readonly Blind: string;
  readonly BlindedElement: string;
  readonly EvaluationElement: string;
  readonly Input: string;
  readonly Output: string;
  readonly Proof?: { readonly proof: string; readonly r: string };
}

interface Rfc9497Suite {
  readonly identifier: string;
  readonly mode: number;
  readonly seed: string;
  readonly keyInfo: string;
  readonly skSm: string;
  readonly pkSm?: string;
  readonly groupDST: string;
  readonly vectors: readonly Rfc9497Vector[];
}

const suites = JSON.parse(readFileSync(`${PROTOCOL_VECTORS}oprf-rfc9497/rfc9497.json`, 'utf8')) as Rfc9497Suite[];
const p384 = (mode: number): Rfc9497Suite => {
  const found = suites.find((s) => s.identifier === 'P384-SHA384' && s.mode === mode);
  assert.ok(found, `no P384-SHA384 suite of mode ${mode}`);
  return found;
};

const list = (field: string): Uint8Array[] => field.split(',').map((h) => fromHex(h));

/** Randomness that returns the given scalars, in order, as the RFC's vectors fix them. */
function replay(...values: readonly Uint8Array[]): RandomBytes {
  const queue = [...values];
  return (length) => {
    const next = queue.shift();
    assert.ok(next !== undefined && next.length === length, 'the test ran out of fixed random values');
    return next;
  };
}

const suiteWith = (mode: OprfMode, random: RandomBytes) => p384Sha384(mode, { randomBytes: random });

describe('RFC 9497 P384-SHA384', () => {
  for (const mode of [OPRF_MODE.oprf, OPRF_MODE.voprf]) {
    const vectors = p384(mode);
    it(`mode ${mode}: the group DST is HashToGroup- and the context string`, () => {
      const suite = p384Sha384(mode);
      assert.equal(toHex(new TextEncoder().encode('HashToGroup-')) + toHex(suite.contextString), vectors.groupDST);
    });

    it(`mode ${mode}: DeriveKeyPair(seed, keyInfo) gives skSm${mode === OPRF_MODE.voprf ? ' and pkSm' : ''}`, async () => {
      const keys = await deriveKeyPair(p384Sha384(mode), fromHex(vectors.seed), fromHex(vectors.keyInfo));
      assert.equal(toHex(serializeScalar(keys.secretKey)), vectors.skSm);
      if (vectors.pkSm !== undefined) assert.equal(toHex(serializeElement(keys.publicKey)), vectors.pkSm);
    });

    vectors.vectors.forEach((v, n) => {
      it(`mode ${mode} vector ${n + 1} (batch ${v.Batch}): blinded, evaluated${v.Proof ? ', proof' : ''} and output match`, async () => {
        const keys = await deriveKeyPair(p384Sha384(mode), fromHex(vectors.seed), fromHex(vectors.keyInfo));
        const inputs = list(v.Input);
        const blinds = list(v.Blind);
        const client = suiteWith(mode, replay(...blinds));
        const blinded = [];
        for (const input of inputs) blinded.push(await blind(client, input));
        assert.deepEqual(blinded.map((b) => toHex(serializeElement(b.blindedElement))), v.BlindedElement.split(','));
        const blindedElements = blinded.map((b) => b.blindedElement);

        let evaluated: readonly Point[];
        if (mode === OPRF_MODE.voprf) {
          const proofVector = v.Proof;
          assert.ok(proofVector);
          const server = suiteWith(mode, replay(fromHex(proofVector.r)));
          const evaluation = await blindEvaluate(server, keys, blindedElements);
          assert.equal(toHex(serializeProof(evaluation.proof)), proofVector.proof);
          evaluated = evaluation.evaluatedElements;
          const proof = deserializeProof(fromHex(proofVector.proof));
          const outputs = await finalize(client, {
            inputs,
            blinds: blinded.map((b) => b.blind),
            blindedElements,
            evaluatedElements: list(v.EvaluationElement).map((e) => deserializeElement(e)),
            publicKey: keys.publicKey,
            proof,
          });
          assert.deepEqual(outputs.map(toHex), v.Output.split(','));
        } else {
          evaluated = blindedElements.map((e) => blindEvaluateOprf(client, keys.secretKey, e));
          const outputs = await Promise.all(inputs.map((input, i) => finalizeOprf(client, input, bytesToBigint(blinds[i] as Uint8Array), evaluated[i] as Point)));
          assert.deepEqual(outputs.map(toHex), v.Output.split(','));
        }
        assert.deepEqual(evaluated.map((e) => toHex(serializeElement(e))), v.EvaluationElement.split(','));
        const direct = await Promise.all(inputs.map((input) => evaluate(client, keys.secretKey, input)));
        assert.deepEqual(direct.map(toHex), v.Output.split(','));
      });
    });
  }
});

describe('OPRF suites and modes', () => {
  it('a function of one mode refuses a suite of the other (INVALID_STATE)', async () => {
    const oprf = p384Sha384(OPRF_MODE.oprf);
    const voprf = p384Sha384(OPRF_MODE.voprf);
    const keys = await deriveKeyPair(voprf, new Uint8Array(32), new Uint8Array(0));
    const misuse = (e: unknown): boolean => e instanceof CloisterError && e.code === 'INVALID_STATE';
    await assert.rejects(blindEvaluate(oprf, keys, [keys.publicKey]), misuse);
    assert.throws(() => blindEvaluateOprf(voprf, keys.secretKey, keys.publicKey), misuse);
    await assert.rejects(finalizeOprf(voprf, new Uint8Array(1), 1n, keys.publicKey), misuse);
  });

  it('Finalize refuses batches of unequal lengths, and OPRF inputs over 65535 bytes', async () => {
    const voprf = p384Sha384(OPRF_MODE.voprf);
    const keys = await deriveKeyPair(voprf, new Uint8Array(32), new Uint8Array(0));
    const batch = { inputs: [new Uint8Array(1)], blinds: [], blindedElements: [], evaluatedElements: [], publicKey: keys.publicKey, proof: { c: 1n, s: 1n } };
    await assert.rejects(finalize(voprf, batch), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_VOPRF');
    await assert.rejects(blind(voprf, new Uint8Array(65536)), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_VOPRF');
    await assert.rejects(deriveKeyPair(voprf, new Uint8Array(32), new Uint8Array(65536)), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_VOPRF');
  });
});
