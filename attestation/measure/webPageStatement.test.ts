import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CloisterError } from '../errors.js';
import type { Statement } from '../sigstore/inToto.js';
import { assertWebManifest, parseWebPageStatement, WEB_PAGE_PREDICATE_TYPE, webPageBundlePath, webPageStatement } from './webPageStatement.js';

const MANIFEST = JSON.stringify({ format: 'cloister-web/v1', files: [{ path: 'index.html', bytes: 10, sha256: 'ab'.repeat(32) }] });
const DIGEST = 'cd'.repeat(32);
const COMMIT = '01'.repeat(20);

const statement = (): Statement => ({ type: 'https://in-toto.io/Statement/v1', ...webPageStatement(MANIFEST, DIGEST, COMMIT) });
const code = (c: string) => (e: CloisterError): boolean => e.code === c;

describe('the verify page statement', () => {
  it('round-trips: the manifest, the commit, the subject by digest; the lookup path', () => {
    const s = statement();
    assert.equal(s.predicateType, WEB_PAGE_PREDICATE_TYPE);
    assert.deepEqual(s.subject, [{ name: 'web-manifest.json', digest: { sha256: DIGEST } }]);
    assert.deepEqual(parseWebPageStatement(s, DIGEST.toUpperCase()), { manifest: JSON.parse(MANIFEST) as unknown, source: { commit: COMMIT } });
    assert.equal(webPageBundlePath(DIGEST.toUpperCase()), `web/${DIGEST}.sigstore.json`);
  });

  it('refuses another digest, another predicate type, a bad commit or manifest, naming every bad field', () => {
    assert.throws(() => parseWebPageStatement(statement(), 'ef'.repeat(32)), code('SUBJECT_MISMATCH'));
    assert.throws(() => parseWebPageStatement({ ...statement(), predicateType: 'https://example/other' }, DIGEST), code('MALFORMED_STATEMENT'));
    assert.throws(() => parseWebPageStatement({ ...statement(), predicate: { manifest: JSON.parse(MANIFEST) as unknown as Record<string, unknown>, source: {} } }, DIGEST), /source\.commit/);
    assert.throws(() => webPageStatement(MANIFEST, DIGEST, 'HEAD'), code('MALFORMED_POLICY'));
    assert.throws(() => webPageStatement(MANIFEST, 'xyz', COMMIT), code('MALFORMED_POLICY'));
    assert.throws(() => webPageStatement('{', DIGEST, COMMIT), /not valid JSON/);
    assert.throws(() => assertWebManifest([]), /\$: must be an object/);
    assert.throws(() => assertWebManifest({ format: 'x', files: [] }), (e: CloisterError) => e.field === '$.format,$.files');
    assert.throws(
      () => assertWebManifest({ format: 'cloister-web/v1', files: [7, { path: '../x', bytes: -1, sha256: 'AB' }] }),
      (e: CloisterError) => e.field === '$.files[0],$.files[1].path,$.files[1].bytes,$.files[1].sha256',
    );
  });
});
