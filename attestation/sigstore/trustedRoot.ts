// Sigstore trusted roots (sigstore/protobuf-specs, protos/sigstore_trustroot.proto, TrustedRoot in JSON,
// media type application/vnd.dev.sigstore.trustedroot+json;version=0.1): the keys and CAs a verifier trusts, each
// with the window in which it is trusted.
//
//   tlogs[], ctlogs[]:         { baseUrl, hashAlgorithm, publicKey: { rawBytes: b64 SPKI, keyDetails, validFor }, logId: { keyId } }
//   certificateAuthorities[]:  { subject, uri, certChain: { certificates: [{ rawBytes }] }, validFor }  (Fulcio; first
//   timestampAuthorities[]:    the same shape                                                          is the issuer)
//   validFor: { start, end? }  RFC 3339; a closed interval; start is required, a missing end is open
//
// A log key whose keyDetails this verifier does not read (PKCS1 RSA, ...) is kept with `spki` undefined: it never
// verifies anything, and the rest of the root stays usable. A validity window without its start is refused.
import { ParseError } from '../errors.js';
import { JsonFields, isObject, parseJsonText, type JsonObject } from './jsonFields.js';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

export interface ValidityWindow {
  readonly start: Date;
  readonly end: Date | undefined;
}

export interface TrustedLog {
  readonly baseUrl: string;
  /** The log's key, when it is of a scheme this verifier reads (PKIX_ECDSA_*, PKIX_ED25519); else undefined. */
  readonly spki: Uint8Array | undefined;
  readonly keyDetails: string;
  readonly validFor: ValidityWindow;
  readonly logId: Uint8Array;
}

export interface TrustedAuthority {
  readonly uri: string;
  readonly subject: { readonly organization?: string; readonly commonName?: string };
  /** DER certificates, the issuing (or TSA signing) certificate first, the root last. */
  readonly certChain: readonly Uint8Array[];
  readonly validFor: ValidityWindow;
}

export interface TrustedRoot {
  readonly tlogs: readonly TrustedLog[];
  readonly ctlogs: readonly TrustedLog[];
  readonly certificateAuthorities: readonly TrustedAuthority[];
  readonly timestampAuthorities: readonly TrustedAuthority[];
}

const WHAT = 'trusted root';
const READABLE_KEYS = /^PKIX_(ECDSA_P256_SHA_256|ECDSA_P384_SHA_384|ED25519)$/;

/** `at` within the closed window [start, end]. */
export function withinWindow(w: ValidityWindow, at: Date): boolean {
  return at >= w.start && (w.end === undefined || at <= w.end);
}

function readWindow(f: JsonFields, value: unknown, at: string): ValidityWindow | undefined {
  const o = f.object(value, at);
  if (o === undefined) return undefined;
  if (o.start === undefined) f.problem(`${at}.start`, 'missing (a validity window needs its start)');
  const start = o.start === undefined ? undefined : f.time(o.start, `${at}.start`);
  const end = o.end === undefined ? undefined : f.time(o.end, `${at}.end`);
  if (start === undefined || (o.end !== undefined && end === undefined)) return undefined;
  if (end !== undefined && end < start) { f.problem(`${at}.end`, 'is before the start'); return; }
  return { start, end };
}

function readLog(f: JsonFields, value: unknown, at: string): TrustedLog | undefined {
  const o = f.object(value, at);
  if (o === undefined) return undefined;
  const baseUrl = f.string(o.baseUrl, `${at}.baseUrl`, { nonEmpty: true });
  const key = f.object(o.publicKey, `${at}.publicKey`);
  const keyDetails = key === undefined ? undefined : f.string(key.keyDetails ?? 'PKIX_ECDSA_P256_SHA_256', `${at}.publicKey.keyDetails`);
  const rawBytes = key === undefined ? undefined : f.bytes(key.rawBytes, `${at}.publicKey.rawBytes`, { nonEmpty: true });
  const validFor = key === undefined ? undefined : readWindow(f, key.validFor, `${at}.publicKey.validFor`);
  const id = f.object(o.logId, `${at}.logId`);
  const logId = id === undefined ? undefined : f.bytes(id.keyId, `${at}.logId.keyId`, { nonEmpty: true });
  if (baseUrl === undefined || keyDetails === undefined || rawBytes === undefined || validFor === undefined || logId === undefined) return undefined;
  return Object.freeze({ baseUrl, spki: READABLE_KEYS.test(keyDetails) ? rawBytes : undefined, keyDetails, validFor, logId });
}

