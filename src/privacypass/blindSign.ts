// The Privacy Pass issuer's signing for token type 0x0002: RFC 9474 section 4.3 BlindSign on node:crypto, and the
// RFC 9578 section 6.2 issuer step around it (check the TokenRequest, answer its TokenResponse). RSASP1 is
// OpenSSL's raw private-key operation (privateDecrypt without padding computes m^d mod n, with CRT and blinding);
// the result is checked with the public key before it leaves, as section 4.3 requires, so that a faulty CRT
// computation never hands out a signature that would reveal a factor of n. RSAVP1 is OpenSSL's raw public-key
// operation (publicEncrypt without padding, s^e mod n) with a key made from `publicKey`'s n and e.
import { constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { parseBase64Url } from '../../attestation/bytes.js';
import { ParseError, VerificationError } from '../../attestation/errors.js';
import { bigIntToBytes, bytesToBigInt } from '../../attestation/protocols/privacypass/bigint.js';
import { encodeTokenKey, modulusLength, readTokenRequestFor, tokenKeyId, type RsaPublicKey } from '../../attestation/protocols/index.js';
import { rsaPublicKeyObject } from '../base/crypto/nodeRsaPss.js';

export interface RsaSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: RsaPublicKey;
}

export interface IssuerKey extends RsaSigningKey {
  /** The key as clients and origins see it: the RFC 9578 section 6.5 SubjectPublicKeyInfo. */
  readonly tokenKey: Uint8Array;
  readonly tokenKeyId: Uint8Array;
}

const jwkInteger = (b64url: string | undefined): bigint => bytesToBigInt(parseBase64Url(b64url ?? '') ?? new Uint8Array());

/** An RSA private key (a KeyObject, PEM, or DER PKCS#8) with its public half, of any size. */
export function rsaSigningKey(key: KeyObject | string | Uint8Array): RsaSigningKey {
  const privateKey = typeof key === 'string' || key instanceof Uint8Array ? createPrivateKey(typeof key === 'string' ? key : { key: Buffer.from(key), format: 'der', type: 'pkcs8' }) : key;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') {
    throw new ParseError('MALFORMED_PRIVACY_PASS', `issuer key is a ${privateKey.asymmetricKeyType ?? 'secret'} ${privateKey.type} key, not an RSA private key`, { field: 'token_key' });
  }
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return Object.freeze({ privateKey, publicKey: Object.freeze({ n: jwkInteger(jwk.n), e: jwkInteger(jwk.e) }) });
}

/** The issuer key of token type 0x0002 (a 2048-bit RSA key) with its token key and key ID. */
export async function issuerKey(key: KeyObject | string | Uint8Array): Promise<IssuerKey> {
  const signing = rsaSigningKey(key);
  const tokenKey = encodeTokenKey(signing.publicKey);
  return Object.freeze({ ...signing, tokenKey, tokenKeyId: await tokenKeyId(tokenKey) });
}

/** What RSASP1's checks need of a public key: modulus_len, n as that many bytes, and the key for RSAVP1. */
interface PublicOperation {
  readonly k: number;
  readonly modulus: Uint8Array;
  readonly key: KeyObject;
}

// Computed on a key's first signature and kept as long as the key is: not once per token.
const publicOperations = new WeakMap<RsaPublicKey, PublicOperation>();

function publicOperation(pk: RsaPublicKey): PublicOperation {
  let op = publicOperations.get(pk);
  if (op === undefined) {
    const k = modulusLength(pk);
    op = { k, modulus: bigIntToBytes(pk.n, k), key: rsaPublicKeyObject(pk) };
    publicOperations.set(pk, op);
  }
  return op;
}

/** RFC 9474 section 4.3 BlindSign: blind_sig = RSASP1(sk, blinded_msg), checked with RSAVP1 before it is returned. */
export function blindSign(key: RsaSigningKey, blindedMsg: Uint8Array): Uint8Array {
  const { k, modulus, key: publicKey } = publicOperation(key.publicKey);
  // Both k bytes big-endian: comparing the bytes compares the integers.
  if (blindedMsg.length !== k || Buffer.compare(blindedMsg, modulus) >= 0) {
    throw new ParseError('MALFORMED_PRIVACY_PASS', `blinded_msg must be ${k} bytes below the modulus, got ${blindedMsg.length} bytes`, { field: 'blinded_msg' });
  }
  const s = privateDecrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, blindedMsg);
  // RSAVP1 gives the k bytes of s^e mod n, which equal blinded_msg exactly when s is m's signature.
  if (s.length !== k || !publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, s).equals(blindedMsg)) {
    throw new VerificationError('PRIVACY_PASS_TOKEN_INVALID', 'signing failure: the blind signature does not verify with the public key', { field: 'blind_sig' });
  }
  return new Uint8Array(s);
}

/** RFC 9578 section 6.2: the TokenResponse (the blind signature) answering a type 0x0002 TokenRequest for this key. */
export function issueTokenResponse(key: IssuerKey, tokenRequest: Uint8Array): Promise<Uint8Array> {
  // The executor's throw (a malformed request, a signing failure) rejects the promise.
  return new Promise((resolve) => {
    resolve(blindSign(key, readTokenRequestFor(tokenRequest, key.tokenKeyId).blindedMsg));
  });
}
