// --measurements FILE on verify-evidence (and, through trustOptions, verify and request): simulated evidence
// with a given MEASUREMENT is accepted when the file lists it, refused when it does not; a malformed file is
// one line and exit 2.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../testing/cliRun.js';
import { trustFromOptions } from './trustOptions.js';
import { processIo } from './io.js';

const tmp = mkdtempSync(join(tmpdir(), 'cloister-measurements-'));
const file = (name: string, content: string): string => {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
};

const M = '5a'.repeat(48);
const OTHER = 'a5'.repeat(48);
const measurements = (snp: string[], tdx: string[] = []): string => JSON.stringify({
  schema: 'cloister-measurements/v1',
  image: { manifest: '00'.repeat(32), variant: 'test' },
  'sev-snp': snp.map((measurement) => ({ measurement, vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' })),
  tdx: tdx.map((mrTd) => ({ mrTd })),
});

describe('--measurements FILE', () => {
  let saved: string | undefined;
  let bundle = '';
  before(async () => {
    saved = process.env.CLOISTER_STATE_DIR;
    process.env.CLOISTER_STATE_DIR = mkdtempSync(join(tmpdir(), 'cloister-measurements-state-'));
    const r = await cli('evidence', '--simulated', '--measurement', M);
    assert.equal(r.code, 0, r.stderr);
    bundle = file('evidence.json', r.stdout);
  });
  after(() => {
    if (saved === undefined) delete process.env.CLOISTER_STATE_DIR;
    else process.env.CLOISTER_STATE_DIR = saved;
  });

  it('accepts simulated evidence whose MEASUREMENT the file lists', async () => {
    const r = await cli('verify-evidence', bundle, '--trust-simulated', '--measurements', file('ok.json', measurements([OTHER, M])));
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });

  it('rejects it when the file does not list it', async () => {
    const r = await cli('verify-evidence', bundle, '--trust-simulated', '--measurements', file('other.json', measurements([OTHER])));
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /^REJECTED \[POLICY_MEASUREMENT\] policy\.measurement/);
  });

  it('refuses SEV-SNP evidence when the file has no SEV-SNP entries (an empty allowlist fails the policy shape check)', async () => {
    const r = await cli('verify-evidence', bundle, '--trust-simulated', '--measurements', file('tdx-only.json', measurements([], [M])));
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr + r.stdout, /MALFORMED_POLICY.*\$\.measurements: must be a non-empty array/);
  });

  it('merges the file with --measurement', async () => {
    const r = await cli('verify-evidence', bundle, '--trust-simulated', '--measurements', file('other2.json', measurements([OTHER])), '--measurement', M);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });

  it('refuses a malformed file in one line, exit 2', async () => {
    for (const content of ['{', measurements(['zz']), JSON.stringify({ schema: 'x' })]) {
      const r = await cli('verify-evidence', bundle, '--trust-simulated', '--measurements', file('bad.json', content));
      assert.equal(r.code, 2, r.stdout);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /MALFORMED_POLICY/);
    }
    for (const args of [['verify', 'https://127.0.0.1:1'], ['request', bundle, '--type', 'text/plain', '--path', '/v1/echo']]) {
      const r = await cli(...args, '--measurements', file('bad2.json', measurements(['zz'])));
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /^.*MALFORMED_POLICY.*\$\.sev-snp\[0\]\.measurement/);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    }
  });

  it('gives verify and request the policy with the file merged in', async () => {
    const trust = await trustFromOptions({ measurement: [OTHER], measurements: file('t.json', measurements([M], [OTHER])) }, processIo, 'verify', '');
    assert.deepEqual(trust.client.policy.snp?.measurements, [OTHER, M]);
    assert.deepEqual(trust.client.policy.tdx?.mrtds, [OTHER]);
  });

  it('is in the help of verify, verify-evidence and request', async () => {
    for (const command of ['verify', 'verify-evidence', 'request']) assert.match((await cli(command, '--help')).stdout, /--measurements FILE/);
  });
});
