// DSSE, the Dead Simple Signing Envelope (secure-systems-lab/dsse v1.0.0, envelope.md and protocol.md):
//
//   { "payloadType": "<media type>", "payload": "<base64 body>", "signatures": [ { "keyid": "<optional>", "sig": "<base64>" } ] }
//
// What is signed is the pre-authentication encoding of type and body, never the JSON:
//
//   PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
//
// with LEN the ASCII decimal byte length, no leading zeroes, and SP one space (0x20). A verifier accepts the envelope
// when at least `threshold` distinct trusted keys each verify one of its signatures; a signature whose keyid is set
// is tried only with keys of that keyid (an unset keyid, on either side, matches any key). Base64 is accepted in the
// standard and the URL-safe alphabet, as the specification asks; serialization writes standard padded base64.
import { concatBytes, toBase64 } from '../bytes.js';
import { ParseError, VerificationError } from '../errors.js';
import { JsonFields, isObject, parseJsonText } from './jsonFields.js';
import type { SignatureVerifier } from './sigstoreKeys.js';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface DsseSignature {
  /** Unset when the envelope carries no keyid (or an empty one). */
  readonly keyid: string | undefined;
  readonly sig: Uint8Array;
}

export interface DsseEnvelope {
  readonly payloadType: string;
  readonly payload: Uint8Array;
  readonly signatures: readonly DsseSignature[];
}

/** Reads an envelope already parsed from JSON, at `path` of its document; problems go to `fields`. */
export function readDsseEnvelope(fields: JsonFields, value: unknown, path: string): DsseEnvelope | undefined {
  const o = fields.object(value, path);
  if (o === undefined) return undefined;
  const payloadType = fields.string(o.payloadType, `${path}.payloadType`, { nonEmpty: true });
  const payload = fields.bytes(o.payload, `${path}.payload`);
  const list = fields.array(o.signatures, `${path}.signatures`, { nonEmpty: true });
  const signatures: DsseSignature[] = [];
  list?.forEach((s, i) => {
    const at = `${path}.signatures[${i}]`;
    if (!isObject(s)) { fields.problem(at, 'must be an object'); return; }
    const sig = fields.bytes(s.sig, `${at}.sig`, { nonEmpty: true });
    const keyid = s.keyid === undefined ? '' : fields.string(s.keyid, `${at}.keyid`);
    if (sig !== undefined && keyid !== undefined) signatures.push(Object.freeze({ keyid: keyid === '' ? undefined : keyid, sig }));
    return undefined;
  });
  if (payloadType === undefined || payload === undefined || list === undefined || signatures.length !== list.length) return undefined;
  return Object.freeze({ payloadType, payload, signatures: Object.freeze(signatures) });
}

/** Parses an envelope from its JSON text (or bytes, or a value already parsed); MALFORMED_DSSE listing every bad field. */
export function parseDsseEnvelope(input: string | Uint8Array | object): DsseEnvelope {
  const value = typeof input === 'string' || input instanceof Uint8Array ? parseJsonText(input, 'MALFORMED_DSSE', 'DSSE envelope') : input;
  const fields = new JsonFields();
  return fields.done('MALFORMED_DSSE', 'DSSE envelope', readDsseEnvelope(fields, value, '$'));
}

/** The envelope as the JSON object the specification (and a Sigstore bundle's `dsseEnvelope`) holds. */
export function dsseEnvelopeJson(e: DsseEnvelope): Record<string, unknown> {
  return {
    payload: toBase64(e.payload),
    payloadType: e.payloadType,
    signatures: e.signatures.map((s) => (s.keyid === undefined ? { sig: toBase64(s.sig) } : { keyid: s.keyid, sig: toBase64(s.sig) })),
  };
}

export function serializeDsseEnvelope(e: DsseEnvelope): string {
  return JSON.stringify(dsseEnvelopeJson(e));
}

const UTF8 = new TextEncoder();

/** PAE(type, body): the bytes a DSSE signature covers. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = UTF8.encode(payloadType);
  return concatBytes(UTF8.encode(`DSSEv1 ${type.length} `), type, UTF8.encode(` ${payload.length} `), payload);
}

/** A key trusted to sign envelopes, with the keyid it signs under (if any). */
export interface DsseKey {
  readonly keyid?: string;
  readonly verifier: SignatureVerifier;
}

export interface DsseVerdict {
  readonly payloadType: string;
  readonly payload: Uint8Array;
  /** Index in the envelope of each signature that verified, and the key that verified it. */
  readonly verified: readonly { readonly signature: number; readonly key: DsseKey }[];
}

/**
 * Verifies the envelope with `keys`: at least `threshold` (default 1) distinct keys must each verify a signature over
 * PAE(payloadType, payload). DSSE_SIGNATURE_INVALID otherwise, naming how many verified.
 */
export async function verifyDsseEnvelope(envelope: DsseEnvelope, keys: readonly DsseKey[], { threshold = 1 }: { threshold?: number } = {}): Promise<DsseVerdict> {
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new ParseError('MALFORMED_POLICY', `DSSE threshold ${threshold} is not a positive integer`, { field: 'threshold' });
  const message = pae(envelope.payloadType, envelope.payload);
  const verified: { signature: number; key: DsseKey }[] = [];
  const used = new Set<DsseKey>();
  for (const [i, s] of envelope.signatures.entries()) {
    for (const key of keys) {
      if (used.has(key) || (s.keyid !== undefined && key.keyid !== undefined && key.keyid !== s.keyid)) continue;
      if (await key.verifier.verify(s.sig, message)) {
        verified.push({ signature: i, key });
        used.add(key);
        break;
      }
    }
  }
  if (verified.length < threshold) {
    throw new VerificationError('DSSE_SIGNATURE_INVALID', `${verified.length} of the envelope's ${envelope.signatures.length} signatures verify with the ${keys.length} trusted keys, ${threshold} required`, {
      field: 'signatures',
      expected: `>= ${threshold}`,
      actual: String(verified.length),
    });
  }
  return Object.freeze({ payloadType: envelope.payloadType, payload: envelope.payload, verified: Object.freeze(verified) });
}

/** Signs PAE(payloadType, payload) with each signer; `sign` returns the signature bytes (ECDSA in DER, as Sigstore). */
export async function signDsseEnvelope(
  payloadType: string,
  payload: Uint8Array,
  signers: readonly { readonly keyid?: string; sign(message: Uint8Array): Uint8Array | Promise<Uint8Array> }[],
): Promise<DsseEnvelope> {
  const message = pae(payloadType, payload);
  const signatures: DsseSignature[] = [];
  for (const s of signers) signatures.push(Object.freeze({ keyid: s.keyid === '' ? undefined : s.keyid, sig: await s.sign(message) }));
  return Object.freeze({ payloadType, payload, signatures: Object.freeze(signatures) });
}
