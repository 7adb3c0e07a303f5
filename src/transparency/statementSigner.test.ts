// Issue 18 end to end, offline: an in-toto statement of image measurements signed with the operator's key (ECDSA P-256
// and Ed25519, node:crypto), its DSSE envelope appended to a tile log as a dsse 0.0.2 entry, wrapped with the
// inclusion proof and the signed checkpoint in a v0.3 bundle, verified by the SDK against a trusted root that lists
// the log; and what must be refused, each with its code.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { concatBytes, fromHex, toBase64, toHex } from '../../attestation/bytes.js';
import { dsseBundle, dsseEntryBody, tlogLogId } from '../../attestation/sigstore/buildBundle.js';
import { parseStatement } from '../../attestation/sigstore/inToto.js';
import { parseSigstoreBundle, serializeSigstoreBundle, type SigstoreBundle } from '../../attestation/sigstore/sigstoreBundle.js';
import { parseTrustedRoot, TRUSTED_ROOT_MEDIA_TYPE } from '../../attestation/sigstore/trustedRoot.js';
import { verifySigstoreBundle, type BundleVerdict } from '../../attestation/sigstore/verifyBundle.js';
import { MemoryLog, entries } from '../../attestation/testing/memoryLog.js';
import { testNoteSigner } from '../../attestation/testing/noteSigners.js';
import { parseVkey } from '../../attestation/transparency/noteKeys.js';
import { CloisterError } from '../../attestation/errors.js';
import { nodeVerifyBackends } from '../base/index.js';
import { signStatement, statementSigner, type StatementSigner } from './statementSigner.js';

const ORIGIN = 'log.cloister.example';
const ED25519_SPKI_PREFIX = fromHex('302a300506032b6570032100');
const IMAGE = new TextEncoder().encode('the production image, standing in for its bytes');
const IMAGE_SHA256 = toHex(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', IMAGE)));

const statement = {
  subject: [{ name: 'cloister-production.raw', digest: { sha256: IMAGE_SHA256 } }],
  predicateType: 'https://cloister.dev/attestation/image-measurements/v1',
  predicate: { sourceCommit: '660e51c', measurements: { 'sev-snp': { 'milan/4vcpu': 'aa'.repeat(48) }, tdx: { mrtd: 'bb'.repeat(48) } } },
};

const log = new MemoryLog(ORIGIN, await testNoteSigner(ORIGIN));
const logSpki = concatBytes(ED25519_SPKI_PREFIX, parseVkey(log.signer.vkey).key);
const logId = await tlogLogId(ORIGIN, logSpki);
const trustedRoot = parseTrustedRoot({
  mediaType: TRUSTED_ROOT_MEDIA_TYPE,
  tlogs: [{ baseUrl: `https://${ORIGIN}`, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: toBase64(logSpki), keyDetails: 'PKIX_ED25519', validFor: { start: '2025-01-01T00:00:00Z' } }, logId: { keyId: toBase64(logId) } }],
});

/** Signs the statement, appends its entry after a few others, and bundles the proof at the current checkpoint. */
async function publish(signer: StatementSigner, s: typeof statement = statement): Promise<SigstoreBundle> {
  const envelope = await signStatement(s, [signer]);
  await log.append(...entries(3, log.size & 0xff));
  const body = await dsseEntryBody(envelope, signer.spki, signer.scheme);
  await log.append(body);
  const logIndex = log.size - 1;
  const checkpoint = await log.checkpoint();
  const reader = log.reader();
  const proof = await reader.inclusionProof(logIndex);
  return dsseBundle(envelope, { logIndex, logId, body, proof: proof.hashes, treeSize: proof.size, rootHash: await reader.rootHash(), checkpoint }, toBase64(signer.spki.subarray(-8)));
}

/** Verifies with the image's digest as the artifact digest; `null` verifies without one. */
function verify(bundle: SigstoreBundle | string, key: StatementSigner, artifactDigest: Uint8Array | null = fromHex(IMAGE_SHA256)): Promise<BundleVerdict> {
  return verifySigstoreBundle(typeof bundle === 'string' ? bundle : serializeSigstoreBundle(bundle), { trustedRoot, key: key.spki, ...(artifactDigest === null ? {} : { artifactDigest }), now: new Date('2026-01-01T00:00:00Z') });
}

function rejectedWith(v: BundleVerdict, code: string, check: string): void {
  assert.equal(v.accepted, false, `accepted, expected ${code}`);
  assert.deepEqual([v.error?.code, v.checks.at(-1)?.id], [code, check], v.error?.message);
}

const ecdsa = statementSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const ed25519 = statementSigner(generateKeyPairSync('ed25519').privateKey, 'operator-2026');

