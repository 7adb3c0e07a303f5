// Offline verification of a published statement (issue 18): a v0.3 Sigstore bundle holding a DSSE envelope signed
// with an ECDSA P-256 or an Ed25519 key, a dsse 0.0.2 entry, and its inclusion proof in a log of 1,000 entries with
// the log's signed checkpoint (Ed25519 note signature), verified with verifySigstoreBundle as a client does. The
// raw limit beside it: the two signature verifications that verification cannot avoid (the DSSE signature over
// PAE, the checkpoint's note signature), node:crypto with the keys imported once. Target: 80% of the raw rate.
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { dsseBundle, dsseEntryBody, fromHex, pae, parseSignedNote, parseTrustedRoot, parseVkey, serializeSigstoreBundle, tlogLogId, toBase64, TRUSTED_ROOT_MEDIA_TYPE, verifySigstoreBundle, type SigstoreBundle, type TrustedRoot, type VerifyBundleOptions } from '../attestation/index.js';
import { entries, MemoryLog } from '../attestation/testing/memoryLog.js';
import { testNoteSigner } from '../attestation/testing/noteSigners.js';
import { nodeVerifyBackends } from '../src/base/index.js';
import { signStatement, statementSigner, type StatementSigner } from '../src/transparency/index.js';
import { measureInterleaved, pairedRatio, type Case, type SuiteReport } from './measure.js';

const ORIGIN = 'log.cloister.example';
const LOG_SIZE = 1000;
const ED25519_SPKI_PREFIX = fromHex('302a300506032b6570032100');
const NOW = new Date('2026-01-01T00:00:00Z');
const statement = {
  subject: [{ name: 'cloister-production.raw', digest: { sha256: 'ab'.repeat(32) } }],
  predicateType: 'https://cloister.dev/attestation/image-measurements/v1',
  predicate: { sourceCommit: '660e51c', measurements: { 'sev-snp': { 'milan/4vcpu': 'aa'.repeat(48) }, tdx: { mrtd: 'bb'.repeat(48) } } },
};

interface Published {
  readonly text: string;
  readonly bundle: SigstoreBundle;
}

/** A log of LOG_SIZE entries, one of which (in the middle) is the statement's, and the bundle at the last checkpoint. */
async function publish(log: MemoryLog, logId: Uint8Array, signer: StatementSigner): Promise<Published> {
  const envelope = await signStatement(statement, [signer]);
  const body = await dsseEntryBody(envelope, signer.spki, signer.scheme);
  const logIndex = log.size;
  await log.append(body);
  await log.append(...entries(LOG_SIZE / 2 - 1, logIndex & 0xff));
  const checkpoint = await log.checkpoint();
  const reader = log.reader();
  const proof = await reader.inclusionProof(logIndex);
  const bundle = dsseBundle(envelope, { logIndex, logId, body, proof: proof.hashes, treeSize: proof.size, rootHash: await reader.rootHash(), checkpoint });
  return { text: serializeSigstoreBundle(bundle), bundle };
}

/** The bare signature checks of one bundle: the DSSE signature over PAE and the checkpoint's log signature. */
function rawVerify(p: Published, dsseKey: KeyObject, logKey: KeyObject): () => boolean {
  if (p.bundle.content.kind !== 'dsseEnvelope') throw new Error('not a DSSE bundle');
  const env = p.bundle.content.envelope;
  const message = pae(env.payloadType, env.payload);
  const signature = env.signatures[0]?.sig ?? new Uint8Array();
  const hash = dsseKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const note = parseSignedNote(p.bundle.tlogEntries[0]?.inclusionProof?.checkpoint ?? '');
  const text = new TextEncoder().encode(note.text);
  const noteSignature = note.signatures[0]?.signature ?? new Uint8Array();
  return () => {
    if (!verify(hash, message, dsseKey, signature) || !verify(null, text, logKey, noteSignature)) throw new Error('raw verification failed');
    return true;
  };
}

/** node:crypto for hashes and signatures: synchronous, on the calling thread, keys imported once (what a server injects). */
const NODE_BACKENDS = nodeVerifyBackends;

