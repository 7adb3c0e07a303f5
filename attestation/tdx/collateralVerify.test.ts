import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePem, encodePem, fromHex, toHex } from '../bytes.js';
import type { ErrorCode } from '../errors.js';
import { tdxVectorRows } from '../testing/tdxVectors.js';
import { vector } from '../testing/vectors.js';
import { parseCertificate } from '../x509.js';
import { readTdxCollateral, type TdxCollateral } from './collateral.js';
import { verifyTdxEvidence } from './evidence.js';
import { SGX_EXTENSIONS_OID } from './pckExtensions.js';
import { parseQuote } from './quote.js';
import { TdxVerifier } from './verify.js';

const T8 = tdxVectorRows().find((r) => r.id === 'T8') ?? assert.fail('T8');
const COLLATERAL = readTdxCollateral(JSON.parse(new TextDecoder().decode(vector('dcap-qvl/tdx_quote_collateral.json'))), '$').collateral ?? assert.fail('collateral');

async function verdict(collateral: TdxCollateral, quote = T8.quote): Promise<{ code: string | undefined; field: string | undefined; check: string | undefined }> {
  const v = await verifyTdxEvidence({ quote, certificates: [], crls: [], simulated: false, collateral }, {}, { at: T8.at });
  return { code: v.error?.code, field: v.error?.field, check: v.checks.find((c) => c.status === 'fail')?.id };
}

/** `hex` with the byte at `index` (negative: from the end) XORed with 1. */
function flipHex(hex: string, index: number): string {
  const bytes = fromHex(hex);
  const i = index < 0 ? bytes.length + index : index;
  bytes[i] = (bytes[i] as number) ^ 1;
  return toHex(bytes);
}

const flipText = (text: string, find: string, replace: string): string => {
  assert.ok(text.includes(find), find);
  return text.replace(find, replace);
};

describe('a TdxVerifier reused across calls', () => {
  it('keeps signatures it checked, but checks time, windows and every changed byte again', async () => {
    const verifier = new TdxVerifier();
    const run = async (collateral: TdxCollateral, at: Date, quote = T8.quote): Promise<string | undefined> =>
      (await verifyTdxEvidence({ quote, certificates: [], crls: [], simulated: false, collateral }, {}, { at, verifier })).error?.code;
    assert.equal(await run(COLLATERAL, T8.at), undefined);
    assert.equal(await run(COLLATERAL, T8.at), undefined);
    assert.equal(await run(COLLATERAL, new Date('2025-08-01T00:00:00Z')), 'COLLATERAL_EXPIRED');
    assert.equal(await run({ ...COLLATERAL, tcbInfo: flipText(COLLATERAL.tcbInfo, '"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"') }, T8.at), 'COLLATERAL_SIGNATURE_INVALID');
    assert.equal(await run({ ...COLLATERAL, pckCrl: flipHex(COLLATERAL.pckCrl ?? '', -3) }, T8.at), 'CRL_INVALID');
    const other = T8.quote.slice();
    other[0x30] = (other[0x30] as number) ^ 1; // a body byte: the quote signature no longer holds
    assert.equal(await run(COLLATERAL, T8.at, other), 'REPORT_SIGNATURE_INVALID');
    assert.equal(await run(COLLATERAL, T8.at), undefined);
  });

  it('is not fooled by a collateral object changed in place after a call', async () => {
    const verifier = new TdxVerifier();
    const run = async (collateral: TdxCollateral): Promise<string | undefined> =>
      (await verifyTdxEvidence({ quote: T8.quote, certificates: [], crls: [], simulated: false, collateral }, {}, { at: T8.at, verifier })).error?.code;
    const mutable: { -readonly [K in keyof TdxCollateral]: TdxCollateral[K] } = { ...COLLATERAL };
    assert.equal(await run(mutable), undefined);
    mutable.pckCrl = flipHex(COLLATERAL.pckCrl ?? '', -3);
    assert.equal(await run(mutable), 'CRL_INVALID');
    // Unsigned TCB info first (parsed, then refused), then the signed text under the same signature.
    const unsigned = { ...COLLATERAL, tcbInfo: flipText(COLLATERAL.tcbInfo, '"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"') };
    const again: { -readonly [K in keyof TdxCollateral]: TdxCollateral[K] } = { ...unsigned };
    assert.equal(await run(again), 'COLLATERAL_SIGNATURE_INVALID');
    again.tcbInfo = COLLATERAL.tcbInfo;
    assert.equal(await run(again), undefined);
    assert.equal(await run(unsigned), 'COLLATERAL_SIGNATURE_INVALID');
  });
});

