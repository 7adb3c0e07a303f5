import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../bytes.js';
import { ParseError } from '../errors.js';
import { onlyParseErrors } from '../testing/parseErrors.js';
import { snpVectorRows } from '../testing/vectors.js';
import { decodeSnpEvidence } from '../evidence/platforms.js';
import { parseReport, REPORT_SIZE, serializeReport, signatureP1363 } from './report.js';

const rows = snpVectorRows();
const report = (id: string): Uint8Array => {
  const row = rows.find((r) => r.id === id);
  assert.ok(row);
  return row.evidence.report.slice();
};

function parseError(bytes: Uint8Array): ParseError {
  try {
    parseReport(bytes);
  } catch (e) {
    assert.ok(e instanceof ParseError, `expected ParseError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ParseError');
}

describe('parseReport', () => {
  it('reads every field of a version 2 report (S1)', () => {
    const r = parseReport(report('S1'));
    assert.equal(r.version, 2);
    assert.equal(r.policy.raw, 0xb0000n);
    assert.equal(r.policy.debug, true);
    assert.equal(r.policy.smt, true);
    assert.equal(r.policy.reservedOne, true);
    assert.equal(r.policy.migrateMa, false);
    assert.equal(r.cpuid, undefined, 'version 2 has no CPUID fields');
    assert.equal(r.launchMitVector, undefined);
    assert.equal(r.keyInfo.signingKey, 'vcek');
    assert.equal(toHex(r.reportData.subarray(0, 6)), '010203040500');
    assert.equal(r.signatureAlgo, 1);
    assert.equal(r.reportedTcb, 0x4405000000000002n);
    assert.deepEqual(r.currentVersion, { major: 1, minor: 49, build: 3 });
  });

  it('reads CPUID and key info of a version 3 VLEK report (S4)', () => {
    const r = parseReport(report('S4'));
    assert.equal(r.version, 3);
    assert.deepEqual(r.cpuid, { family: 0x19, model: 0x01, stepping: 0x01 });
    assert.equal(r.vmpl, 1);
    assert.equal(r.keyInfo.signingKey, 'vlek');
    assert.equal(r.platformInfo.raw, 0x27n);
    assert.equal(r.platformInfo.smtEnabled, true);
    assert.equal(r.platformInfo.aliasCheckComplete, true);
    assert.equal(r.currentTcb, 0xdc18000000000004n);
    assert.equal(r.committedTcb, 0xdb18000000000004n);
  });

  it('reads the launch and current mitigation vectors of a version 5 report', () => {
    const bytes = report('S5');
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    v.setUint32(0, 5, true);
    v.setBigUint64(0x1f8, 0x1234n, true);
    v.setBigUint64(0x200, 0x5678n, true);
    const r = parseReport(bytes);
    assert.equal(r.launchMitVector, 0x1234n);
    assert.equal(r.currentMitVector, 0x5678n);
    assert.ok(r.cpuid);
  });

  for (const row of rows) {
    it(`round-trips ${row.id} byte for byte through serializeReport`, () => {
      const bytes = row.evidence.report;
      assert.deepEqual(serializeReport(parseReport(bytes)), new Uint8Array(bytes));
    });
  }

  it('converts the little-endian r and s to the big-endian P1363 form', () => {
    const r = parseReport(report('S2'));
    const sig = signatureP1363(r);
    assert.equal(sig[47], r.signatureR[0]);
    assert.equal(sig[0], r.signatureR[47]);
    assert.equal(sig[95], r.signatureS[0]);
  });

  it('reads a report inside a pooled Buffer at a non-zero byteOffset', () => {
    const pool = Buffer.alloc(REPORT_SIZE + 100);
    pool.set(report('S2'), 37);
    assert.equal(parseReport(pool.subarray(37, 37 + REPORT_SIZE)).version, 2);
  });
});

interface Mutation {
  readonly name: string;
  readonly base: string;
  readonly apply: (b: Uint8Array) => Uint8Array;
  readonly code: string;
  readonly offset?: number;
}

const set = (at: number, value: number) => (b: Uint8Array): Uint8Array => {
  b[at] = value;
  return b;
};
const setU32 = (at: number, value: number) => (b: Uint8Array): Uint8Array => {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, value, true);
  return b;
};

const MUTATIONS: Mutation[] = [
  { name: 'truncated by one byte', base: 'S2', apply: (b) => b.subarray(0, REPORT_SIZE - 1), code: 'TRUNCATED' },
  { name: 'empty', base: 'S2', apply: () => new Uint8Array(0), code: 'TRUNCATED' },
  { name: 'one trailing byte', base: 'S2', apply: (b) => Uint8Array.from([...b, 0]), code: 'TRAILING_BYTES', offset: REPORT_SIZE },
  ...[0, 1, 6, 0xffffffff].map((version) => ({ name: `version ${version}`, base: 'S2', apply: setU32(0, version), code: 'UNSUPPORTED_VERSION', offset: 0 })),
  { name: 'SIGNATURE_ALGO 2', base: 'S2', apply: setU32(0x34, 2), code: 'UNSUPPORTED_ALGORITHM', offset: 0x34 },
  { name: 'VMPL 4', base: 'S2', apply: setU32(0x30, 4), code: 'MALFORMED_FIELD', offset: 0x30 },
  // Must-be-zero ranges: first and last byte of each, per version.
  ...[0x04c, 0x04f, 0x188, 0x18a, 0x18b, 0x19f, 0x1eb, 0x1ef, 0x1f8, 0x200, 0x207, 0x208, 0x29f, 0x2d0, 0x2e7, 0x318, 0x32f, 0x330, 0x49f].map((at) => ({
    name: `v2 reserved byte 0x${at.toString(16)}`,
    base: 'S2',
    apply: set(at, 1),
    code: 'RESERVED_NONZERO',
  })),
  ...[0x04c, 0x18b, 0x19f, 0x1f8, 0x29f, 0x330].map((at) => ({ name: `v3 reserved byte 0x${at.toString(16)}`, base: 'S5', apply: set(at, 0x80), code: 'RESERVED_NONZERO' })),
  ...[0x188, 0x1f8, 0x200].map((at) => ({ name: `v2 reserved byte 0x${at.toString(16)} (CPUID, mitigation vectors)`, base: 'S2', apply: set(at, 1), code: 'RESERVED_NONZERO' })),
  ...[0x18b, 0x1f8, 0x207].map((at) => ({ name: `v4 reserved byte 0x${at.toString(16)}`, base: 'S5', apply: (b: Uint8Array) => set(at, 1)(setU32(0, 4)(b)), code: 'RESERVED_NONZERO' })),
  ...[0x208, 0x29f].map((at) => ({ name: `v5 reserved byte 0x${at.toString(16)}`, base: 'S5', apply: (b: Uint8Array) => set(at, 1)(setU32(0, 5)(b)), code: 'RESERVED_NONZERO' })),
];

describe('parseReport rejects malformed reports with the exact reason', () => {
  for (const m of MUTATIONS) {
    it(`${m.name}: ${m.code}`, () => {
      const e = parseError(m.apply(report(m.base)));
      assert.equal(e.code, m.code);
      if (m.offset !== undefined) assert.equal(e.offset, m.offset);
      if (m.code === 'RESERVED_NONZERO') assert.match(e.message, /must-be-zero range 0x[0-9a-f]{3}\.\.0x[0-9a-f]{3} .* holds [0-9a-f]*[1-9a-f]/);
    });
  }

  it('reads version 4 (unpublished, seen from GCP firmware 1.55.31) with the version 3 layout', () => {
    const r = parseReport(setU32(0, 4)(report('S5')));
    assert.equal(r.version, 4);
    assert.ok(r.cpuid);
    assert.equal(r.launchMitVector, undefined);
  });

  it('accepts values in the CPUID and mitigation-vector bytes of versions that define them', () => {
    assert.doesNotThrow(() => parseReport(set(0x188, 0x19)(report('S5'))));
    assert.doesNotThrow(() => parseReport(set(0x1f8, 1)(setU32(0, 5)(report('S5')))));
  });

  it('decodes reserved policy, platform-info and key-info bits instead of rejecting them (policy judges them after the signature)', () => {
    const r = parseReport(set(0x0d, 0x80)(set(0x47, 0x01)(setU32(0x48, 0x80000000)(report('S2')))));
    assert.equal(r.policy.reservedBits, 0x800000000000n);
    assert.equal(r.platformInfo.reservedBits, 0x0100000000000000n);
    assert.equal(r.keyInfo.reservedBits, 0x80000000);
  });
});

describe('parsers never throw anything but ParseError', () => {

  it('parseReport on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 1300 }), (bytes) => { onlyParseErrors(() => parseReport(bytes)); }), { numRuns: 500 });
  });

  it('parseReport on a real report with arbitrary bytes overwritten', () => {
    const base = report('S5');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: REPORT_SIZE - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (edits) => {
        const b = base.slice();
        for (const [at, v] of edits) b[at] = v;
        onlyParseErrors(() => parseReport(b));
      }),
      { numRuns: 1000 },
    );
  });

  it('decodeSnpEvidence on arbitrary bytes after a report and on arbitrary JSON-looking input', () => {
    const base = report('S2');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (tail) => { onlyParseErrors(() => decodeSnpEvidence(Uint8Array.from([...base, ...tail]))); }), { numRuns: 300 });
    fc.assert(fc.property(fc.json(), (text) => { onlyParseErrors(() => decodeSnpEvidence(new TextEncoder().encode(`{"x":${text}}`))); }), { numRuns: 300 });
  });
});
