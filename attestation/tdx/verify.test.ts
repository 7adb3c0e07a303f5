import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodePem, encodePem } from '../bytes.js';
import { CheckLog } from '../checks.js';
import { CloisterError, type ErrorCode } from '../errors.js';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { vector } from '../testing/vectors.js';
import { INTEL_SGX_ROOT_CA_PEM } from './intelRoots.js';
import { parseQuote, serializeQuote } from './quote.js';
import { TdxVerifier } from './verify.js';

const rows = tdxVectorRows();
const row = (id: string) => {
  const r = rows.find((x) => x.id === id);
  assert.ok(r, id);
  return r;
};
const verifier = new TdxVerifier();

async function failure(bytes: Uint8Array, at: Date, v = verifier): Promise<CloisterError> {
  try {
    await v.verify(parseQuote(bytes), { at });
  } catch (e) {
    assert.ok(e instanceof CloisterError, `expected a CloisterError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the quote to be rejected');
}

describe('the embedded Intel SGX Root CA', () => {
  it('is the certificate go-tdx-guest and dcap-qvl trust', () => {
    const der = decodePem(INTEL_SGX_ROOT_CA_PEM)[0]?.der;
    assert.ok(der);
    assert.deepEqual(der, decodePem(new TextDecoder().decode(vector('go-tdx-guest/trusted_root_intel_sgx_root_ca.pem')))[0]?.der);
    assert.deepEqual(der, vector('dcap-qvl/TrustedRootCA.der'));
    assert.equal(createHash('sha256').update(der).digest('hex'), '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3');
  });
});

describe('TdxVerifier on the real quotes T1..T8 (README: every one passes to the Intel root)', () => {
  for (const r of rows) {
    it(`${r.id}: quote signature, QE report signature and binding, PCK chain to the Intel SGX Root CA at ${r.at.toISOString().slice(0, 10)}`, async () => {
      const log = new CheckLog();
      const result = await verifier.verify(parseQuote(r.quote), { at: r.at }, log);
      assert.equal(result.chain.root, 'Intel SGX Root CA');
      assert.equal(result.chain.leaf, 'Intel SGX PCK Certificate');
      assert.match(result.chain.intermediate, /^Intel SGX PCK (Platform|Processor) CA$/);
      assert.deepEqual(
        log.checks.map((c) => `${c.id}:${c.status}`),
        ['pck.certificates', 'chain.signatures', 'chain.root', 'chain.validity', 'qe-report.signature', 'qe-report.binding', 'quote.signature'].map((id) => `${id}:pass`),
      );
    });
  }
});

describe('TdxVerifier rejects T1 mutations (README table, evaluated at 2023-07-01)', () => {
  const at = row('T1').at;
  const cases: [string, number, number, ErrorCode, RegExp][] = [
    ['root certificate signature', 0x1329, 0x32, 'CHAIN_SIGNATURE_INVALID', /^root CA Intel SGX Root CA self-signature/],
    ['intermediate signature', 0xf5f, 0x32, 'CHAIN_SIGNATURE_INVALID', /^PCK CA Intel SGX PCK Platform CA signed by Intel SGX Root CA/],
    ['PCK leaf signature', 0xb77, 0x32, 'CHAIN_SIGNATURE_INVALID', /^PCK certificate Intel SGX PCK Certificate signed by Intel SGX PCK Platform CA/],
    ['quote signature (header user data)', 0x1e, 0x32, 'REPORT_SIGNATURE_INVALID', /^quote signature/],
    ['quote signature (TEE_TCB_SVN)', 0x3c, 0x32, 'REPORT_SIGNATURE_INVALID', /^quote signature/],
    ['quote signature (the signature itself)', 0x27c, 0x00, 'REPORT_SIGNATURE_INVALID', /^quote signature/],
    ['QE report signature (QE report ISVSVN)', 0x302 + 0x102, 0x09, 'REPORT_SIGNATURE_INVALID', /^QE report signature/],
    ['QE report binding (QE authentication data)', 0x302 + 0x1c2, 0x55, 'QE_REPORT_DATA_MISMATCH', /^QE report REPORTDATA is not SHA-256/],
    ['QE report binding (attestation key)', 0x2bc, 0x32, 'QE_REPORT_DATA_MISMATCH', /the QE did not certify this attestation key/],
  ];
  for (const [what, offset, value, code, message] of cases) {
    it(`0x${offset.toString(16)} := 0x${value.toString(16)} -> ${what}`, async () => {
      const b = row('T1').quote.slice();
      assert.notEqual(b[offset], value);
      b[offset] = value;
      const e = await failure(b, at);
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
    });
  }

  it('at 2053-07-01: the PCK certificate has expired', async () => {
    const e = await failure(row('T1').quote, new Date('2053-07-01T00:00:00Z'));
    assert.equal(e.code, 'CERT_EXPIRED');
    assert.equal(e.field, 'Intel SGX PCK Certificate.notAfter');
  });

  it('before the PCK certificate was issued: not yet valid', async () => {
    const e = await failure(row('T1').quote, new Date('2022-01-01T00:00:00Z'));
    assert.equal(e.code, 'CERT_NOT_YET_VALID');
    assert.equal(e.field, 'Intel SGX PCK Certificate.notBefore');
  });

  it('records the failing check in the log', async () => {
    const b = row('T1').quote.slice();
    b[0x1e] = 0x32;
    const log = new CheckLog();
    await assert.rejects(verifier.verify(parseQuote(b), { at }, log));
    assert.deepEqual(log.checks.at(-1)?.id, 'quote.signature');
    assert.equal(log.checks.at(-1)?.status, 'fail');
  });
});

describe('TdxVerifier trust and chain shape', () => {
  const t1 = parseQuote(row('T1').quote);
  const at = row('T1').at;
  const chainPem = (ders: readonly Uint8Array[]): Uint8Array => new TextEncoder().encode(ders.map((d) => encodePem('CERTIFICATE', d)).join(''));
  const [pck, ca, root] = t1.pckCertificates as [Uint8Array, Uint8Array, Uint8Array];

  it('trusts nothing when given no roots (UNTRUSTED_ROOT)', async () => {
    const e = await failure(row('T1').quote, at, new TdxVerifier({ trustedRoots: [] }));
    assert.equal(e.code, 'UNTRUSTED_ROOT');
    assert.equal(e.actual, 'Intel SGX Root CA');
  });

  it('trusts a root given in additionalRoots', async () => {
    const v = new TdxVerifier({ trustedRoots: [], additionalRoots: [root] });
    assert.equal((await v.verify(t1, { at })).chain.root, 'Intel SGX Root CA');
  });

  it('wants exactly three certificates, each issued by the next', async () => {
    const cases: [Uint8Array[], ErrorCode, RegExp][] = [
      [[pck, ca], 'MISSING_CERTIFICATE', /holds 2 certificate\(s\), expected 3/],
      [[pck, ca, root, root], 'MALFORMED_FIELD', /holds 4 certificates, expected 3/],
      [[ca, pck, root], 'MISSING_CERTIFICATE', /is issued by "Intel SGX Root CA", but the next certificate in the chain is "Intel SGX PCK Certificate"/],
      [[pck, ca, ca], 'MISSING_CERTIFICATE', /the PCK CA certificate "Intel SGX PCK Platform CA" is issued by "Intel SGX Root CA", but the next certificate in the chain is "Intel SGX PCK Platform CA"/],
    ];
    for (const [ders, code, message] of cases) {
      const e = await failure(serializeQuote({ ...t1, pckCertChain: chainPem(ders) }), at);
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
    }
  });

  it('refuses a CA certificate in the PCK certificate\'s place (CERT_CONSTRAINTS)', async () => {
    const e = await failure(serializeQuote({ ...t1, pckCertChain: chainPem([ca, root, root]) }), at);
    assert.equal(e.code, 'CERT_CONSTRAINTS');
    assert.match(e.message, /^Intel SGX PCK Platform CA is a CA certificate, not a PCK certificate/);
  });

  it('rejects an undecodable certificate in the chain (MALFORMED_DER)', async () => {
    const e = await failure(serializeQuote({ ...t1, pckCertChain: chainPem([pck.subarray(0, 100), ca, root]) }), at);
    assert.equal(e.code, 'MALFORMED_DER');
  });
});

describe('TdxVerifier property: mutated quotes are rejected with a CloisterError, never another exception', () => {
  it('on T1 with up to 4 byte edits', async () => {
    const base = row('T1').quote;
    const at = row('T1').at;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), async (edits) => {
        const b = base.slice();
        for (const [i, v] of edits) b[i] = v;
        try {
          await verifier.verify(parseQuote(b), { at });
        } catch (e) {
          if (!(e instanceof CloisterError)) throw e;
        }
      }),
      { numRuns: 150 },
    );
  });
});
