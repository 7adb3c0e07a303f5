import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyEdits, edits, onlyParseErrors } from '../testing/parseErrors.js';
import { bytesEqual, dataView, encodePem, toHex } from '../bytes.js';
import { ParseError, type ErrorCode } from '../errors.js';
import { T1_TEST_SUFFIX, tdxVectorRows } from '../testing/tdxVectors.js';
import { vector } from '../testing/vectors.js';
import { INTEL_QE_VENDOR_ID, parseQeReport, parseQuote, quoteSignedBytes, serializeQeReport, serializeQuote, TD_BODY_TYPE, type TdxQuoteFields } from './quote.js';

const rows = tdxVectorRows();
const quote = (id: string): Uint8Array => {
  const row = rows.find((r) => r.id === id);
  assert.ok(row, id);
  return row.quote.slice();
};

function parseError(bytes: Uint8Array): ParseError {
  try {
    parseQuote(bytes);
  } catch (e) {
    assert.ok(e instanceof ParseError, `expected ParseError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ParseError');
}

// T1 (version 4, no padding once go-tdx-guest's suffix is removed): where its parts sit.
const T1 = {
  sigLen: 0x278,
  sigStart: 0x27c,
  certType: 0x2fc,
  certSize: 0x2fe,
  qeReport: 0x302,
  qeAuthSize: 0x302 + 0x1c0,
  innerType: 0x302 + 0x1c2 + 32,
  innerSize: 0x302 + 0x1c2 + 32 + 2,
  pem: 0x302 + 0x1c2 + 32 + 6,
  end: 0x1347,
} as const;

describe('parseQuote on the real quotes T1..T8', () => {
  for (const row of rows) {
    it(`${row.id} (${row.path}) parses and serializes back byte for byte`, () => {
      const q = parseQuote(row.quote);
      assert.equal(q.header.version, row.version);
      assert.equal(q.header.attestationKeyType, 2);
      assert.equal(q.header.teeType, 0x81);
      assert.equal(toHex(q.header.qeVendorId), INTEL_QE_VENDOR_ID);
      assert.equal(q.paddingSize, row.padding);
      assert.equal(q.pckCertificates.length, 3);
      assert.equal(q.qeReport.isvProdId, 2);
      assert.equal(q.qeAuthData.length, 32);
      assert.deepEqual(serializeQeReport(q.qeReport), q.qeReport.raw);
      assert.deepEqual(serializeQuote(q), row.quote);
      assert.deepEqual(quoteSignedBytes(q), q.signedBytes);
      // Without its padding the same quote serializes to the signed data alone.
      assert.deepEqual(serializeQuote({ ...q, paddingSize: 0 }), row.quote.subarray(0, row.quote.length - row.padding));
    });
  }

  it('reads the fields of T1 (version 4, TDX 1.0 body)', () => {
    const q = parseQuote(quote('T1'));
    const b = q.body;
    assert.equal(b.bodyType, TD_BODY_TYPE.tdx10);
    assert.equal(toHex(b.teeTcbSvn), '03000400000000000000000000000000');
    assert.equal(b.tdAttributes.raw, 0x40000000n);
    assert.equal(b.tdAttributes.debug, false);
    assert.equal(b.tdAttributes.pks, true);
    assert.equal(b.xfam, 0x61ae7n);
    assert.equal(b.seamAttributes, 0n);
    assert.equal(toHex(b.mrTd.subarray(0, 4)), '6363b804');
    assert.equal(toHex(b.rtmrs[0].subarray(0, 4)), '2927da70');
    assert.equal(toHex(b.reportData.subarray(0, 4)), '6c62dec1');
    assert.equal(b.teeTcbSvn2, undefined);
    assert.equal(b.mrServiceTd, undefined);
    assert.equal(q.signedBytes.length, 0x278);
    assert.equal(toHex(q.signature.subarray(0, 4)), 'f5166f06');
    assert.equal(q.qeReport.isvSvn, 4);
    assert.equal(toHex(q.qeAuthData), '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    assert.equal(q.pckCertChain.length, 3677);
  });

  it('reads the TD attributes of T4: DEBUG and SEPT_VE_DISABLE', () => {
    const a = parseQuote(quote('T4')).body.tdAttributes;
    assert.equal(a.raw, 0x10000001n);
    assert.equal(a.debug, true);
    assert.equal(a.septVeDisable, true);
    assert.equal(a.migratable, false);
    assert.equal(a.perfmon, false);
  });

  it('reads the TDX 1.5 body of a version 5 quote (T2): TEE_TCB_SVN_2 and MRSERVICETD, signed with the body descriptor', () => {
    const q = parseQuote(quote('T2'));
    assert.equal(q.body.bodyType, TD_BODY_TYPE.tdx15);
    assert.equal(q.body.teeTcbSvn2?.length, 16);
    assert.equal(q.body.mrServiceTd?.length, 48);
    assert.equal(q.signedBytes.length, 0x36 + 648);
    assert.equal(q.pckCertChain.at(-1), 0, 'the PEM chain ends in a NUL, kept as stored');
  });

  it('rejects the T1 file as distributed: go-tdx-guest appended 39 non-zero test bytes', () => {
    const file = vector('go-tdx-guest/tdx_prod_quote_SPR_E4.dat');
    assert.deepEqual(file.subarray(T1.end), T1_TEST_SUFFIX);
    const e = parseError(file);
    assert.equal(e.code, 'TRAILING_BYTES');
    assert.equal(e.offset, T1.end);
  });
});

describe('parseQuote rejects malformed quotes with the error naming the field', () => {
  const u16 = (b: Uint8Array, at: number, v: number): void => { dataView(b).setUint16(at, v, true); };
  const u32 = (b: Uint8Array, at: number, v: number): void => { dataView(b).setUint32(at, v, true); };
  const cases: [string, string, (b: Uint8Array) => Uint8Array | undefined, ErrorCode, string][] = [
    ['T1', '0x000 := 3 (README)', (b) => { b[0] = 3; return undefined; }, 'UNSUPPORTED_VERSION', 'Version'],
    ['T1', '0x278 := 0x10 (README): certification data size mismatch', (b) => { b[T1.sigLen] = 0x10; return undefined; }, 'MALFORMED_FIELD', 'Certification Data Size'],
    ['T1', '0x1343 := 0x32 (README): the root PEM block loses its END line', (b) => { b[0x1343] = 0x32; return undefined; }, 'MALFORMED_FIELD', 'PCK Cert Chain'],
    ['T1', 'attestation key type 3 (P-384)', (b) => { u16(b, 0x002, 3); return undefined; }, 'UNSUPPORTED_ALGORITHM', 'Attestation Key Type'],
    ['T1', 'TEE type 0 (SGX)', (b) => { u32(b, 0x004, 0); return undefined; }, 'MALFORMED_FIELD', 'TEE Type'],
    ['T1', 'header reserved byte 0x00A', (b) => { b[0x00a] = 1; return undefined; }, 'RESERVED_NONZERO', 'header RESERVED'],
    ['T1', 'shorter than the header', (b) => b.subarray(0, 0x20), 'TRUNCATED', 'Quote Header'],
    ['T1', 'cut inside the body', (b) => b.subarray(0, 0x100), 'TRUNCATED', 'TD Quote Body'],
    ['T1', 'cut inside the signature data', (b) => b.subarray(0, 0x1000), 'TRUNCATED', 'Quote Signature Data'],
    ['T1', 'Quote Signature Data Len below its fixed part', (b) => { u32(b, T1.sigLen, 0x20); return undefined; }, 'MALFORMED_FIELD', 'Quote Signature Data Len'],
    ['T1', 'certification data type 5 at the outer level', (b) => { u16(b, T1.certType, 5); return undefined; }, 'MALFORMED_FIELD', 'Certification Data Type'],
    ['T1', 'outer certification data too short for a QE report', (b) => { u32(b, T1.sigLen, 0x86 + 0x100); u32(b, T1.certSize, 0x100); return b.subarray(0, T1.sigStart + 0x86 + 0x100); }, 'MALFORMED_FIELD', 'Certification Data Size'],
    ['T1', 'QE authentication data size past the end', (b) => { u16(b, T1.qeAuthSize, 0xffff); return undefined; }, 'MALFORMED_FIELD', 'QE Authentication Data size'],
    ['T1', 'inner certification data type 6', (b) => { u16(b, T1.innerType, 6); return undefined; }, 'MALFORMED_FIELD', 'QE Certification Data Type'],
    ['T1', 'PCK chain size one short', (b) => { u32(b, T1.innerSize, 3676); return undefined; }, 'MALFORMED_FIELD', 'QE Certification Data Size'],
    ['T1', 'QE report reserved byte 0x014', (b) => { b[T1.qeReport + 0x14] = 1; return undefined; }, 'RESERVED_NONZERO', 'QE Report reserved after MISCSELECT'],
    ['T1', 'QE report reserved byte 0x12F', (b) => { b[T1.qeReport + 0x12f] = 1; return undefined; }, 'RESERVED_NONZERO', 'QE Report reserved after CONFIGSVN'],
    ['T1', 'text before the first PEM block', (b) => { b[T1.pem] = 0x41; return undefined; }, 'MALFORMED_FIELD', 'PCK Cert Chain'],
    ['T1', 'a base64 character outside the alphabet', (b) => { b[T1.pem + 40] = 0x2e; return undefined; }, 'MALFORMED_FIELD', 'PCK Cert Chain'],
    ['T3', 'a non-zero byte in the zero padding', (b) => { b[b.length - 5] = 1; return undefined; }, 'TRAILING_BYTES', 'quote'],
    ['T2', 'version 5 body type 1 (SGX)', (b) => { u16(b, 0x030, 1); return undefined; }, 'MALFORMED_FIELD', 'TD Quote Body Type'],
    ['T2', 'version 5 body size 584 for a type 3 body', (b) => { u32(b, 0x032, 584); return undefined; }, 'MALFORMED_FIELD', 'TD Quote Body Size'],
    ['T2', 'version 5 cut inside the body descriptor', (b) => b.subarray(0, 0x33), 'TRUNCATED', 'TD Quote Body Descriptor'],
  ];
  for (const [id, what, mutate, code, field] of cases) {
    it(`${id}: ${what} -> ${code}`, () => {
      const b = quote(id);
      const e = parseError(mutate(b) ?? b);
      assert.equal(e.code, code, e.message);
      assert.equal(e.field, field, e.message);
    });
  }

  it('names the hex range and the bytes of a must-be-zero violation', () => {
    const b = quote('T1');
    b[0x009] = 0xab;
    assert.match(parseError(b).message, /must-be-zero range 0x008\.\.0x00c \(header RESERVED\) holds 00ab0000/);
  });

  it('rejects a PCK chain with no PEM block', () => {
    const q = parseQuote(quote('T1'));
    const e = parseError(serializeQuote({ ...q, pckCertChain: new TextEncoder().encode('\n\n') }));
    assert.equal(e.code, 'MALFORMED_FIELD');
    assert.match(e.message, /no PEM CERTIFICATE block/);
  });

  it('decodes a PCK chain written as DER certificates rather than PEM, NUL padding allowed; refuses junk after them', () => {
    const q = parseQuote(quote('T8'));
    const der = new Uint8Array([...q.pckCertificates.flatMap((d) => [...d]), 0, 0]);
    const again = parseQuote(serializeQuote({ ...q, pckCertChain: der }));
    assert.deepEqual(again.pckCertificates, q.pckCertificates);
    const junk = parseError(serializeQuote({ ...q, pckCertChain: new Uint8Array([...der.subarray(0, der.length - 2), 0x04, 0x00]) }));
    assert.equal(junk.code, 'MALFORMED_FIELD');
    assert.match(junk.message, /DER\) holds bytes at 0x[0-9a-f]+ that are not a DER certificate/);
    const cut = parseError(serializeQuote({ ...q, pckCertChain: der.subarray(0, 100) }));
    assert.match(cut.message, /not a DER certificate/);
  });

  it('checks every PEM block\'s base64 when parsing, though it decodes the certificates only when asked', () => {
    const q = parseQuote(quote('T1'));
    const pem = q.pckCertificates.map((d) => encodePem('CERTIFICATE', d)).join('');
    const bad = pem.replace(/(-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/]{10})[A-Za-z0-9+/]/, '$1=');
    assert.notEqual(bad, pem);
    const e = parseError(serializeQuote({ ...q, pckCertChain: new TextEncoder().encode(bad) }));
    assert.equal(e.code, 'MALFORMED_FIELD');
    assert.match(e.message, /PCK certificate 1 \(certification data type 5\) is not valid base64/);
    const again = parseQuote(serializeQuote({ ...q, pckCertChain: new TextEncoder().encode(pem) }));
    assert.equal(again.pckCertificates, again.pckCertificates);
    assert.deepEqual(again.pckCertificates, q.pckCertificates);
  });

  it('accepts whitespace between PEM blocks and NUL bytes after the last one', () => {
    const q = parseQuote(quote('T1'));
    const pem = q.pckCertificates.map((d) => encodePem('CERTIFICATE', d)).join('\r\n\n');
    const chain = new Uint8Array([...new TextEncoder().encode(`\n${pem}\n`), 0, 0]);
    const again = parseQuote(serializeQuote({ ...q, pckCertChain: chain }));
    assert.deepEqual(again.pckCertificates, q.pckCertificates);
    assert.deepEqual(again.pckCertChain, chain);
  });

  it('splits PEM chains as the regular expression of the PCK chain grammar does (random chains of its pieces)', () => {
    const q = parseQuote(quote('T1'));
    const der = q.pckCertificates[0] as Uint8Array;
    const body = encodePem('CERTIFICATE', der).replace(/-----[A-Z ]+-----/g, '');
    // The grammar as one sticky pattern: blocks of base64 and line breaks between the markers, whitespace around.
    const reference = (text: string): string => {
      const block = /[ \t\r\n]*-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\r\n]*)-----END CERTIFICATE-----/y;
      const bodies: string[] = [];
      let pos = 0;
      for (let m = block.exec(text); m !== null; m = block.exec(text)) {
        const b64 = (m[1] as string).replace(/[\r\n]+/g, '');
        const eq = b64.indexOf('=');
        if (!(b64.length % 4 === 0 && (eq === -1 || eq === b64.length - 1 || (eq === b64.length - 2 && b64.endsWith('='))))) return `bad base64 in block ${bodies.length + 1}`;
        bodies.push(b64);
        pos = block.lastIndex;
      }
      if (!/^[ \t\r\n]*$/.test(text.slice(pos))) return `junk at ${pos + text.slice(pos).search(/[^ \t\r\n]/)}`;
      return bodies.length === 0 ? 'no block' : `${bodies.length} blocks: ${bodies.join('|')}`;
    };
    const ours = (text: string): string => {
      try {
        const parsed = parseQuote(serializeQuote({ ...q, pckCertChain: new TextEncoder().encode(text) }));
        return `${parsed.pckCertificates.length} blocks: ${parsed.pckCertificates.map((d) => Buffer.from(d).toString('base64')).join('|')}`;
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        const junk = /holds bytes at 0x([0-9a-f]+)/.exec(e.message);
        if (junk !== null) return `junk at ${(e.offset ?? 0) - chainOffset(text)}`;
        const bad = /PCK certificate (\d+) .* not valid base64/.exec(e.message);
        if (bad !== null) return `bad base64 in block ${bad[1] ?? ''}`;
        if (/no PEM CERTIFICATE block/.test(e.message)) return 'no block';
        return e.message;
      }
    };
    const chainOffset = (text: string): number => {
      const bytes = serializeQuote({ ...q, pckCertChain: new TextEncoder().encode(text) });
      return bytes.length - text.length;
    };
    const piece = fc.constantFrom('-----BEGIN CERTIFICATE-----', '-----END CERTIFICATE-----', '\n', '\r\n', ' ', '\t', 'QUJD', 'QQ==', 'QUI=', '=', 'A', '-', 'x!', body);
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const text = pieces.join('');
        assert.equal(ours(text), reference(text), `chain ${JSON.stringify(text)}`);
      }),
      { numRuns: 400 },
    );
  });

  it('refuses to serialize a version 4 quote with a TDX 1.5 body', () => {
    const q = parseQuote(quote('T2'));
    const fields: TdxQuoteFields = { ...q, header: { ...q.header, version: 4 } };
    assert.throws(() => serializeQuote(fields), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_FIELD');
  });

  it('serializes a version 5 quote with a TDX 1.0 body (type 2, 584 bytes)', () => {
    const q = parseQuote(quote('T1'));
    const v5 = parseQuote(serializeQuote({ ...q, header: { ...q.header, version: 5 } }));
    assert.equal(v5.body.bodyType, TD_BODY_TYPE.tdx10);
    assert.equal(v5.signedBytes.length, 0x36 + 584);
    assert.ok(bytesEqual(v5.body.mrTd, q.body.mrTd));
  });

  it('parseQeReport wants exactly 384 bytes', () => {
    assert.throws(() => parseQeReport(new Uint8Array(383)), (e: unknown) => e instanceof ParseError && e.code === 'TRUNCATED');
  });

  it('returns copies: changing a parsed field changes neither the input nor raw', () => {
    const b = quote('T1');
    const q = parseQuote(b);
    q.body.reportData.fill(0xee);
    assert.equal(b[0x30 + 0x208], 0x6c);
    assert.equal(q.raw[0x30 + 0x208], 0x6c);
  });
});

describe('parseQuote properties: arbitrary or mutated bytes parse or throw ParseError, nothing else', () => {

  it('on arbitrary bytes, and on arbitrary bytes behind a valid header', () => {
    const header = quote('T1').subarray(0, 0x30);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => { onlyParseErrors(() => parseQuote(b)); }), { numRuns: 300 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), (b) => { onlyParseErrors(() => parseQuote(new Uint8Array([...header, ...b]))); }), { numRuns: 200 });
  });

  for (const id of ['T1', 'T2', 'T3']) {
    it(`on mutated and truncated ${id}`, () => {
      const base = quote(id);
      fc.assert(fc.property(edits(base.length), (list) => { onlyParseErrors(() => parseQuote(applyEdits(base, list))); }), { numRuns: 400 });
      // Edits concentrated on the length fields and the certification data headers.
      fc.assert(fc.property(edits(0x500), (list) => { onlyParseErrors(() => parseQuote(applyEdits(base, list.map(([at, v]) => [0x270 + at, v])))); }), { numRuns: 400 });
      fc.assert(fc.property(fc.nat({ max: base.length }), (n) => { onlyParseErrors(() => parseQuote(base.subarray(0, n))); }), { numRuns: 200 });
    });
  }
});
