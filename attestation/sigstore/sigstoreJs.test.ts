// Cross-check with sigstore-js (@sigstore/verify, its reference TypeScript verifier): every conformance case gets the
// same outcome from both, unless sigstore-js's own outcome is not the one the suite expects (a name ending in
// `_fail` must fail); such cases are listed, so that a fix on either side shows. An optional dev dependency: without @sigstore/verify, @sigstore/bundle and
// @sigstore/protobuf-specs installed, the test is skipped and says so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sigstoreBundleCases } from '../testing/sigstoreVectors.js';
import { decodePem } from '../bytes.js';
import { CloisterError } from '../errors.js';
import { publicKeyFromPem } from './sigstoreKeys.js';
import { parseTrustedRoot } from './trustedRoot.js';
import { verifySigstoreBundle } from './verifyBundle.js';

async function loadSigstoreJs() {
  try {
    return { verify: await import('@sigstore/verify'), bundle: await import('@sigstore/bundle'), specs: await import('@sigstore/protobuf-specs') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
}

const sigstoreJs = await loadSigstoreJs();

async function ours(c: ReturnType<typeof sigstoreBundleCases>[number]): Promise<boolean> {
  try {
    const trustedRoot = parseTrustedRoot(c.trustedRoot);
    const key = c.keyPem === undefined ? {} : { key: publicKeyFromPem(c.keyPem) };
    const v = await verifySigstoreBundle(c.bundle, { trustedRoot, artifact: c.artifact, ...key, identity: { subjectAlternativeName: c.identity, issuer: c.issuer }, now: new Date('2026-03-01T00:00:00Z') });
    return v.accepted;
  } catch (e) {
    if (e instanceof CloisterError) return false;
    throw e;
  }
}

describe('cross-check with @sigstore/verify', { skip: sigstoreJs === undefined ? '@sigstore/verify, @sigstore/bundle, @sigstore/protobuf-specs are not installed (optional dev dependencies)' : false }, () => {
  it('gives every conformance case the outcome sigstore-js gives it, where sigstore-js gives the suite\'s', async () => {
    assert.ok(sigstoreJs !== undefined);
    const { verify, bundle, specs } = sigstoreJs;
    const disagreements: string[] = [];
    const deviations: string[] = [];
    for (const c of sigstoreBundleCases()) {
      let theirs: boolean;
      try {
        const json: unknown = JSON.parse(new TextDecoder().decode(c.bundle));
        const parsed = bundle.bundleFromJSON(json);
        const hint = (json as { verificationMaterial?: { publicKey?: { hint?: string } } }).verificationMaterial?.publicKey?.hint ?? '';
        const der = c.keyPem === undefined ? undefined : decodePem(c.keyPem)[0]?.der;
        const keys = der === undefined ? undefined : { [hint]: { rawBytes: Buffer.from(der), keyDetails: specs.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: { start: new Date(0) } } };
        const material = verify.toTrustMaterial(specs.TrustedRoot.fromJSON(JSON.parse(new TextDecoder().decode(c.trustedRoot))) as never, keys);
        const entity = verify.toSignedEntity(parsed as never, Buffer.from(c.artifact));
        new verify.Verifier(material as never).verify(entity as never, c.keyPem === undefined ? { subjectAlternativeName: c.identity, extensions: { issuer: c.issuer } } : undefined);
        theirs = true;
      } catch {
        theirs = false;
      }
      const mine = await ours(c);
      if (mine === theirs) continue;
      const line = `${c.name}: ours ${mine ? 'verifies' : 'fails'}, sigstore-js ${theirs ? 'verifies' : 'fails'}`;
      if (theirs === !c.mustFail) disagreements.push(line);
      else deviations.push(line);
    }
    assert.deepEqual(disagreements, []);
    // sigstore-js 4.1 accepts a trusted root whose tlog has no validity start; the suite expects a failure.
    assert.deepEqual(deviations, ['trust-root-tlog-missing-validity-start_fail: ours fails, sigstore-js verifies']);
  });
});
