import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { toBase64 } from '../../attestation/bytes.js';
import type { PcsFetch } from '../../attestation/tdx/pcsClient.js';
import { RECORDED_PCS_URLS, recordedPcsFetch, recordedPcsResponsesFile } from '../../attestation/testing/recordedPcs.js';
import { tdxVectorRows } from '../../attestation/testing/tdxVectors.js';
import { ATTESTATION_VECTORS as V } from '../../attestation/testing/vectors.js';
import { collateralCommand } from './collateralCommand.js';
import { processIo } from './io.js';
import { cli, type CliResult } from '../testing/cliRun.js';

const tmp = mkdtempSync(join(tmpdir(), 'cloister-collateral-'));
const file = (name: string, content: Uint8Array | string): string => {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
};

const t1 = tdxVectorRows().find((r) => r.id === 'T1');
assert.ok(t1);
const QUOTE = file('t1.dat', t1.quote);
const BUNDLE = file('t1.json', JSON.stringify({ format: 'cloister-evidence/v1', platform: 'tdx', evidence: toBase64(t1.quote), certificates: [], crls: [] }));
const DERIVED = `${V}derived/tdx-collateral-dcapqvl-format/go-tdx-guest_sample_v4_50806f000000.json`;
const derived = (): unknown => JSON.parse(readFileSync(DERIVED, 'utf8'));

async function run(argv: string[], fetch: PcsFetch = recordedPcsFetch()): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await collateralCommand(argv, { ...processIo, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, fetch);
  return { code, stdout, stderr };
}

