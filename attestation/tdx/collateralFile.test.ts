import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ParseError } from '../errors.js';
import { applyEdits, edits, onlyParseErrors } from '../testing/parseErrors.js';
import { recordedPcsResponsesFile } from '../testing/recordedPcs.js';
import { vector } from '../testing/vectors.js';
import { readTdxCollateral, tdxCollateralJson } from './collateral.js';
import { parseTdxCollateralFile } from './collateralFile.js';

const DERIVED_T1 = 'derived/tdx-collateral-dcapqvl-format/go-tdx-guest_sample_v4_50806f000000.json';
const json = (path: string): Record<string, unknown> => JSON.parse(new TextDecoder().decode(vector(path))) as Record<string, unknown>;

const refused = (file: unknown, ...problems: RegExp[]): void => {
  const text = typeof file === 'string' ? file : JSON.stringify(file);
  assert.throws(
    () => parseTdxCollateralFile(text),
    (e: unknown) => {
      assert.ok(e instanceof ParseError && e.code === 'MALFORMED_EVIDENCE', String(e));
      for (const p of problems) assert.match(e.message, p);
      return true;
    },
  );
};

describe('parseTdxCollateralFile', () => {
  it("reads dcap-qvl's collateral JSON as a bundle's collateral member is read", () => {
    for (const path of [DERIVED_T1, 'dcap-qvl/tdx_quote_collateral.json']) {
      const file = vector(path);
      assert.deepEqual(parseTdxCollateralFile(file), readTdxCollateral(json(path), '$').collateral);
    }
  });

  it("converts Intel PCS responses (bodies and issuer chain headers as served) to the collateral of the derived dcap-qvl file", () => {
    const pcs = recordedPcsResponsesFile();
    assert.deepEqual(tdxCollateralJson(parseTdxCollateralFile(JSON.stringify(pcs))), json(DERIVED_T1));
    // Issuer chains already URL-decoded (plain PEM) read the same; the CRLs may be left out.
    const decoded = { tcbInfo: { ...pcs.tcbInfo, issuerChain: decodeURIComponent(pcs.tcbInfo.issuerChain ?? '') }, qeIdentity: pcs.qeIdentity };
    const c = tdxCollateralJson(parseTdxCollateralFile(new TextEncoder().encode(JSON.stringify(decoded))));
    const signed = Object.fromEntries(Object.entries(json(DERIVED_T1)).filter(([member]) => !['pck_crl', 'pck_crl_issuer_chain', 'root_ca_crl'].includes(member)));
    assert.deepEqual(c, signed);
  });

  it('refuses, listing every problem: not UTF-8 JSON, not an object, neither shape', () => {
    assert.throws(() => parseTdxCollateralFile(Uint8Array.of(0x7b, 0xff)), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_EVIDENCE' && /not UTF-8 JSON/.test(e.message));
    refused('{"tcb_info":', /not UTF-8 JSON/);
    refused([], /\$: must be an object/);
    refused({ tcbinfo: {} }, /neither dcap-qvl collateral JSON .* nor Intel PCS responses/);
  });

  it('refuses bad PCS responses, naming each response: wrong types, a body without its member, a CRL that is not hex DER', () => {
    const pcs = recordedPcsResponsesFile();
    refused({ tcbInfo: { body: 1 }, qeIdentity: 'x', rootCaCrl: { body: [] } }, /\$\.tcbInfo\.body: must be a string/, /\$\.tcbInfo\.issuerChain: must be a string/, /\$\.qeIdentity: must be an object with "body" and "issuerChain"/, /\$\.rootCaCrl\.body: must be a string/);
    refused({ tcbInfo: pcs.tcbInfo }, /\$\.qeIdentity: must be an object/);
    refused({ ...pcs, tcbInfo: { ...pcs.tcbInfo, body: pcs.qeIdentity.body }, pckCrl: { ...pcs.pckCrl, body: 'zz' } }, /\$\.tcbInfo: body: the object has no member "tcbInfo"/, /\$\.pckCrl: the body is neither a DER CRL nor its hex/);
    refused({ ...pcs, qeIdentity: { ...pcs.qeIdentity, issuerChain: '%E0%A4%A' } }, /\$\.qeIdentity: the SGX-Enclave-Identity-Issuer-Chain header is not valid URL encoding/);
    assert.throws(
      () => parseTdxCollateralFile(JSON.stringify({ tcbInfo: { body: 1 }, qeIdentity: 'x' })),
      (e: unknown) => e instanceof ParseError && e.field === '$.tcbInfo.body, $.tcbInfo.issuerChain, $.qeIdentity',
    );
  });

  it('refuses a dcap-qvl file with a bad member, as readTdxCollateral words it', () => {
    const file = json(DERIVED_T1);
    delete file.qe_identity;
    refused({ ...file, tcb_info_signature: 'ab' }, /\$\.tcb_info_signature: must be 64 bytes of hex/, /\$\.qe_identity: is required/);
  });

  it('property: arbitrary JSON, and byte edits of a PCS responses file, either read or raise ParseError', () => {
    fc.assert(fc.property(fc.json(), (text) => { onlyParseErrors(() => parseTdxCollateralFile(text)); }), { numRuns: 300 });
    const file = new TextEncoder().encode(JSON.stringify(recordedPcsResponsesFile()));
    fc.assert(fc.property(edits(file.length), (list) => { onlyParseErrors(() => parseTdxCollateralFile(applyEdits(file, list))); }), { numRuns: 300 });
  });
});
