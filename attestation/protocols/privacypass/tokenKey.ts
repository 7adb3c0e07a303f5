// The issuer's public key for token type 0x0002 (RFC 9578 section 6.5): a SubjectPublicKeyInfo with the
// id-RSASSA-PSS OID (RFC 4055 / RFC 5756) and its parameters fixed to SHA-384, MGF1-SHA384 and a 48-byte salt:
//   SEQUENCE { SEQUENCE { id-RSASSA-PSS,
//                         SEQUENCE { [0] SEQUENCE { id-sha384 }, [1] SEQUENCE { id-mgf1, SEQUENCE { id-sha384 } }, [2] INTEGER 48 } },
//              BIT STRING { SEQUENCE { INTEGER n, INTEGER e } } }
// token_key_id is SHA-256 over these bytes; truncated_token_key_id is its last byte.
import { bytesEqual, concatBytes } from '../../bytes.js';
import { TAG, children, decodeBitString, decodeOne, encodeOid, encodeSequence, encodeSmallInteger, encodeTlv, expectTag, unsignedIntegerBytes } from '../../der.js';
import { ParseError } from '../../errors.js';
import { webCryptoHasher } from '../../hash.js';
import { bitLength, bytesToBigInt, bigIntToBytes } from './bigint.js';
import type { RsaPublicKey } from './blindRsa.js';
import { malformed } from './tlsReader.js';

const ID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const ID_MGF1 = '1.2.840.113549.1.1.8';
const ID_SHA384 = '2.16.840.1.101.3.4.2.2';
const SALT_LENGTH = 48;
/** Token type 0x0002 is "Blind RSA (2048-bit)": Nk = 256. */
export const TOKEN_KEY_BITS = 2048;

function derUnsigned(n: bigint): Uint8Array {
  const bytes = bigIntToBytes(n, Math.ceil(bitLength(n) / 8) || 1);
  return encodeTlv(TAG.INTEGER, (bytes[0] as number) & 0x80 ? concatBytes(new Uint8Array([0]), bytes) : bytes);
}

function checkKey(pk: RsaPublicKey): void {
  if (bitLength(pk.n) !== TOKEN_KEY_BITS) malformed(`token key modulus is ${bitLength(pk.n)} bits, token type 0x0002 needs ${TOKEN_KEY_BITS}`, 'token_key');
  if (pk.e < 3n || pk.e % 2n === 0n || pk.e >= pk.n) malformed('token key exponent is not an odd integer in 3..n-1', 'token_key');
}

/** The SubjectPublicKeyInfo RFC 9578 section 6.5 serializes the issuer key as. */
export function encodeTokenKey(pk: RsaPublicKey): Uint8Array {
  checkKey(pk);
  const sha384 = encodeSequence(encodeOid(ID_SHA384));
  const params = encodeSequence(encodeTlv(0xa0, sha384), encodeTlv(0xa1, encodeSequence(encodeOid(ID_MGF1), sha384)), encodeTlv(0xa2, encodeSmallInteger(SALT_LENGTH)));
  const rsaKey = encodeSequence(derUnsigned(pk.n), derUnsigned(pk.e));
  return encodeSequence(encodeSequence(encodeOid(ID_RSASSA_PSS), params), encodeTlv(TAG.BIT_STRING, concatBytes(new Uint8Array([0]), rsaKey)));
}

/** The key in `spki`, which must be exactly the section 6.5 encoding of a 2048-bit key. */
export function decodeTokenKey(spki: Uint8Array): RsaPublicKey {
  let pk: RsaPublicKey;
  try {
    const [, bits] = children(decodeOne(spki, TAG.SEQUENCE));
    const [n, e] = children(decodeOne(decodeBitString(expectTag(bits, TAG.BIT_STRING, 'subjectPublicKey')), TAG.SEQUENCE));
    pk = { n: bytesToBigInt(unsignedIntegerBytes(expectTag(n, TAG.INTEGER, 'modulus'))), e: bytesToBigInt(unsignedIntegerBytes(expectTag(e, TAG.INTEGER, 'publicExponent'))) };
  } catch (cause) {
    if (!(cause instanceof ParseError)) throw cause;
    return malformed(`token key is not a SubjectPublicKeyInfo: ${cause.message}`, 'token_key');
  }
  if (!bytesEqual(encodeTokenKey(pk), spki)) malformed('token key is not the RSASSA-PSS (SHA-384, MGF1-SHA384, salt 48) SubjectPublicKeyInfo of RFC 9578 section 6.5', 'token_key');
  return Object.freeze(pk);
}

/** token_key_id: SHA-256 of the serialized key. */
export function tokenKeyId(spki: Uint8Array): Promise<Uint8Array> {
  return webCryptoHasher.digest('SHA-256', [spki]);
}

export function truncatedTokenKeyId(keyId: Uint8Array): number {
  return keyId[keyId.length - 1] as number;
}
