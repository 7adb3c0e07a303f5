// Property tests: every decoder of the VOPRF and of type 1 tokens either decodes or throws ParseError
// MALFORMED_VOPRF; decoded elements re-encode to their bytes; a proof made with one key never verifies for another.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bytesEqual } from '../../bytes.js';
import { ParseError, VerificationError } from '../../errors.js';
import { parseToken, parseTokenRequest, parseTokenResponse } from '../privacypass/type1.js';
import { deserializeProof, generateProof, serializeProof, verifyProof } from './dleq.js';
import { add, deserializeElement, deserializeScalar, GENERATOR, IDENTITY, isIdentity, multiply, N, pointsEqual, serializeElement } from './p384.js';
import { hashToGroup, OPRF_MODE, p384Sha384 } from './suite.js';

const decodeOrParseError = (decode: (bytes: Uint8Array) => unknown) => (bytes: Uint8Array): void => {
  try {
    decode(bytes);
  } catch (e) {
    assert.ok(e instanceof ParseError && e.code === 'MALFORMED_VOPRF' && !e.message.includes('\n'), `threw ${String(e)}`);
  }
};

const near = (length: number) => fc.oneof(fc.uint8Array({ maxLength: length + 2 }), fc.uint8Array({ minLength: length, maxLength: length }));
/** A compressed prefix and any x: about half of these are on the curve. */
const compressed = fc.tuple(fc.constantFrom(0x02, 0x03), fc.uint8Array({ minLength: 48, maxLength: 48 })).map(([p, x]) => Uint8Array.of(p, ...x));
const scalar = fc.bigInt({ min: 1n, max: N - 1n });

describe('VOPRF decoders (properties)', () => {
  const decoders: [string, (bytes: Uint8Array) => unknown, number][] = [
    ['deserializeElement', deserializeElement, 49],
    ['deserializeScalar', deserializeScalar, 48],
    ['deserializeProof', deserializeProof, 96],
    ['parseTokenRequest', parseTokenRequest, 52],
    ['parseTokenResponse', parseTokenResponse, 145],
    ['parseToken', parseToken, 146],
  ];
  for (const [name, decode, length] of decoders) {
    it(`${name}: arbitrary bytes decode or throw ParseError MALFORMED_VOPRF`, () => {
      fc.assert(fc.property(near(length), decodeOrParseError(decode)), { numRuns: 300 });
    });
  }

  it('deserializeProof(serializeProof(proof)) is the proof, for any two scalars below n', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: N - 1n }), fc.bigInt({ min: 0n, max: N - 1n }), (c, s) => {
        assert.deepEqual(deserializeProof(serializeProof({ c, s })), { c, s });
      }),
    );
  });

  it('deserializeElement: a compressed x decodes to a point on the curve that re-encodes to the same bytes, or throws', () => {
    let decoded = 0;
    fc.assert(
      fc.property(compressed, (bytes) => {
        let point;
        try {
          point = deserializeElement(bytes);
        } catch (e) {
          assert.ok(e instanceof ParseError && e.code === 'MALFORMED_VOPRF');
          return;
        }
        decoded++;
        assert.ok(bytesEqual(serializeElement(point), bytes));
      }),
      { numRuns: 200 },
    );
    assert.ok(decoded > 50, `only ${decoded} of 200 decoded`);
  });
});

describe('P-384 group law (properties)', () => {
  it('(a + b) G = aG + bG, and n G is the identity', () => {
    fc.assert(
      fc.property(scalar, scalar, (a, b) => {
        assert.ok(pointsEqual(multiply(a + b, GENERATOR), add(multiply(a, GENERATOR), multiply(b, GENERATOR))));
      }),
      { numRuns: 20 },
    );
    assert.ok(isIdentity(multiply(N, GENERATOR)));
    assert.ok(pointsEqual(add(GENERATOR, IDENTITY), GENERATOR));
  });
});

describe('DLEQ proofs (properties)', () => {
  const suite = p384Sha384(OPRF_MODE.voprf);
  it('a proof for one key verifies for it and never for another key', async () => {
    await fc.assert(
      fc.asyncProperty(scalar, scalar, fc.uint8Array({ maxLength: 40 }), async (k1, k2, input) => {
        fc.pre(k1 !== k2);
        const c = [multiply(7n, await hashToGroup(suite, input))];
        const d = c.map((e) => multiply(k1, e));
        const pk1 = multiply(k1, GENERATOR);
        const pk2 = multiply(k2, GENERATOR);
        const proof = await generateProof(suite, k1, GENERATOR, pk1, c, d);
        await verifyProof(suite, GENERATOR, pk1, c, d, proof);
        await assert.rejects(verifyProof(suite, GENERATOR, pk2, c, d, proof), (e: unknown) => e instanceof VerificationError && e.code === 'VOPRF_PROOF_INVALID');
        // Nor does the other key's honest evaluation pass with this proof.
        await assert.rejects(verifyProof(suite, GENERATOR, pk2, c, c.map((e) => multiply(k2, e)), proof), (e: unknown) => e instanceof VerificationError);
      }),
      { numRuns: 15 },
    );
  });

  it('a proof of all-zero scalars (t2 and t3 the identity) is invalid, not malformed', async () => {
    const c = [await hashToGroup(suite, Uint8Array.of(1))];
    const pk = multiply(3n, GENERATOR);
    await assert.rejects(verifyProof(suite, GENERATOR, pk, c, c.map((e) => multiply(3n, e)), { c: 0n, s: 0n }), (e: unknown) => e instanceof VerificationError && e.code === 'VOPRF_PROOF_INVALID');
  });

  it('a batch of unequal lengths is MALFORMED_VOPRF', async () => {
    await assert.rejects(verifyProof(suite, GENERATOR, GENERATOR, [GENERATOR], [], { c: 1n, s: 1n }), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_VOPRF');
  });
});
