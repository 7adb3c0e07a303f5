import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../bytes.js';
import { ParseError } from '../errors.js';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { parseCertificate } from '../x509.js';
import { parsePckExtensions, pckCaType, SGX_EXTENSIONS_OID } from './pckExtensions.js';
import { parseQuote } from './quote.js';

// FMSPC per quote as testdata/attestation/README.md states it.
const FMSPC: Record<string, string> = { T1: '50806f000000', T2: '90c06f000000', T3: '00806f050000', T4: '50806f000000', T5: '90c06f000000', T6: '00a06d080000', T7: '00806f050000', T8: 'b0c06f000000' };

describe('the PCK certificate SGX extensions', () => {
  for (const row of tdxVectorRows()) {
    it(`${row.id}: FMSPC ${FMSPC[row.id] ?? '?'}, PCE ID 0000, 16 CPUSVN components matching the CPUSVN bytes`, () => {
      const pck = parseCertificate(parseQuote(row.quote).pckCertificates[0] as Uint8Array);
      const e = parsePckExtensions(pck);
      assert.equal(toHex(e.fmspc), FMSPC[row.id]);
      assert.equal(toHex(e.pceId), '0000');
      assert.deepEqual([...e.cpuSvn], e.cpuSvnComponents);
      assert.equal(e.ppid.length, 16);
      assert.ok(e.pceSvn > 0 && e.pceSvn < 100);
      assert.ok(pckCaType(pck) !== undefined);
    });
  }

  it('a certificate without them, or with a damaged TCB entry, is a MALFORMED_DER ParseError naming the part', () => {
    const row = tdxVectorRows()[0];
    assert.ok(row);
    const certs = parseQuote(row.quote).pckCertificates;
    const ca = parseCertificate(certs[1] as Uint8Array);
    assert.throws(() => parsePckExtensions(ca), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_DER' && /has no SGX extensions/.test(e.message));
    const pck = parseCertificate(certs[0] as Uint8Array);
    const ext = pck.extensions.get(SGX_EXTENSIONS_OID);
    assert.ok(ext);
    // Drop the last byte of the extension: the DER no longer closes.
    const broken = { ...pck, extensions: new Map([[SGX_EXTENSIONS_OID, { ...ext, value: ext.value.subarray(0, ext.value.length - 1) }]]) };
    assert.throws(() => parsePckExtensions(broken), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_DER' && e.message.startsWith('PCK certificate SGX extensions'));
  });
});
