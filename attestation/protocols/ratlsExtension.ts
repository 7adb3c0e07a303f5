// The RA-TLS certificate extension (docs/ra-tls.md "Extension"): a conceptual message wrapper (CMW,
// RFC 9999, formerly draft-ietf-rats-msg-wrap) in the X.509 extension id-pe-cmw, non-critical.
//
//   Extension  { extnID 1.3.6.1.5.5.7.1.35, critical absent (FALSE), extnValue OCTET STRING { CMW } }
//   CMW ::= CHOICE { json UTF8String, cbor OCTET STRING }       -- we emit and accept only `cbor`
//   cbor = CMW collection (a CBOR map, deterministic encoding):
//     {
//       "evidence":   [ "application/vnd.cloister.evidence+json", bstr(cloister-evidence/v1 bundle), 4 ],
//       "ohttp-keys": [ "application/ohttp-keys", bstr(n x (u16be(len) || KeyConfig)) ],
//       "transparency": [ "application/vnd.dev.sigstore.bundle.v0.3+json", bstr(Sigstore bundle), 1 ]  -- optional
//     }
//   Each member is a CMW record [type, value, ?indicator]; indicator 4 is bit 2, "evidence". The OHTTP
//   key configs use RFC 9458's own media type and encoding and carry no indicator (they are what the
//   evidence binds, not attestation material). Other labels are ignored, so later versions can add
//   records (for example the endorsements as their own record) without breaking this reader. The optional
//   `transparency` record is the measurements statement the server was published with (`cloister publish`,
//   docs/transparency.md "Clients"): reference values (indicator 1), which a client verifies as if it had fetched
//   them from the log; this reader only checks its shape, and caps its size.
import { decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { TAG, decodeOne, encodeTlv } from '../der.js';
import { ParseError } from '../errors.js';
import { decodeOhttpKeys, encodeOhttpKeys } from './ohttp/keyConfig.js';
import { OHTTP_KEYS_MEDIA_TYPE } from './ohttp/paths.js';

export { decodeOhttpKeys, encodeOhttpKeys, OHTTP_KEYS_MEDIA_TYPE };

export const ID_PE_CMW = '1.3.6.1.5.5.7.1.35';
export const EVIDENCE_MEDIA_TYPE = 'application/vnd.cloister.evidence+json';
export const CMW_LABEL = { evidence: 'evidence', ohttpKeys: 'ohttp-keys', transparency: 'transparency' } as const;
/** The Sigstore bundle media type (v0.3) of the `transparency` record. */
export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** The largest `transparency` record: a measurements bundle is a few KiB. */
export const MAX_TRANSPARENCY_BUNDLE_BYTES = 64 * 1024;
/** CMW indicator bits (RFC 9999 cm-ind), as the uint the record carries. */
export const CMW_INDICATOR = { referenceValues: 1, endorsements: 2, evidence: 4, attestationResults: 8, trustAnchors: 16 } as const;

export interface RaTlsAttestation {
  /** The `cloister-evidence/v1` bundle, JSON bytes exactly as issued. */
  readonly bundle: Uint8Array;
  /** The OHTTP key configurations (RFC 9458 KeyConfig), in order, without length prefixes. */
  readonly keyConfigs: readonly Uint8Array[];
  /** The Sigstore bundle of the measurements statement that lists this server's measurement, JSON bytes as published. */
  readonly transparencyBundle?: Uint8Array;
}

function malformed(message: string, field: string): never {
  throw new ParseError('MALFORMED_FIELD', message, { field });
}

/** The extnValue contents (DER of the CMW CHOICE, `cbor` arm) for a bundle and key configs. */
export function encodeRaTlsExtension(attestation: RaTlsAttestation): Uint8Array {
  const collection = new Map<string, CborValue>([
    [CMW_LABEL.evidence, [EVIDENCE_MEDIA_TYPE, attestation.bundle, CMW_INDICATOR.evidence]],
    [CMW_LABEL.ohttpKeys, [OHTTP_KEYS_MEDIA_TYPE, encodeOhttpKeys(attestation.keyConfigs)]],
  ]);
  if (attestation.transparencyBundle !== undefined) collection.set(CMW_LABEL.transparency, [SIGSTORE_BUNDLE_MEDIA_TYPE, attestation.transparencyBundle, CMW_INDICATOR.referenceValues]);
  return encodeTlv(TAG.OCTET_STRING, encodeCbor(collection));
}

function record(collection: ReadonlyMap<string, CborValue>, label: string, type: string, indicator: number | undefined): Uint8Array {
  const field = `cmw.${label}`;
  const r = collection.get(label);
  if (r === undefined) malformed(`CMW collection has no "${label}" record`, field);
  if (!Array.isArray(r) || r.length < 2 || r.length > 3) malformed(`${field} is not a CMW record [type, value, ?indicator]`, field);
  const [t, value, ind] = r as readonly CborValue[];
  if (t !== type) malformed(`${field} type is ${JSON.stringify(t)}, expected "${type}"`, `${field}.type`);
  if (!(value instanceof Uint8Array)) malformed(`${field} value is not a byte string`, `${field}.value`);
  if (ind !== indicator) malformed(`${field} indicator is ${typeof ind === 'number' ? ind : `a ${typeof ind}`}, expected ${indicator ?? 'none'}`, `${field}.indicator`);
  return value;
}

/** Decodes the extnValue contents of an id-pe-cmw extension written by encodeRaTlsExtension. */
export function decodeRaTlsExtension(extnValue: Uint8Array): RaTlsAttestation {
  let cbor: Uint8Array;
  try {
    const tlv = decodeOne(extnValue);
    if (tlv.tag === TAG.UTF8_STRING) malformed('the CMW uses the json form; only the cbor form is supported', 'cmw');
    if (tlv.tag !== TAG.OCTET_STRING) malformed(`the CMW is DER tag 0x${tlv.tag.toString(16)}, not the cbor form (OCTET STRING)`, 'cmw');
    cbor = tlv.value;
  } catch (cause) {
    if (cause instanceof ParseError && cause.code === 'MALFORMED_DER') throw new ParseError('MALFORMED_DER', `id-pe-cmw extension: ${cause.message}`, { field: 'cmw', cause });
    throw cause;
  }
  const collection = decodeCbor(cbor);
  if (!(collection instanceof Map)) malformed('the CMW is not a collection (a CBOR map)', 'cmw');
  const transparency = collection.has(CMW_LABEL.transparency) ? record(collection, CMW_LABEL.transparency, SIGSTORE_BUNDLE_MEDIA_TYPE, CMW_INDICATOR.referenceValues) : undefined;
  if (transparency !== undefined && transparency.length > MAX_TRANSPARENCY_BUNDLE_BYTES) malformed(`cmw.${CMW_LABEL.transparency} is ${transparency.length} bytes, more than ${MAX_TRANSPARENCY_BUNDLE_BYTES}`, `cmw.${CMW_LABEL.transparency}.value`);
  return {
    bundle: record(collection, CMW_LABEL.evidence, EVIDENCE_MEDIA_TYPE, CMW_INDICATOR.evidence),
    keyConfigs: decodeOhttpKeys(record(collection, CMW_LABEL.ohttpKeys, OHTTP_KEYS_MEDIA_TYPE, undefined), `cmw.${CMW_LABEL.ohttpKeys}.value`),
    ...(transparency === undefined ? {} : { transparencyBundle: transparency }),
  };
}
