// writeMeasurements over a stand-in image: a synthetic 4 MiB AmdSev OVMF (random pages ending in the real
// firmware's last pages, so its SEV metadata and kernel-hashes section are real, as bench/launchMeasure.ts does),
// Debian's OVMF.fd as the TDX firmware (its TDVF metadata is real), and small kernel and initrd files.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { directBootEvents, predictedRtmrs, snpLaunchDigest, tdxMrtd } from '../../attestation/measure/index.js';
import { allowedMeasurements, parseMeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import { vector } from '../../attestation/testing/vectors.js';
import { writeMeasurements } from './writeMeasurements.js';

const MiB = 1024 * 1024;
const SCRIPT = fileURLToPath(new URL('./writeMeasurements.js', import.meta.url));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function standIn(withTdx: boolean): { dir: string; manifest: string; ovmf: Uint8Array; tdvf: Uint8Array; kernel: Uint8Array; initrd: Uint8Array; cmdline: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-measurements-'));
  const suffix = vector('sev-snp-measure/fixtures/ovmf_AmdSev_suffix.bin');
  const ovmf = randomFillSync(new Uint8Array(4 * MiB));
  ovmf.set(suffix, ovmf.length - suffix.length);
  const tdvf = vector('debian/ovmf/OVMF.fd');
  // A PE image, as a bzImage is to the firmware (its Authenticode hash is RTMR1's kernel event).
  const kernel = vector('debian/systemd-boot-efi/systemd-bootx64.efi');
  const initrd = randomFillSync(new Uint8Array(32 * 1024));
  const cmdline = 'console=ttyS0 quiet';
  const out = (name: string, data: Uint8Array): { file: string; sha256: string; bytes: number } => {
    writeFileSync(join(dir, name), data);
    return { file: name, sha256: sha256(data), bytes: data.length };
  };
  const firmware = { 'sev-snp': out('OVMF.amdsev.fd', ovmf), ...(withTdx ? { tdx: out('OVMF.inteltdx.fd', tdvf) } : {}) };
  const manifest = join(dir, 'image-manifest.json');
  writeFileSync(manifest, JSON.stringify({ schema: 'cloister-image/v1', variant: 'production', inputs: [], outputs: { kernel: out('vmlinuz', kernel), initrd: out('initramfs.cpio.gz', initrd), cmdline, firmware } }));
  return { dir, manifest, ovmf, tdvf, kernel, initrd, cmdline };
}

describe('writeMeasurements', () => {
  it('writes every SEV-SNP configuration and the TDX MRTD and RTMRs, each matching the calculators', async () => {
    const s = standIn(true);
    const outPath = join(s.dir, 'measurements.json');
    const lines: string[] = [];
    await writeMeasurements({ manifestPath: s.manifest, outPath, log: (l) => lines.push(l) });
    const file = parseMeasurementsFile(readFileSync(outPath, 'utf8'));
    assert.equal(file.image.manifest, sha256(readFileSync(s.manifest)));
    assert.equal(file.image.variant, 'production');
    const snp = file['sev-snp'] ?? [];
    assert.equal(snp.length, 7 * 3);
    assert.deepEqual([...new Set(snp.map((e) => e.vcpuType))], ['EPYC-v4', 'EPYC-Milan', 'EPYC-Genoa']);
    for (const e of [snp[0], snp[9], snp[20]]) {
      assert.ok(e !== undefined);
      const expected = await snpLaunchDigest({ ovmf: s.ovmf, kernel: s.kernel, initrd: s.initrd, append: s.cmdline, vcpus: e.vcpus, vcpuType: e.vcpuType });
      assert.equal(e.measurement, hex(expected.digest), `${e.vcpus} x ${e.vcpuType}`);
      assert.deepEqual(e.inputs?.kernel, { sha256: sha256(s.kernel) });
    }
    assert.equal(new Set(snp.map((e) => e.measurement)).size, snp.length, 'every configuration measures differently');
    const [tdx] = file.tdx ?? [];
    assert.equal(tdx?.mrTd, hex(await tdxMrtd(s.tdvf)));
    const rtmrs = await predictedRtmrs(await directBootEvents({ kernel: s.kernel, initrd: s.initrd, append: s.cmdline }));
    assert.equal(tdx.rtmr1, hex(rtmrs[1] as Uint8Array));
    assert.equal(tdx.rtmr2, hex(rtmrs[2] as Uint8Array));
    assert.deepEqual(allowedMeasurements(file, 'tdx').rtmrs, [null, tdx.rtmr1, tdx.rtmr2, null]);
    assert.equal(file.notes, undefined);
    assert.ok(lines.some((l) => l.startsWith('sev-snp: 21 launch digests')));
  });

  it('skips a platform whose firmware the manifest lacks, with a note; honours configurations', async () => {
    const s = standIn(false);
    const file = await writeMeasurements({ manifestPath: s.manifest, outPath: join(s.dir, 'm.json'), configurations: { vcpus: [2], vcpuTypes: ['EPYC-Milan'] }, log: () => undefined });
    assert.equal(file.tdx, undefined);
    assert.deepEqual(file.notes, ['tdx: skipped, the image manifest lists no TDX (IntelTdx) firmware']);
    assert.equal(file['sev-snp']?.length, 1);
  });

  it('refuses a file whose digest differs from the manifest', async () => {
    const s = standIn(false);
    writeFileSync(join(s.dir, 'vmlinuz'), 'changed');
    await assert.rejects(writeMeasurements({ manifestPath: s.manifest, outPath: join(s.dir, 'm.json'), log: () => undefined }), /kernel .*vmlinuz has sha256 [0-9a-f]{64}, the manifest says/);
  });

  it('runs as a CLI, with --help', async () => {
    const run = promisify(execFile);
    assert.match((await run(process.execPath, [SCRIPT, '--help'])).stdout, /--manifest FILE/);
    const s = standIn(false);
    const out = join(s.dir, 'cli.json');
    const r = await run(process.execPath, [SCRIPT, '--manifest', s.manifest, '--out', out]);
    assert.match(r.stderr, /wrote /);
    assert.equal(parseMeasurementsFile(readFileSync(out, 'utf8'))['sev-snp']?.length, 21);
    await assert.rejects(run(process.execPath, [SCRIPT]), (e: { code: number; stderr: string }) => e.code === 2 && /--manifest required/.test(e.stderr));
  });
});
