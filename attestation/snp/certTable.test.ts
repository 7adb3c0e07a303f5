import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseError } from '../errors.js';
import { vector } from '../testing/vectors.js';
import { parseCertificate } from '../x509.js';
import { CERT_GUID, parseCertTable, serializeCertTable } from './certTable.js';
import { REPORT_SIZE } from './report.js';

const table = (file: string): Uint8Array => vector(`derived/snp-extended-reports/${file}`).subarray(REPORT_SIZE);

describe('certificate table (SNP_GET_EXT_REPORT / configfs-tsm auxblob)', () => {
  it('lists VCEK, ASK and ARK of a Milan extended report, each a certificate of the right role', () => {
    const entries = parseCertTable(table('gsg_milan.ext.bin'));
    assert.deepEqual(entries.map((e) => e.guid), [CERT_GUID.vcek, CERT_GUID.ask, CERT_GUID.ark]);
    assert.deepEqual(entries.map((e) => parseCertificate(e.data).subjectCommonName), ['SEV-VCEK', 'SEV-Milan', 'ARK-Milan']);
  });

  it('lists the VLEK of a VLEK extended report', () => {
    assert.equal(parseCertTable(table('trustee_vlek2.ext.bin'))[0]?.guid, CERT_GUID.vlek);
  });

  it('round-trips through serializeCertTable', () => {
    const bytes = table('az_genoa.ext.bin');
    const entries = parseCertTable(bytes);
    assert.deepEqual(parseCertTable(serializeCertTable(entries)), entries);
    assert.deepEqual(serializeCertTable(entries), new Uint8Array(bytes));
  });

  it('accepts zero padding after the last certificate (page-sized kernel buffers)', () => {
    const bytes = Uint8Array.from([...table('gsg_milan.ext.bin'), ...new Uint8Array(4096)]);
    assert.equal(parseCertTable(bytes).length, 3);
  });

  const bad: [string, (b: Uint8Array) => Uint8Array][] = [
    ['no terminating entry', (b) => b.subarray(0, 24 * 3)],
    ['an entry pointing past the end', (b) => { new DataView(b.buffer, b.byteOffset).setUint32(20, 0xfffff, true); return b; }],
    ['a zero-length entry', (b) => { new DataView(b.buffer, b.byteOffset).setUint32(20, 0, true); return b; }],
    ['a duplicated GUID', (b) => { b.copyWithin(24, 0, 16); return b; }],
    ['non-zero bytes after the last certificate', (b) => Uint8Array.from([...b, 1])],
  ];
  for (const [name, mutate] of bad) {
    it(`rejects ${name} with MALFORMED_CERT_TABLE`, () => {
      assert.throws(() => parseCertTable(mutate(table('gsg_milan.ext.bin').slice())), (e) => e instanceof ParseError && e.code === 'MALFORMED_CERT_TABLE');
    });
  }
});
