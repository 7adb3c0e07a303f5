// The Sigstore formats on their own: DSSE (PAE, parse, serialize, verify with a key set), in-toto statements, bundles
// and trusted roots (round trips, every bad field listed, arbitrary input raises ParseError only).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CloisterError, ParseError } from '../errors.js';
import { onlyParseErrors } from '../testing/parseErrors.js';
import { sigstoreBundleCases } from '../testing/sigstoreVectors.js';
import { pae, parseDsseEnvelope, serializeDsseEnvelope, signDsseEnvelope, verifyDsseEnvelope } from './dsse.js';
import { matchSubject, parseStatement, serializeStatement } from './inToto.js';
import { parseSigstoreBundle, serializeSigstoreBundle } from './sigstoreBundle.js';
import { importSigstoreKey } from './sigstoreKeys.js';
import { parseTrustedRoot } from './trustedRoot.js';

const fails = (code: string, field?: string) => (e: unknown): boolean => {
  assert.ok(e instanceof CloisterError, String(e));
  assert.equal(e.code, code, e.message);
  if (field !== undefined) assert.equal(e.field, field, e.message);
  return true;
};

async function p256(): Promise<{ spki: Uint8Array; sign: (m: Uint8Array) => Promise<Uint8Array> }> {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  return { spki, sign: async (m) => new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, Uint8Array.from(m))) };
}

describe('DSSE', () => {
  it('PAE is the specification\'s example, byte for byte', () => {
    assert.equal(new TextDecoder().decode(pae('http://example.com/HelloWorld', new TextEncoder().encode('hello world'))), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    assert.equal(new TextDecoder().decode(pae('', new Uint8Array())), 'DSSEv1 0  0 ');
  });

  it('signs, serializes, parses back and verifies with a WebCrypto P-256 key (r||s signatures), keyid respected', async () => {
    const a = await p256();
    const b = await p256();
    const env = await signDsseEnvelope('text/plain', new TextEncoder().encode('x'), [{ keyid: 'a', sign: a.sign }]);
    const parsed = parseDsseEnvelope(serializeDsseEnvelope(env));
    assert.equal(serializeDsseEnvelope(parsed), serializeDsseEnvelope(env));
    const ka = { keyid: 'a', verifier: await importSigstoreKey(a.spki) };
    const kb = { keyid: 'b', verifier: await importSigstoreKey(b.spki) };
    assert.equal((await verifyDsseEnvelope(parsed, [kb, ka])).verified[0]?.key, ka);
    await assert.rejects(verifyDsseEnvelope(parsed, [{ keyid: 'b', verifier: ka.verifier }]), fails('DSSE_SIGNATURE_INVALID'));
    await assert.rejects(verifyDsseEnvelope(parsed, [ka], { threshold: 2 }), fails('DSSE_SIGNATURE_INVALID'));
  });

  it('lists every bad field of an envelope (MALFORMED_DSSE)', () => {
    assert.throws(() => parseDsseEnvelope('{"payloadType":"","payload":"%%","signatures":[{"sig":"","keyid":3}]}'), fails('MALFORMED_DSSE', '$.payloadType, $.payload, $.signatures[0].sig, $.signatures[0].keyid'));
    assert.throws(() => parseDsseEnvelope('{'), fails('MALFORMED_DSSE', '$'));
    assert.throws(() => parseDsseEnvelope('{"payloadType":"t","payload":"","signatures":[]}'), fails('MALFORMED_DSSE', '$.signatures'));
  });
});

describe('in-toto statements', () => {
  const digest = 'ab'.repeat(32);
  const text = serializeStatement({ subject: [{ name: 'img', digest: { sha256: digest } }], predicateType: 'https://example.com/p', predicate: { a: 1 } });

  it('parses, and matches a subject by digest (and name)', () => {
    const s = parseStatement(text);
    assert.equal(s.type, 'https://in-toto.io/Statement/v1');
    assert.equal(matchSubject(s, digest).name, 'img');
    assert.throws(() => matchSubject(s, digest, 'other'), fails('SUBJECT_MISMATCH', 'subject'));
    assert.throws(() => matchSubject(s, 'cd'.repeat(32)), fails('SUBJECT_MISMATCH'));
  });

  it('lists every bad field (MALFORMED_STATEMENT)', () => {
    const bad = JSON.stringify({ _type: 'https://in-toto.io/Statement/v2', subject: [{ name: 'x', digest: { sha256: 'AB' } }, { digest: {} }], predicate: [] });
    assert.throws(() => parseStatement(bad), fails('MALFORMED_STATEMENT', '$._type, $.subject[0].digest.sha256, $.subject[1].digest, $.predicateType, $.predicate'));
  });
});

describe('bundles and trusted roots', () => {
  const cases = sigstoreBundleCases().filter((c) => !c.mustFail);

  it('every verifying conformance bundle round-trips through parse and serialize', () => {
    for (const c of cases) {
      const b = parseSigstoreBundle(c.bundle);
      assert.equal(serializeSigstoreBundle(parseSigstoreBundle(serializeSigstoreBundle(b))), serializeSigstoreBundle(b), c.name);
      parseTrustedRoot(c.trustedRoot);
    }
  });

  it('arbitrary edits of a bundle or a root parse or raise ParseError, nothing else (property)', () => {
    const [first] = cases;
    assert.ok(first);
    const bundle = new TextDecoder().decode(first.bundle);
    const root = new TextDecoder().decode(first.trustedRoot);
    fc.assert(
      fc.property(fc.nat({ max: 4000 }), fc.string({ maxLength: 4 }), (at, insert) => {
        onlyParseErrors(() => parseSigstoreBundle(bundle.slice(0, at) + insert + bundle.slice(at + 1)));
        onlyParseErrors(() => parseTrustedRoot(root.slice(0, at) + insert + root.slice(at + 1)));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a version 0.3 bundle with a chain, and a non-object', () => {
    const b = JSON.parse(new TextDecoder().decode(sigstoreBundleCases().find((c) => c.name === 'happy-path-v0.1')?.bundle ?? new Uint8Array())) as { mediaType: string };
    assert.throws(() => parseSigstoreBundle({ ...b, mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }), fails('MALFORMED_SIGSTORE_BUNDLE'));
    assert.throws(() => parseSigstoreBundle('[]'), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_SIGSTORE_BUNDLE');
    assert.throws(() => parseTrustedRoot('{"mediaType":"x"}'), fails('UNSUPPORTED_VERSION', '$.mediaType'));
  });
});
