// `cloister measure snp|tdx|explain`: the launch measurements an image should produce, computed from its
// parts (attestation/measure/), and why a piece of evidence does not carry the one expected (docs/measure.md).
import { CloisterError, ParseError } from '../../attestation/errors.js';
import { toHex } from '../../attestation/bytes.js';
import { decodeEvidence, type DecodedEvidence } from '../../attestation/evidence/platforms.js';
import { parseReport } from '../../attestation/snp/report.js';
import { parseQuote } from '../../attestation/tdx/quote.js';
import { snpLaunchDigest, explainSnpMeasurement, VCPU_TYPES, type SnpLaunchInputs, type VmmType } from '../../attestation/measure/snp/index.js';
import { tdxMrtd, parseCcelEventLog, replayRtmrs, directBootEvents, predictedRtmrs, explainTdxMeasurement, type PageAddOrder, type DirectBootOptions } from '../../attestation/measure/tdx/index.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';
import { errorLine, EXIT, parseOptions, readInput, usageError, type CliIo } from './io.js';
import { hexArg } from './policyOptions.js';

const VMM_TYPES: readonly VmmType[] = ['qemu', 'ec2', 'gce'];
const IGNORED_VCPU_TYPE = 'EPYC-v4';
const MAX_VCPUS = 512;
const MiB = 1024 * 1024;
/** The most each input may hold: firmware images are 2-4 MiB, kernels tens of MiB, an initrd with a model hundreds. */
const LIMITS = { firmware: 64 * MiB, kernel: 256 * MiB, initrd: 2048 * MiB, eventLog: 16 * MiB, evidence: 16 * MiB } as const;
const MAX_MEMORY = 1n << 44n;

export const MEASURE_HELP = `Usage: cloister measure snp|tdx|explain [options]

Compute the launch measurement a confidential VM built from these parts must report, or explain why a
report or quote does not carry the expected one. Nothing is sent anywhere; every input is a local file.

  snp      the SEV-SNP launch digest (the report's MEASUREMENT)
  tdx      the TDX MRTD, and the RTMRs an event log or a direct boot determines
  explain  compare a report's or quote's measurement with recomputations over the usual variations

Run "cloister measure snp --help" (or tdx, explain) for the options of each.
`;

export const MEASURE_SNP_HELP = `Usage: cloister measure snp --ovmf FILE --vcpus N --vcpu-type TYPE [options]

Print the SEV-SNP launch digest (48 bytes, hex): the MEASUREMENT of an attestation report from a guest
launched with this firmware, this direct-boot kernel, initrd and command line, and these vCPUs.

Options:
  --ovmf FILE             the OVMF firmware image (edk2 AmdSevX64 build for direct boot; it must carry
                          the SEV metadata in its GUIDed footer table)
  --ovmf-hash HEX         the launch digest state after the firmware's pages (48 bytes), when FILE holds only
                          the image's last 4 KiB (as the peers' test fixtures do)
  --kernel FILE           the kernel given to QEMU -kernel (direct boot); needs firmware with a
                          kernel-hashes (SNP_KERNEL_HASHES) section
  --initrd FILE           the initrd given to QEMU -initrd (default with --kernel: none, hashed as empty)
  --append STRING         the kernel command line given to QEMU -append, exactly (default: empty)
  --vcpus N               the number of vCPUs (1-${MAX_VCPUS})
  --vcpu-type TYPE        the QEMU CPU model, which sets the VMSA's family/model/stepping (required
                          with --vmm-type qemu; EC2 and GCE ignore it); one of:
                          ${wrapList(VCPU_TYPES, 26)}
  --guest-features 0xHEX  SEV_FEATURES of the VMSAs (default 0x1: SNP active; QEMU's default with a
                          kernel that enables debug swap is 0x21)
  --vmm-type qemu|ec2|gce the VMM that builds the VMSAs (default qemu)
  --json                  print every input's digest too, as JSON
  -h, --help              show this help

Example:
  cloister measure snp --ovmf OVMF.amdsev.fd --kernel vmlinuz --initrd initrd.img \\
    --append "console=ttyS0" --vcpus 4 --vcpu-type EPYC-v4 --guest-features 0x1

Exit status: 0 printed, 2 usage error or unreadable/malformed input.
`;

