// The exact QEMU command line that boots an image on a bare-metal SEV-SNP or TDX host (docs/deploy.md), from its
// image-manifest.json: the firmware, kernel, initrd and command line the manifest names (and whose launch
// measurement measurements.json lists), and, given measurements.json, the entry this configuration must report.
//   SEV-SNP  sev-snp-guest with kernel-hashes=on: QEMU writes the SHA-256 of kernel, initrd and command line into
//            the AmdSev firmware's hashes page, so the launch digest covers them (QEMU 9.1+ upstream)
//   TDX      tdx-guest with the IntelTdx firmware; kernel, initrd and command line are measured into RTMR1/RTMR2
//            (QEMU 10.1+ upstream; 10.2+ for the kernel hashed as built, the RTMRs measurements.json predicts)
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseMeasurementsFile, type MeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import { isMain, scriptArgs } from '../scriptArgs.js';

export type DeployPlatform = 'sev-snp' | 'tdx';

export interface QemuCommandOptions {
  readonly manifestPath: string;
  readonly platform: DeployPlatform;
  readonly vcpus?: number;
  /** QEMU's -m size: a number with an optional K, M, G suffix (default 4G). */
  readonly memory?: string;
  /** SEV-SNP: the -cpu model, which is part of the launch digest (default EPYC-v4). */
  readonly vcpuType?: string;
  /** The host port forwarded to the guest's 8080 (QEMU user networking). */
  readonly hostPort?: number;
}

interface Manifest {
  readonly outputs: {
    readonly kernel: { readonly file: string };
    readonly initrd: { readonly file: string };
    readonly cmdline: string;
    readonly firmware?: { readonly [P in DeployPlatform]?: { readonly file: string } };
  };
}

/** POSIX shell quoting, for a command line to paste. */
export const shellQuote = (arg: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);

/** QEMU's arguments (without the program name). */
export function qemuArguments(options: QemuCommandOptions): string[] {
  const manifest = JSON.parse(readFileSync(options.manifestPath, 'utf8')) as Manifest;
  const dir = dirname(resolve(options.manifestPath));
  const firmware = manifest.outputs.firmware?.[options.platform];
  if (firmware === undefined) throw new Error(`${options.manifestPath} lists no ${options.platform} firmware (outputs.firmware.${options.platform}): build it first`);
  const memory = options.memory ?? '4G';
  if (!/^[1-9][0-9]*[KMGT]?$/.test(memory)) throw new Error(`--memory must be a size such as 4G or 4096M, got "${memory}"`);
  const vcpus = options.vcpus ?? 4;
  const common = [
    '-nodefaults', '-nographic', '-no-reboot',
    '-smp', String(vcpus), '-m', memory,
    '-bios', resolve(dir, firmware.file),
    '-kernel', resolve(dir, manifest.outputs.kernel.file),
    '-initrd', resolve(dir, manifest.outputs.initrd.file),
    '-append', manifest.outputs.cmdline,
    '-serial', 'stdio',
    '-nic', `user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:${options.hostPort ?? 8080}-:8080`,
  ];
  if (options.platform === 'sev-snp') {
    return [
      '-enable-kvm', '-cpu', options.vcpuType ?? 'EPYC-v4',
      '-machine', 'q35,confidential-guest-support=sev0,memory-backend=ram1',
      '-object', `memory-backend-memfd,id=ram1,size=${memory}`,
      '-object', 'sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1,kernel-hashes=on',
      ...common,
    ];
  }
  return [
    '-enable-kvm', '-cpu', 'host',
    '-machine', 'q35,kernel-irqchip=split,confidential-guest-support=tdx0',
    '-object', 'tdx-guest,id=tdx0',
    ...common,
  ];
}

/** The measurements.json entry this configuration must report, as lines (empty when none matches). */
export function matchingMeasurement(file: MeasurementsFile, options: QemuCommandOptions): string[] {
  if (options.platform === 'sev-snp') {
    const vcpus = options.vcpus ?? 4;
    const vcpuType = options.vcpuType ?? 'EPYC-v4';
    const e = file['sev-snp']?.find((x) => x.vcpus === vcpus && x.vcpuType === vcpuType && x.vmmType === 'qemu');
    return e === undefined ? [] : [`# expected SEV-SNP MEASUREMENT (${vcpus} vCPUs, ${vcpuType}, guest features ${e.guestFeatures}): ${e.measurement}`];
  }
  const e = file.tdx?.[0];
  return e === undefined ? [] : [`# expected TDX MRTD: ${e.mrTd}`, ...(e.rtmr1 === undefined ? [] : [`# expected RTMR1 (QEMU ${e.qemu ?? '?'}): ${e.rtmr1}`]), ...(e.rtmr2 === undefined ? [] : [`# expected RTMR2: ${e.rtmr2}`])];
}

export const HELP = `Usage: node dist/scripts/deploy/qemuCommand.js --manifest FILE --platform sev-snp|tdx [options]

Print the QEMU command line that boots the image of FILE (image-manifest.json) as a confidential VM on a
bare-metal SEV-SNP or TDX host (docs/deploy.md).

Options:
  --manifest FILE       the image manifest (e.g. build/image/production/image-manifest.json)
  --platform NAME       sev-snp or tdx
  --vcpus N             vCPU count (default 4); part of the SEV-SNP launch digest
  --memory SIZE         guest memory, e.g. 4G (default 4G)
  --vcpu-type NAME      SEV-SNP -cpu model (default EPYC-v4); part of the launch digest
  --measurements FILE   also print the measurement this configuration must report, from measurements.json
  -h, --help            show this help
`;

function main(argv: string[]): number {
  const values = scriptArgs(argv, { manifest: { type: 'string' }, platform: { type: 'string' }, vcpus: { type: 'string' }, memory: { type: 'string' }, 'vcpu-type': { type: 'string' }, measurements: { type: 'string' } }, HELP, ['manifest', 'platform']);
  if (typeof values === 'number') return values;
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] : undefined);
  const platform = str('platform');
  if (platform !== 'sev-snp' && platform !== 'tdx') {
    process.stderr.write(`error: --platform must be sev-snp or tdx, got "${platform ?? ''}"\n`);
    return 2;
  }
  const vcpus = str('vcpus') === undefined ? undefined : Number(str('vcpus'));
  if (vcpus !== undefined && !(Number.isInteger(vcpus) && vcpus >= 1 && vcpus <= 512)) {
    process.stderr.write(`error: --vcpus must be an integer 1..512, got "${str('vcpus') ?? ''}"\n`);
    return 2;
  }
  const memory = str('memory');
  const vcpuType = str('vcpu-type');
  const options: QemuCommandOptions = { manifestPath: str('manifest') as string, platform, ...(vcpus === undefined ? {} : { vcpus }), ...(memory === undefined ? {} : { memory }), ...(vcpuType === undefined ? {} : { vcpuType }) };
  try {
    const args = qemuArguments(options);
    const measurements = str('measurements');
    if (measurements !== undefined) {
      const lines = matchingMeasurement(parseMeasurementsFile(readFileSync(measurements, 'utf8')), options);
      process.stdout.write(lines.length === 0 ? `# ${measurements} lists no measurement for this configuration\n` : `${lines.join('\n')}\n`);
    }
    process.stdout.write(`qemu-system-x86_64 ${args.map(shellQuote).join(' ')}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 2;
  }
}

if (isMain(import.meta.url)) process.exitCode = main(process.argv.slice(2));
