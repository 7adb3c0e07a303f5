// explainSnpMeasurement: each usual deviation from the expected inputs is named, with the value the report
// was launched with; a measurement no deviation explains says so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import { vector } from '../../testing/vectors.js';
import { explainSnpMeasurement, snpLaunchDigest, type SnpLaunchInputs } from './index.js';

const BASE: SnpLaunchInputs = {
  ovmf: vector('sev-snp-measure/fixtures/ovmf_AmdSev_suffix.bin'),
  kernel: new TextEncoder().encode('a kernel'),
  initrd: new TextEncoder().encode('an initrd'),
  append: 'console=ttyS0 loglevel=7',
  vcpus: 2,
  vcpuType: 'EPYC-v4',
  guestFeatures: 0x1n,
};

const digestOf = async (change: Partial<SnpLaunchInputs>): Promise<Uint8Array> => (await snpLaunchDigest({ ...BASE, ...change })).digest;

describe('explainSnpMeasurement', () => {
  it('says the measurement matches when the base inputs give it', async () => {
    const e = await explainSnpMeasurement(await digestOf({}), BASE);
    assert.equal(e.matched, true);
    assert.match(e.line, /^the measurement matches the given inputs \(2 vCPUs, EPYC-v4, SEV_FEATURES 0x1/);
  });

  it('names a vCPU count change', async () => {
    const e = await explainSnpMeasurement(await digestOf({ vcpus: 4 }), BASE);
    assert.equal(e.matched, false);
    assert.equal(e.line, 'vCPU count: the report was launched with 4 vCPUs, not 2');
    assert.deepEqual(e.inputs, { vcpus: 4 });
  });

  it('names a guest features change, with the feature names', async () => {
    const e = await explainSnpMeasurement(await digestOf({ guestFeatures: 0x21n }), BASE);
    assert.equal(e.line, 'guest features: the report was launched with SEV_FEATURES 0x21 (SNPActive, DebugSwap), not 0x1 (SNPActive)');
    assert.deepEqual(e.inputs, { guestFeatures: 0x21n });
  });

  it('names a trailing newline on the command line, both ways', async () => {
    const added = await explainSnpMeasurement(await digestOf({ append: 'console=ttyS0 loglevel=7\n' }), BASE);
    assert.equal(added.line, 'kernel command line: the report was launched with "console=ttyS0 loglevel=7\\n" (with a trailing newline), not "console=ttyS0 loglevel=7"');
    const missing = await explainSnpMeasurement(await digestOf({}), { ...BASE, append: 'console=ttyS0 loglevel=7\n' });
    assert.match(missing.line, /^kernel command line: .* \(without the trailing newline\)/);
    assert.deepEqual(missing.inputs, { append: 'console=ttyS0 loglevel=7' });
  });

  it('names a vCPU type by its signature group, a missing initrd, and a VMM type', async () => {
    const milan = await explainSnpMeasurement(await digestOf({ vcpuType: 'EPYC-Milan-v2' }), BASE);
    assert.match(milan.line, /^vCPU type: the report was launched with EPYC-Milan \(family 25 model 1 stepping 1; also EPYC-Milan-v1, EPYC-Milan-v2\), not EPYC-v4$/);
    const noInitrd: SnpLaunchInputs = { ...BASE };
    delete (noInitrd as { initrd?: Uint8Array }).initrd;
    const initrd = await explainSnpMeasurement((await snpLaunchDigest(noInitrd)).digest, BASE);
    assert.deepEqual(initrd.inputs, { initrd: 'none' });
    const ec2 = await explainSnpMeasurement(await digestOf({ vmmType: 'ec2' }), BASE);
    assert.equal(ec2.line, 'VMM type: the report was launched with VMM type ec2, not qemu');
  });

  it('names two changes together when no single one explains', async () => {
    const e = await explainSnpMeasurement(await digestOf({ vmmType: 'gce', vcpus: 4 }), BASE);
    assert.equal(e.line, 'VMM type and vCPU count: the report was launched with VMM type gce and 4 vCPUs, not qemu and 2');
    const f = await explainSnpMeasurement(await digestOf({ guestFeatures: 0x21n, vcpuType: 'EPYC-Genoa' }), BASE);
    assert.deepEqual(f.inputs, { vcpuType: 'EPYC-Genoa', guestFeatures: 0x21n });
  });

  it('says when nothing explains the measurement, naming both digests, within a few seconds', async () => {
    const start = performance.now();
    const actual = new Uint8Array(48).fill(0xab);
    const e = await explainSnpMeasurement(actual, BASE);
    assert.equal(e.matched, false);
    assert.equal(e.inputs, undefined);
    assert.match(e.line, /^no single or paired change of the vCPU count \(1\.\.512\), vCPU type, guest features, VMM type, command line newline or initrd explains MEASUREMENT (ab){48}; the given inputs give /);
    assert.ok(e.line.includes(toHex(await digestOf({}))));
    assert.ok(performance.now() - start < 5000, `the search took ${performance.now() - start} ms`);
  });

  it('refuses a MEASUREMENT that is not 48 bytes', async () => {
    await assert.rejects(explainSnpMeasurement(new Uint8Array(32), BASE), (e) => e instanceof ParseError && e.code === 'MALFORMED_FIELD');
  });
});
