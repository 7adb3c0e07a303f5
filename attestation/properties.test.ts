// Property tests: arbitrary or mutated bytes either parse or fail with ParseError, nothing else;
// and verifySnpEvidence turns any bad endorsement into a verdict instead of throwing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCertTable } from './snp/certTable.js';
import { verifySnpEvidence } from './snp/evidence.js';
import { isVekCertificate, parseVekExtensions } from './snp/vek.js';
import { applyEdits, edits, onlyParseErrors } from './testing/parseErrors.js';
import { snpVectorRows, vector } from './testing/vectors.js';
import { parseCertificate, parseCrl } from './x509.js';



describe('parser properties', () => {
  const vcek = vector('go-sev-guest/vcek_milan.der');
  const table = vector('derived/snp-extended-reports/gsg_milan.ext.bin').subarray(1184);

  it('parseCertificate and parseVekExtensions on arbitrary and on mutated certificates', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => { onlyParseErrors(() => parseCertificate(b)); }), { numRuns: 300 });
    fc.assert(
      fc.property(edits(vcek.length), (list) => {
        onlyParseErrors(() => {
          const cert = parseCertificate(applyEdits(vcek, list));
          if (isVekCertificate(cert)) parseVekExtensions(cert);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('parseCrl on arbitrary bytes and on a mutated certificate', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => { onlyParseErrors(() => parseCrl(b)); }), { numRuns: 300 });
    fc.assert(fc.property(edits(vcek.length), (list) => { onlyParseErrors(() => parseCrl(applyEdits(vcek, list))); }), { numRuns: 200 });
  });

  it('parseCertTable on arbitrary and on mutated tables', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => { onlyParseErrors(() => parseCertTable(b)); }), { numRuns: 300 });
    fc.assert(fc.property(edits(96), (list) => { onlyParseErrors(() => parseCertTable(applyEdits(table, list))); }), { numRuns: 300 });
  });
});

describe('verifySnpEvidence never throws for bad endorsements', () => {
  it('returns a rejecting verdict for any mutation of the VCEK, ASK or ARK', async () => {
    const row = snpVectorRows().find((r) => r.id === 'S2');
    assert.ok(row);
    const certs = row.evidence.certificates;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: certs.length - 1 }), edits(1300), async (which, list) => {
        const mutated = certs.map((c, i) => (i === which ? applyEdits(c, list.map(([at, v]) => [at % c.length, v])) : c));
        const changed = mutated.some((c, i) => c.some((b, j) => b !== certs[i]?.[j]));
        const v = await verifySnpEvidence({ ...row.evidence, certificates: mutated }, {}, { at: new Date('2025-06-01T00:00:00Z') });
        if (changed && which === 0) assert.equal(v.accepted, false);
      }),
      { numRuns: 150 },
    );
  });
});
