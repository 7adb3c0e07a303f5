// build/measurements.json (schema "cloister-measurements/v1", attestation/measure/measurementsFile.ts) from an
// image-manifest.json ("cloister-image/v1", /work/image-contract.md): per platform and supported configuration, the
// launch measurement a guest booted from the manifest's firmware, kernel, initrd and command line reports, each
// entry with the inputs that produce it, ready to be signed and published.
//   SEV-SNP  the launch digest (attestation/measure/snp) of the AmdSev firmware with kernel hashes, for every
//            vCPU count x vCPU type of the configuration, VMM qemu, guest features 0x1
//   TDX      the MRTD of the IntelTdx firmware, and RTMR1/RTMR2 predicted for a QEMU direct boot with the kernel
//            as built (QEMU 10.2 and later hand -kernel over unpatched; 10.1 and older patch its setup header
//            per guest memory size, which these values do not cover)
// A platform whose firmware the manifest does not list is skipped, with a note in the file.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { directBootEvents, predictedRtmrs, SnpLaunchCalculator, tdxMrtd, vcpuSignature, DEFAULT_GUEST_FEATURES } from '../../attestation/measure/index.js';
import { MEASUREMENTS_SCHEMA, assertMeasurementsFile, type MeasurementsFile, type SnpMeasurementEntry, type TdxMeasurementEntry } from '../../attestation/measure/measurementsFile.js';
import { nodeHasher } from '../../src/base/crypto/nodeHasher.js';
import { isMain, scriptArgs } from '../scriptArgs.js';

export interface SnpConfigurations {
  readonly vcpus: readonly number[];
  readonly vcpuTypes: readonly string[];
}

/** The configurations published by default: the vCPU counts and EPYC generations a deployment is likely to pick. */
export const DEFAULT_CONFIGURATIONS: SnpConfigurations = Object.freeze({
  vcpus: Object.freeze([1, 2, 4, 8, 16, 32, 64]),
  vcpuTypes: Object.freeze(['EPYC-v4', 'EPYC-Milan', 'EPYC-Genoa']),
});

/** The QEMU versions the TDX RTMR predictions hold for. */
export const TDX_QEMU = '>=10.2';

export interface WriteMeasurementsOptions {
  readonly manifestPath: string;
  readonly outPath: string;
  readonly configurations?: SnpConfigurations;
  readonly log: (line: string) => void;
}

interface FileOutput {
  readonly file: string;
  readonly sha256: string;
}

