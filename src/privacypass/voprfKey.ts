// The issuer key of Privacy Pass token type 0x0001 (RFC 9578 section 5, VOPRF(P-384, SHA-384)) as node:crypto holds
// it: an EC P-384 private key (PKCS#8 PEM), whose scalar d is the VOPRF secret skI. The directory's "token-key" is
// SerializeElement(pkI), the 49-byte compressed point, and token_key_id its SHA-256. The issuer answers requests
// with it (issueVoprfTokenResponse); a gateway that shares the key verifies tokens with it (verifyVoprfToken: RFC 9576
// section 4.3, the Origin and Issuer operated together). Error messages name the key's source, never its bytes.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { parseBase64Url } from '../../attestation/bytes.js';
import { CloisterError, ParseError } from '../../attestation/errors.js';
import { encodeToken, type Token } from '../../attestation/protocols/privacypass/token.js';
import { evaluateTokenRequest, issuerKey, verifyToken, type IssuerKey } from '../../attestation/protocols/privacypass/type1.js';
import { SCALAR_LENGTH } from '../../attestation/protocols/voprf/p384.js';
import { RuntimeError } from '../base/runtimeErrors.js';

export type VoprfIssuerKey = IssuerKey;

/** node:crypto's name for P-384. */
const P384 = 'secp384r1';

/** A new issuer key, as PKCS#8 PEM. */
export function generateVoprfKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The type 0x0001 issuer key in `privateKey`; ISSUER_KEY_INVALID unless it is an EC P-384 private key. */
export async function voprfIssuerKey(privateKey: KeyObject, source = 'the key'): Promise<VoprfIssuerKey> {
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ec' || curve !== P384) {
    const kind = `${privateKey.asymmetricKeyType ?? 'a secret'}${curve === undefined ? '' : ` ${curve}`} ${privateKey.type} key`;
    throw new RuntimeError('ISSUER_KEY_INVALID', `${source}: token type 0x0001 needs an EC P-384 private key (RFC 9578 section 5), got ${kind}`);
  }
  const d = parseBase64Url(privateKey.export({ format: 'jwk' }).d ?? '');
  try {
    if (d?.length !== SCALAR_LENGTH) throw new ParseError('MALFORMED_VOPRF', `d is not ${SCALAR_LENGTH} bytes`);
    return await issuerKey(d);
  } catch (cause) {
    if (!(cause instanceof ParseError)) throw cause;
    throw new RuntimeError('ISSUER_KEY_INVALID', `${source}: the P-384 private scalar is not a VOPRF secret key (zero, or not below the group order)`, { cause });
  } finally {
    d?.fill(0);
  }
}

/**
 * RFC 9578 section 5.2: the TokenResponse (evaluated element and DLEQ proof) to a type 0x0001 TokenRequest for this key.
 * Whatever the request gets wrong, its shape or the key it names, is MALFORMED_PRIVACY_PASS: the issuer answers 400.
 */
export async function issueVoprfTokenResponse(key: VoprfIssuerKey, tokenRequest: Uint8Array): Promise<Uint8Array> {
  try {
    return await evaluateTokenRequest(key, tokenRequest);
  } catch (cause) {
    if (cause instanceof CloisterError && (cause.code === 'MALFORMED_VOPRF' || cause.code === 'VOPRF_TOKEN_INVALID')) {
      throw new ParseError('MALFORMED_PRIVACY_PASS', cause.message, { ...(cause.field === undefined ? {} : { field: cause.field }), cause });
    }
    throw cause;
  }
}

/** RFC 9578 section 5.4: the token is the key's (its token_key_id) and its authenticator is Evaluate(skI, input), compared in constant time. */
export async function verifyVoprfToken(key: VoprfIssuerKey, token: Token): Promise<void> {
  await verifyToken(key, encodeToken(token));
}
