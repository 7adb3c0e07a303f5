import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ATTESTATION_VECTORS as V } from '../../attestation/testing/vectors.js';
import { parseQuote } from '../../attestation/tdx/quote.js';
import { cli } from '../testing/cliRun.js';

const tmp = mkdtempSync(join(tmpdir(), 'cloister-measure-'));
process.env.CLOISTER_STATE_DIR = join(tmp, 'state');
const file = (name: string, content: Uint8Array | string): string => {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
};

const FIXTURES = `${V}sev-snp-measure/fixtures/`;
const AMDSEV = `${FIXTURES}ovmf_AmdSev_suffix.bin`;
const OVMFX64 = `${FIXTURES}ovmf_OvmfX64_suffix.bin`;
const EMPTY = file('empty', new Uint8Array());

interface PeerCase {
  readonly name: string;
  readonly args: { readonly vcpus: number; readonly kernel: string | null; readonly append: string | null; readonly guest_features: number; readonly ovmf: string; readonly vmm_type?: string };
  readonly expected: readonly string[];
}
const peers = JSON.parse(readFileSync(`${V}sev-snp-measure/expected_test_guest.json`, 'utf8')) as PeerCase[];
const peer = (name: string): PeerCase => {
  const c = peers.find((p) => p.name === name);
  if (c === undefined) throw new Error(`no peer case ${name}`);
  return c;
};
const OVMF_HASH = (JSON.parse(readFileSync(`${V}virtee-sev/measurement/expected.json`, 'utf8')) as { ovmf_hash_of_ovmf_AmdSev_suffix: string }).ovmf_hash_of_ovmf_AmdSev_suffix;

