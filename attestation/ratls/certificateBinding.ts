// What an RA-TLS certificate binds into REPORT_DATA (64 bytes, docs/ra-tls.md "Binding"): the
// certificate's public key and the OHTTP key configurations the server serves, domain-separated,
// length-prefixed and hashed with SHA-512, so that a client recomputes it from the certificate's
// SubjectPublicKeyInfo and the key configs it fetched:
//
//   REPORT_DATA = SHA-512( "cloister/ra-tls/v1" || 0x00
//                          || u16be(len(spki)) || spki
//                          || u16be(n) || for each of the n key configs, in order: u16be(len(config)) || config )
//
// spki is the DER SubjectPublicKeyInfo exactly as it appears in the certificate; each config is one
// RFC 9458 section 3 key configuration (KeyConfig), without its own length prefix. Every length and
// the count are big-endian 16-bit; a length of 0 or above 65535 is refused.
import { concatBytes, toArrayBufferView } from '../bytes.js';
import { CloisterError } from '../errors.js';

export const RATLS_BINDING_LABEL = 'cloister/ra-tls/v1';
const U16_MAX = 0xffff;

function u16(n: number, field: string): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > U16_MAX) {
    throw new CloisterError('MALFORMED_FIELD', `${field} must be 0..${U16_MAX}, got ${n}`, { field, expected: `0..${U16_MAX}`, actual: String(n) });
  }
  return new Uint8Array([n >> 8, n & 0xff]);
}

function prefixed(bytes: Uint8Array, field: string): Uint8Array {
  if (bytes.length === 0) throw new CloisterError('MALFORMED_FIELD', `${field} is empty`, { field });
  return concatBytes(u16(bytes.length, `length of ${field}`), bytes);
}

/** The exact bytes hashed into REPORT_DATA (exported for test vectors and peer implementations). */
export function raTlsBindingInput(spki: Uint8Array, keyConfigs: readonly Uint8Array[]): Uint8Array {
  return concatBytes(
    new TextEncoder().encode(RATLS_BINDING_LABEL),
    new Uint8Array([0]),
    prefixed(spki, 'spki'),
    u16(keyConfigs.length, 'number of key configs'),
    ...keyConfigs.map((c, i) => prefixed(c, `keyConfigs[${i}]`)),
  );
}

/** REPORT_DATA (64 bytes) for an RA-TLS certificate with public key `spki` serving `keyConfigs`. */
export async function raTlsReportData(spki: Uint8Array, keyConfigs: readonly Uint8Array[]): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-512', toArrayBufferView(raTlsBindingInput(spki, keyConfigs))));
}
