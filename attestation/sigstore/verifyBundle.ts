// Verifying a Sigstore bundle offline, as far as a verifier without the network can (sigstore/architecture-docs
// client-spec "Verification"; the order of sigstore-go's verify package): parse, the signing key (a managed key given by
// the caller, or the leaf certificate), the signature over the artifact or the DSSE envelope, each transparency log
// entry (its body records this bundle, its log is in the trusted root, its signed entry timestamp, its inclusion proof
// against a checkpoint signed by the log, attestation/transparency), the RFC 3161 timestamps, the certificate (chain to a
// Fulcio CA of the trusted root at every verified time, embedded SCTs), then the caller's expectations: the signer's
// identity and the in-toto subject. The first failure is the verdict's error; every check is in `checks`.
//
// Keyless signing (an OIDC token exchanged for a Fulcio certificate) needs the network and is not here; keyless bundles
// made elsewhere verify. Not checked: certificate revocation (Sigstore has none), the key hint of a managed-key bundle.
import { bytesEqual, toHex } from '../bytes.js';
import { CheckLog, type Check, type VerdictError } from '../checks.js';
import { CloisterError, ParseError, PolicyError, VerificationError } from '../errors.js';
import { webCryptoHasher, type Hasher, type HashName } from '../hash.js';
import { KeyCaches } from '../keyCache.js';
import { leafHash, verifyInclusion as verifyMerkleInclusion } from '../transparency/merkle.js';
import { verifyLogEntry } from '../transparency/verifyEntry.js';
import { noteVerifierFromSpki, type KeyedVerifier } from '../transparency/noteKeys.js';
import type { CheckpointStore } from '../transparency/checkpointStore.js';
import type { Certificate } from '../x509.js';
import { IN_TOTO_PAYLOAD_TYPE, verifyDsseEnvelope } from './dsse.js';
import { certificateIdentity, leafCertificate, verifyCertificateChain, verifyEmbeddedScts, type CertificateIdentity } from './fulcio.js';
import { matchSubject, parseStatement, type Statement } from './inToto.js';
import { checkEntryBody, verifySignedEntryTimestamp } from './rekorEntry.js';
import { parseTimestamp, verifyTimestamp } from './rfc3161.js';
import { parseSigstoreBundle, type SigstoreBundle, type TlogEntry } from './sigstoreBundle.js';
import { importSigstoreKey, type SignatureVerifier, type SigstoreCrypto } from './sigstoreKeys.js';
import { withinWindow, type TrustedLog, type TrustedRoot } from './trustedRoot.js';

export interface ExpectedIdentity {
  /** The certificate's subject alternative name: exactly this string, or matching this expression. */
  readonly subjectAlternativeName: string | RegExp;
  /** The OIDC issuer extension, exactly. */
  readonly issuer: string;
}

export interface VerifyBundleOptions {
  readonly trustedRoot: TrustedRoot;
  /** The artifact: required for a messageSignature bundle (its signature is over these bytes); for DSSE, a subject must have its digest. */
  readonly artifact?: Uint8Array;
  /** For DSSE bundles instead of `artifact`: the SHA-256 a subject of the statement must have. */
  readonly artifactDigest?: Uint8Array;
  /** A managed key's SubjectPublicKeyInfo (or a verifier), for bundles whose key material is a public key hint. */
  readonly key?: Uint8Array | SignatureVerifier;
  /** For certificate bundles: who must have signed. Left out, any identity the CA certified is accepted (say so to users). */
  readonly identity?: ExpectedIdentity;
  /** The current time, for "integrated time is not in the future" (default: the clock). */
  readonly now?: Date;
  /** The newest checkpoint seen per log: checkpoints are then also checked against it (attestation/transparency). */
  readonly store?: CheckpointStore;
  readonly hasher?: Hasher;
  readonly crypto?: SigstoreCrypto;
}

export interface BundleVerdict {
  readonly accepted: boolean;
  readonly error?: VerdictError;
  readonly checks: readonly Check[];
  /** The bundle, when it parsed. */
  readonly bundle?: SigstoreBundle;
  /** The signer: a managed key, or a certificate with its identity. */
  readonly signer?: { readonly kind: 'key'; readonly spki: Uint8Array } | { readonly kind: 'certificate'; readonly certificate: Certificate; readonly identity: CertificateIdentity };
  /** Times vouched for by a log's signed entry timestamp or an RFC 3161 timestamp. */
  readonly verifiedTimes?: readonly Date[];
  /** The DSSE payload and, when it is in-toto, the statement. */
  readonly payload?: { readonly payloadType: string; readonly bytes: Uint8Array; readonly statement: Statement | undefined };
}

const DIGESTS: Readonly<Record<string, HashName>> = { SHA2_256: 'SHA-256', SHA2_384: 'SHA-384' };

