// The Authenticode hash against osslsigncode 2.9, an independent implementation, on Debian's systemd-bootx64.efi
// (testdata/README.md has the commands), and its refusals of files that are not PE images.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import { applyEdits, edits, onlyParseErrors } from '../../testing/parseErrors.js';
import { vector } from '../../testing/vectors.js';
import { authenticodeHash, authenticodeRanges } from './authenticode.js';

/** osslsigncode's "Current message digest" after signing the file with -h sha384 (it pads the file to 8 bytes first). */
const OSSLSIGNCODE_PADDED = '204646e02c5a0eff809aeab34e72d04fc5f8bc60a3f55a40789b488aaa816540ffe258dc59d7bc27e8aa6a398e996e4b';
/** The file as it is (140891 bytes, not a multiple of 8): what edk2 measures when it loads it unsigned. */
const UNPADDED = '58ed6f28e9fb7dbb77e69c8f79653f47925412e4b0cc62713d57580891eaf734bde066f82405b23a1aeb388b4838418e';

function expectParseError(pe: Uint8Array, code: string, field: string, offset: number): void {
  assert.throws(() => authenticodeRanges(pe), (e: unknown) => {
    assert.ok(e instanceof ParseError, String(e));
    assert.deepEqual([e.code, e.field, e.offset], [code, field, offset], e.message);
    return true;
  });
}

describe('authenticodeHash', () => {
  const efi = vector('debian/systemd-boot-efi/systemd-bootx64.efi');
  const padded = new Uint8Array(efi.length + ((8 - (efi.length % 8)) % 8));
  padded.set(efi);
  const view = new DataView(efi.buffer, efi.byteOffset, efi.byteLength);
  const pe = view.getUint32(0x3c, true);
  const opt = pe + 4 + 0x14;

  it('equals osslsigncode on systemd-bootx64.efi padded as signing tools pad it, and hashes the unpadded file as edk2 does', async () => {
    assert.equal(toHex(await authenticodeHash(padded)), OSSLSIGNCODE_PADDED);
    assert.equal(toHex(await authenticodeHash(efi)), UNPADDED);
  });

  it('skips CheckSum and the Certificate Table entry, and a certificate table at the end', async () => {
    const withChecksum = applyEdits(padded, [[opt + 0x40, 0x5a]]);
    assert.equal(toHex(await authenticodeHash(withChecksum)), OSSLSIGNCODE_PADDED);
    const certificate = new Uint8Array(padded.length + 16);
    certificate.set(padded);
    certificate.fill(0xee, padded.length);
    const cv = new DataView(certificate.buffer);
    cv.setUint32(opt + 0x70 + 4 * 8, padded.length, true);
    cv.setUint32(opt + 0x70 + 4 * 8 + 4, 16, true);
    assert.equal(toHex(await authenticodeHash(certificate)), OSSLSIGNCODE_PADDED);
    assert.notEqual(toHex(await authenticodeHash(applyEdits(padded, [[opt + 0x44, 0x01]]))), OSSLSIGNCODE_PADDED);
  });

  it('refuses what is not a PE image, naming the field and offset', () => {
    expectParseError(new Uint8Array(1), 'TRUNCATED', 'pe.e_magic', 0);
    expectParseError(applyEdits(efi, [[0, 0x4e]]), 'MALFORMED_FIELD', 'pe.e_magic', 0);
    expectParseError(applyEdits(efi, [[pe, 0x50 ^ 1]]), 'MALFORMED_FIELD', 'pe.signature', pe);
    expectParseError(applyEdits(efi, [[0x3c, 0xff], [0x3d, 0xff], [0x3e, 0xff], [0x3f, 0x7f]]), 'TRUNCATED', 'pe.signature', 0x7fffffff);
    expectParseError(applyEdits(efi, [[pe + 6, 0xff], [pe + 7, 0xff]]), 'MALFORMED_FIELD', 'pe.NumberOfSections', pe + 6);
    expectParseError(applyEdits(efi, [[opt, 0x0c]]), 'MALFORMED_FIELD', 'pe.Magic', opt);
    expectParseError(applyEdits(efi, [[opt + 0x3f, 0x7f]]), 'MALFORMED_FIELD', 'pe.SizeOfHeaders', opt + 0x3c);
    const lastSection = opt + view.getUint16(pe + 4 + 0x10, true) + 0x28 * (view.getUint16(pe + 6, true) - 1);
    expectParseError(efi.subarray(0, view.getUint32(lastSection + 0x14, true) + 1), 'MALFORMED_FIELD', 'pe.PointerToRawData', lastSection + 0x14);
    expectParseError(applyEdits(efi, [[opt + 0x70 + 4 * 8 + 7, 0x7f]]), 'MALFORMED_FIELD', 'pe.CertificateTable.Size', opt + 0x70 + 4 * 8 + 4);
  });

  it('on arbitrary bytes and on mutated headers: ranges or ParseError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => { onlyParseErrors(() => authenticodeRanges(b)); }), { numRuns: 300 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => { onlyParseErrors(() => authenticodeRanges(new Uint8Array([0x4d, 0x5a, ...b.subarray(2, 0x3c), 0x40, 0, 0, 0, 0x50, 0x45, 0, 0, ...b.subarray(0x40)]))); }), { numRuns: 300 });
    fc.assert(fc.property(edits(0x400), (list) => { onlyParseErrors(() => authenticodeRanges(applyEdits(efi, list))); }), { numRuns: 500 });
  });
});
