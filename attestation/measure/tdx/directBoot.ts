// The RTMR1 and RTMR2 events of a QEMU direct boot (-kernel, -initrd, -append) through OVMF, in the order a
// TD's event log records them; each digest is the SHA-384 the firmware or the kernel's EFI stub extends:
//
//   RTMR1 (PCR 4/5)  EV_EFI_BOOT_SERVICES_APPLICATION  Authenticode hash of the kernel image (edk2
//                                                      DxeTpm2MeasureBootLib, when the kernel is loaded)
//                    EV_EFI_ACTION "Calling EFI Application from Boot Option"   (TdTcg2Dxe, ReadyToBoot)
//                    EV_SEPARATOR 00000000   (newer edk2 only; older builds put this separator in RTMR0 alone)
//                    EV_EFI_ACTION "Exit Boot Services Invocation"
//                    EV_EFI_ACTION "Exit Boot Services Returned with Success"
//   RTMR2 (PCR 9)    EV_EVENT_TAG 0x8F3B22EC "LOADED_IMAGE::LoadOptions"   the kernel's load options: the command
//                                                      line in UTF-16LE, " initrd=initrd" appended when there is an
//                                                      initrd (OvmfPkg X86QemuLoadImageLib), NUL-terminated
//                    EV_EVENT_TAG 0x8F3B22ED "Linux initrd"   SHA-384 of the initrd as loaded through
//                                                      LINUX_EFI_INITRD_MEDIA_GUID (Linux efi-stub, 5.19 and later)
//
// QEMU 10.1 and older patch the kernel's setup header (type_of_loader, cmd_line_ptr, ramdisk_image/size,
// heap_end_ptr) before they hand the image to the firmware over fw_cfg, so the kernel digest is that of the
// patched image: the `qemu` option applies that patch (qemuKernel.ts), or callers pass the kernel as the firmware
// sees it (docs/measure.md, "TDX").
import type { Hasher } from '../../hash.js';
import { webCryptoHasher } from '../../hash.js';
import { authenticodeHash } from './authenticode.js';
import { TCG_EVENT_TYPES } from './eventTypes.js';
import type { QemuKernelLoad } from './qemuKernel.js';
import { qemuPatchedKernel } from './qemuKernel.js';
import { extendRtmrs } from './ccel.js';

export interface ExpectedEvent {
  /** 0..3 */
  readonly rtmr: number;
  readonly type: number;
  readonly typeName: string;
  readonly description: string;
  readonly digest: Uint8Array;
}

export interface DirectBootInputs {
  readonly kernel?: Uint8Array;
  readonly initrd?: Uint8Array;
  /** QEMU's -append; absent reads as QEMU's empty command line. */
  readonly append?: string;
}

export interface DirectBootOptions {
  /** Whether the firmware extends a separator into RTMR1 (newer edk2: true, the default; older TDVF builds: false). */
  readonly rtmr1Separator?: boolean;
  /**
   * Hash the kernel as QEMU's -kernel hands it to the firmware: the setup header patched for this guest's memory
   * (qemuPatchedKernel), the initrd size taken from `initrd` and the command line from `append`. Absent: the kernel
   * is hashed as given, which matches QEMU 10.2+ (and any kernel already patched by the caller).
   */
  readonly qemu?: Omit<QemuKernelLoad, 'initrdSize' | 'cmdline'>;
}

/** The TCG_PCClientTaggedEvent ids the Linux EFI stub uses (drivers/firmware/efi/libstub/efi-stub-helper.c). */
export const LINUX_EVENT_TAGS = { loadOptions: 0x8f3b22ec, initrd: 0x8f3b22ed } as const;

export const EFI_ACTIONS = {
  callingApplication: 'Calling EFI Application from Boot Option',
  exitBootServices: 'Exit Boot Services Invocation',
  exitBootServicesSucceeded: 'Exit Boot Services Returned with Success',
} as const;

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The load options OVMF gives a directly booted kernel: UTF-16LE, NUL-terminated; none when both parts are empty. */
export function loadOptions(append: string, hasInitrd: boolean): Uint8Array | undefined {
  // QEMU hands the command line over as bytes (UTF-8 from the host's -append); OVMF widens each byte to a CHAR16
  // (X86QemuLoadImageLib: UnicodeSPrintAsciiFormat "%a"), so a non-ASCII character becomes one unit per byte.
  const bytes = new TextEncoder().encode(`${append}${hasInitrd ? ' initrd=initrd' : ''}`);
  if (bytes.length === 0) return undefined;
  const out = new Uint8Array(2 * (bytes.length + 1));
  bytes.forEach((b, i) => {
    out[2 * i] = b;
  });
  return out;
}

/** The events that -kernel, -initrd and -append add to RTMR1 and RTMR2, RTMR1's first; a kernel not given adds no event. */
export async function directBootEvents(inputs: DirectBootInputs, hasher: Hasher = webCryptoHasher, options: DirectBootOptions = {}): Promise<readonly ExpectedEvent[]> {
  const sha384 = (data: Uint8Array): Promise<Uint8Array> => hasher.digest('SHA-384', [data]);
  const event = (rtmr: number, typeName: 'EV_EFI_BOOT_SERVICES_APPLICATION' | 'EV_EFI_ACTION' | 'EV_SEPARATOR' | 'EV_EVENT_TAG', description: string, digest: Uint8Array): ExpectedEvent =>
    Object.freeze({ rtmr, type: TCG_EVENT_TYPES[typeName], typeName, description, digest });
  const action = async (text: string): Promise<ExpectedEvent> => event(1, 'EV_EFI_ACTION', `"${text}"`, await sha384(ascii(text)));

  const out: ExpectedEvent[] = [];
  if (inputs.kernel !== undefined) {
    const kernel = options.qemu === undefined
      ? inputs.kernel
      : qemuPatchedKernel(inputs.kernel, { ...options.qemu, cmdline: inputs.append ?? '', ...(inputs.initrd === undefined ? {} : { initrdSize: inputs.initrd.length }) });
    const what = options.qemu === undefined ? 'kernel image (Authenticode SHA-384)' : 'kernel image with QEMU\'s setup-header patch (Authenticode SHA-384)';
    out.push(event(1, 'EV_EFI_BOOT_SERVICES_APPLICATION', what, await authenticodeHash(kernel, hasher)));
  }
  out.push(await action(EFI_ACTIONS.callingApplication));
  if (options.rtmr1Separator !== false) out.push(event(1, 'EV_SEPARATOR', 'separator 00000000', await sha384(new Uint8Array(4))));
  out.push(await action(EFI_ACTIONS.exitBootServices), await action(EFI_ACTIONS.exitBootServicesSucceeded));
  const options16 = loadOptions(inputs.append ?? '', inputs.initrd !== undefined);
  if (options16 !== undefined) out.push(event(2, 'EV_EVENT_TAG', 'LOADED_IMAGE::LoadOptions (command line, UTF-16LE)', await sha384(options16)));
  if (inputs.initrd !== undefined) out.push(event(2, 'EV_EVENT_TAG', 'Linux initrd (SHA-384)', await sha384(inputs.initrd)));
  return Object.freeze(out);
}

/** RTMR0..3 after extending `events` in order from zero: RTMR1 and RTMR2 as a direct boot leaves them when its events are all they hold. */
export const predictedRtmrs = (events: readonly ExpectedEvent[], hasher: Hasher = webCryptoHasher): Promise<readonly Uint8Array[]> => extendRtmrs(events, hasher);
