// Sigstore bundles (sigstore/protobuf-specs, protos/sigstore_bundle.proto and sigstore_rekor.proto, in their JSON
// form), versions 0.1, 0.2 and 0.3:
//
//   { "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",      (or ...bundle+json;version=0.1|0.2|0.3)
//     "verificationMaterial": {
//        one of  "publicKey": { "hint": "..." }                            a managed key, given to the verifier
//                "x509CertificateChain": { "certificates": [{ "rawBytes": b64 }, ...] }   0.1 and 0.2; leaf first
//                "certificate": { "rawBytes": b64 }                        0.3: the leaf alone
//        "tlogEntries": [ { "logIndex": "N", "logId": { "keyId": b64 }, "kindVersion": { "kind", "version" },
//                           "integratedTime": "N" (Rekor v1; absent in Rekor v2),
//                           "inclusionPromise": { "signedEntryTimestamp": b64 }            required in 0.1
//                           "inclusionProof": { "logIndex", "rootHash", "treeSize", "hashes": [b64],
//                                               "checkpoint": { "envelope": "<signed note>" } }  required from 0.2
//                           "canonicalizedBody": b64 } ],
//        "timestampVerificationData": { "rfc3161Timestamps": [{ "signedTimestamp": b64 }] } },
//     one of "messageSignature": { "messageDigest": { "algorithm": "SHA2_256", "digest": b64 }, "signature": b64 }
//            "dsseEnvelope": { DSSE envelope, dsse.ts } }
//
// parseSigstoreBundle checks shape only and lists every bad field (MALFORMED_SIGSTORE_BUNDLE); a media type of
// another version is UNSUPPORTED_VERSION. Verification is verifyBundle.ts's.
import { toBase64 } from '../bytes.js';
import { ParseError } from '../errors.js';
import { HASH_SIZE } from '../transparency/merkle.js';
import { dsseEnvelopeJson, readDsseEnvelope, type DsseEnvelope } from './dsse.js';
import { JsonFields, isObject, parseJsonText, type JsonObject } from './jsonFields.js';

export const BUNDLE_MEDIA_TYPE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export const BUNDLE_MEDIA_TYPES: Readonly<Record<string, BundleVersion>> = {
  'application/vnd.dev.sigstore.bundle+json;version=0.1': '0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2': '0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3': '0.3',
  [BUNDLE_MEDIA_TYPE_V03]: '0.3',
};

export type BundleVersion = '0.1' | '0.2' | '0.3';

export type KeyMaterial =
  | { readonly kind: 'publicKey'; readonly hint: string }
  | { readonly kind: 'x509CertificateChain'; readonly certificates: readonly Uint8Array[] }
  | { readonly kind: 'certificate'; readonly certificate: Uint8Array };

export interface InclusionProofJson {
  readonly logIndex: number;
  readonly rootHash: Uint8Array;
  readonly treeSize: number;
  readonly hashes: readonly Uint8Array[];
  /** The signed checkpoint note; only version 0.1 bundles may lack it (then the root hash is not signed, and the promise stands for the entry). */
  readonly checkpoint: string | undefined;
}

export interface TlogEntry {
  readonly logIndex: number;
  readonly logId: Uint8Array;
  readonly kind: string;
  readonly version: string;
  /** POSIX seconds; 0 when the entry has none (Rekor v2). */
  readonly integratedTime: number;
  readonly signedEntryTimestamp: Uint8Array | undefined;
  readonly inclusionProof: InclusionProofJson | undefined;
  readonly canonicalizedBody: Uint8Array;
}

export type BundleContent =
  | { readonly kind: 'messageSignature'; readonly messageDigest: { readonly algorithm: string; readonly digest: Uint8Array } | undefined; readonly signature: Uint8Array }
  | { readonly kind: 'dsseEnvelope'; readonly envelope: DsseEnvelope };

export interface SigstoreBundle {
  readonly mediaType: string;
  readonly version: BundleVersion;
  readonly keyMaterial: KeyMaterial;
  readonly tlogEntries: readonly TlogEntry[];
  /** DER RFC 3161 timestamps (TimeStampResp or bare tokens, as stored). */
  readonly rfc3161Timestamps: readonly Uint8Array[];
  readonly content: BundleContent;
}

