import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { qemuArguments, shellQuote } from './qemuCommand.js';

const SCRIPT = fileURLToPath(new URL('./qemuCommand.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cloister-qemu-'));
const manifest = join(dir, 'image-manifest.json');
const h = '00'.repeat(32);
writeFileSync(manifest, JSON.stringify({ schema: 'cloister-image/v1', variant: 'production', inputs: [], outputs: { kernel: { file: 'vmlinuz', sha256: h }, initrd: { file: 'initramfs.cpio.gz', sha256: h }, cmdline: 'console=ttyS0 quiet', firmware: { 'sev-snp': { file: '../fw/OVMF.amdsev.fd', sha256: h } } } }));
const measurements = join(dir, 'measurements.json');
writeFileSync(measurements, JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: h, variant: 'production' }, 'sev-snp': [{ measurement: 'ab'.repeat(48), vcpus: 2, vcpuType: 'EPYC-Milan', vmmType: 'qemu', guestFeatures: '0x1' }] }));

describe('qemuCommand', () => {
  it('gives the SEV-SNP arguments: kernel hashes, memfd backend, the manifest\'s files', () => {
    const args = qemuArguments({ manifestPath: manifest, platform: 'sev-snp', vcpus: 2, memory: '2G', vcpuType: 'EPYC-Milan' });
    const joined = args.join(' ');
    assert.match(joined, /-cpu EPYC-Milan -machine q35,confidential-guest-support=sev0,memory-backend=ram1 -object memory-backend-memfd,id=ram1,size=2G -object sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1,kernel-hashes=on/);
    assert.equal(args[args.indexOf('-bios') + 1], resolve(dir, '../fw/OVMF.amdsev.fd'));
    assert.equal(args[args.indexOf('-kernel') + 1], join(dir, 'vmlinuz'));
    assert.equal(args[args.indexOf('-append') + 1], 'console=ttyS0 quiet');
    assert.equal(args[args.indexOf('-smp') + 1], '2');
  });

  it('refuses a platform without firmware and a bad memory size', () => {
    assert.throws(() => qemuArguments({ manifestPath: manifest, platform: 'tdx' }), /lists no tdx firmware/);
    assert.throws(() => qemuArguments({ manifestPath: manifest, platform: 'sev-snp', memory: '4 GB' }), /--memory/);
  });

  it('prints the command line and the matching measurement', async () => {
    const r = await promisify(execFile)(process.execPath, [SCRIPT, '--manifest', manifest, '--platform', 'sev-snp', '--vcpus', '2', '--vcpu-type', 'EPYC-Milan', '--measurements', measurements]);
    assert.match(r.stdout, new RegExp(`^# expected SEV-SNP MEASUREMENT \\(2 vCPUs, EPYC-Milan, guest features 0x1\\): ${'ab'.repeat(48)}\nqemu-system-x86_64 -enable-kvm `));
    assert.match(r.stdout, /-append 'console=ttyS0 quiet'/);
    assert.equal(shellQuote("it's"), "'it'\\''s'");
  });
});
