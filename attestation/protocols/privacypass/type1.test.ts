import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fromHex, toHex } from '../../bytes.js';
import { ParseError, VerificationError } from '../../errors.js';
import { PROTOCOL_VECTORS } from '../../testing/vectors.js';
import {
  createTokenRequest,
  evaluateTokenRequest,
  finalizeToken,
  issuerKey,
  issuerPublicKey,
  parseToken,
  parseTokenRequest,
  parseTokenResponse,
  serializeToken,
  serializeTokenRequest,
  serializeTokenResponse,
  verifyToken,
} from './type1.js';

interface Type1Vector {
  readonly skS: string;
  readonly pkS: string;
  readonly token_challenge: string;
  readonly nonce: string;
  readonly blind: string;
  readonly token_request: string;
  readonly token_response: string;
  readonly token: string;
}

const load = (file: string): Type1Vector[] => JSON.parse(readFileSync(`${PROTOCOL_VECTORS}privacypass-rfc9578/${file}`, 'utf8')) as Type1Vector[];
const SOURCES = ['rfc9578-type1-voprf-p384.json', 'priv_verif_rfc9578.go.json', 'priv_verif_rfc9578.rust.json'];

const replay = (value: Uint8Array) => () => value;

const rejects = async (p: Promise<unknown>, cls: typeof ParseError | typeof VerificationError, code: string): Promise<void> => {
  await assert.rejects(p, (e: unknown) => e instanceof cls && e.code === code);
};

describe('Privacy Pass token type 0x0001 (RFC 9578 section 5)', () => {
  for (const source of SOURCES) {
    load(source).forEach((v, n) => {
      it(`${source} #${n + 1}: request, response, token and verification match`, async () => {
        const key = await issuerKey(fromHex(v.skS));
        assert.equal(toHex(key.publicKeyBytes), v.pkS);
        const issuer = await issuerPublicKey(fromHex(v.pkS));
        const { request, pending } = await createTokenRequest(issuer, fromHex(v.token_challenge), { nonce: fromHex(v.nonce), randomBytes: replay(fromHex(v.blind)) });
        assert.equal(toHex(request), v.token_request);

        const token = await finalizeToken(pending, fromHex(v.token_response));
        assert.equal(toHex(token), v.token);
        assert.equal(toHex((await verifyToken(key, token)).nonce), v.nonce);

        // The vectors omit the proof nonce: the element is deterministic, the proof is not, and ours must finalize too.
        const response = await evaluateTokenRequest(key, request);
        assert.equal(toHex(response.subarray(0, 49)), v.token_response.slice(0, 98));
        assert.equal(toHex(await finalizeToken(pending, response)), v.token);

        const parsed = { request: parseTokenRequest(request), response: parseTokenResponse(fromHex(v.token_response)), token: parseToken(token) };
        assert.equal(toHex(serializeTokenRequest(parsed.request)), v.token_request);
        assert.equal(toHex(serializeTokenResponse(parsed.response)), v.token_response);
        assert.equal(toHex(serializeToken(parsed.token)), v.token);
      });
    });
  }

  const [v] = load(SOURCES[0] as string) as [Type1Vector];
  const setup = async () => {
    const key = await issuerKey(fromHex(v.skS));
    const { request, pending } = await createTokenRequest(key, fromHex(v.token_challenge));
    return { key, request, pending };
  };

  it('a token altered in its nonce, challenge digest or authenticator does not verify', async () => {
    const token = fromHex(v.token);
    const key = await issuerKey(fromHex(v.skS));
    for (const offset of [2, 34, 98, 145]) {
      const altered = token.slice();
      altered[offset] = (altered[offset] as number) ^ 1;
      await rejects(verifyToken(key, altered), VerificationError, 'VOPRF_TOKEN_INVALID');
    }
  });

  it('another issuer key neither evaluates the request nor verifies the token', async () => {
    const other = await issuerKey(fromHex(load(SOURCES[0] as string)[1]?.skS ?? ''));
    const { request, pending } = await setup();
    await rejects(evaluateTokenRequest(other, request), VerificationError, 'VOPRF_TOKEN_INVALID');
    await rejects(verifyToken(other, fromHex(v.token)), VerificationError, 'VOPRF_TOKEN_INVALID');
    // An issuer that answers with another key (same truncated ID forced) is caught by the proof.
    const forged = request.slice();
    forged[2] = other.tokenKeyId[31] as number;
    await rejects(finalizeToken(pending, await evaluateTokenRequest(other, forged)), VerificationError, 'VOPRF_PROOF_INVALID');
  });

  it('malformed messages are MALFORMED_VOPRF with one-line messages naming the field', async () => {
    const { key, request, pending } = await setup();
    const wrongType = request.slice();
    wrongType[1] = 2;
    const offCurve = request.slice();
    offCurve[0 + 3] = 0x04;
    const cases: [string, Promise<unknown>][] = [
      ['TokenRequest', evaluateTokenRequest(key, request.subarray(1))],
      ['TokenRequest.token_type', evaluateTokenRequest(key, wrongType)],
      ['TokenRequest.blinded_msg', evaluateTokenRequest(key, offCurve)],
      ['TokenResponse', finalizeToken(pending, new Uint8Array(144))],
      ['TokenResponse.evaluate_msg', finalizeToken(pending, new Uint8Array(145))],
      ['Token', verifyToken(key, new Uint8Array(147))],
      ['issuer secret key', issuerKey(new Uint8Array(48))],
      ['issuer public key', issuerPublicKey(new Uint8Array(49))],
    ];
    for (const [field, p] of cases) {
      await assert.rejects(p, (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_VOPRF' && e.field === field && !e.message.includes('\n'), field);
    }
  });

  it('a proof altered in c or s is VOPRF_PROOF_INVALID', async () => {
    const { key, request, pending } = await setup();
    const response = await evaluateTokenRequest(key, request);
    for (const offset of [49 + 47, 144]) {
      const altered = response.slice();
      altered[offset] = (altered[offset] as number) ^ 1;
      await rejects(finalizeToken(pending, altered), VerificationError, 'VOPRF_PROOF_INVALID');
    }
  });
});
