// What a server binds into REPORT_DATA (64 bytes) for the evidence it hands out, so a client can
// recompute it: domain-separated, length-prefixed, hashed with SHA-512.
//   boot evidence:  SHA-512("cloister/boot-evidence/v1" || 0x00 || keysDigest[32])
//   fresh evidence: SHA-512("cloister/fresh-evidence/v1" || 0x00 || u16be(len(nonce)) || nonce || keysDigest[32])
// keysDigest is SHA-256 over the server's current public keys (RA-TLS and OHTTP key configurations,
// defined with them); 32 zero bytes while a server has none.
import { concatBytes, toArrayBufferView } from './bytes.js';
import { CloisterError } from './errors.js';

export const KEYS_DIGEST_SIZE = 32;
export const NONCE_MIN = 16;
export const NONCE_MAX = 64;

const label = (s: string): Uint8Array => concatBytes(new TextEncoder().encode(s), new Uint8Array([0]));

async function sha512(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-512', toArrayBufferView(bytes)));
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
