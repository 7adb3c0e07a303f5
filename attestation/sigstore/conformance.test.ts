// sigstore/sigstore-conformance bundle-verify/ (testdata/protocols/sigstore-conformance, 70 cases): every case is run
// through verifySigstoreBundle as the conformance suite's test_verify runs a client, with the case's artifact (or
// a.txt), trusted root (or the public-good root), key.pub, identity and issuer. Whether a case must pass comes from its
// directory name alone (`_fail`); the table below only says which error code each failing case must fail with, and why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError } from '../errors.js';
import { sigstoreBundleCases } from '../testing/sigstoreVectors.js';
import { publicKeyFromPem } from './sigstoreKeys.js';
import { parseTrustedRoot } from './trustedRoot.js';
import { verifySigstoreBundle, type BundleVerdict } from './verifyBundle.js';

// After every integrated time and timestamp of the passing cases (the latest: 2026-01-07), before the one
// integrated-time-in-future_fail carries (2026-05-07). No case depends on the wall clock.
const NOW = new Date('2026-03-01T00:00:00Z');

/** [code, the check that fails] of each `_fail` case. */
const FAILURES: Readonly<Record<string, readonly [string, string]>> = {
  'bundle-empty-certificate-chain_fail': ['MALFORMED_SIGSTORE_BUNDLE', 'bundle.parse'],
  'bundle-from-wrong-instance_fail': ['TLOG_UNKNOWN_LOG', 'tlog[0].log'], // a staging log, not in the production root
  'bundle-invalid-base64-signature_fail': ['MALFORMED_SIGSTORE_BUNDLE', 'bundle.parse'],
  'bundle-malformed-json_fail': ['MALFORMED_SIGSTORE_BUNDLE', 'bundle.parse'],
  'bundle-negative-log-index_fail': ['MALFORMED_SIGSTORE_BUNDLE', 'bundle.parse'],
  'bundle-unknown-version_fail': ['UNSUPPORTED_VERSION', 'bundle.parse'],
  'bundle-with-root-cert_fail': ['CERT_CONSTRAINTS', 'signer.key'],
  'checkpoint-bad-keyhint_fail': ['NOTE_UNVERIFIED', 'tlog[0].inclusion'],
  'checkpoint-wrong-roothash_fail': ['INCLUSION_PROOF_INVALID', 'tlog[0].inclusion'],
  'dsse-invalid-sig_fail': ['DSSE_SIGNATURE_INVALID', 'signature'],
  'dsse-mismatch-envelope_fail': ['TLOG_ENTRY_MISMATCH', 'tlog[0].body'],
  'dsse-mismatch-sig_fail': ['TLOG_ENTRY_MISMATCH', 'tlog[0].body'],
  'inclusion-proof-corrupted-hash_fail': ['INCLUSION_PROOF_INVALID', 'tlog[0].inclusion'],
  'incorrect-public-key_fail': ['TLOG_ENTRY_MISMATCH', 'tlog[0].body'],
  'integrated-time-in-future_fail': ['TLOG_TIME_INVALID', 'tlog[0].promise'],
  'intoto-expired-certificate_fail': ['CERT_NOT_YET_VALID', 'certificate.chain'], // the leaf's notBefore is 2030
  'intoto-log-entry-mismatch_fail': ['TLOG_ENTRY_MISMATCH', 'tlog[0].body'],
  'intoto-missing-inclusion-proof_fail': ['MALFORMED_SIGSTORE_BUNDLE', 'bundle.parse'], // v0.2 requires the proof
  'intoto-set-outside-signing-cert-validity_fail': ['CERT_EXPIRED', 'certificate.chain'],
  'intoto-tsa-timestamp-outside-cert-validity_fail': ['CERT_EXPIRED', 'certificate.chain'],
  'invalid-checkpoint-signature_fail': ['NOTE_SIGNATURE_INVALID', 'tlog[0].inclusion'],
  'invalid-ct-key_fail': ['SCT_INVALID', 'certificate.sct'],
  'invalid-inclusion-proof_fail': ['MALFORMED_SIGSTORE_BUNDLE', 'bundle.parse'], // a v0.2 proof without its checkpoint
  'managed-key-no-key_fail': ['VERIFICATION_KEY_MISSING', 'signer.key'],
  'managed-key-wrong-key_fail': ['UNSUPPORTED_ALGORITHM', 'signer.key'], // key.pub is not a point on P-256
  'message-digest-mismatch_fail': ['ARTIFACT_DIGEST_MISMATCH', 'artifact.digest'],
  'rekor2-checkpoint-missing-log-signature_fail': ['MALFORMED_NOTE', 'tlog[0].inclusion'],
  'rekor2-checkpoint-missing-origin_fail': ['MALFORMED_CHECKPOINT', 'tlog[0].inclusion'],
  'rekor2-checkpoint-missing-root-hash_fail': ['MALFORMED_CHECKPOINT', 'tlog[0].inclusion'],
  'rekor2-checkpoint-missing-size_fail': ['MALFORMED_CHECKPOINT', 'tlog[0].inclusion'],
  'rekor2-checkpoint-no-matching-signature_fail': ['NOTE_UNVERIFIED', 'tlog[0].inclusion'],
  'rekor2-dsse-invalid-sig_fail': ['DSSE_SIGNATURE_INVALID', 'signature'],
  'rekor2-dsse-mismatch-envelope_fail': ['TLOG_ENTRY_MISMATCH', 'tlog[0].body'],
  'rekor2-dsse-mismatch-sig_fail': ['TLOG_ENTRY_MISMATCH', 'tlog[0].body'],
  'rekor2-no-inclusion-proof_fail': ['MALFORMED_SIGSTORE_BUNDLE', 'bundle.parse'],
  'rekor2-no-timestamp_fail': ['VERIFIED_TIME_MISSING', 'certificate.chain'],
  'rekor2-timestamp-outside-trust-root-tsa-validity_fail': ['TIMESTAMP_INVALID', 'timestamp[0]'],
  'rekor2-timestamp-outside-tsa-cert-validity_fail': ['TIMESTAMP_INVALID', 'timestamp[0]'],
  'rekor2-timestamp-payload-mismatch_fail': ['TIMESTAMP_INVALID', 'timestamp[0]'],
  'rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail': ['TIMESTAMP_INVALID', 'timestamp[0]'],
  'rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail': ['TIMESTAMP_INVALID', 'timestamp[0]'],
  'rekor2-timestamp-with-incorrect-time_fail': ['CERT_EXPIRED', 'certificate.chain'],
  'set-invalid-signature_fail': ['INCLUSION_PROMISE_INVALID', 'tlog[0].promise'],
  'signature-mismatch_fail': ['MESSAGE_SIGNATURE_INVALID', 'signature'],
  'trust-root-tlog-missing-validity-start_fail': ['MALFORMED_TRUSTED_ROOT', 'trustedRoot.parse'],
  'wrong-hashedrekord-artifact_fail': ['TLOG_ENTRY_MISMATCH', 'tlog[0].body'],
  'wrong-hashedrekord-cert-and-sig_fail': ['TLOG_ENTRY_MISMATCH', 'tlog[0].body'],
  'wrong-hashedrekord-entry_fail': ['TLOG_ENTRY_MISMATCH', 'tlog[0].body'],
  'wrong-material_fail': ['ARTIFACT_DIGEST_MISMATCH', 'artifact.digest'],
};