export const MEASURE_TDX_HELP = `Usage: cloister measure tdx --ovmf FILE [options]

Print the TDX MRTD (48 bytes, hex) that the TDX module computes while the firmware is loaded, and what
the RTMRs should hold: replayed from an event log, and the events a direct boot adds to RTMR1 and RTMR2.

Options:
  --ovmf FILE         the TDVF / OVMF firmware image (with the TDX metadata in its GUIDed footer table);
                      at least one of --ovmf, --event-log and --kernel
  --kernel FILE       the kernel given to QEMU -kernel (an EFI-stub bzImage, which is a PE): its
                      Authenticode hash, measured into RTMR1
  --initrd FILE       the initrd given to QEMU -initrd, measured into RTMR2
  --append STRING     the kernel command line given to QEMU -append, measured into RTMR2
  --event-log FILE    a CCEL event log (/sys/firmware/acpi/tables/data/CCEL inside the guest): the RTMRs
                      it replays to
  --memory SIZE       the guest's RAM (QEMU -m, e.g. 4G or 2048M): with it, the kernel is hashed as QEMU
                      10.1 and older hand it to the firmware, its setup header patched for this memory,
                      initrd and command line; without it, as the file is (QEMU 10.2 and later, which
                      leave a confidential guest's kernel alone)
  --qemu-version V    the host's QEMU (e.g. 9.2), with --memory: 10.2 or later patches nothing
  --page-order ORDER  how the VMM adds the firmware's pages: single-pass (each page added, then its
                      chunks extended: KVM upstream, QEMU 10.1+; the default) or two-pass (every page of a
                      section added before any is extended: QEMU 8 with Intel's early TDX KVM)
  --json              print every value as JSON
  -h, --help          show this help

Example:
  cloister measure tdx --ovmf OVMF.fd --kernel vmlinuz --initrd initrd.img --append "console=hvc0"

Exit status: 0 printed, 2 usage error or unreadable/malformed input.
`;

export const MEASURE_EXPLAIN_HELP = `Usage: cloister measure explain --evidence FILE --ovmf FILE [options]

Say in one line why the launch measurement in FILE is not the one these inputs give: recompute it over
the usual variations and name the input that explains the difference, or say that none does.
  SEV-SNP: vCPU counts 1 to 512, every known vCPU type, the guest features a kernel may set, the VMM type,
    the command line with and without a trailing newline, the initrd or none.
  TDX: MRTD from the firmware; with --event-log, the RTMR the log does not replay to, or the first RTMR1 /
    RTMR2 event that diverges from what the kernel, initrd and command line predict.
The evidence's signature is not checked here: "cloister verify-evidence" does that.

Options:
  --evidence FILE         an SEV-SNP report, extended report or TDX quote, raw or as an evidence bundle
                          (as "cloister evidence" writes it)
  --ovmf FILE             the firmware image the VM was meant to launch with
  --ovmf-hash HEX         SEV-SNP: the launch digest state after the firmware's pages (see measure snp)
  --kernel FILE, --initrd FILE, --append STRING
                          the direct-boot inputs the VM was meant to launch with
  --vcpus N               SEV-SNP: the expected vCPU count (default 1; the search tries 1 to 512)
  --vcpu-type TYPE        SEV-SNP: the expected vCPU type (default EPYC-v4; the search tries every one)
  --guest-features HEX    SEV-SNP: the expected SEV_FEATURES (default 0x1)
  --vmm-type qemu|ec2|gce SEV-SNP: the expected VMM (default qemu)
  --event-log FILE        TDX: the guest's CCEL event log
  --memory SIZE, --qemu-version V
                          TDX: how QEMU loaded the kernel (see measure tdx)
  -h, --help              show this help

Example:
  cloister measure explain --evidence bundle.json --ovmf OVMF.amdsev.fd --kernel vmlinuz \\
    --initrd initrd.img --append "console=ttyS0" --vcpus 2 --vcpu-type EPYC-v4

Exit status: 0 the measurement matches the inputs, 1 it does not (the line says why), 2 usage error or
unreadable/malformed input.
`;