describe('TDX collateral: one mutation per signed field, each with its own error', () => {
  const cases: [string, Partial<TdxCollateral>, ErrorCode, string, string][] = [
    ['the TCB info body (one TCB level status)', { tcbInfo: flipText(COLLATERAL.tcbInfo, '"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"') }, 'COLLATERAL_SIGNATURE_INVALID', 'tcb_info_signature', 'collateral.tcb-info'],
    ['the TCB info signature', { tcbInfoSignature: flipHex(COLLATERAL.tcbInfoSignature, 5) }, 'COLLATERAL_SIGNATURE_INVALID', 'tcb_info_signature', 'collateral.tcb-info'],
    ['the QE identity body (its ISVSVN level)', { qeIdentity: flipText(COLLATERAL.qeIdentity, '"isvsvn":4', '"isvsvn":3') }, 'COLLATERAL_SIGNATURE_INVALID', 'qe_identity_signature', 'collateral.qe-identity'],
    ['the QE identity signature', { qeIdentitySignature: flipHex(COLLATERAL.qeIdentitySignature, 40) }, 'COLLATERAL_SIGNATURE_INVALID', 'qe_identity_signature', 'collateral.qe-identity'],
    ['the root CA CRL signature', { rootCaCrl: flipHex(COLLATERAL.rootCaCrl ?? '', -3) }, 'CRL_INVALID', 'root_ca_crl', 'crl.root'],
    ['the PCK CRL signature', { pckCrl: flipHex(COLLATERAL.pckCrl ?? '', -3) }, 'CRL_INVALID', 'pck_crl', 'crl.pck'],
    ['the PCK CRL replaced by the root CA CRL (another issuer)', { pckCrl: COLLATERAL.rootCaCrl ?? '' }, 'CRL_INVALID', 'pck_crl', 'crl.pck'],
  ];
  for (const [name, change, code, field, check] of cases) {
    it(`${name}: ${code} (${field})`, async () => {
      assert.deepEqual(await verdict({ ...COLLATERAL, ...change }), { code, field, check });
    });
  }

  it('an issuer chain whose last certificate is not the signer\'s issuer, or that lacks the root, names the chain', async () => {
    const [signer] = decodePem(COLLATERAL.tcbInfoIssuerChain);
    const stranger = encodePem('CERTIFICATE', vector('go-sev-guest/vcek_milan.der'));
    const chain = encodePem('CERTIFICATE', signer?.der ?? assert.fail('signer')) + stranger;
    assert.deepEqual(await verdict({ ...COLLATERAL, tcbInfoIssuerChain: chain }), { code: 'CHAIN_SIGNATURE_INVALID', field: 'tcb_info_issuer_chain', check: 'collateral.tcb-info' });
    assert.deepEqual(await verdict({ ...COLLATERAL, qeIdentityIssuerChain: encodePem('CERTIFICATE', signer?.der ?? new Uint8Array()) }), { code: 'MISSING_CERTIFICATE', field: 'qe_identity_issuer_chain', check: 'collateral.qe-identity' });
  });

  it('an issuer chain whose "signing certificate" is a CA (the PCK CA), or that holds three certificates, is refused', async () => {
    const certs = parseQuote(T8.quote).pckCertificates;
    const caChain = [certs[1], certs[2]].map((d) => encodePem('CERTIFICATE', d ?? new Uint8Array())).join('');
    assert.deepEqual(await verdict({ ...COLLATERAL, tcbInfoIssuerChain: caChain }), { code: 'CERT_CONSTRAINTS', field: 'tcb_info_issuer_chain', check: 'collateral.tcb-info' });
    const three = COLLATERAL.qeIdentityIssuerChain + encodePem('CERTIFICATE', certs[2] ?? new Uint8Array());
    assert.deepEqual(await verdict({ ...COLLATERAL, qeIdentityIssuerChain: three }), { code: 'MALFORMED_FIELD', field: 'qe_identity_issuer_chain', check: 'collateral.qe-identity' });
  });

  it('a PCK certificate whose SGX extension (the FMSPC) was changed no longer verifies under its CA', async () => {
    const quote = T8.quote.slice();
    const text = new TextDecoder('latin1').decode(quote);
    const start = text.indexOf('-----BEGIN CERTIFICATE-----');
    const end = text.indexOf('-----END CERTIFICATE-----', start) + '-----END CERTIFICATE-----'.length;
    const der = decodePem(text.slice(start, end))[0]?.der ?? assert.fail('pck');
    const ext = parseCertificate(der).extensions.get(SGX_EXTENSIONS_OID) ?? assert.fail('ext');
    // FMSPC b0c06f000000 sits in the extension; change its last byte in the certificate.
    const fmspcAt = toHex(der).indexOf(toHex(ext.value).slice(0, 8)) / 2 + toHex(ext.value).indexOf('b0c06f000000') / 2 + 5;
    const changed = der.slice();
    changed[fmspcAt] = 1;
    const pem = encodePem('CERTIFICATE', changed).trimEnd();
    assert.equal(pem.length, end - start);
    quote.set(new TextEncoder().encode(pem), start);
    assert.deepEqual(await verdict(COLLATERAL, quote), { code: 'CHAIN_SIGNATURE_INVALID', field: 'Intel SGX PCK Certificate', check: 'chain.signatures' });
  });
});
