// in-toto Statement v1 (in-toto/attestation spec/v1/statement.md, resource_descriptor.md): the payload of a DSSE
// envelope of type application/vnd.in-toto+json:
//
//   { "_type": "https://in-toto.io/Statement/v1",
//     "subject": [ { "name": "<name>", "digest": { "sha256": "<lowercase hex>", ... } }, ... ],
//     "predicateType": "<URI>",
//     "predicate": { ... } }
//
// parseStatement checks the shape (a subject needs at least one digest; digest values are lowercase hex for the
// algorithms the spec lists as hex, sha256 of 64 digits); the predicate stays opaque JSON. The older
// https://in-toto.io/Statement/v0.1 `_type` is accepted, as Sigstore's verifiers do. matchSubject is the validate
// step: the statement names the artifact by its digest.
import { toHex } from '../bytes.js';
import { PolicyError } from '../errors.js';
import { JsonFields, isObject, parseJsonText, type JsonObject } from './jsonFields.js';

export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1';
export const STATEMENT_TYPE_V01 = 'https://in-toto.io/Statement/v0.1';

export interface StatementSubject {
  readonly name: string;
  /** Algorithm (lowercase, as in-toto names them: sha256, sha512, gitCommit, ...) to digest value. */
  readonly digest: Readonly<Record<string, string>>;
}

export interface Statement {
  readonly type: string;
  readonly subject: readonly StatementSubject[];
  readonly predicateType: string;
  /** The predicate as parsed JSON; undefined when the statement has none. */
  readonly predicate: JsonObject | undefined;
}

const HEX_DIGESTS: Readonly<Record<string, number>> = { sha256: 64, sha224: 56, sha384: 96, sha512: 128, sha512_224: 56, sha512_256: 64, sha3_256: 64, sha3_384: 96, sha3_512: 128, sha1: 40, md5: 32 };
const HEX_DIGEST_FORMS: Readonly<Record<string, RegExp>> = Object.fromEntries(Object.entries(HEX_DIGESTS).map(([alg, n]) => [alg, new RegExp(`^[0-9a-f]{${n}}$`)]));

/** Parses a statement from the DSSE payload (UTF-8 JSON); MALFORMED_STATEMENT listing every bad field. */
export function parseStatement(payload: Uint8Array | string): Statement {
  const value = parseJsonText(payload, 'MALFORMED_STATEMENT', 'in-toto statement');
  const f = new JsonFields();
  const o = f.object(value, '$');
  if (o === undefined) return f.fail('MALFORMED_STATEMENT', 'in-toto statement');
  const type = f.string(o._type, '$._type');
  if (type !== undefined && type !== STATEMENT_TYPE_V1 && type !== STATEMENT_TYPE_V01) f.problem('$._type', `"${type}" is not ${STATEMENT_TYPE_V1}`);
  const subjects: StatementSubject[] = [];
  f.array(o.subject, '$.subject', { nonEmpty: true })?.forEach((s, i) => {
    const at = `$.subject[${i}]`;
    if (!isObject(s)) { f.problem(at, 'must be an object'); return; }
    const name = s.name === undefined ? '' : f.string(s.name, `${at}.name`);
    const digest = f.object(s.digest, `${at}.digest`);
    if (digest === undefined || name === undefined) return undefined;
    const entries = Object.entries(digest);
    if (entries.length === 0) { f.problem(`${at}.digest`, 'must name at least one digest'); return; }
    const before = f.problems.length;
    for (const [alg, v] of entries) {
      if (typeof v !== 'string') f.problem(`${at}.digest.${alg}`, 'must be a string');
      else if (HEX_DIGEST_FORMS[alg]?.test(v) === false) f.problem(`${at}.digest.${alg}`, `must be ${HEX_DIGESTS[alg]} lowercase hex digits`);
    }
    if (f.problems.length === before) subjects.push(Object.freeze({ name, digest: Object.freeze({ ...(digest as Record<string, string>) }) }));
    return undefined;
  });
  const predicateType = f.string(o.predicateType, '$.predicateType', { nonEmpty: true });
  const predicate = o.predicate === undefined ? undefined : f.object(o.predicate, '$.predicate');
  const statement = type === undefined || predicateType === undefined ? undefined : { type, subject: Object.freeze(subjects), predicateType, predicate };
  return Object.freeze(f.done('MALFORMED_STATEMENT', 'in-toto statement', statement));
}

/** A statement as JSON text (key order: _type, subject, predicateType, predicate). */
export function serializeStatement(s: Omit<Statement, 'type'> & { readonly type?: string }): string {
  return JSON.stringify({ _type: s.type ?? STATEMENT_TYPE_V1, subject: s.subject, predicateType: s.predicateType, ...(s.predicate === undefined ? {} : { predicate: s.predicate }) });
}

/** The subjects whose sha256 digest is `sha256` (32 bytes, or hex). */
export function subjectsWithDigest(statement: Statement, sha256: Uint8Array | string): StatementSubject[] {
  const hex = typeof sha256 === 'string' ? sha256.toLowerCase() : toHex(sha256);
  return statement.subject.filter((s) => s.digest.sha256 === hex);
}

/**
 * The subject the artifact is, by its SHA-256 digest (and, with `name`, its name too); SUBJECT_MISMATCH when the
 * statement is about other artifacts.
 */
export function matchSubject(statement: Statement, sha256: Uint8Array | string, name?: string): StatementSubject {
  const hex = typeof sha256 === 'string' ? sha256.toLowerCase() : toHex(sha256);
  const found = subjectsWithDigest(statement, hex).find((s) => name === undefined || s.name === name);
  if (found === undefined) {
    const listed = statement.subject.map((s) => `${s.name} sha256:${s.digest.sha256 ?? '(none)'}`).join(', ');
    throw new PolicyError('SUBJECT_MISMATCH', `no subject of the statement is ${name === undefined ? '' : `${name} `}sha256:${hex}; it names ${listed}`, {
      field: 'subject',
      expected: `${name === undefined ? '' : `${name} `}sha256:${hex}`,
      actual: listed,
    });
  }
  return found;
}
