// Every SEV-SNP launch digest of the two peers' test tables (testdata/attestation/sev-snp-measure/
// expected_test_guest.json, virtee-sev/measurement/expected.json): "/dev/null" or "empty" is an empty file,
// null no file; "ovmf_hash" is the chain state after the full OVMF, which these fixtures (the last 4 KiB
// of the image) cannot give. EC2: the peers disagree on RDX; we follow sev-snp-measure (docs/measure.md).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, toHex } from '../../bytes.js';
import { CloisterError } from '../../errors.js';
import { webCryptoHasher } from '../../hash.js';
import { vector } from '../../testing/vectors.js';
import { BSP_EIP, SnpLaunchCalculator, snpLaunchDigest, VMSA, vmsaRegisters, type SnpLaunchInputs, type VmmType } from './index.js';

const text = (path: string): unknown => JSON.parse(new TextDecoder().decode(vector(path))) as unknown;

interface GuestArgs {
  readonly mode: string;
  readonly vcpus: number;
  readonly vcpu_sig: string | null;
  readonly ovmf: string;
  readonly kernel: string | null;
  readonly initrd: string | null;
  readonly append: string | null;
  readonly guest_features: number;
  readonly snp_ovmf_hash_str?: string | null;
  readonly vmm_type?: string;
  readonly dump_vmsa?: boolean;
}
interface GuestCase { readonly name: string; readonly args: GuestArgs; readonly expected?: readonly string[]; readonly ovmf_hash_of?: string }

interface VirteeRow {
  readonly name: string;
  readonly ovmf: string;
  readonly vcpus?: number;
  readonly guest_features?: string;
  readonly kernel?: string | null;
  readonly initrd?: string | null;
  readonly append?: string | null;
  readonly ovmf_hash?: string;
  readonly vmm?: string | null;
  readonly expected?: string;
  readonly expected_error?: string;
}
interface VirteeTable { readonly ovmf_hash_of_ovmf_AmdSev_suffix: string; readonly snp: readonly VirteeRow[] }

const guest = text('sev-snp-measure/expected_test_guest.json') as readonly GuestCase[];
const virtee = text('virtee-sev/measurement/expected.json') as VirteeTable;
/** The tables' "ovmf_hash": both peers' tests hard-code the same value, the chain state after the AmdSev suffix. */
const OVMF_HASH = fromHex(virtee.ovmf_hash_of_ovmf_AmdSev_suffix);
const EMPTY = new Uint8Array(0);
const file = (f: string | null | undefined): Uint8Array | undefined => (f === null || f === undefined ? undefined : EMPTY);

function guestInputs(a: GuestArgs): SnpLaunchInputs {
  // GCE rows give no vCPU type: GCE puts a fixed signature in RDX, so any type gives the same digest.
  const vcpuType = a.vcpu_sig === null ? 'EPYC-v4' : (/CPU_SIGS\['([^']+)'\]/.exec(a.vcpu_sig)?.[1] ?? a.vcpu_sig);
  const vmm = a.vmm_type === undefined ? 'qemu' : (a.vmm_type.split('.').pop() as string).toLowerCase();
  const kernel = file(a.kernel);
  const initrd = file(a.initrd);
  return {
    ovmf: vector(`sev-snp-measure/${a.ovmf.replace(/^tests\//, '')}`),
    ...(a.snp_ovmf_hash_str === 'ovmf_hash' ? { ovmfHash: OVMF_HASH } : {}),
    ...(kernel === undefined ? {} : { kernel }),
    ...(initrd === undefined ? {} : { initrd }),
    ...(a.append === null ? {} : { append: a.append }),
    vcpus: a.vcpus, vcpuType, guestFeatures: BigInt(a.guest_features), vmmType: vmm as VmmType,
  };
}

