// What a Rekor log entry records, compared with what the bundle carries, and the signed entry timestamp (SET).
//
// The entry body (`canonicalizedBody`, the bytes the log's leaf hashes) is JSON of one of these types (Rekor's
// pkg/types, rekor-tiles' api/proto for 0.0.2):
//
//   hashedrekord 0.0.1  spec.data.hash {algorithm "sha256", value hex}; spec.signature {content b64, publicKey.content b64 PEM}
//   hashedrekord 0.0.2  spec.hashedRekordV002 {data {algorithm "SHA2_256", digest b64}, signature {content b64,
//                       verifier {publicKey.rawBytes | x509Certificate.rawBytes, keyDetails}}}
//                       (for a DSSE bundle, Rekor v2's hashedrekord-over-DSSE: digest = SHA-256(PAE), signature = the envelope's)
//   dsse 0.0.1          spec.payloadHash {sha256 hex}; spec.signatures [{signature b64, verifier b64 PEM}]
//   dsse 0.0.2          spec.dsseV002 {payloadHash {SHA2_256 b64}, signatures [{content b64, verifier {...}}]}
//   intoto 0.0.2        spec.content.envelope.signatures [{sig: b64 of the b64 signature, publicKey b64 PEM}]; spec.content.payloadHash {sha256 hex}
//
// Each is checked against the bundle: the signature(s), the signing key or certificate, and the digest of the
// artifact or DSSE payload. The SET (Rekor v1) is ECDSA over the RFC 8785 canonical JSON of
// {"body", "integratedTime", "logID", "logIndex"} (members in that sorted order, body in base64, logID in hex).
import { bytesEqual, decodePem, toBase64, toHex } from '../bytes.js';
import { ParseError, VerificationError } from '../errors.js';
import type { Hasher } from '../hash.js';
import { pae } from './dsse.js';
import { decodeBase64Field, isObject, parseJsonText, type JsonObject } from './jsonFields.js';
import type { BundleContent, TlogEntry } from './sigstoreBundle.js';
import type { SignatureVerifier } from './sigstoreKeys.js';

/** Who signed, as the entry must name them: the leaf certificate (keyless) or the key's SubjectPublicKeyInfo. */
export interface EntrySigner {
  readonly certificate: Uint8Array | undefined;
  readonly spki: Uint8Array;
}

const KINDS = ['hashedrekord/0.0.1', 'hashedrekord/0.0.2', 'dsse/0.0.1', 'dsse/0.0.2', 'intoto/0.0.2'] as const;

function malformed(message: string, field = 'canonicalizedBody'): never {
  throw new ParseError('MALFORMED_TLOG_ENTRY', message, { field });
}

function mismatch(message: string, field: string, expected?: string, actual?: string): never {
  throw new VerificationError('TLOG_ENTRY_MISMATCH', message, { field, ...(expected === undefined ? {} : { expected }), ...(actual === undefined ? {} : { actual }) });
}

// The paths below are a fixed set of literals: each is split once.
const PATH_KEYS = new Map<string, readonly string[]>();

/** Walks `path` (dot-separated members) in the body; MALFORMED_TLOG_ENTRY naming it when a member is absent or of another type. */
function at(o: JsonObject, path: string): unknown {
  let keys = PATH_KEYS.get(path);
  if (keys === undefined) PATH_KEYS.set(path, (keys = path.split('.')));
  let v: unknown = o;
  for (const key of keys) {
    if (!isObject(v)) malformed(`entry body has no ${path}`, `canonicalizedBody.${path}`);
    v = v[key];
  }
  if (v === undefined) malformed(`entry body has no ${path}`, `canonicalizedBody.${path}`);
  return v;
}

function str(o: JsonObject, path: string): string {
  const v = at(o, path);
  return typeof v === 'string' ? v : malformed(`entry body ${path} is not a string`, `canonicalizedBody.${path}`);
}

function b64(o: JsonObject, path: string): Uint8Array {
  return decodeBase64Field(str(o, path)) ?? malformed(`entry body ${path} is not base64`, `canonicalizedBody.${path}`);
}

function hex(o: JsonObject, path: string): Uint8Array {
  const text = str(o, path);
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(text)) malformed(`entry body ${path} is not hex`, `canonicalizedBody.${path}`);
  return Uint8Array.from(text.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
}

function list(o: JsonObject, path: string): JsonObject[] {
  const v = at(o, path);
  if (!Array.isArray(v) || !v.every(isObject)) malformed(`entry body ${path} is not an array of objects`, `canonicalizedBody.${path}`);
  return v;
}

/** The DER a 0.0.1 body's verifier names: base64 of a PEM certificate or public key. */
function pemVerifier(o: JsonObject, path: string): Uint8Array {
  const text = new TextDecoder().decode(b64(o, path));
  const block = decodePem(text)[0];
  if (block === undefined || (block.label !== 'CERTIFICATE' && block.label !== 'PUBLIC KEY')) malformed(`entry body ${path} is not a PEM certificate or public key`, `canonicalizedBody.${path}`);
  return block.der;
}

