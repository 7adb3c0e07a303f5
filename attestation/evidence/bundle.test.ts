import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toBase64 } from '../bytes.js';
import { CloisterError, ParseError } from '../errors.js';
import { decodeEvidence, decodeEvidenceBundle, decodeSnpEvidence, decodeTdxEvidence, isJsonBundle } from './platforms.js';
import { collateralDates, readTdxCollateral, tdxCollateralJson } from '../tdx/collateral.js';
import { looksLikeTdxQuote } from '../tdx/evidence.js';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { snpVectorRows, vector } from '../testing/vectors.js';

const T8 = vector('dcap-qvl/tdx_quote');
const S1 = vector('go-sev-guest/attestation.bin');
const COLLATERAL = JSON.parse(new TextDecoder().decode(vector('dcap-qvl/tdx_quote_collateral.json'))) as Record<string, string>;
const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
const tdxBundle = (extra: Record<string, unknown> = {}): Uint8Array => enc({ format: 'cloister-evidence/v1', platform: 'tdx', evidence: toBase64(T8), ...extra });

function parseErrorOf(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ParseError, `expected a ParseError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ParseError');
}

describe('cloister-evidence/v1 bundles of either platform', () => {
  it('decodes a TDX bundle: quote, no certificates, dcap-qvl collateral carried verbatim', () => {
    const d = decodeEvidenceBundle(tdxBundle({ collateral: COLLATERAL, simulated: false }));
    assert.equal(d.platform, 'tdx');
    assert.deepEqual(d.evidence.quote, T8);
    assert.deepEqual(d.evidence.certificates, []);
    assert.equal(d.evidence.collateral?.tcbInfo, COLLATERAL.tcb_info);
    assert.equal(d.evidence.collateral?.qeIdentitySignature, COLLATERAL.qe_identity_signature);
    assert.equal(d.evidence.collateral?.pckCrl, COLLATERAL.pck_crl);
    assert.deepEqual(tdxCollateralJson(d.evidence.collateral ?? assert.fail('collateral')), COLLATERAL);
    const dates = collateralDates(d.evidence.collateral ?? assert.fail('collateral')) ?? assert.fail('dates');
    assert.equal(dates.tcbInfo.nextUpdate.toISOString(), '2025-07-19T10:16:03.000Z');
    assert.equal(dates.nextUpdate.toISOString(), '2025-07-19T10:16:03.000Z');
    assert.equal(decodeTdxEvidence(tdxBundle()).collateral, undefined);
  });

  it('decodes a SEV-SNP bundle as before, ignoring a collateral member', () => {
    const d = decodeEvidenceBundle(enc({ format: 'cloister-evidence/v1', platform: 'sev-snp', evidence: toBase64(S1), collateral: 7 }));
    assert.equal(d.platform, 'sev-snp');
    assert.deepEqual(d.evidence.report, S1);
  });

  it('decodeSnpEvidence names the platform of a TDX bundle, and decodeTdxEvidence that of a SEV-SNP one', () => {
    const e = parseErrorOf(() => decodeSnpEvidence(tdxBundle()));
    assert.equal(e.code, 'MALFORMED_EVIDENCE');
    assert.equal(e.field, '$.platform');
    assert.match(e.message, /holds TDX evidence .*decodeTdxEvidence/);
    const s = parseErrorOf(() => decodeTdxEvidence(enc({ format: 'cloister-evidence/v1', platform: 'sev-snp', evidence: toBase64(S1) })));
    assert.equal(s.code, 'MALFORMED_EVIDENCE');
    assert.match(s.message, /holds SEV-SNP evidence .*decodeSnpEvidence/);
  });

  it('lists every bad member, collateral members included, in one MALFORMED_EVIDENCE', () => {
    const e = parseErrorOf(() => decodeEvidenceBundle(enc({ format: 'x', platform: 'sgx', evidence: 1 })));
    assert.match(e.message, /\$\.platform: must be "sev-snp" or "tdx"/);
    assert.equal(e.field, '$.format,$.platform,$.evidence');
    const bad = { ...COLLATERAL, tcb_info: '{"issueDate":"2025-01-01T00:00:00Z"}', qe_identity_signature: 'abcd', tcb_info_issuer_chain: 'no pem', pck_crl: 'xyz' };
    delete (bad as Record<string, unknown>).qe_identity;
    const c = parseErrorOf(() => decodeEvidenceBundle(tdxBundle({ collateral: bad })));
    assert.equal(c.field, '$.collateral.tcb_info,$.collateral.tcb_info_issuer_chain,$.collateral.qe_identity,$.collateral.qe_identity_signature,$.collateral.pck_crl');
    assert.match(c.message, /tcb_info: must have ISO 8601 issueDate and nextUpdate; .*qe_identity: is required; .*must be 64 bytes of hex/);
    for (const [value, pattern] of [[[], /must be an object/], [{ ...COLLATERAL, qe_identity: 'not json' }, /must be the signed JSON text/], [{ ...COLLATERAL, tcb_info: '[1]' }, /text of an object/], [{ ...COLLATERAL, tcb_info: 5 }, /must be a string/]] as const) {
      assert.match(parseErrorOf(() => decodeEvidenceBundle(tdxBundle({ collateral: value }))).message, pattern);
    }
    assert.deepEqual(readTdxCollateral(null, '$.c').problems, ['$.c: must be an object']);
  });

  it('rejects text that is not JSON, and CRLs and certificates in each other\'s member', () => {
    assert.equal(parseErrorOf(() => decodeEvidenceBundle(new TextEncoder().encode('{nope'))).field, '$');
    const crl = Uint8Array.from(COLLATERAL.pck_crl?.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
    const vcek = vector('go-sev-guest/vcek_milan.der');
    assert.match(parseErrorOf(() => decodeEvidenceBundle(tdxBundle({ certificates: [toBase64(crl)] }))).message, /holds a CRL, which belongs in \$\.crls/);
    assert.match(parseErrorOf(() => decodeEvidenceBundle(tdxBundle({ crls: [toBase64(vcek)] }))).message, /\$\.crls\[0\] is not a CRL/);
    const ok = decodeEvidenceBundle(tdxBundle({ crls: [toBase64(crl)], certificates: [toBase64(vcek)] }));
    assert.equal(ok.evidence.crls.length + ok.evidence.certificates.length, 2);
  });

  it('collateralDates is undefined for collateral built in code with unreadable dates', () => {
    const c = readTdxCollateral(COLLATERAL, '$').collateral ?? assert.fail('collateral');
    assert.equal(collateralDates({ ...c, tcbInfo: 'nope' }), undefined);
    assert.equal(collateralDates({ ...c, qeIdentity: '{}' }), undefined);
    assert.equal(collateralDates({ ...c, qeIdentity: 'null' }), undefined);
  });

  it('recognizes each platform and form by its bytes', () => {
    assert.equal(isJsonBundle(new TextEncoder().encode(' \r\n\t{')), true);
    assert.equal(isJsonBundle(T8), false);
    for (const r of tdxVectorRows()) {
      assert.equal(looksLikeTdxQuote(r.quote), true, r.id);
      assert.equal(decodeEvidence(r.quote).platform, 'tdx', r.id);
    }
    for (const r of snpVectorRows()) {
      assert.equal(looksLikeTdxQuote(r.evidence.report), false, r.id);
      assert.equal(decodeEvidence(r.evidence.report).platform, 'sev-snp', r.id);
    }
    assert.equal(looksLikeTdxQuote(T8.subarray(0, 7)), false);
    assert.equal(decodeEvidence(tdxBundle()).platform, 'tdx');
    assert.deepEqual(decodeTdxEvidence(T8), { quote: T8, certificates: [], crls: [], simulated: false });
  });

  it('arbitrary JSON in a TDX bundle either decodes or fails with ParseError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          decodeEvidenceBundle(tdxBundle({ collateral: v }));
        } catch (e) {
          assert.ok(e instanceof ParseError && e instanceof CloisterError, String(e));
        }
      }),
      { numRuns: 300 },
    );
  });
});