/** A case's verdict; a trusted root that does not parse fails the case as the check `trustedRoot.parse`. */
async function run(c: ReturnType<typeof sigstoreBundleCases>[number]): Promise<BundleVerdict> {
  let trustedRoot;
  try {
    trustedRoot = parseTrustedRoot(c.trustedRoot);
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    return { accepted: false, error: e.toJSON() as never, checks: [{ id: 'trustedRoot.parse', status: 'fail', detail: e.message }] };
  }
  return verifySigstoreBundle(c.bundle, {
    trustedRoot,
    artifact: c.artifact,
    ...(c.keyPem === undefined ? {} : { key: publicKeyFromPem(c.keyPem) }),
    identity: { subjectAlternativeName: c.identity, issuer: c.issuer },
    now: NOW,
  });
}

describe('Sigstore conformance: bundle-verify', () => {
  const cases = sigstoreBundleCases();

  it('has the 70 cases of the copied suite, and a failure row for exactly its _fail cases', () => {
    assert.equal(cases.length, 70);
    assert.deepEqual(cases.filter((c) => c.mustFail).map((c) => c.name), Object.keys(FAILURES).sort());
  });

  for (const c of cases) {
    const failure = FAILURES[c.name];
    it(`${c.name}: ${c.mustFail ? `fails with ${failure?.join(' in ') ?? '?'}` : 'verifies'}`, async () => {
      const verdict = await run(c);
      const last = verdict.checks.at(-1);
      if (!c.mustFail) {
        assert.equal(verdict.accepted, true, `${verdict.error?.code ?? ''}: ${verdict.error?.message ?? ''}`);
        assert.ok(verdict.checks.every((k) => k.status !== 'fail'));
        return;
      }
      assert.equal(verdict.accepted, false, 'a _fail case verified');
      assert.ok(failure !== undefined);
      assert.deepEqual([verdict.error?.code, last?.id], [...failure], verdict.error?.message);
      assert.equal(last?.status, 'fail');
    });
  }

  it('the happy paths say what they verified: the signer, the verified times, the in-toto subject', async () => {
    const byName = new Map(cases.map((c) => [c.name, c]));
    const v = await run(byName.get('happy-path-intoto-in-dsse-v3') ?? assert.fail());
    assert.equal(v.signer?.kind, 'certificate');
    assert.equal(v.payload?.statement?.subject.length, 1);
    assert.deepEqual(v.checks.filter((k) => k.status === 'skipped').map((k) => k.id), []);
    const managed = await run(byName.get('managed-key-happy-path') ?? assert.fail());
    assert.equal(managed.signer?.kind, 'key');
    assert.equal(managed.verifiedTimes?.length, 2); // the RFC 3161 timestamp and the integrated time
    const rekor2 = await run(byName.get('rekor2-happy-path') ?? assert.fail());
    assert.deepEqual(rekor2.checks.filter((k) => k.status === 'skipped').map((k) => k.id), ['tlog[0].promise']);
  });
});