describe('cloister measure', () => {
  it('explains every flag of each subcommand, with an example', async () => {
    const snp = await cli('measure', 'snp', '--help');
    assert.equal(snp.code, 0);
    for (const flag of ['--ovmf', '--ovmf-hash', '--kernel', '--initrd', '--append', '--vcpus', '--vcpu-type', '--guest-features', '--vmm-type', '--json', 'Example:', 'EPYC-v4']) assert.ok(snp.stdout.includes(flag), `snp --help lacks ${flag}`);
    const tdx = await cli('measure', 'tdx', '--help');
    for (const flag of ['--ovmf', '--kernel', '--initrd', '--append', '--event-log', '--json', 'Example:']) assert.ok(tdx.stdout.includes(flag), `tdx --help lacks ${flag}`);
    const explain = await cli('measure', 'explain', '--help');
    for (const flag of ['--evidence', '--ovmf', '--vcpus', '--event-log', 'Example:']) assert.ok(explain.stdout.includes(flag), `explain --help lacks ${flag}`);
    assert.match((await cli('--help')).stdout, /measure +compute the launch measurement/);
  });

  it("prints the peers' SEV-SNP launch digest for a direct boot (sev-snp-measure test_snp_default)", async () => {
    const c = peer('test_snp_default');
    const r = await cli('measure', 'snp', '--ovmf', AMDSEV, '--ovmf-hash', OVMF_HASH, '--kernel', EMPTY, '--initrd', EMPTY, '--append', c.args.append ?? '', '--vcpus', String(c.args.vcpus), '--vcpu-type', 'EPYC-v4', '--guest-features', `0x${c.args.guest_features.toString(16)}`);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${c.expected.at(-1)}\n`);
  });

  it('gives every input its digest with --json', async () => {
    const r = await cli('measure', 'snp', '--ovmf', AMDSEV, '--ovmf-hash', OVMF_HASH, '--kernel', EMPTY, '--vcpus', '2', '--vcpu-type', 'EPYC-v4', '--json');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { measurement: string; inputs: { kernel: { sha256: string }; initrd: { sha256: string }; vcpus: number; vmsas: unknown[] } };
    assert.match(j.measurement, /^[0-9a-f]{96}$/);
    // SHA-256 of nothing: the kernel and the absent initrd are both hashed as empty files.
    assert.equal(j.inputs.kernel.sha256, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(j.inputs.initrd.sha256, j.inputs.kernel.sha256);
    assert.equal(j.inputs.vcpus, 2);
    assert.ok(j.inputs.vmsas.length >= 1);
  });

  it('refuses bad command lines in one line, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['measure', 'snp', '--ovmf', AMDSEV, '--vcpu-type', 'EPYC-v4'], /--vcpus N is required/],
      [['measure', 'snp', '--ovmf', AMDSEV, '--vcpus', '0', '--vcpu-type', 'EPYC-v4'], /--vcpus must be a whole number from 1/],
      [['measure', 'snp', '--ovmf', AMDSEV, '--vcpus', '1', '--vcpu-type', 'Pentium'], /--vcpu-type must be one of .*EPYC-v4/],
      [['measure', 'snp', '--ovmf', AMDSEV, '--vcpus', '1', '--vcpu-type', 'EPYC-v4', '--initrd', EMPTY], /--initrd and --append need --kernel/],
      [['measure', 'snp', '--ovmf', AMDSEV, '--vcpus', '1', '--vcpu-type', 'EPYC-v4', '--vmm-type', 'xen'], /--vmm-type must be one of qemu, ec2, gce/],
      [['measure', 'snp', '--ovmf', AMDSEV, '--vcpus', '1', '--vcpu-type', 'EPYC-v4', '--guest-features', 'zz'], /--guest-features must be/],
      [['measure', 'snp', '--ovmf', join(tmp, 'missing.fd'), '--vcpus', '1', '--vcpu-type', 'EPYC-v4'], /UNREADABLE_INPUT.*cannot read firmware/],
      [['measure', 'frobnicate'], /unknown measure command "frobnicate"/],
      [['measure', 'explain', '--ovmf', AMDSEV], /--evidence FILE is required/],
    ];
    for (const [argv, line] of cases) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, line);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('refuses a repeated option, a directory, and an endless input, in one line each', async () => {
    const twice = await cli('measure', 'snp', '--ovmf', AMDSEV, '--vcpus', '2', '--vcpus', '4', '--vcpu-type', 'EPYC-v4');
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /^error \[USAGE\]: --vcpus is given more than once/);
    const dir = await cli('measure', 'snp', '--ovmf', tmp, '--vcpus', '1', '--vcpu-type', 'EPYC-v4');
    assert.equal(dir.code, 2);
    assert.match(dir.stderr, /cannot read firmware ".*": a directory/);
    const endless = await cli('measure', 'snp', '--ovmf', '/dev/zero', '--vcpus', '1', '--vcpu-type', 'EPYC-v4');
    assert.equal(endless.code, 2);
    assert.match(endless.stderr, /cannot read firmware "\/dev\/zero": it did not end within the limit of 67108864 bytes/);
  });

  it('needs the 0x of guest features, and no vCPU type where the VMM ignores it', async () => {
    const decimal = await cli('measure', 'snp', '--ovmf', AMDSEV, '--ovmf-hash', OVMF_HASH, '--vcpus', '1', '--vcpu-type', 'EPYC-v4', '--guest-features', '33');
    assert.equal(decimal.code, 2);
    assert.match(decimal.stderr, /--guest-features must be hex with its 0x/);
    const gce = peer('test_snp_gce_default');
    const r = await cli('measure', 'snp', '--ovmf', AMDSEV, '--ovmf-hash', OVMF_HASH, '--kernel', EMPTY, '--initrd', EMPTY, '--vcpus', String(gce.args.vcpus), '--vmm-type', 'gce', '--guest-features', '0X1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${gce.expected.at(-1)}\n`);
  });

  it('says that a file which is no evidence is none of the forms evidence comes in', async () => {
    const r = await cli('measure', 'explain', '--evidence', `${V}go-tdx-guest/ccel/ccel_data.dat`, '--ovmf', AMDSEV);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ccel_data\.dat is not an SEV-SNP report, extended report, TDX quote or evidence bundle: /);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('says that a kernel needs firmware with a kernel-hashes section (OvmfX64 has none)', async () => {
    const r = await cli('measure', 'snp', '--ovmf', OVMFX64, '--ovmf-hash', OVMF_HASH, '--kernel', EMPTY, '--vcpus', '1', '--vcpu-type', 'EPYC-v4');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /kernel/i);
    assert.match(r.stderr, /hashes/i);
  });

  it('explains simulated evidence launched with 4 vCPUs, checked against 2: the vCPU count', async () => {
    const base = ['--ovmf', AMDSEV, '--ovmf-hash', OVMF_HASH, '--kernel', EMPTY, '--append', 'console=ttyS0', '--vcpu-type', 'EPYC-v4'];
    const four = await cli('measure', 'snp', ...base, '--vcpus', '4');
    assert.equal(four.code, 0, four.stderr);
    const bundle = join(tmp, 'bundle.json');
    const evidence = await cli('evidence', '--simulated', '--measurement', four.stdout.trim(), '--out', bundle);
    assert.equal(evidence.code, 0, evidence.stderr);
    const r = await cli('measure', 'explain', '--evidence', bundle, ...base, '--vcpus', '2');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^MISMATCH: .*vCPU/);
    assert.match(r.stdout, /\b4\b/);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    assert.match(r.stderr, /SIMULATED/);
    const same = await cli('measure', 'explain', '--evidence', bundle, ...base, '--vcpus', '4');
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /^MATCH: /);
  });

  it('refuses SEV-SNP options with TDX evidence, and --event-log with SEV-SNP evidence', async () => {
    const quote = `${V}go-tdx-guest/tdx_prod_quote_SPR_E4.dat`;
    const r = await cli('measure', 'explain', '--evidence', quote, '--ovmf', AMDSEV, '--vcpus', '2');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--vcpus applies to SEV-SNP evidence only/);
    const s = await cli('measure', 'explain', '--evidence', `${V}go-sev-guest/attestation.bin`, '--ovmf', AMDSEV, '--event-log', EMPTY);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /--event-log applies to TDX evidence only/);
  });

  it('refuses evidence it cannot parse in one line', async () => {
    const r = await cli('measure', 'explain', '--evidence', file('junk.bin', 'not evidence'), '--ovmf', AMDSEV);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error \[/);
  });

  describe('tdx', () => {
    const OVMF = `${V}debian/ovmf/OVMF.fd`;
    const LOG = `${V}go-tdx-guest/ccel/ccel_data.dat`;
    const QUOTE = `${V}go-tdx-guest/ccel/cos-113-tdx-quote.dat`;

    it('prints MRTD, and the RTMRs a real event log replays to: those of its quote', async () => {
      const r = await cli('measure', 'tdx', '--ovmf', OVMF, '--event-log', LOG, '--json');
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { mrTd: string; rtmrs: string[] };
      assert.match(j.mrTd, /^[0-9a-f]{96}$/);
      const body = parseQuote(new Uint8Array(readFileSync(QUOTE))).body;
      assert.deepEqual(j.rtmrs, body.rtmrs.map((x) => Buffer.from(x).toString('hex')));
      const text = await cli('measure', 'tdx', '--ovmf', OVMF);
      assert.match(text.stdout, new RegExp(`^mrtd   ${j.mrTd}\n`));
      const twoPass = await cli('measure', 'tdx', '--ovmf', OVMF, '--page-order', 'two-pass');
      assert.equal(twoPass.code, 0);
      assert.notEqual(twoPass.stdout.split('\n')[0], text.stdout.split('\n')[0]);
      assert.equal((await cli('measure', 'tdx', '--ovmf', OVMF, '--page-order', 'sideways')).code, 2);
    });

    it('lists the events a direct boot adds to RTMR1 and RTMR2', async () => {
      const r = await cli('measure', 'tdx', '--ovmf', OVMF, '--kernel', `${V}debian/systemd-boot-efi/systemd-bootx64.efi`, '--initrd', EMPTY, '--append', 'console=hvc0');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^ {2}rtmr1 event EV_EFI_BOOT_SERVICES_APPLICATION [0-9a-f]{96}/m);
      assert.match(r.stdout, /^ {2}rtmr2 event /m);
      assert.match(r.stdout, /^rtmr1 {2}[0-9a-f]{96} {2}\(predicted\)$/m);
      assert.match(r.stdout, /^rtmr2 {2}[0-9a-f]{96} {2}\(predicted\)$/m);
      assert.match(r.stdout, /^rtmr0, rtmr3: give --event-log/m);
    });

    it('patches the kernel as QEMU 10.1 and older load it only with --memory, and checks that it is a bzImage', async () => {
      const efi = `${V}debian/systemd-boot-efi/systemd-bootx64.efi`;
      const patched = await cli('measure', 'tdx', '--ovmf', OVMF, '--kernel', efi, '--memory', '4G');
      assert.equal(patched.code, 2);
      assert.match(patched.stderr, /^error \[MALFORMED_FIELD\]: .*HdrS/);
      const cases: [string[], RegExp][] = [
        [['--kernel', efi, '--memory', 'lots'], /--memory must be a size such as 4G/],
        [['--kernel', efi, '--qemu-version', '9.2'], /--qemu-version needs --memory/],
        [['--kernel', efi, '--memory', '4G', '--qemu-version', 'nine'], /--qemu-version must be MAJOR.MINOR/],
        [['--memory', '4G'], /--memory needs --kernel/],
      ];
      for (const [argv, line] of cases) {
        const r = await cli('measure', 'tdx', '--ovmf', OVMF, ...argv);
        assert.equal(r.code, 2, argv.join(' '));
        assert.match(r.stderr, line);
      }
      const snp = await cli('measure', 'explain', '--evidence', `${V}go-sev-guest/attestation.bin`, '--ovmf', AMDSEV, '--memory', '4G');
      assert.match(snp.stderr, /--memory applies to TDX evidence only/);
    });

    it('explains a quote whose firmware is not the one given: MRTD', async () => {
      const r = await cli('measure', 'explain', '--evidence', QUOTE, '--ovmf', OVMF, '--event-log', LOG);
      assert.equal(r.code, 1, r.stderr);
      // The log is the quote's own: it replays, and the line says so.
      assert.match(r.stdout, /^MISMATCH: MRTD: the firmware predicts [0-9a-f]{96}, the quote reports [0-9a-f]{96} \(the event log does replay to the quote's RTMR0\.\.3\)\n$/);
    });
  });
});