const WHAT = 'Sigstore bundle';

function readKeyMaterial(f: JsonFields, vm: JsonObject, version: BundleVersion): KeyMaterial | undefined {
  const present = (['publicKey', 'x509CertificateChain', 'certificate'] as const).filter((k) => vm[k] !== undefined);
  if (present.length !== 1) { f.problem('$.verificationMaterial', `must hold exactly one of publicKey, x509CertificateChain, certificate (holds ${present.join(', ') || 'none'})`); return; }
  const kind = present[0] as (typeof present)[number];
  const at = `$.verificationMaterial.${kind}`;
  const o = f.object(vm[kind], at);
  if (o === undefined) return undefined;
  if (kind === 'publicKey') {
    const hint = o.hint === undefined ? '' : f.string(o.hint, `${at}.hint`);
    return hint === undefined ? undefined : { kind, hint };
  }
  if (kind === 'certificate') {
    if (version !== '0.3') { f.problem(at, `a single certificate needs bundle version 0.3, this is ${version}`); return; }
    const certificate = f.bytes(o.rawBytes, `${at}.rawBytes`, { nonEmpty: true });
    return certificate === undefined ? undefined : { kind, certificate };
  }
  if (version === '0.3') { f.problem(at, 'bundle version 0.3 carries the leaf certificate alone (certificate), not a chain'); return; }
  const list = f.array(o.certificates, `${at}.certificates`, { nonEmpty: true });
  const certificates = (list ?? []).map((c, i) => f.bytes(isObject(c) ? c.rawBytes : c, `${at}.certificates[${i}].rawBytes`, { nonEmpty: true }));
  return list === undefined || certificates.some((c) => c === undefined) ? undefined : { kind, certificates: Object.freeze(certificates as Uint8Array[]) };
}

function readProof(f: JsonFields, value: unknown, at: string, version: BundleVersion): InclusionProofJson | undefined {
  const o = f.object(value, at);
  if (o === undefined) return undefined;
  const logIndex = f.count(o.logIndex, `${at}.logIndex`);
  const treeSize = f.count(o.treeSize, `${at}.treeSize`);
  const rootHash = f.bytes(o.rootHash, `${at}.rootHash`, { size: HASH_SIZE });
  const hashes = (f.array(o.hashes ?? [], `${at}.hashes`) ?? []).map((h, i) => f.bytes(h, `${at}.hashes[${i}]`, { size: HASH_SIZE }));
  const cp = o.checkpoint === undefined && version === '0.1' ? undefined : f.object(o.checkpoint, `${at}.checkpoint`);
  const checkpoint = cp === undefined ? undefined : f.string(cp.envelope, `${at}.checkpoint.envelope`, { nonEmpty: true });
  if (logIndex !== undefined && treeSize !== undefined && logIndex >= treeSize) f.problem(`${at}.logIndex`, `${logIndex} is not below the tree size ${treeSize}`);
  if (logIndex === undefined || treeSize === undefined || rootHash === undefined || (checkpoint === undefined && version !== '0.1') || hashes.some((h) => h === undefined)) return undefined;
  return { logIndex, treeSize, rootHash, hashes: Object.freeze(hashes as Uint8Array[]), checkpoint };
}