function checkVerifierDer(der: Uint8Array, signer: EntrySigner, field: string): void {
  const ours = signer.certificate ?? signer.spki;
  if (!bytesEqual(der, ours)) mismatch(`the entry names another ${signer.certificate === undefined ? 'public key' : 'certificate'} than the bundle's`, field);
}

function checkVerifierV002(o: JsonObject, path: string, signer: EntrySigner): void {
  const v = at(o, path);
  if (!isObject(v)) malformed(`entry body ${path} is not an object`, `canonicalizedBody.${path}`);
  if (v.x509Certificate !== undefined) {
    if (signer.certificate === undefined) mismatch('the entry names a certificate, the bundle a public key', `canonicalizedBody.${path}`);
    checkVerifierDer(b64(o, `${path}.x509Certificate.rawBytes`), signer, `canonicalizedBody.${path}.x509Certificate`); return;
  }
  if (signer.certificate !== undefined) mismatch('the entry names a public key, the bundle a certificate', `canonicalizedBody.${path}`);
  checkVerifierDer(b64(o, `${path}.publicKey.rawBytes`), signer, `canonicalizedBody.${path}.publicKey`);
}

function checkDigest(actual: Uint8Array, expected: Uint8Array, what: string, field: string): void {
  if (!bytesEqual(actual, expected)) mismatch(`the entry records ${what} ${toHex(actual)}, the bundle's is ${toHex(expected)}`, field, toHex(expected), toHex(actual));
}

function sigField(sig: Uint8Array, expected: Uint8Array, field: string): void {
  if (!bytesEqual(sig, expected)) mismatch('the entry records another signature than the bundle carries', field, toBase64(expected), toBase64(sig));
}

/** The DSSE signature the bundle carries, where the entry type holds exactly one. */
function onlySignature(content: BundleContent & { kind: 'dsseEnvelope' }, field: string): Uint8Array {
  const [first, ...rest] = content.envelope.signatures;
  if (first === undefined || rest.length > 0) mismatch(`the envelope carries ${content.envelope.signatures.length} signatures, the entry type records one`, field);
  return first.sig;
}

/** The signatures of a multi-signature entry, each with its verifier, must be exactly the envelope's. */
function checkSignatureSet(recorded: readonly Uint8Array[], content: BundleContent & { kind: 'dsseEnvelope' }, field: string): void {
  const ours = content.envelope.signatures.map((s) => s.sig);
  if (recorded.length !== ours.length || !ours.every((s) => recorded.some((r) => bytesEqual(r, s)))) mismatch(`the entry records ${recorded.length} signatures that are not the envelope's ${ours.length}`, field);
}

/**
 * Checks that the entry body records this bundle: its kind and version are the entry's, and its signature, signer and
 * digest are the bundle's. `artifactSha256` is the artifact's digest (messageSignature bundles).
 */