function wrapList(items: readonly string[], indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    const next = line === '' ? item : `${line}, ${item}`;
    if (next.length > 72 && line !== '') {
      lines.push(`${line},`);
      line = item;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

const BOOT = {
  ovmf: { type: 'string' },
  kernel: { type: 'string' },
  initrd: { type: 'string' },
  append: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;
const SNP = { ...BOOT, 'ovmf-hash': { type: 'string' }, vcpus: { type: 'string' }, 'vcpu-type': { type: 'string' }, 'guest-features': { type: 'string' }, 'vmm-type': { type: 'string' } } as const;
const QEMU_LOAD = { memory: { type: 'string' }, 'qemu-version': { type: 'string' } } as const;
const TDX = { ...BOOT, ...QEMU_LOAD, 'event-log': { type: 'string' }, 'page-order': { type: 'string' } } as const;
const PAGE_ORDERS: readonly PageAddOrder[] = ['single-pass', 'two-pass'];
const EXPLAIN = { ...SNP, ...QEMU_LOAD, 'event-log': { type: 'string' }, evidence: { type: 'string' } } as const;

const SIZE_UNITS: Readonly<Record<string, bigint>> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

/** --memory and --qemu-version as directBootEvents' `qemu` option; undefined without --memory. */
function qemuLoad(v: { readonly memory?: string | undefined; readonly 'qemu-version'?: string | undefined }, command: string): DirectBootOptions['qemu'] {
  if (v.memory === undefined) {
    if (v['qemu-version'] !== undefined) throw usageError('--qemu-version needs --memory', command);
    return undefined;
  }
  const m = /^(\d+)([KMGT]?)i?B?$/i.exec(v.memory);
  if (m === null || BigInt(m[1] ?? '0') === 0n) throw usageError(`--memory must be a size such as 4G, 2048M or a number of bytes, got "${v.memory}"`, command);
  const version = v['qemu-version'];
  if (version !== undefined && !/^\d+\.\d+(\.\d+)?$/.test(version)) throw usageError(`--qemu-version must be MAJOR.MINOR[.PATCH] such as 9.2, got "${version}"`, command);
  const memoryBytes = BigInt(m[1] ?? '0') * (SIZE_UNITS[(m[2] ?? '').toUpperCase()] ?? 1n);
  if (memoryBytes > MAX_MEMORY) throw usageError(`--memory must be at most 16T, got "${v.memory}"`, command);
  return { memoryBytes, ...(version === undefined ? {} : { qemuVersion: version }) };
}

type BootValues = { readonly ovmf?: string | undefined; readonly kernel?: string | undefined; readonly initrd?: string | undefined; readonly append?: string | undefined };
type SnpValues = BootValues & { readonly 'ovmf-hash'?: string | undefined; readonly vcpus?: string | undefined; readonly 'vcpu-type'?: string | undefined; readonly 'guest-features'?: string | undefined; readonly 'vmm-type'?: string | undefined };

interface BootInputs {
  readonly ovmf: Uint8Array;
  readonly kernel?: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly append?: string;
}

async function bootInputs(io: CliIo, v: BootValues, command: string): Promise<BootInputs> {
  if (v.ovmf === undefined) throw usageError('--ovmf FILE is required', command);
  return { ovmf: await readInput(io, v.ovmf, 'firmware', LIMITS.firmware), ...(await directInputs(io, v, command)) };
}

async function directInputs(io: CliIo, v: BootValues, command: string): Promise<Omit<BootInputs, 'ovmf'>> {
  if (v.kernel === undefined && (v.initrd !== undefined || v.append !== undefined)) throw usageError('--initrd and --append need --kernel (direct boot)', command);
  return {
    ...(v.kernel === undefined ? {} : { kernel: await readInput(io, v.kernel, 'kernel', LIMITS.kernel) }),
    ...(v.initrd === undefined ? {} : { initrd: await readInput(io, v.initrd, 'initrd', LIMITS.initrd) }),
    ...(v.append === undefined ? {} : { append: v.append }),
  };
}

function snpInputs(boot: BootInputs, v: SnpValues, command: string, defaults: { vcpus?: number; vcpuType?: string }): SnpLaunchInputs {
  const vcpusText = v.vcpus ?? (defaults.vcpus === undefined ? undefined : String(defaults.vcpus));
  if (vcpusText === undefined) throw usageError('--vcpus N is required', command);
  if (!/^\d+$/.test(vcpusText) || Number(vcpusText) < 1 || Number(vcpusText) > MAX_VCPUS) throw usageError(`--vcpus must be a whole number from 1 to ${MAX_VCPUS}, got "${vcpusText}"`, command);
  const vmm = v['vmm-type'] ?? 'qemu';
  if (!(VMM_TYPES as readonly string[]).includes(vmm)) throw usageError(`--vmm-type must be one of ${VMM_TYPES.join(', ')}, got "${vmm}"`, command);
  // EC2 and GCE do not put the vCPU type in the VMSA: any type gives the same digest there.
  const vcpuType = v['vcpu-type'] ?? defaults.vcpuType ?? (vmm === 'qemu' ? undefined : IGNORED_VCPU_TYPE);
  if (vcpuType === undefined) throw usageError('--vcpu-type TYPE is required with --vmm-type qemu', command);
  if (!VCPU_TYPES.includes(vcpuType)) throw usageError(`--vcpu-type must be one of ${VCPU_TYPES.join(', ')}, got "${vcpuType}"`, command);
  const features = v['guest-features'];
  if (features !== undefined && !/^0x[0-9a-f]{1,16}$/i.test(features)) throw usageError(`--guest-features must be hex with its 0x, at most 64 bits, such as 0x1 or 0x21, got "${features}"`, command);
  return {
    ...boot,
    ...(v['ovmf-hash'] === undefined ? {} : { ovmfHash: Uint8Array.from(Buffer.from(hexArg(v['ovmf-hash'], 48, '--ovmf-hash', (m) => usageError(m, command)), 'hex')) }),
    vcpus: Number(vcpusText),
    vcpuType,
    ...(features === undefined ? {} : { guestFeatures: BigInt(`0x${features.replace(/^0x/i, '')}`) }),
    vmmType: vmm as VmmType,
  };
}

async function measureSnp(argv: string[], io: CliIo): Promise<number> {
  const v = parseOptions(argv, SNP, 'measure snp');
  if (v.help === true) {
    io.stdout(MEASURE_SNP_HELP);
    return EXIT.ok;
  }
  const inputs = snpInputs(await bootInputs(io, v, 'measure snp'), v, 'measure snp', {});
  const m = await snpLaunchDigest(inputs, nodeHasher);
  if (v.json !== true) {
    io.stdout(`${toHex(m.digest)}\n`);
    return EXIT.ok;
  }
  const json = {
    platform: 'sev-snp',
    measurement: toHex(m.digest),
    inputs: {
      ovmf: { file: v.ovmf, launchDigestAfterPages: toHex(m.ovmfHash) },
      ...(m.hashes === undefined ? {} : { kernel: { file: v.kernel, sha256: toHex(m.hashes.kernel) }, initrd: { file: v.initrd ?? null, sha256: toHex(m.hashes.initrd) }, cmdline: { value: v.append ?? '', sha256: toHex(m.hashes.cmdline) } }),
      vcpus: inputs.vcpus,
      vcpuType: inputs.vcpuType,
      guestFeatures: `0x${(inputs.guestFeatures ?? 1n).toString(16)}`,
      vmmType: inputs.vmmType,
      vmsas: m.vmsas.map((s) => ({ role: s.role, sha384: toHex(s.sha384) })),
    },
  };
  io.stdout(`${JSON.stringify(json, null, 2)}\n`);
  return EXIT.ok;
}

async function measureTdx(argv: string[], io: CliIo): Promise<number> {
  const v = parseOptions(argv, TDX, 'measure tdx');
  if (v.help === true) {
    io.stdout(MEASURE_TDX_HELP);
    return EXIT.ok;
  }
  const pageOrder = v['page-order'] ?? 'single-pass';
  if (!(PAGE_ORDERS as readonly string[]).includes(pageOrder)) throw usageError(`--page-order must be one of ${PAGE_ORDERS.join(', ')}, got "${pageOrder}"`, 'measure tdx');
  if (v.ovmf === undefined && v.kernel === undefined && v['event-log'] === undefined) throw usageError('give --ovmf FILE, --event-log FILE or --kernel FILE', 'measure tdx');
  const boot = await directInputs(io, v, 'measure tdx');
  const mrTd = v.ovmf === undefined ? undefined : await tdxMrtd(await readInput(io, v.ovmf, 'firmware', LIMITS.firmware), nodeHasher, { pageOrder: pageOrder as PageAddOrder });
  const qemu = qemuLoad(v, 'measure tdx');
  if (qemu !== undefined && boot.kernel === undefined) throw usageError('--memory needs --kernel', 'measure tdx');
  const events = boot.kernel === undefined ? [] : await directBootEvents(boot, nodeHasher, qemu === undefined ? {} : { qemu });
  const log = v['event-log'] === undefined ? undefined : parseCcelEventLog(await readInput(io, v['event-log'], 'event log', LIMITS.eventLog));
  const predicted = events.length === 0 ? undefined : await predictedRtmrs(events, nodeHasher);
  const rtmrs = log === undefined ? undefined : await replayRtmrs(log, nodeHasher);
  if (v.json === true) {
    const json = {
      platform: 'tdx',
      ...(mrTd === undefined ? {} : { mrTd: toHex(mrTd), pageOrder }),
      ...(rtmrs === undefined ? {} : { rtmrs: rtmrs.map(toHex), eventLog: { file: v['event-log'], events: log?.length } }),
      directBootEvents: events.map((e) => ({ rtmr: e.rtmr, type: e.typeName, description: e.description, sha384: toHex(e.digest) })),
      ...(predicted === undefined ? {} : { directBootRtmrs: { rtmr1: toHex(predicted[1] as Uint8Array), rtmr2: toHex(predicted[2] as Uint8Array) } }),
    };
    io.stdout(`${JSON.stringify(json, null, 2)}\n`);
    return EXIT.ok;
  }
  const lines = mrTd === undefined ? [] : [`mrtd   ${toHex(mrTd)}`];
  if (rtmrs !== undefined) {
    lines.push(`replayed from the event log's ${log?.length ?? 0} events:`);
    rtmrs.forEach((r, i) => lines.push(`rtmr${i}  ${toHex(r)}`));
  }
  if (predicted !== undefined) {
    lines.push('a direct boot of these inputs adds (RTMR1 and RTMR2 hold nothing else when OVMF boots them):');
    for (const e of events) lines.push(`  rtmr${e.rtmr} event ${e.typeName} ${toHex(e.digest)}  ${e.description}`);
    lines.push(`rtmr1  ${toHex(predicted[1] as Uint8Array)}  (predicted)`, `rtmr2  ${toHex(predicted[2] as Uint8Array)}  (predicted)`);
  }
  if (rtmrs === undefined) lines.push(predicted === undefined ? 'rtmr0-3: give --event-log (or --kernel for RTMR1 and RTMR2)' : 'rtmr0, rtmr3: give --event-log (they depend on the host and the guest)');
  io.stdout(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

async function measureExplain(argv: string[], io: CliIo): Promise<number> {
  const v = parseOptions(argv, EXPLAIN, 'measure explain');
  if (v.help === true) {
    io.stdout(MEASURE_EXPLAIN_HELP);
    return EXIT.ok;
  }
  if (v.evidence === undefined) throw usageError('--evidence FILE is required', 'measure explain');
  const decoded = evidenceOf(await readInput(io, v.evidence, 'evidence', LIMITS.evidence), v.evidence);
  const boot = await bootInputs(io, v, 'measure explain');
  let matched: boolean;
  let line: string;
  if (decoded.platform === 'sev-snp') {
    const tdxOnly = (['event-log', 'memory', 'qemu-version'] as const).filter((k) => v[k] !== undefined);
    if (tdxOnly.length > 0) throw usageError(`${tdxOnly.map((k) => `--${k}`).join(', ')} ${tdxOnly.length === 1 ? 'applies' : 'apply'} to TDX evidence only, and FILE is SEV-SNP evidence`, 'measure explain');
    const actual = parseReport(decoded.evidence.report).measurement;
    ({ matched, line } = await explainSnpMeasurement(actual, snpInputs(boot, v, 'measure explain', { vcpus: 1, vcpuType: 'EPYC-v4' }), nodeHasher));
  } else {
    const snpOnly = (['ovmf-hash', 'vcpus', 'vcpu-type', 'guest-features', 'vmm-type'] as const).filter((k) => v[k] !== undefined);
    const qemu = qemuLoad(v, 'measure explain');
    if (snpOnly.length > 0) throw usageError(`${snpOnly.map((k) => `--${k}`).join(', ')} ${snpOnly.length === 1 ? 'applies' : 'apply'} to SEV-SNP evidence only, and FILE is TDX evidence`, 'measure explain');
    const body = parseQuote(decoded.evidence.quote).body;
    const eventLog = v['event-log'] === undefined ? undefined : await readInput(io, v['event-log'], 'event log', LIMITS.eventLog);
    const { ovmf, ...direct } = boot;
    ({ matched, line } = await explainTdxMeasurement({ mrTd: body.mrTd, rtmrs: body.rtmrs }, { firmware: ovmf, ...direct, ...(eventLog === undefined ? {} : { eventLog }), ...(qemu === undefined ? {} : { qemu }) }, nodeHasher));
  }
  if (decoded.evidence.simulated) io.stderr('note: the evidence is marked SIMULATED\n');
  io.stdout(`${matched ? 'MATCH' : 'MISMATCH'}: ${line}\n`);
  return matched ? EXIT.ok : EXIT.rejected;
}

/** The evidence in FILE; a ParseError says first that FILE is none of the forms evidence comes in. */
function evidenceOf(bytes: Uint8Array, path: string): DecodedEvidence {
  try {
    return decodeEvidence(bytes);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    throw new ParseError(e.code, `${path} is not an SEV-SNP report, extended report, TDX quote or evidence bundle: ${e.message}`, { ...(e.field === undefined ? {} : { field: e.field }), ...(e.offset === undefined ? {} : { offset: e.offset }), cause: e });
  }
}

const SUBCOMMANDS: Readonly<Record<string, (argv: string[], io: CliIo) => Promise<number>>> = { snp: measureSnp, tdx: measureTdx, explain: measureExplain };

export async function measureCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout(MEASURE_HELP);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  const run = SUBCOMMANDS[sub];
  try {
    if (run === undefined) throw usageError(`unknown measure command "${sub}": snp, tdx or explain`, 'measure');
    return await run(rest, io);
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