function readAuthority(f: JsonFields, value: unknown, at: string): TrustedAuthority | undefined {
  const o = f.object(value, at);
  if (o === undefined) return undefined;
  const uri = o.uri === undefined ? '' : f.string(o.uri, `${at}.uri`);
  const subject: JsonObject = isObject(o.subject) ? o.subject : {};
  const chain = f.object(o.certChain, `${at}.certChain`);
  const list = chain === undefined ? undefined : f.array(chain.certificates, `${at}.certChain.certificates`, { nonEmpty: true });
  const certChain = (list ?? []).map((c, i) => f.bytes(isObject(c) ? c.rawBytes : c, `${at}.certChain.certificates[${i}].rawBytes`, { nonEmpty: true }));
  const validFor = readWindow(f, o.validFor, `${at}.validFor`);
  if (uri === undefined || list === undefined || validFor === undefined || certChain.some((c) => c === undefined)) return undefined;
  return Object.freeze({
    uri,
    subject: Object.freeze({
      ...(typeof subject.organization === 'string' ? { organization: subject.organization } : {}),
      ...(typeof subject.commonName === 'string' ? { commonName: subject.commonName } : {}),
    }),
    certChain: Object.freeze(certChain as Uint8Array[]),
    validFor,
  });
}

/** Parses a trusted root from its JSON text or bytes (or a value already parsed); MALFORMED_TRUSTED_ROOT listing every bad field. */
export function parseTrustedRoot(input: string | Uint8Array | object): TrustedRoot {
  const value = typeof input === 'string' || input instanceof Uint8Array ? parseJsonText(input, 'MALFORMED_TRUSTED_ROOT', WHAT) : input;
  const f = new JsonFields();
  const o = f.object(value, '$');
  if (o === undefined) return f.fail('MALFORMED_TRUSTED_ROOT', WHAT);
  if (o.mediaType !== undefined && o.mediaType !== TRUSTED_ROOT_MEDIA_TYPE) {
    const actual = JSON.stringify(o.mediaType);
    throw new ParseError('UNSUPPORTED_VERSION', `trusted root media type ${actual} is not ${TRUSTED_ROOT_MEDIA_TYPE}`, { field: '$.mediaType', expected: TRUSTED_ROOT_MEDIA_TYPE, actual });
  }
  const list = <T>(name: string, read: (f: JsonFields, v: unknown, at: string) => T | undefined): (T | undefined)[] => (f.array(o[name] ?? [], `$.${name}`) ?? []).map((v, i) => read(f, v, `$.${name}[${i}]`));
  const tlogs = list('tlogs', readLog);
  const ctlogs = list('ctlogs', readLog);
  const cas = list('certificateAuthorities', readAuthority);
  const tsas = list('timestampAuthorities', readAuthority);
  const ok = [tlogs, ctlogs, cas, tsas].every((l) => l.every((x) => x !== undefined));
  const root = ok
    ? { tlogs: Object.freeze(tlogs as TrustedLog[]), ctlogs: Object.freeze(ctlogs as TrustedLog[]), certificateAuthorities: Object.freeze(cas as TrustedAuthority[]), timestampAuthorities: Object.freeze(tsas as TrustedAuthority[]) }
    : undefined;
  return Object.freeze(f.done('MALFORMED_TRUSTED_ROOT', WHAT, root));
}