/** The backends when the caller gives none (WebCrypto): one object, so that the keys it imports are kept as well. */
const WEBCRYPTO: SigstoreCrypto = Object.freeze({});

// Keys the caller pins (the managed key, the trusted root's log keys), imported once per backend; a copy of the
// bytes is imported, so a caller that reuses its array for another key cannot change a kept verifier.
const pinnedKeys = new KeyCaches<SignatureVerifier>();
const logNoteKeys = new KeyCaches<KeyedVerifier>();

function pinnedKey(spki: Uint8Array, crypto: SigstoreCrypto): Promise<SignatureVerifier> {
  return pinnedKeys.for(crypto).get(toHex(spki), () => importSigstoreKey(spki.slice(), crypto));
}

/** The log's key as a note verifier; the hasher only derives the key ID, the same with any backend. */
function logNoteKey(name: string, spki: Uint8Array, crypto: SigstoreCrypto, hasher: Hasher): Promise<KeyedVerifier> {
  return logNoteKeys.for(crypto).get(`${name} ${toHex(spki)}`, () => noteVerifierFromSpki(name, spki.slice(), { hasher, ...crypto }));
}

const logNames = new WeakMap<TrustedLog, string>();

/** The log's name, from its URL: kept per trusted log, which is frozen. */
function logName(log: TrustedLog): string {
  let name = logNames.get(log);
  if (name === undefined) logNames.set(log, (name = log.baseUrl.replace(/^https?:\/\//, '').replace(/\/+$/, '')));
  return name;
}

/** The log of the trusted root that wrote the entry, valid at its integrated time (or at a verified time, Rekor v2). */
function findLog(root: TrustedRoot, entry: TlogEntry, times: readonly Date[]): TrustedLog {
  const logs = root.tlogs.filter((l) => bytesEqual(l.logId, entry.logId));
  const at = entry.integratedTime > 0 ? [new Date(entry.integratedTime * 1000)] : times;
  const valid = logs.find((l) => l.spki !== undefined && at.every((t) => withinWindow(l.validFor, t)));
  if (valid === undefined) {
    throw new VerificationError('TLOG_UNKNOWN_LOG', logs.length === 0 ? `the trusted root lists no log with ID ${toHex(entry.logId)}` : `the log ${logs[0]?.baseUrl ?? ''} is not trusted at ${at.map((t) => t.toISOString()).join(', ')} (or its key is of a kind this verifier does not read)`, {
      field: 'tlogEntries.logId',
      actual: toHex(entry.logId),
    });
  }
  return valid;
}

/** The signature bytes Sigstore timestamps: the message signature, or the DSSE envelope's (first) signature. */
function timestampedSignature(bundle: SigstoreBundle): Uint8Array {
  return bundle.content.kind === 'messageSignature' ? bundle.content.signature : (bundle.content.envelope.signatures[0]?.sig ?? new Uint8Array());
}

async function verifyInclusion(entry: TlogEntry, log: TrustedLog, options: VerifyBundleOptions, crypto: SigstoreCrypto, hasher: Hasher): Promise<void> {
  const proof = entry.inclusionProof;
  if (proof === undefined) return;
  if (proof.checkpoint === undefined) {
    // A version 0.1 bundle from before checkpoints: the proof leads to its own root hash, which nothing signed.
    await verifyMerkleInclusion(hasher, await leafHash(hasher, entry.canonicalizedBody), { index: proof.logIndex, size: proof.treeSize, hashes: proof.hashes }, proof.rootHash);
    return;
  }
  const name = logName(log);
  const key = await logNoteKey(name, log.spki as Uint8Array, crypto, hasher);
  const verdict = await verifyLogEntry(
    { checkpoint: proof.checkpoint, entry: { bytes: entry.canonicalizedBody }, index: proof.logIndex, proof: proof.hashes },
    { trust: { log: { keys: [key] } }, hasher, ...(options.store === undefined ? {} : { store: options.store }) },
  );
  const cp = verdict.checkpoint.checkpoint;
  // Rekor v2 and Cloister: the origin is the log's name; Rekor v1: "<name> - <tree ID>" (the shard's tree, which the root does not list).
  if (cp.origin !== name && !cp.origin.startsWith(`${name} - `)) {
    throw new VerificationError('CHECKPOINT_ORIGIN_MISMATCH', `the checkpoint's origin "${cp.origin}" is not the log ${name}`, { field: 'inclusionProof.checkpoint', expected: name, actual: cp.origin });
  }
  if (cp.size !== proof.treeSize || !bytesEqual(cp.rootHash, proof.rootHash)) {
    throw new VerificationError('INCLUSION_PROOF_INVALID', `the inclusion proof is for tree size ${proof.treeSize} root ${toHex(proof.rootHash)}, the checkpoint for size ${cp.size} root ${toHex(cp.rootHash)}`, { field: 'inclusionProof' });
  }
}

/** Verifies a bundle; never throws a CloisterError, the failure is the verdict's `error`. */
export async function verifySigstoreBundle(input: string | Uint8Array | SigstoreBundle, options: VerifyBundleOptions): Promise<BundleVerdict> {
  const log = new CheckLog();
  const hasher = options.hasher ?? webCryptoHasher;
  const crypto = options.crypto ?? WEBCRYPTO;
  const result: { -readonly [K in keyof BundleVerdict]?: BundleVerdict[K] } = {};
  try {
    const bundle = await log.run('bundle.parse', () => (typeof input === 'string' || input instanceof Uint8Array ? parseSigstoreBundle(input) : input), (b) => `version ${b.version}, ${b.content.kind}, ${b.tlogEntries.length} log entries`);
    result.bundle = bundle;

    // The signing key: the caller's managed key, or the leaf certificate's.
    const { verifier, certificate } = await log.run('signer.key', async () => {
      const km = bundle.keyMaterial;
      if (km.kind === 'publicKey') {
        if (options.key === undefined) throw new VerificationError('VERIFICATION_KEY_MISSING', `the bundle is signed with a managed key (hint "${km.hint}") and no key was given`, { field: 'key' });
        const verifier = options.key instanceof Uint8Array ? await pinnedKey(options.key, crypto) : options.key;
        return { verifier, certificate: undefined };
      }
      const leaf = leafCertificate(km.kind === 'certificate' ? [km.certificate] : km.certificates);
      return { verifier: await importSigstoreKey(leaf.spki, crypto), certificate: leaf };
    }, (k) => (k.certificate === undefined ? `managed ${k.verifier.scheme} key` : `certificate "${k.certificate.subjectCommonName ?? ''}" ${k.verifier.scheme}`));
    result.signer = certificate === undefined ? { kind: 'key', spki: verifier.spki } : { kind: 'certificate', certificate, identity: certificateIdentity(certificate) };

    // The signature over the artifact, or the DSSE envelope's.
    const content = bundle.content;
    let artifactSha256: Uint8Array | undefined;
    if (content.kind === 'messageSignature') {
      const artifact = options.artifact ?? (() => { throw new ParseError('MALFORMED_POLICY', 'a messageSignature bundle is verified over the artifact, and none was given', { field: 'artifact' }); })();
      artifactSha256 = await log.run('artifact.digest', async () => {
        const digest = await hasher.digest('SHA-256', [artifact]);
        const md = content.messageDigest;
        if (md !== undefined) {
          const name = DIGESTS[md.algorithm] ?? (() => { throw new ParseError('UNSUPPORTED_ALGORITHM', `messageDigest algorithm ${md.algorithm} is not SHA2_256 or SHA2_384`, { field: 'messageSignature.messageDigest.algorithm' }); })();
          const ours = name === 'SHA-256' ? digest : await hasher.digest(name, [artifact]);
          if (!bytesEqual(ours, md.digest)) throw new VerificationError('ARTIFACT_DIGEST_MISMATCH', `the artifact's ${md.algorithm} is ${toHex(ours)}, the bundle's messageDigest ${toHex(md.digest)}`, { field: 'messageSignature.messageDigest', expected: toHex(md.digest), actual: toHex(ours) });
        }
        return digest;
      }, (d) => `sha256 ${toHex(d)}`);
      await log.run('signature', async () => {
        if (!(await verifier.verify(content.signature, artifact))) throw new VerificationError('MESSAGE_SIGNATURE_INVALID', `the bundle's signature over the artifact does not verify with the ${verifier.scheme} key`, { field: 'messageSignature.signature' });
      });
    } else {
      await log.run('signature', () => verifyDsseEnvelope(content.envelope, [{ verifier }]), (v) => `${v.verified.length} of ${content.envelope.signatures.length} DSSE signatures verified`);
    }

    // The transparency log entries.
    if (bundle.tlogEntries.length === 0) log.fail('tlog', new VerificationError('TLOG_INCLUSION_MISSING', 'the bundle carries no transparency log entry', { field: 'verificationMaterial.tlogEntries' }));
    const signer = { certificate: certificate?.der, spki: verifier.spki };
    const times: Date[] = [];
    const now = options.now ?? new Date();
    // RFC 3161 timestamps first: a Rekor v2 log's key is chosen by the time they vouch for.
    for (const [i, der] of bundle.rfc3161Timestamps.entries()) {
      const t = await log.run(`timestamp[${i}]`, async () => verifyTimestamp(parseTimestamp(der), timestampedSignature(bundle), options.trustedRoot.timestampAuthorities, hasher), (t) => t.toISOString());
      times.push(t);
    }
    for (const [i, entry] of bundle.tlogEntries.entries()) {
      await log.run(`tlog[${i}].body`, () => checkEntryBody(entry, content, signer, artifactSha256, hasher), () => `${entry.kind} ${entry.version}`);
      const trusted = log.runSync(`tlog[${i}].log`, () => findLog(options.trustedRoot, entry, times), (l) => l.baseUrl);
      if (entry.signedEntryTimestamp !== undefined) {
        await log.run(`tlog[${i}].promise`, async () => {
          await verifySignedEntryTimestamp(entry, await pinnedKey(trusted.spki as Uint8Array, crypto));
          const t = new Date(entry.integratedTime * 1000);
          if (t > now) throw new VerificationError('TLOG_TIME_INVALID', `the entry's integrated time ${t.toISOString()} is after now (${now.toISOString()})`, { field: 'tlogEntries.integratedTime', expected: `<= ${now.toISOString()}`, actual: t.toISOString() });
          if (entry.integratedTime > 0) times.push(t);
        }, () => `integrated ${new Date(entry.integratedTime * 1000).toISOString()}`);
      } else {
        log.skip(`tlog[${i}].promise`, 'the entry carries no signed entry timestamp');
      }
      if (entry.inclusionProof === undefined) log.skip(`tlog[${i}].inclusion`, 'the entry carries no inclusion proof (version 0.1 bundle: the promise stands for it)');
      else await log.run(`tlog[${i}].inclusion`, () => verifyInclusion(entry, trusted, options, crypto, hasher), () => `index ${entry.inclusionProof?.logIndex ?? 0} in tree of size ${entry.inclusionProof?.treeSize ?? 0}${entry.inclusionProof?.checkpoint === undefined ? ' (no checkpoint: the root hash is not signed)' : ''}`);
    }
    result.verifiedTimes = times;

    // The certificate: chained to a CA of the trusted root, valid, with SCTs, at every verified time.
    if (certificate !== undefined) {
      const chain = await log.run('certificate.chain', async () => {
        if (times.length === 0) throw new VerificationError('VERIFIED_TIME_MISSING', 'no verified time to check the signing certificate at: no signed entry timestamp with an integrated time, no RFC 3161 timestamp', { field: 'timestampVerificationData' });
        return verifyCertificateChain(certificate, options.trustedRoot.certificateAuthorities, times);
      }, (c) => c.authority.uri);
      await log.run('certificate.sct', () => verifyEmbeddedScts(certificate, chain.chain[0] as Certificate, options.trustedRoot.ctlogs, hasher, crypto), (n) => `${n} SCTs verified`);
      if (options.identity !== undefined) {
        const expected = options.identity;
        log.runSync('identity', () => {
          const id = certificateIdentity(certificate);
          const san = id.subjectAlternativeName ?? '';
          const sanOk = typeof expected.subjectAlternativeName === 'string' ? san === expected.subjectAlternativeName : expected.subjectAlternativeName.test(san);
          if (!sanOk || id.issuer !== expected.issuer) {
            throw new PolicyError('SIGNER_IDENTITY_MISMATCH', `the certificate is for ${san} from ${id.issuer ?? '(no issuer)'}, expected ${String(expected.subjectAlternativeName)} from ${expected.issuer}`, {
              field: sanOk ? 'certificate.issuer' : 'certificate.subjectAlternativeName',
              expected: `${String(expected.subjectAlternativeName)} ${expected.issuer}`,
              actual: `${san} ${id.issuer ?? ''}`,
            });
          }
        }, () => expected.issuer);
      } else {
        log.skip('identity', 'no expected identity given: any identity the CA certified is accepted');
      }
    }

    // The DSSE payload, and the in-toto subject.
    if (content.kind === 'dsseEnvelope') {
      const env = content.envelope;
      const statement = env.payloadType === IN_TOTO_PAYLOAD_TYPE ? log.runSync('statement', () => parseStatement(env.payload), (s) => s.predicateType) : undefined;
      result.payload = { payloadType: env.payloadType, bytes: env.payload, statement };
      const digest = options.artifactDigest ?? (options.artifact === undefined ? undefined : await hasher.digest('SHA-256', [options.artifact]));
      if (statement !== undefined && digest !== undefined) log.runSync('subject', () => matchSubject(statement, digest), (s) => s.name);
      else log.skip('subject', statement === undefined ? `payload type ${env.payloadType} is not an in-toto statement` : 'no artifact or digest given');
    }
    return { ...result, accepted: true, checks: log.checks };
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    if (!log.checks.some((c) => c.status === 'fail')) log.checks.push({ id: 'bundle', status: 'fail', detail: e.message });
    return { ...result, accepted: false, error: e.toJSON() as unknown as VerdictError, checks: log.checks };
  }
}