describe('publishing a signed statement in a v0.3 bundle, verified offline', () => {
  for (const signer of [ecdsa, ed25519]) {
    it(`${signer.scheme}: verifies, with the statement, its subject and the log entry's checks`, async () => {
      const bundle = await publish(signer);
      const text = serializeSigstoreBundle(bundle);
      assert.equal((JSON.parse(text) as { mediaType: string }).mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
      assert.equal(serializeSigstoreBundle(parseSigstoreBundle(text)), text);
      const v = await verify(text, signer);
      assert.equal(v.accepted, true, v.error?.message);
      assert.deepEqual(v.payload?.statement, parseStatement(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', ...statement })));
      assert.deepEqual(v.checks.map((c) => `${c.id}:${c.status}`), ['bundle.parse:pass', 'signer.key:pass', 'signature:pass', 'tlog[0].body:pass', 'tlog[0].log:pass', 'tlog[0].promise:skipped', 'tlog[0].inclusion:pass', 'statement:pass', 'subject:pass']);
    });
  }

  it('refuses a tampered manifest: a predicate changed after signing (DSSE_SIGNATURE_INVALID)', async () => {
    const bundle = await publish(ecdsa);
    assert.equal(bundle.content.kind, 'dsseEnvelope');
    const env = bundle.content.envelope;
    const tampered = new TextEncoder().encode(new TextDecoder().decode(env.payload).replace('aaaa', 'aaab'));
    const v = await verify({ ...bundle, content: { kind: 'dsseEnvelope', envelope: { ...env, payload: tampered } } }, ecdsa);
    rejectedWith(v, 'DSSE_SIGNATURE_INVALID', 'signature');
  });

  it('refuses a bundle for another subject: a valid statement about another image (SUBJECT_MISMATCH)', async () => {
    const other = { ...statement, subject: [{ name: 'cloister-production.raw', digest: { sha256: 'cd'.repeat(32) } }] };
    rejectedWith(await verify(await publish(ed25519, other), ed25519), 'SUBJECT_MISMATCH', 'subject');
  });

  it('refuses the bundle with another key than the signer\'s (DSSE_SIGNATURE_INVALID)', async () => {
    rejectedWith(await verify(await publish(ecdsa), ed25519), 'DSSE_SIGNATURE_INVALID', 'signature');
    rejectedWith(await verify(await publish(ed25519), statementSigner(generateKeyPairSync('ed25519').privateKey)), 'DSSE_SIGNATURE_INVALID', 'signature');
  });

  it('refuses an inclusion proof for another tree than the checkpoint\'s (INCLUSION_PROOF_INVALID)', async () => {
    const bundle = await publish(ecdsa);
    const [entry] = bundle.tlogEntries;
    assert.ok(entry?.inclusionProof);
    // The log grows; the bundle gets the new checkpoint but keeps the proof of the tree it was made for.
    await log.append(...entries(5, 0xee));
    const reader = log.reader();
    const stale = { ...entry, inclusionProof: { ...entry.inclusionProof, treeSize: log.size, rootHash: await reader.rootHash(), checkpoint: await log.checkpoint() } };
    const fresh = { ...stale.inclusionProof, hashes: (await reader.inclusionProof(entry.logIndex)).hashes };
    assert.equal((await verify({ ...bundle, tlogEntries: [{ ...entry, inclusionProof: fresh }] }, ecdsa)).accepted, true);
    rejectedWith(await verify({ ...bundle, tlogEntries: [stale] }, ecdsa), 'INCLUSION_PROOF_INVALID', 'tlog[0].inclusion');
  });

  it('refuses an entry that records another envelope, a log the root does not list, and a bundle without a key', async () => {
    const a = await publish(ecdsa);
    const b = await publish(ecdsa, { ...statement, predicate: { ...statement.predicate, sourceCommit: 'ffffff0' } });
    rejectedWith(await verify({ ...a, tlogEntries: b.tlogEntries }, ecdsa), 'TLOG_ENTRY_MISMATCH', 'tlog[0].body');
    const [entry] = a.tlogEntries;
    assert.ok(entry);
    rejectedWith(await verify({ ...a, tlogEntries: [{ ...entry, logId: new Uint8Array(32) }] }, ecdsa), 'TLOG_UNKNOWN_LOG', 'tlog[0].log');
    const v = await verifySigstoreBundle(a, { trustedRoot });
    rejectedWith(v, 'VERIFICATION_KEY_MISSING', 'signer.key');
  });

  it('keeps pinned keys by their bytes: an array overwritten with the signer\'s key verifies with it, on either backend', async () => {
    const text = serializeSigstoreBundle(await publish(ed25519));
    for (const backends of [{}, nodeVerifyBackends]) {
      const key = Uint8Array.from(statementSigner(generateKeyPairSync('ed25519').privateKey).spki);
      const options = { trustedRoot, key, artifactDigest: fromHex(IMAGE_SHA256), now: new Date('2026-01-01T00:00:00Z'), ...backends };
      rejectedWith(await verifySigstoreBundle(text, options), 'DSSE_SIGNATURE_INVALID', 'signature');
      key.set(ed25519.spki);
      assert.equal((await verifySigstoreBundle(text, options)).accepted, true);
    }
  });

  it('without an artifact digest, verifies the signature and the log and skips the subject', async () => {
    const v = await verify(await publish(ed25519), ed25519, null);
    assert.equal(v.accepted, true);
    assert.equal(v.checks.at(-1)?.status, 'skipped');
  });

  it('statementSigner refuses keys other than EC P-256 and Ed25519 private keys (SIGNING_KEY_INVALID)', () => {
    for (const key of [generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, generateKeyPairSync('ed25519').publicKey]) {
      assert.throws(() => statementSigner(key), (e: unknown) => e instanceof CloisterError && e.code === 'SIGNING_KEY_INVALID');
    }
  });
});