function bundleVerify(p: Published, trustedRoot: TrustedRoot, key: Uint8Array, backends: Pick<VerifyBundleOptions, 'hasher' | 'crypto'> = {}): () => Promise<void> {
  // The caller's expectations are decoded once, as the raw case's inputs are: only verification is timed.
  const options = { trustedRoot, key, artifactDigest: fromHex('ab'.repeat(32)), now: NOW, ...backends };
  return async () => {
    const v = await verifySigstoreBundle(p.text, options);
    if (!v.accepted) throw new Error(`bundle refused: ${v.error?.message ?? ''}`);
  };
}

/** The suite's cases, for profiling one alone. */
export async function transparencyVerifyCases(): Promise<Case[]> {
  const log = new MemoryLog(ORIGIN, await testNoteSigner(ORIGIN));
  const logSpki = new Uint8Array([...ED25519_SPKI_PREFIX, ...parseVkey(log.signer.vkey).key]);
  const logId = await tlogLogId(ORIGIN, logSpki);
  const trustedRoot = parseTrustedRoot({
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [{ baseUrl: `https://${ORIGIN}`, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: toBase64(logSpki), keyDetails: 'PKIX_ED25519', validFor: { start: '2025-01-01T00:00:00Z' } }, logId: { keyId: toBase64(logId) } }],
  });
  const logKey = createPublicKey({ key: Buffer.from(logSpki), format: 'der', type: 'spki' });
  const ecdsa = statementSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  const ed25519 = statementSigner(generateKeyPairSync('ed25519').privateKey);
  const a = await publish(log, logId, ecdsa);
  const b = await publish(log, logId, ed25519);
  const spkiKey = (s: StatementSigner): KeyObject => createPublicKey({ key: Buffer.from(s.spki), format: 'der', type: 'spki' });
  const cases: Case[] = [
    { name: 'raw: ECDSA P-256 DSSE + Ed25519 checkpoint (node:crypto)', fn: rawVerify(a, spkiKey(ecdsa), logKey) },
    { name: 'verifySigstoreBundle, ECDSA P-256 DSSE (WebCrypto)', fn: bundleVerify(a, trustedRoot, ecdsa.spki) },
    { name: 'verifySigstoreBundle, ECDSA P-256 DSSE (node:crypto)', fn: bundleVerify(a, trustedRoot, ecdsa.spki, NODE_BACKENDS) },
    { name: 'raw: Ed25519 DSSE + Ed25519 checkpoint (node:crypto)', fn: rawVerify(b, spkiKey(ed25519), logKey) },
    { name: 'verifySigstoreBundle, Ed25519 DSSE (WebCrypto)', fn: bundleVerify(b, trustedRoot, ed25519.spki) },
    { name: 'verifySigstoreBundle, Ed25519 DSSE (node:crypto)', fn: bundleVerify(b, trustedRoot, ed25519.spki, NODE_BACKENDS) },
  ];
  return cases;
}

export async function transparencyVerifySuite(): Promise<SuiteReport> {
  const cases = await transparencyVerifyCases();
  const rows = await measureInterleaved(cases, { budgetMs: 8000, minIterations: 200, warmup: 20 });
  const ratio = (raw: number, full: number): string => {
    const [r, f] = [rows[raw], rows[full]];
    if (r === undefined || f === undefined) return '';
    const p = pairedRatio(r, f);
    return `${(p.perRound.value * 100).toFixed(0)}% of raw (95% CI ${(p.perRound.low * 100).toFixed(0)}-${(p.perRound.high * 100).toFixed(0)}%)`;
  };
  return {
    title: `Transparency: verify a v0.3 DSSE bundle with its inclusion proof (log of ${LOG_SIZE} entries), offline`,
    rows,
    baseline: rows[0]?.name ?? '',
    notes: [
      `ECDSA P-256: WebCrypto ${ratio(0, 1)}, node:crypto ${ratio(0, 2)}; Ed25519: WebCrypto ${ratio(3, 4)}, node:crypto ${ratio(3, 5)}`,
      'target 80% of raw; the "vs" column compares every row with the first row; WebCrypto is the browser path, node:crypto what a server injects (hasher, crypto)',
    ],
  };
}
