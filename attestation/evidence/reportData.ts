// What a server binds into REPORT_DATA (64 bytes) for the evidence it hands out, so a client can
// recompute it: domain-separated, length-prefixed, hashed with SHA-512.
//   boot evidence:  SHA-512("cloister/boot-evidence/v1" || 0x00 || keysDigest[32])
//   fresh evidence: SHA-512("cloister/fresh-evidence/v1" || 0x00 || u16be(len(nonce)) || nonce || keysDigest[32])
// keysDigest is SHA-256 over the server's current public keys: its RA-TLS certificate's
// SubjectPublicKeyInfo and its OHTTP key configurations (32 zero bytes while a server has none):
//   keysDigest = SHA-256("cloister/keys/v1" || 0x00 || u16be(len(spki)) || spki
//                        || u16be(n) || for each of the n key configs, in order: u16be(len(config)) || config)
import { concatBytes, toArrayBufferView } from '../bytes.js';
import { CloisterError } from '../errors.js';

export const KEYS_DIGEST_SIZE = 32;
export const KEYS_DIGEST_LABEL = 'cloister/keys/v1';
export const NONCE_MIN = 16;
export const NONCE_MAX = 64;

const label = (s: string): Uint8Array => concatBytes(new TextEncoder().encode(s), new Uint8Array([0]));

async function sha512(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-512', toArrayBufferView(bytes)));
}

function u16(n: number, field: string): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new CloisterError('MALFORMED_FIELD', `${field} must be 0..65535, got ${n}`, { field, expected: '0..65535', actual: String(n) });
  return new Uint8Array([n >> 8, n & 0xff]);
}

function prefixed(bytes: Uint8Array, field: string): Uint8Array {
  if (bytes.length === 0) throw new CloisterError('MALFORMED_FIELD', `${field} is empty`, { field });
  return concatBytes(u16(bytes.length, `length of ${field}`), bytes);
}

/** The exact bytes keysDigest hashes (exported for test vectors and peer implementations). */
export function keysDigestInput(spki: Uint8Array, keyConfigs: readonly Uint8Array[]): Uint8Array {
  return concatBytes(label(KEYS_DIGEST_LABEL), prefixed(spki, 'spki'), u16(keyConfigs.length, 'number of key configs'), ...keyConfigs.map((c, i) => prefixed(c, `keyConfigs[${i}]`)));
}

/**
 * SHA-256 over the server's public keys: the DER SubjectPublicKeyInfo of its TLS certificate and its
 * OHTTP key configurations (RFC 9458 KeyConfig, in the order served). Boot and fresh evidence bind it.
 */
export async function keysDigest(spki: Uint8Array, keyConfigs: readonly Uint8Array[]): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', toArrayBufferView(keysDigestInput(spki, keyConfigs))));
}

function assertKeysDigest(keysDigest: Uint8Array): void {
  if (keysDigest.length !== KEYS_DIGEST_SIZE) {
    throw new CloisterError('MALFORMED_FIELD', `keys digest must be ${KEYS_DIGEST_SIZE} bytes, got ${keysDigest.length}`, { field: 'keysDigest' });
  }
}

export async function bootReportData(keysDigest: Uint8Array): Promise<Uint8Array> {
  assertKeysDigest(keysDigest);
  return sha512(concatBytes(label('cloister/boot-evidence/v1'), keysDigest));
}

export async function freshReportData(nonce: Uint8Array, keysDigest: Uint8Array): Promise<Uint8Array> {
  assertKeysDigest(keysDigest);
  if (nonce.length < NONCE_MIN || nonce.length > NONCE_MAX) {
    throw new CloisterError('MALFORMED_FIELD', `nonce must be ${NONCE_MIN}..${NONCE_MAX} bytes, got ${nonce.length}`, {
      field: 'nonce',
      expected: `${NONCE_MIN}..${NONCE_MAX}`,
      actual: String(nonce.length),
    });
  }
  return sha512(concatBytes(label('cloister/fresh-evidence/v1'), new Uint8Array([nonce.length >> 8, nonce.length & 0xff]), nonce, keysDigest));
}