describe('SEV-SNP launch digests: virtee/sev-snp-measure tests/test_guest.py', () => {
  const snp = guest.filter((c) => c.args.mode === 'SevMode.SEV_SNP' && c.args.dump_vmsa !== true);
  it('has the table\'s SEV-SNP cases (SEV, SEV-ES, SVSM and VMSA dumps are out of scope)', () => {
    assert.equal(snp.length, 17);
  });
  for (const c of snp) {
    const [first, second] = c.expected ?? [];
    if (c.name.endsWith('_should_fail')) {
      it(`${c.name}: a typed error that says the firmware has no SNP_KERNEL_HASHES section`, async () => {
        await assert.rejects(snpLaunchDigest(guestInputs(c.args)), (e) => e instanceof CloisterError && e.code === 'MEASUREMENT_INPUT' && /no SNP_KERNEL_HASHES section/.test(e.message));
      });
    } else if (c.ovmf_hash_of !== undefined) {
      it(`${c.name}: the OVMF chain state, then the digest from it`, async () => {
        const fromFile: SnpLaunchInputs = { ...guestInputs(c.args) };
        delete (fromFile as { ovmfHash?: Uint8Array }).ovmfHash;
        const computed = await snpLaunchDigest(fromFile);
        assert.equal(toHex(computed.ovmfHash), first);
        assert.equal(toHex((await snpLaunchDigest({ ...fromFile, ovmfHash: computed.ovmfHash })).digest), second);
        assert.equal(toHex(computed.digest), second);
      });
    } else {
      it(c.name, async () => {
        assert.equal(toHex((await snpLaunchDigest(guestInputs(c.args))).digest), first);
      });
    }
  }
});

function virteeInputs(r: VirteeRow): SnpLaunchInputs {
  // One row's append is "see source ...: same as sev_snp_only"; take that row's.
  const append = r.append?.startsWith('see source') === true ? virtee.snp.find((x) => x.name === 'sev_snp_only')?.append : r.append;
  const kernel = file(r.kernel);
  const initrd = file(r.initrd);
  return {
    ovmf: vector(`virtee-sev/measurement/${r.ovmf}`),
    ...(r.ovmf_hash === undefined ? {} : { ovmfHash: OVMF_HASH }),
    ...(kernel === undefined ? {} : { kernel }),
    ...(initrd === undefined ? {} : { initrd }),
    ...(append === null || append === undefined ? {} : { append }),
    vcpus: r.vcpus ?? 1, vcpuType: 'EPYC-v4', guestFeatures: BigInt(r.guest_features ?? '0x1'),
    vmmType: (r.vmm ?? 'qemu').toLowerCase() as VmmType,
  };
}

describe('SEV-SNP launch digests: virtee/sev tests/measurement.rs', () => {
  const rows = virtee.snp;
  const ec2 = rows.filter((r) => r.vmm === 'EC2');
  it('has the table\'s SEV-SNP rows, two of them EC2', () => {
    assert.equal(rows.length, 14);
    assert.equal(ec2.length, 2);
  });
  for (const r of rows.filter((x) => x.vmm !== 'EC2')) {
    if (r.expected_error !== undefined) {
      it(`${r.name}: a typed error naming SNP_KERNEL_HASHES`, async () => {
        await assert.rejects(snpLaunchDigest(virteeInputs(r)), (e) => e instanceof CloisterError && e.code === 'MEASUREMENT_INPUT' && /SNP_KERNEL_HASHES/.test(e.message));
      });
    } else {
      it(r.name, async () => {
        assert.equal(toHex((await snpLaunchDigest(virteeInputs(r))).digest), r.expected);
      });
    }
  }
  for (const r of ec2) {
    it(`${r.name}: differs from ours only by the EC2 VMSA's RDX (virtee/sev 0, sev-snp-measure 0x600)`, async () => {
      const inputs = virteeInputs(r);
      const ours = await snpLaunchDigest(inputs);
      assert.notEqual(toHex(ours.digest), r.expected);
      const calculator = await SnpLaunchCalculator.create(inputs.ovmf, inputs.ovmfHash, webCryptoHasher);
      const chain = (await calculator.afterSections(await calculator.directBootHashes(inputs.kernel, inputs.initrd, inputs.append), 'ec2')).fork();
      const page = VMSA.serialize({ ...vmsaRegisters({ eip: BSP_EIP, sevFeatures: inputs.guestFeatures ?? 1n, vcpuSignature: 0, vmmType: 'ec2' }), rdx: 0n });
      await chain.updateVmsa(await webCryptoHasher.digest('SHA-384', [page]));
      assert.equal(toHex(chain.digest), r.expected);
    });
  }
});
