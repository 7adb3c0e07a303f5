// The token types the client obtains, as one table keyed by RFC 9578 token_type: how to make a TokenRequest for a
// challenge under an issuer key (the directory's "token-key" bytes), and how to turn the issuer's TokenResponse
// into the Token's bytes, checking the issuer's work on the way (the unblinded signature for 0x0002, the DLEQ proof
// for 0x0001). The token key ID of both is SHA-256 of those key bytes.
import { encodeToken, TOKEN_TYPE } from '../../protocols/privacypass/token.js';
import { createTokenRequest, encodeTokenRequest, finalizeToken } from '../../protocols/privacypass/publicToken.js';
import * as type1 from '../../protocols/privacypass/type1.js';

export interface PendingIssuance {
  /** The TokenRequest to POST. */
  readonly request: Uint8Array;
  /** The Token from the issuer's TokenResponse; MALFORMED_* or *_INVALID when the response is not a good one. */
  finish(response: Uint8Array): Promise<Uint8Array>;
}

export interface ClientTokenType {
  readonly tokenType: number;
  readonly name: string;
  begin(challenge: Uint8Array, tokenKey: Uint8Array): Promise<PendingIssuance>;
}

const blindRsa2048: ClientTokenType = {
  tokenType: TOKEN_TYPE.BLIND_RSA_2048,
  name: 'Blind RSA (2048-bit)',
  begin: async (challenge, tokenKey) => {
    const { request, state } = await createTokenRequest(challenge, tokenKey);
    return { request: encodeTokenRequest(request), finish: async (response) => encodeToken(await finalizeToken(state, response)) };
  },
};

const voprfP384: ClientTokenType = {
  tokenType: TOKEN_TYPE.VOPRF_P384,
  name: 'VOPRF (P-384, SHA-384)',
  begin: async (challenge, tokenKey) => {
    const { request, pending } = await type1.createTokenRequest(await type1.issuerPublicKey(tokenKey), challenge);
    return { request, finish: (response) => type1.finalizeToken(pending, response) };
  },
};

/** In the order a client prefers them when a server offers both: publicly verifiable first. */
export const CLIENT_TOKEN_TYPES: readonly ClientTokenType[] = [blindRsa2048, voprfP384];

export const hexTokenType = (t: number): string => `0x${t.toString(16).padStart(4, '0')}`;