function readTlogEntry(f: JsonFields, value: unknown, at: string, version: BundleVersion): TlogEntry | undefined {
  const o = f.object(value, at);
  if (o === undefined) return undefined;
  const before = f.problems.length;
  const logIndex = f.count(o.logIndex, `${at}.logIndex`);
  const logIdObject = f.object(o.logId, `${at}.logId`);
  const logId = logIdObject === undefined ? undefined : f.bytes(logIdObject.keyId, `${at}.logId.keyId`, { nonEmpty: true });
  const kv = f.object(o.kindVersion, `${at}.kindVersion`);
  const kind = kv === undefined ? undefined : f.string(kv.kind, `${at}.kindVersion.kind`, { nonEmpty: true });
  const kindVersion = kv === undefined ? undefined : f.string(kv.version, `${at}.kindVersion.version`, { nonEmpty: true });
  const integratedTime = o.integratedTime === undefined ? 0 : f.count(o.integratedTime, `${at}.integratedTime`);
  let signedEntryTimestamp: Uint8Array | undefined;
  if (o.inclusionPromise !== undefined) {
    const promise = f.object(o.inclusionPromise, `${at}.inclusionPromise`);
    signedEntryTimestamp = promise === undefined ? undefined : f.bytes(promise.signedEntryTimestamp, `${at}.inclusionPromise.signedEntryTimestamp`, { nonEmpty: true });
  } else if (version === '0.1') {
    f.problem(`${at}.inclusionPromise`, 'missing (bundle version 0.1 requires the signed entry timestamp)');
  }
  const inclusionProof = o.inclusionProof === undefined ? undefined : readProof(f, o.inclusionProof, `${at}.inclusionProof`, version);
  if (o.inclusionProof === undefined && version !== '0.1') f.problem(`${at}.inclusionProof`, `missing (bundle version ${version} requires an inclusion proof)`);
  const canonicalizedBody = f.bytes(o.canonicalizedBody, `${at}.canonicalizedBody`, { nonEmpty: true });
  if (f.problems.length > before || logIndex === undefined || logId === undefined || kind === undefined || kindVersion === undefined || integratedTime === undefined || canonicalizedBody === undefined) return undefined;
  return Object.freeze({ logIndex, logId, kind, version: kindVersion, integratedTime, signedEntryTimestamp, inclusionProof, canonicalizedBody });
}

function readContent(f: JsonFields, o: JsonObject): BundleContent | undefined {
  const present = (['messageSignature', 'dsseEnvelope'] as const).filter((k) => o[k] !== undefined);
  if (present.length !== 1) { f.problem('$', `must hold exactly one of messageSignature, dsseEnvelope (holds ${present.join(', ') || 'none'})`); return; }
  if (present[0] === 'dsseEnvelope') {
    const envelope = readDsseEnvelope(f, o.dsseEnvelope, '$.dsseEnvelope');
    return envelope === undefined ? undefined : { kind: 'dsseEnvelope', envelope };
  }
  const m = f.object(o.messageSignature, '$.messageSignature');
  if (m === undefined) return undefined;
  const signature = f.bytes(m.signature, '$.messageSignature.signature', { nonEmpty: true });
  let messageDigest: { algorithm: string; digest: Uint8Array } | undefined;
  if (m.messageDigest !== undefined) {
    const d = f.object(m.messageDigest, '$.messageSignature.messageDigest');
    const algorithm = d === undefined ? undefined : f.string(d.algorithm, '$.messageSignature.messageDigest.algorithm', { nonEmpty: true });
    const digest = d === undefined ? undefined : f.bytes(d.digest, '$.messageSignature.messageDigest.digest', { nonEmpty: true });
    if (algorithm === undefined || digest === undefined) return undefined;
    messageDigest = { algorithm, digest };
  }
  return signature === undefined ? undefined : { kind: 'messageSignature', messageDigest, signature };
}

