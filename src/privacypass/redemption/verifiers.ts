// The token types the gateway redeems, one verifier each, keyed by RFC 9578 token_type:
//   0x0002 Blind RSA (2048-bit), publicly verifiable: the directory's public key checks the RSA-PSS authenticator;
//   0x0001 VOPRF(P-384, SHA-384), privately verifiable: only the issuer's private key can recompute the authenticator,
//          so it is redeemed only where the operator gave that key (RFC 9576 section 4.3, Origin and Issuer together),
//          and only for the directory keys whose private key is held.
import { bytesEqual } from '../../../attestation/bytes.js';
import { VerificationError } from '../../../attestation/errors.js';
import { TOKEN_TYPE, verifyToken, type Token } from '../../../attestation/protocols/index.js';
import { verifyVoprfToken, type VoprfIssuerKey } from '../voprfKey.js';

export interface TokenTypeVerifier {
  readonly name: string;
  /** Why tokens of the directory key `tokenKey` cannot be verified here, or undefined when they can. */
  unverifiable(tokenKey: Uint8Array): string | undefined;
  /** Throws when `token`'s authenticator does not verify with `tokenKey` (the directory's bytes). */
  verify(token: Token, tokenKey: Uint8Array): Promise<void>;
}

const blindRsa: TokenTypeVerifier = {
  name: 'Blind RSA (2048-bit)',
  unverifiable: () => undefined,
  verify: (token, tokenKey) => verifyToken(token, tokenKey),
};

function voprf(keys: readonly VoprfIssuerKey[]): TokenTypeVerifier {
  const privateKeyOf = (tokenKey: Uint8Array): VoprfIssuerKey | undefined => keys.find((k) => bytesEqual(k.publicKeyBytes, tokenKey));
  return {
    name: 'VOPRF (P-384, SHA-384)',
    unverifiable: (tokenKey) => (privateKeyOf(tokenKey) === undefined ? 'this server holds no private key for it (type 0x0001 tokens verify only with the issuer\'s private key)' : undefined),
    verify: async (token, tokenKey) => {
      const key = privateKeyOf(tokenKey);
      if (key === undefined) throw new VerificationError('VOPRF_TOKEN_INVALID', 'no private key is held for the token\'s issuer key', { field: 'token_key_id' });
      await verifyVoprfToken(key, token);
    },
  };
}

/** The verifiers of a gateway holding `privateKeys` (type 0x0001 issuer keys): Blind RSA always, VOPRF when it holds any. */
export function redeemedTokenTypes(privateKeys: readonly VoprfIssuerKey[] = []): ReadonlyMap<number, TokenTypeVerifier> {
  const types = new Map<number, TokenTypeVerifier>();
  if (privateKeys.length > 0) types.set(TOKEN_TYPE.VOPRF_P384, voprf(privateKeys));
  types.set(TOKEN_TYPE.BLIND_RSA_2048, blindRsa);
  return types;
}

/** Why a directory key of `tokenType` is not redeemed by a gateway with `types`, or undefined when it is. */
export function whyNotRedeemed(types: ReadonlyMap<number, TokenTypeVerifier>, tokenType: number, tokenKey: Uint8Array): string | undefined {
  const verifier = types.get(tokenType);
  if (verifier !== undefined) return verifier.unverifiable(tokenKey);
  const hex = `0x${tokenType.toString(16).padStart(4, '0')}`;
  return tokenType === TOKEN_TYPE.VOPRF_P384 ? `token type ${hex} is not redeemed here: its tokens verify only with the issuer's private key, and this server was given none` : `token type ${hex} is not redeemed here`;
}