describe('cloister collateral', () => {
  it('explains every flag of each subcommand, with an example', async () => {
    const top = await cli('collateral', '--help');
    assert.equal(top.code, 0);
    assert.match(top.stdout, /fetch +fetch the collateral/);
    assert.equal((await cli('collateral')).code, 2);
    const fetch = await cli('collateral', 'fetch', '--help');
    assert.equal(fetch.code, 0);
    for (const flag of ['QUOTE', '--pcs-url', '--root-ca-crl-url', '--update', '--out', '--help', 'Example:', 'https://api.trustedservices.intel.com', 'pckcrl?ca=CA&encoding=der']) assert.ok(fetch.stdout.includes(flag), `fetch --help lacks ${flag}`);
    const convert = await cli('collateral', 'convert', '--help');
    for (const flag of ['FILE', '"tcbInfo"', '"issuerChain"', '--out', '--help', 'Example:']) assert.ok(convert.stdout.includes(flag), `convert --help lacks ${flag}`);
    assert.match((await cli('--help')).stdout, /collateral +fetch Intel PCS collateral/);
  });

  it('fetch: a quote, or a bundle carrying it, gives the dcap-qvl JSON of the derived file, from the four URLs', async () => {
    for (const input of [QUOTE, BUNDLE]) {
      const requested: string[] = [];
      const r = await run(['fetch', input], recordedPcsFetch(undefined, requested));
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.deepEqual(JSON.parse(r.stdout), derived());
      assert.deepEqual(requested.toSorted(), [RECORDED_PCS_URLS.pckCrl, RECORDED_PCS_URLS.qeIdentity, RECORDED_PCS_URLS.tcbInfoT1, RECORDED_PCS_URLS.rootCaCrl].toSorted());
    }
  });

  it('fetch --out: the JSON in a 0600 file, a note on standard error', async () => {
    const out = join(tmp, 'collateral.json');
    const r = await run(['fetch', QUOTE, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `wrote ${out}: TDX collateral, next update 2023-07-08T07:24:59.000Z (not verified)\n`);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), derived());
    assert.equal(statSync(out).mode & 0o777, 0o600);
  });

  it('fetch --pcs-url, --root-ca-crl-url, --update early: the requests go there; a 404 is one line naming the URL, exit 2, no file left', async () => {
    const requested: string[] = [];
    const out = join(tmp, 'absent.json');
    const r = await run(['fetch', QUOTE, '--pcs-url', 'https://pccs.internal:8081/sgx/certification/v4/', '--root-ca-crl-url', 'https://pccs.internal:8081/sgx/certification/v4/rootcacrl', '--update', 'early', '--out', out], recordedPcsFetch(new Map(), requested));
    assert.equal(r.code, 2);
    assert.deepEqual(requested.toSorted(), [
      'https://pccs.internal:8081/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      'https://pccs.internal:8081/sgx/certification/v4/rootcacrl',
      'https://pccs.internal:8081/tdx/certification/v4/qe/identity?update=early',
      'https://pccs.internal:8081/tdx/certification/v4/tcb?fmspc=50806f000000&update=early',
    ]);
    assert.equal(r.stderr, 'error [COLLATERAL_UNAVAILABLE]: GET https://pccs.internal:8081/tdx/certification/v4/tcb?fmspc=50806f000000&update=early: HTTP 404 (field tcbInfo, actual 404)\n');
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(tmp).filter((f) => f.endsWith('.part')), []);
  });

  it('fetch: a network failure is one line naming the URL and the cause', async () => {
    const down: PcsFetch = () => Promise.reject(new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND api.trustedservices.intel.com') }));
    const r = await run(['fetch', QUOTE], down);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error \[COLLATERAL_UNAVAILABLE\]: GET https:\/\/\S+ failed: fetch failed \(getaddrinfo ENOTFOUND api\.trustedservices\.intel\.com\) \(field \w+, actual TypeError\)\n$/);
  });

  it('refuses bad command lines and inputs in one line, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['fetch'], /USAGE.*missing the QUOTE file/],
      [['fetch', QUOTE, QUOTE], /expected one QUOTE file, got 2/],
      [['fetch', QUOTE, '--out', 'a.json', '--out', 'b.json'], /--out is given more than once/],
      [['fetch', QUOTE, '--pcs-url', 'x', '--pcs-url', 'y'], /--pcs-url is given more than once/],
      [['fetch', QUOTE, '--update', 'late'], /--update must be standard or early, got "late"/],
      [['fetch', QUOTE, '--pcs-url', 'ftp://pcs.example'], /MALFORMED_FIELD.*PCS base URL "ftp:\/\/pcs.example" is not an http\(s\) URL/],
      [['fetch', QUOTE, '--frobnicate'], /USAGE.*Unknown option '--frobnicate'/],
      [['fetch', join(tmp, 'missing.dat')], /UNREADABLE_INPUT.*cannot read quote/],
      [['fetch', `${V}go-sev-guest/attestation.bin`], /is not a TDX quote or TDX evidence bundle/],
      [['convert'], /missing the FILE of PCS responses/],
      [['convert', file('bad.json', '{"tcbInfo":{"body":"{}","issuerChain":""},"qeIdentity":{"body":"[]","issuerChain":""}}')], /MALFORMED_EVIDENCE.*\$\.tcbInfo: body: the object has no member "tcbInfo"; \$\.tcbInfo: the TCB-Info-Issuer-Chain header is missing; \$\.qeIdentity: body: the JSON is not an object/],
      [['convert', file('partial.json', '{"tcbInfo":{"body":"{}","issuerChain":""}}')], /MALFORMED_EVIDENCE.*\$\.qeIdentity: must be an object with "body" and "issuerChain"/],
      [['frobnicate'], /unknown collateral command "frobnicate": fetch or convert/],
    ];
    for (const [argv, line] of cases) {
      const r = await run(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, line, argv.join(' '));
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
  });

  it('convert: saved PCS responses give the same JSON; dcap-qvl collateral JSON is written again unchanged', async () => {
    const responses = file('pcs-responses.json', JSON.stringify(recordedPcsResponsesFile(), null, 2));
    const r = await run(['convert', responses]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), derived());
    const again = await run(['convert', DERIVED]);
    assert.deepEqual(JSON.parse(again.stdout), derived());
    const out = join(tmp, 'converted.json');
    assert.equal((await run(['convert', responses, '--out', out])).code, 0);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), derived());
  });
});