interface ImageManifest {
  readonly schema: 'cloister-image/v1';
  readonly variant: string;
  readonly outputs: {
    readonly kernel: FileOutput;
    readonly initrd: FileOutput;
    readonly cmdline: string;
    readonly firmware?: { readonly 'sev-snp'?: FileOutput; readonly tdx?: FileOutput };
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFileOutput = (v: unknown): v is FileOutput => isObject(v) && typeof v.file === 'string' && typeof v.sha256 === 'string' && /^[0-9a-f]{64}$/.test(v.sha256);

/** The manifest's members this script reads, checked; every bad one is named. */
export function assertImageManifest(value: unknown, path: string): ImageManifest {
  const problems: string[] = [];
  if (!isObject(value)) throw new Error(`${path}: not a JSON object`);
  if (value.schema !== 'cloister-image/v1') problems.push('$.schema: must be "cloister-image/v1"');
  if (typeof value.variant !== 'string') problems.push('$.variant: must be a string');
  const o = value.outputs;
  if (!isObject(o)) problems.push('$.outputs: must be an object');
  else {
    for (const k of ['kernel', 'initrd'] as const) if (!isFileOutput(o[k])) problems.push(`$.outputs.${k}: must be { file, sha256 }`);
    if (typeof o.cmdline !== 'string') problems.push('$.outputs.cmdline: must be a string');
    if ('firmware' in o) {
      if (!isObject(o.firmware)) problems.push('$.outputs.firmware: must be an object');
      else for (const k of ['sev-snp', 'tdx'] as const) if (k in o.firmware && !isFileOutput(o.firmware[k])) problems.push(`$.outputs.firmware.${k}: must be { file, sha256 }`);
    }
  }
  if (problems.length > 0) throw new Error(`${path}: invalid image manifest: ${problems.join('; ')}`);
  return value as unknown as ImageManifest;
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A file the manifest names, relative to the manifest's directory, checked against its digest. */
async function readOutput(manifestDir: string, what: string, out: FileOutput): Promise<Uint8Array> {
  const path = resolve(manifestDir, out.file);
  const data = new Uint8Array(await readFile(path));
  const actual = sha256(data);
  if (actual !== out.sha256) throw new Error(`${what} ${path} has sha256 ${actual}, the manifest says ${out.sha256}: rebuild the image or the firmware`);
  return data;
}

export async function computeMeasurements(manifestPath: string, configurations: SnpConfigurations, log: (line: string) => void): Promise<MeasurementsFile> {
  const manifestBytes = new Uint8Array(await readFile(manifestPath));
  const manifest = assertImageManifest(JSON.parse(new TextDecoder().decode(manifestBytes)), manifestPath);
  const dir = dirname(resolve(manifestPath));
  const o = manifest.outputs;
  const kernel = await readOutput(dir, 'kernel', o.kernel);
  const initrd = await readOutput(dir, 'initrd', o.initrd);
  const bootInputs = { kernel: { sha256: o.kernel.sha256 }, initrd: { sha256: o.initrd.sha256 }, cmdline: o.cmdline };
  const notes: string[] = [];
  const file: Record<string, unknown> = { schema: MEASUREMENTS_SCHEMA, image: { manifest: sha256(manifestBytes), variant: manifest.variant } };

  const snpFirmware = o.firmware?.['sev-snp'];
  if (snpFirmware === undefined) notes.push('sev-snp: skipped, the image manifest lists no SEV-SNP (AmdSev) firmware');
  else {
    const started = performance.now();
    const calculator = await SnpLaunchCalculator.create(await readOutput(dir, 'SEV-SNP firmware', snpFirmware), undefined, nodeHasher);
    const hashes = await calculator.directBootHashes(kernel, initrd, o.cmdline);
    const max = Math.max(...configurations.vcpus);
    const entries: SnpMeasurementEntry[] = [];
    for (const vcpuType of configurations.vcpuTypes) {
      const digests = await calculator.digestsByVcpuCount({ hashes, vmmType: 'qemu', vcpuSignature: vcpuSignature(vcpuType), guestFeatures: DEFAULT_GUEST_FEATURES }, max);
      for (const vcpus of configurations.vcpus) {
        entries.push({ measurement: hex(digests[vcpus - 1] as Uint8Array), vcpus, vcpuType, vmmType: 'qemu', guestFeatures: `0x${DEFAULT_GUEST_FEATURES.toString(16)}`, inputs: { firmware: { sha256: snpFirmware.sha256 }, ...bootInputs, kernelHashes: true } });
      }
    }
    file['sev-snp'] = entries;
    log(`sev-snp: ${entries.length} launch digests (${configurations.vcpus.length} vCPU counts x ${configurations.vcpuTypes.length} vCPU types) in ${Math.round(performance.now() - started)} ms`);
  }

  const tdxFirmware = o.firmware?.tdx;
  if (tdxFirmware === undefined) notes.push('tdx: skipped, the image manifest lists no TDX (IntelTdx) firmware');
  else {
    const started = performance.now();
    const mrTd = await tdxMrtd(await readOutput(dir, 'TDX firmware', tdxFirmware), nodeHasher);
    const rtmrs = await predictedRtmrs(await directBootEvents({ kernel, initrd, append: o.cmdline }, nodeHasher), nodeHasher);
    const entry: TdxMeasurementEntry = {
      mrTd: hex(mrTd),
      rtmr1: hex(rtmrs[1] as Uint8Array),
      rtmr2: hex(rtmrs[2] as Uint8Array),
      memory: 'any',
      qemu: TDX_QEMU,
      inputs: { firmware: { sha256: tdxFirmware.sha256 }, ...bootInputs, pageOrder: 'single-pass', rtmr1Separator: true },
    };
    file.tdx = [entry];
    log(`tdx: MRTD and RTMR1/RTMR2 in ${Math.round(performance.now() - started)} ms`);
  }
  if (notes.length > 0) file.notes = notes;
  for (const n of notes) log(n);
  // The file is what clients parse: check it with their parser before writing it.
  return assertMeasurementsFile(file);
}

export async function writeMeasurements(options: WriteMeasurementsOptions): Promise<MeasurementsFile> {
  const file = await computeMeasurements(options.manifestPath, options.configurations ?? DEFAULT_CONFIGURATIONS, options.log);
  await writeFile(options.outPath, `${JSON.stringify(file, null, 2)}\n`);
  options.log(`wrote ${options.outPath}`);
  return file;
}

export const HELP = `Usage: node dist/scripts/measurements/writeMeasurements.js --manifest FILE [--out FILE]

Compute the launch measurements of an image from its image-manifest.json and write measurements.json
(cloister-measurements/v1): SEV-SNP launch digests for vCPU counts ${DEFAULT_CONFIGURATIONS.vcpus.join(', ')} and vCPU
types ${DEFAULT_CONFIGURATIONS.vcpuTypes.join(', ')} (VMM qemu, guest features 0x1); the TDX MRTD and the RTMR1/RTMR2
of a QEMU ${TDX_QEMU} direct boot. A platform whose firmware the manifest lacks is skipped with a note.

Options:
  --manifest FILE   the image manifest (e.g. build/image/production/image-manifest.json)
  --out FILE        where to write (default build/measurements.json)
  -h, --help        show this help
`;

async function main(argv: string[]): Promise<number> {
  const values = scriptArgs(argv, { manifest: { type: 'string' }, out: { type: 'string' } }, HELP, ['manifest']);
  if (typeof values === 'number') return values;
  const manifestPath = values.manifest as string;
  try {
    await writeMeasurements({ manifestPath, outPath: typeof values.out === 'string' ? values.out : 'build/measurements.json', log: (line) => process.stderr.write(`${line}\n`) });
    return 0;
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 1;
  }
}

if (isMain(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
