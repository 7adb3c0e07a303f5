// The verify page's release as its own statement in the transparency log (docs/verify-page.md "Publishing"): a page
// served by the server it verifies proves nothing, so the page is published apart, and its digest logged, for a
// visitor to compare with the copy they loaded.
//
//   { "_type": "https://in-toto.io/Statement/v1",
//     "subject": [ { "name": "web-manifest.json", "digest": { "sha256": <SHA-256 of web-manifest.json, as written> } } ],
//     "predicateType": "https://cloister.dev/attestation/verify-page/v1",
//     "predicate": { "manifest": { "format": "cloister-web/v1",
//                                  "files": [ { "path": "index.html", "bytes": 4720, "sha256": <hex> }, ... ] },
//                    "source": { "commit": <40 or 64 hex> } } }
//
// The manifest (scripts/web/buildWeb.ts) names every file of the page with its digest, so the manifest's digest
// stands for the page. Browser-safe: no I/O, no keys.
import { PolicyError } from '../errors.js';
import type { Statement, StatementSubject } from '../sigstore/inToto.js';
import type { JsonObject } from '../sigstore/jsonFields.js';

export const WEB_PAGE_PREDICATE_TYPE = 'https://cloister.dev/attestation/verify-page/v1';
export const WEB_MANIFEST_SUBJECT = 'web-manifest.json';
export const WEB_MANIFEST_FORMAT = 'cloister-web/v1';

export interface WebManifest {
  readonly format: typeof WEB_MANIFEST_FORMAT;
  readonly files: readonly { readonly path: string; readonly bytes: number; readonly sha256: string }[];
}

export interface WebPagePredicate {
  readonly manifest: WebManifest;
  readonly source: { readonly commit: string };
}

const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const HEX32 = /^[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws PolicyError MALFORMED_STATEMENT naming every invalid field path of a manifest. */
export function assertWebManifest(value: unknown, at = '$'): WebManifest {
  const problems: string[] = [];
  if (!isObject(value)) problems.push(`${at}: must be an object`);
  else {
    if (value.format !== WEB_MANIFEST_FORMAT) problems.push(`${at}.format: must be "${WEB_MANIFEST_FORMAT}"`);
    if (!Array.isArray(value.files) || value.files.length === 0) problems.push(`${at}.files: must be a non-empty array`);
    else {
      value.files.forEach((f: unknown, i) => {
        const p = `${at}.files[${i}]`;
        if (!isObject(f)) return void problems.push(`${p}: must be an object`);
        if (typeof f.path !== 'string' || !/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/.test(f.path) || f.path.split('/').includes('..')) problems.push(`${p}.path: must be a relative path`);
        if (typeof f.bytes !== 'number' || !Number.isInteger(f.bytes) || f.bytes < 0) problems.push(`${p}.bytes: must be a byte count`);
        if (typeof f.sha256 !== 'string' || !HEX32.test(f.sha256)) problems.push(`${p}.sha256: must be 64 lowercase hex digits`);
      });
    }
  }
  if (problems.length > 0) throw new PolicyError('MALFORMED_STATEMENT', `invalid web manifest: ${problems.join('; ')}`, { field: problems.map((x) => x.split(':')[0]).join(',') });
  return value as WebManifest;
}

/** The statement of the page whose web-manifest.json is `manifestText` (SHA-256 `manifestSha256`, hex), built from `commit`. */
export function webPageStatement(manifestText: string, manifestSha256: string, commit: string): Omit<Statement, 'type'> {
  if (!COMMIT.test(commit)) throw new PolicyError('MALFORMED_POLICY', `the source commit must be 40 or 64 lowercase hex digits, got "${commit}"`, { field: 'source.commit', actual: commit });
  if (!HEX32.test(manifestSha256)) throw new PolicyError('MALFORMED_POLICY', `the manifest digest must be 64 lowercase hex digits, got "${manifestSha256}"`, { field: 'subject', actual: manifestSha256 });
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifestText);
  } catch (cause) {
    throw new PolicyError('MALFORMED_STATEMENT', `the web manifest is not valid JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
  const manifest = assertWebManifest(parsed);
  const subject: StatementSubject = { name: WEB_MANIFEST_SUBJECT, digest: { sha256: manifestSha256 } };
  return { subject: [subject], predicateType: WEB_PAGE_PREDICATE_TYPE, predicate: { manifest: manifest as unknown as JsonObject, source: { commit } } };
}

/**
 * What a verified statement publishes of a page: MALFORMED_STATEMENT for another predicate type or a bad predicate,
 * SUBJECT_MISMATCH when no subject is web-manifest.json with `manifestSha256`.
 */
export function parseWebPageStatement(statement: Statement, manifestSha256: string): WebPagePredicate {
  if (statement.predicateType !== WEB_PAGE_PREDICATE_TYPE) {
    throw new PolicyError('MALFORMED_STATEMENT', `the statement's predicate type is ${statement.predicateType}, not ${WEB_PAGE_PREDICATE_TYPE}`, { field: '$.predicateType', expected: WEB_PAGE_PREDICATE_TYPE, actual: statement.predicateType });
  }
  const p = statement.predicate ?? {};
  const manifest = assertWebManifest(p.manifest, '$.predicate.manifest');
  const commit = isObject(p.source) ? p.source.commit : undefined;
  if (typeof commit !== 'string' || !COMMIT.test(commit)) throw new PolicyError('MALFORMED_STATEMENT', 'invalid verify page statement: $.predicate.source.commit: must be 40 or 64 lowercase hex digits', { field: '$.predicate.source.commit' });
  const digest = manifestSha256.toLowerCase();
  if (!statement.subject.some((s) => s.name === WEB_MANIFEST_SUBJECT && s.digest.sha256 === digest)) {
    throw new PolicyError('SUBJECT_MISMATCH', `no subject of the statement is ${WEB_MANIFEST_SUBJECT} sha256:${digest}`, {
      field: '$.subject',
      expected: `${WEB_MANIFEST_SUBJECT} sha256:${digest}`,
      actual: statement.subject.map((s) => `${s.name} sha256:${s.digest.sha256 ?? '(none)'}`).join(', '),
    });
  }
  return Object.freeze({ manifest, source: Object.freeze({ commit }) });
}

/** Where the log keeps the bundle of the page whose manifest has this SHA-256 (hex). */
export const webPageBundlePath = (manifestSha256: string): string => `web/${manifestSha256.toLowerCase()}.sigstore.json`;