/** Parses a bundle from its JSON text or bytes (or a value already parsed). */
export function parseSigstoreBundle(input: string | Uint8Array | object): SigstoreBundle {
  const value = typeof input === 'string' || input instanceof Uint8Array ? parseJsonText(input, 'MALFORMED_SIGSTORE_BUNDLE', WHAT) : input;
  const f = new JsonFields();
  const o = f.object(value, '$');
  if (o === undefined) return f.fail('MALFORMED_SIGSTORE_BUNDLE', WHAT);
  const mediaType = f.string(o.mediaType, '$.mediaType');
  if (mediaType === undefined) return f.fail('MALFORMED_SIGSTORE_BUNDLE', WHAT);
  const version = BUNDLE_MEDIA_TYPES[mediaType];
  if (version === undefined) {
    throw new ParseError('UNSUPPORTED_VERSION', `bundle media type "${mediaType}" is not a Sigstore bundle of version 0.1, 0.2 or 0.3`, { field: '$.mediaType', expected: BUNDLE_MEDIA_TYPE_V03, actual: mediaType });
  }
  const vm = f.object(o.verificationMaterial, '$.verificationMaterial');
  const keyMaterial = vm === undefined ? undefined : readKeyMaterial(f, vm, version);
  const entries = vm === undefined ? [] : (f.array(vm.tlogEntries ?? [], '$.verificationMaterial.tlogEntries') ?? []).map((e, i) => readTlogEntry(f, e, `$.verificationMaterial.tlogEntries[${i}]`, version));
  const timestamps: (Uint8Array | undefined)[] = [];
  const tvd = vm?.timestampVerificationData;
  if (tvd !== undefined) {
    const t = f.object(tvd, '$.verificationMaterial.timestampVerificationData');
    (f.array(t?.rfc3161Timestamps ?? [], '$.verificationMaterial.timestampVerificationData.rfc3161Timestamps') ?? []).forEach((ts, i) => {
      const at = `$.verificationMaterial.timestampVerificationData.rfc3161Timestamps[${i}]`;
      timestamps.push(f.bytes(isObject(ts) ? ts.signedTimestamp : ts, `${at}.signedTimestamp`, { nonEmpty: true }));
    });
  }
  const content = readContent(f, o);
  const bundle =
    keyMaterial === undefined || content === undefined || entries.some((e) => e === undefined) || timestamps.some((t) => t === undefined)
      ? undefined
      : { mediaType, version, keyMaterial, tlogEntries: Object.freeze(entries as TlogEntry[]), rfc3161Timestamps: Object.freeze(timestamps as Uint8Array[]), content };
  return Object.freeze(f.done('MALFORMED_SIGSTORE_BUNDLE', WHAT, bundle));
}

function keyMaterialJson(k: KeyMaterial): Record<string, unknown> {
  switch (k.kind) {
    case 'publicKey':
      return { publicKey: { hint: k.hint } };
    case 'certificate':
      return { certificate: { rawBytes: toBase64(k.certificate) } };
    case 'x509CertificateChain':
      return { x509CertificateChain: { certificates: k.certificates.map((c) => ({ rawBytes: toBase64(c) })) } };
  }
}

function tlogEntryJson(e: TlogEntry): Record<string, unknown> {
  const p = e.inclusionProof;
  return {
    logIndex: String(e.logIndex),
    logId: { keyId: toBase64(e.logId) },
    kindVersion: { kind: e.kind, version: e.version },
    ...(e.integratedTime === 0 ? {} : { integratedTime: String(e.integratedTime) }),
    ...(e.signedEntryTimestamp === undefined ? {} : { inclusionPromise: { signedEntryTimestamp: toBase64(e.signedEntryTimestamp) } }),
    ...(p === undefined
      ? {}
      : { inclusionProof: {
            logIndex: String(p.logIndex),
            rootHash: toBase64(p.rootHash),
            treeSize: String(p.treeSize),
            hashes: p.hashes.map((h) => toBase64(h)),
            ...(p.checkpoint === undefined ? {} : { checkpoint: { envelope: p.checkpoint } }),
          },
        }),
    canonicalizedBody: toBase64(e.canonicalizedBody),
  };
}

/** The bundle as JSON text, in the member order of the protobuf definitions; parseSigstoreBundle reads it back. */
export function serializeSigstoreBundle(b: SigstoreBundle): string {
  const c = b.content;
  return JSON.stringify({
    mediaType: b.mediaType,
    verificationMaterial: {
      ...keyMaterialJson(b.keyMaterial),
      tlogEntries: b.tlogEntries.map(tlogEntryJson),
      ...(b.rfc3161Timestamps.length === 0 ? {} : { timestampVerificationData: { rfc3161Timestamps: b.rfc3161Timestamps.map((t) => ({ signedTimestamp: toBase64(t) })) } }),
    },
    ...(c.kind === 'dsseEnvelope'
      ? { dsseEnvelope: dsseEnvelopeJson(c.envelope) }
      : {
          messageSignature: {
            ...(c.messageDigest === undefined ? {} : { messageDigest: { algorithm: c.messageDigest.algorithm, digest: toBase64(c.messageDigest.digest) } }),
            signature: toBase64(c.signature),
          },
        }),
  });
}
