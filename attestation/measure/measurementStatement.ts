// The in-toto statement `cloister publish` signs for an image build (issue 18, docs/transparency.md "Publishing"):
//
//   { "_type": "https://in-toto.io/Statement/v1",
//     "subject": [ { "name": "image-manifest.json", "digest": { "sha256": <image.manifest of the file> } } ],
//     "predicateType": "https://cloister.dev/attestation/measurements/v1",
//     "predicate": { "measurements": <the measurements.json content, schema cloister-measurements/v1>,
//                    "source": { "commit": <40 or 64 hex digits of the source commit> } } }
//
// The subject is the image by the digest of its manifest, which names every artifact of the image by its own
// digest (docs/image.md); the predicate is what a client then accepts. Browser-safe: no I/O, no keys.
import { toHex } from '../bytes.js';
import { PolicyError } from '../errors.js';
import type { Statement, StatementSubject } from '../sigstore/inToto.js';
import type { JsonObject } from '../sigstore/jsonFields.js';
import { assertMeasurementsFile, type MeasurementsFile } from './measurementsFile.js';

export const MEASUREMENTS_PREDICATE_TYPE = 'https://cloister.dev/attestation/measurements/v1';
/** The subject's name: the image build's manifest, whose SHA-256 the measurements file records. */
export const IMAGE_MANIFEST_SUBJECT = 'image-manifest.json';

export interface MeasurementsPredicate {
  readonly measurements: MeasurementsFile;
  readonly source: { readonly commit: string };
}

const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The statement of `file` built from `commit` (a git commit ID, SHA-1 or SHA-256, lowercase hex). */
export function measurementsStatement(file: MeasurementsFile, commit: string): Omit<Statement, 'type'> {
  if (!COMMIT.test(commit)) throw new PolicyError('MALFORMED_POLICY', `the source commit must be 40 or 64 lowercase hex digits, got "${commit}"`, { field: 'source.commit', actual: commit });
  const subject: StatementSubject = { name: IMAGE_MANIFEST_SUBJECT, digest: { sha256: file.image.manifest.toLowerCase() } };
  return { subject: [subject], predicateType: MEASUREMENTS_PREDICATE_TYPE, predicate: { measurements: file as unknown as JsonObject, source: { commit } } };
}

/**
 * The measurements a verified statement publishes: MALFORMED_STATEMENT when it is of another predicate type, when
 * its predicate is not a measurements file with a source commit (every bad field named), or when no subject is
 * the image manifest the file names (the statement would be about another image).
 */
export function parseMeasurementsStatement(statement: Statement): MeasurementsPredicate {
  if (statement.predicateType !== MEASUREMENTS_PREDICATE_TYPE) {
    throw new PolicyError('MALFORMED_STATEMENT', `the statement's predicate type is ${statement.predicateType}, not ${MEASUREMENTS_PREDICATE_TYPE}`, { field: '$.predicateType', expected: MEASUREMENTS_PREDICATE_TYPE, actual: statement.predicateType });
  }
  const p = statement.predicate ?? {};
  const problems: string[] = [];
  let measurements: MeasurementsFile | undefined;
  try {
    measurements = assertMeasurementsFile(p.measurements);
  } catch (e) {
    problems.push(`$.predicate.measurements: ${(e as Error).message}`);
  }
  const source = p.source;
  const commit = typeof source === 'object' && source !== null && !Array.isArray(source) ? (source as Record<string, unknown>).commit : undefined;
  if (typeof commit !== 'string' || !COMMIT.test(commit)) problems.push('$.predicate.source.commit: must be 40 or 64 lowercase hex digits');
  if (problems.length > 0 || measurements === undefined) throw new PolicyError('MALFORMED_STATEMENT', `invalid measurements statement: ${problems.join('; ')}`, { field: problems.map((x) => x.split(':')[0]).join(',') });
  const manifest = measurements.image.manifest.toLowerCase();
  if (!statement.subject.some((s) => s.name === IMAGE_MANIFEST_SUBJECT && s.digest.sha256 === manifest)) {
    throw new PolicyError('SUBJECT_MISMATCH', `no subject of the statement is ${IMAGE_MANIFEST_SUBJECT} sha256:${manifest}, the image its measurements are of`, {
      field: '$.subject',
      expected: `${IMAGE_MANIFEST_SUBJECT} sha256:${manifest}`,
      actual: statement.subject.map((s) => `${s.name} sha256:${s.digest.sha256 ?? '(none)'}`).join(', '),
    });
  }
  return Object.freeze({ measurements, source: Object.freeze({ commit: commit as string }) });
}

/** The launch measurements (SEV-SNP MEASUREMENT, TDX MRTD; lowercase hex) a measurements file lists, per platform. */
export function listedMeasurements(file: MeasurementsFile): { readonly 'sev-snp': readonly string[]; readonly tdx: readonly string[] } {
  return { 'sev-snp': (file['sev-snp'] ?? []).map((e) => e.measurement.toLowerCase()), tdx: (file.tdx ?? []).map((e) => e.mrTd.toLowerCase()) };
}

/** A measurement as the log's lookup path names it (lowercase hex). */
export const measurementKey = (m: Uint8Array | string): string => (typeof m === 'string' ? m.toLowerCase() : toHex(m));