export async function checkEntryBody(entry: TlogEntry, content: BundleContent, signer: EntrySigner, artifactSha256: Uint8Array | undefined, hasher: Hasher): Promise<void> {
  const value = parseJsonText(entry.canonicalizedBody, 'MALFORMED_TLOG_ENTRY', 'log entry body');
  if (!isObject(value)) malformed('entry body is not a JSON object');
  const kind = str(value, 'kind');
  const version = str(value, 'apiVersion');
  if (kind !== entry.kind || version !== entry.version) mismatch(`the entry body is ${kind} ${version}, its kindVersion says ${entry.kind} ${entry.version}`, 'kindVersion', `${entry.kind}/${entry.version}`, `${kind}/${version}`);
  const type = `${kind}/${version}`;
  if (!(KINDS as readonly string[]).includes(type)) malformed(`entry type ${type} is not one this verifier reads (${KINDS.join(', ')})`, 'kindVersion');
  const sha256 = (data: Uint8Array): Promise<Uint8Array> => hasher.digest('SHA-256', [data]);
  if (content.kind === 'messageSignature') {
    if (kind !== 'hashedrekord') mismatch(`a ${kind} entry does not record a message signature`, 'kindVersion', 'hashedrekord', kind);
    if (artifactSha256 === undefined) throw new ParseError('MALFORMED_POLICY', 'checking a hashedrekord entry needs the artifact', { field: 'artifact' });
    if (version === '0.0.1') {
      const alg = str(value, 'spec.data.hash.algorithm');
      if (alg !== 'sha256') malformed(`hashedrekord hash algorithm ${alg} is not sha256`, 'canonicalizedBody.spec.data.hash.algorithm');
      checkDigest(hex(value, 'spec.data.hash.value'), artifactSha256, 'the artifact digest', 'canonicalizedBody.spec.data.hash.value');
      sigField(b64(value, 'spec.signature.content'), content.signature, 'canonicalizedBody.spec.signature.content');
      checkVerifierDer(pemVerifier(value, 'spec.signature.publicKey.content'), signer, 'canonicalizedBody.spec.signature.publicKey'); return;
    }
    checkDigest(b64(value, 'spec.hashedRekordV002.data.digest'), artifactSha256, 'the artifact digest', 'canonicalizedBody.spec.hashedRekordV002.data.digest');
    sigField(b64(value, 'spec.hashedRekordV002.signature.content'), content.signature, 'canonicalizedBody.spec.hashedRekordV002.signature.content');
    checkVerifierV002(value, 'spec.hashedRekordV002.signature.verifier', signer); return;
  }
  const env = content.envelope;
  switch (type) {
    case 'hashedrekord/0.0.2': {
      checkDigest(b64(value, 'spec.hashedRekordV002.data.digest'), await sha256(pae(env.payloadType, env.payload)), 'the digest of the envelope\'s PAE', 'canonicalizedBody.spec.hashedRekordV002.data.digest');
      sigField(b64(value, 'spec.hashedRekordV002.signature.content'), onlySignature(content, 'canonicalizedBody.spec.hashedRekordV002.signature'), 'canonicalizedBody.spec.hashedRekordV002.signature.content');
      checkVerifierV002(value, 'spec.hashedRekordV002.signature.verifier', signer); return;
    }
    case 'dsse/0.0.1': {
      checkDigest(hex(value, 'spec.payloadHash.value'), await sha256(env.payload), 'the payload digest', 'canonicalizedBody.spec.payloadHash');
      const sigs = list(value, 'spec.signatures');
      checkSignatureSet(sigs.map((s) => b64(s, 'signature')), content, 'canonicalizedBody.spec.signatures');
      for (const s of sigs) checkVerifierDer(pemVerifier(s, 'verifier'), signer, 'canonicalizedBody.spec.signatures.verifier');
      return;
    }
    case 'dsse/0.0.2': {
      checkDigest(b64(value, 'spec.dsseV002.payloadHash.digest'), await sha256(env.payload), 'the payload digest', 'canonicalizedBody.spec.dsseV002.payloadHash');
      const sigs = list(value, 'spec.dsseV002.signatures');
      checkSignatureSet(sigs.map((s) => b64(s, 'content')), content, 'canonicalizedBody.spec.dsseV002.signatures');
      for (const s of sigs) checkVerifierV002(s, 'verifier', signer);
      return;
    }
    case 'intoto/0.0.2': {
      const sigs = list(value, 'spec.content.envelope.signatures');
      const [only] = sigs;
      if (only === undefined || sigs.length !== 1) mismatch(`the intoto entry records ${sigs.length} signatures, not one`, 'canonicalizedBody.spec.content.envelope.signatures');
      // The signature is base64 twice over: the entry holds the envelope's base64 text, base64-encoded again.
      const inner = decodeBase64Field(new TextDecoder().decode(b64(only, 'sig'))) ?? mismatch('the intoto entry\'s signature is not base64 of a base64 signature, so not the envelope\'s', 'canonicalizedBody.spec.content.envelope.signatures.sig');
      sigField(inner, onlySignature(content, 'canonicalizedBody.spec.content.envelope.signatures'), 'canonicalizedBody.spec.content.envelope.signatures.sig');
      checkVerifierDer(pemVerifier(only, 'publicKey'), signer, 'canonicalizedBody.spec.content.envelope.signatures.publicKey');
      checkDigest(hex(value, 'spec.content.payloadHash.value'), await sha256(env.payload), 'the payload digest', 'canonicalizedBody.spec.content.payloadHash'); return;
    }
    default:
      return mismatch(`a ${type} entry does not record a DSSE envelope`, 'kindVersion');
  }
}

/** The bytes a Rekor v1 signed entry timestamp signs (RFC 8785 canonical JSON; every member is a string or a safe integer). */
export function signedEntryTimestampMessage(entry: TlogEntry): Uint8Array {
  return new TextEncoder().encode(`{"body":"${toBase64(entry.canonicalizedBody)}","integratedTime":${entry.integratedTime},"logID":"${toHex(entry.logId)}","logIndex":${entry.logIndex}}`);
}

/** Verifies the SET with the log's key; INCLUSION_PROMISE_INVALID when it does not. */
export async function verifySignedEntryTimestamp(entry: TlogEntry, logKey: SignatureVerifier): Promise<void> {
  if (entry.signedEntryTimestamp === undefined) throw new VerificationError('TLOG_INCLUSION_MISSING', 'the entry carries no signed entry timestamp', { field: 'inclusionPromise' });
  if (!(await logKey.verify(entry.signedEntryTimestamp, signedEntryTimestampMessage(entry)))) {
    throw new VerificationError('INCLUSION_PROMISE_INVALID', `the signed entry timestamp of entry ${entry.logIndex} does not verify with the key of log ${toHex(entry.logId)}`, { field: 'inclusionPromise.signedEntryTimestamp' });
  }
}
