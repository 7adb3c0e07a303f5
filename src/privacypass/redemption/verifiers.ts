// The token types the gateway redeems, one verifier each, keyed by RFC 9578 token_type:
//   0x0002 Blind RSA (2048-bit), publicly verifiable: the directory's public key checks the RSA-PSS authenticator;
//   0x0001 VOPRF(P-384, SHA-384), privately verifiable: only the issuer's private key can recompute the authenticator,
//          so it is redeemed only where the operator gave that key (RFC 9576 section 4.3, Origin and Issuer together),
//          and only for the directory keys whose private key is held.
import { bytesEqual } from '../../../attestation/bytes.js';
import { VerificationError } from '../../../attestation/errors.js';
import { TOKEN_TYPE, tokenVerifier, type Token } from '../../../attestation/protocols/index.js';
import { nodeRsaPss } from '../../base/crypto/nodeRsaPss.js';
import { verifyVoprfToken, type VoprfIssuerKey } from '../voprfKey.js';

/** Rejects when a token's authenticator does not verify with the issuer key it was made for. */
export type TokenCheck = (token: Token) => Promise<void>;

export interface TokenTypeVerifier {
  readonly name: string;
  /** Why tokens of the directory key `tokenKey` cannot be verified here, or undefined when they can. */
  unverifiable(tokenKey: Uint8Array): string | undefined;
  /** The check for the directory key `tokenKey`, made once per key; rejects when the key is malformed. */
  forKey(tokenKey: Uint8Array): Promise<TokenCheck>;
}

/** The check of a listed key that does not decode: it stays listed, as the directory has it, and every token of it is refused. */
export const refuseEveryToken: TokenCheck = () => Promise.reject(new VerificationError('PRIVACY_PASS_TOKEN_INVALID', 'the issuer key is not a key of its token type', { field: 'token_key' }));

const blindRsa: TokenTypeVerifier = {
  name: 'Blind RSA (2048-bit)',
  unverifiable: () => undefined,
  forKey: (tokenKey) => tokenVerifier(tokenKey, nodeRsaPss),
};

function voprf(keys: readonly VoprfIssuerKey[]): TokenTypeVerifier {
  const privateKeyOf = (tokenKey: Uint8Array): VoprfIssuerKey | undefined => keys.find((k) => bytesEqual(k.publicKeyBytes, tokenKey));
  return {
    name: 'VOPRF (P-384, SHA-384)',
    unverifiable: (tokenKey) => (privateKeyOf(tokenKey) === undefined ? 'this server holds no private key for it (type 0x0001 tokens verify only with the issuer\'s private key)' : undefined),
    forKey: (tokenKey) => {
      const key = privateKeyOf(tokenKey);
      if (key === undefined) return Promise.reject(new VerificationError('VOPRF_TOKEN_INVALID', 'no private key is held for the token\'s issuer key', { field: 'token_key_id' }));
      return Promise.resolve((token: Token) => verifyVoprfToken(key, token));
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
