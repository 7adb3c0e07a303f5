// Finds the evidence source inside the VM: configfs-tsm first (Linux 6.7+, SEV-SNP and TDX), then
// the /dev/sev-guest and /dev/tdx_guest ioctl devices. Fails closed: the simulated TEE is used only
// when asked for by name, never as a fallback, and when nothing is found the NoTeeError lists
// every path looked at and why it was passed over.
import { UsageError } from '../base/runtimeErrors.js';
import { ConfigfsTsmProvider } from './configfsTsm.js';
import { SevGuestDeviceProvider, TdxGuestDeviceProvider } from './deviceProviders.js';
import { NoTeeError, TeeDeviceError, type EvidenceProvider } from './provider.js';
import { DEFAULT_TSM_REPORT_ROOT, errnoOf, nodeTsmFs, pathExists, type TsmFs } from './tsmFs.js';

export const DEFAULT_SEV_GUEST_PATH = '/dev/sev-guest';
export const DEFAULT_TDX_GUEST_PATH = '/dev/tdx_guest';

export const EVIDENCE_SOURCES = ['configfs-tsm', 'sev-guest', 'tdx-guest', 'simulated'] as const;
export type EvidenceSource = (typeof EVIDENCE_SOURCES)[number];
export type DeviceKind = 'sev-guest' | 'tdx-guest';

/** Builds the ioctl provider for a device node that exists and can be opened read-write. */
export type DeviceProviderFactory = (kind: DeviceKind, path: string) => EvidenceProvider | Promise<EvidenceProvider>;

export interface DetectOptions {
  /** Default /sys/kernel/config/tsm/report. */
  readonly configfsRoot?: string;
  /** Default /dev/sev-guest. */
  readonly sevGuestPath?: string;
  /** Default /dev/tdx_guest. */
  readonly tdxGuestPath?: string;
  /** Default node:fs/promises. */
  readonly fs?: TsmFs;
  /** The simulated TEE; used only with `override: 'simulated'`. */
  readonly simulated?: () => Promise<EvidenceProvider>;
  /** Default: createDeviceProvider (SevGuestDeviceProvider / TdxGuestDeviceProvider). */
  readonly createDeviceProvider?: DeviceProviderFactory;
  /** Use this source only, instead of trying them in order. */
  readonly override?: EvidenceSource;
}

export async function detectEvidenceProvider(options: DetectOptions = {}): Promise<EvidenceProvider> {
  const { override } = options;
  if (override !== undefined && !(EVIDENCE_SOURCES as readonly string[]).includes(override)) {
    throw new UsageError('USAGE', `evidence source must be one of ${EVIDENCE_SOURCES.join(', ')}, got ${JSON.stringify(override)}`);
  }
  if (override === 'simulated') {
    if (options.simulated === undefined) throw new UsageError('USAGE', 'the simulated evidence source was requested but no simulated TEE was supplied');
    return options.simulated();
  }
  const fs = options.fs ?? nodeTsmFs;
  const lookedFor: string[] = [];

  if (override === undefined || override === 'configfs-tsm') {
    const root = options.configfsRoot ?? DEFAULT_TSM_REPORT_ROOT;
    const why = await configfsUnavailable(fs, root);
    if (why.provider !== undefined) return why.provider;
    lookedFor.push(`configfs-tsm ${root}: ${why.reason}`);
  }

  const devices: readonly (readonly [DeviceKind, string])[] = [
    ['sev-guest', options.sevGuestPath ?? DEFAULT_SEV_GUEST_PATH],
    ['tdx-guest', options.tdxGuestPath ?? DEFAULT_TDX_GUEST_PATH],
  ];
  for (const [kind, path] of devices) {
    if (override !== undefined && override !== kind) continue;
    const reason = await deviceUnavailable(fs, path);
    if (reason === undefined) return (options.createDeviceProvider ?? createDeviceProvider)(kind, path);
    lookedFor.push(`${kind} ${path}: ${reason}`);
  }
  throw new NoTeeError(lookedFor);
}

async function configfsUnavailable(fs: TsmFs, root: string): Promise<{ provider: EvidenceProvider; reason?: never } | { provider?: never; reason: string }> {
  try {
    if (!(await pathExists(fs, root))) return { reason: 'missing' };
    return { provider: await ConfigfsTsmProvider.open({ root, fs }) };
  } catch (e) {
    if (e instanceof TeeDeviceError) return { reason: reasonOf(e.errno) ?? e.message };
    const errno = errnoOf(e);
    if (errno !== undefined) return { reason: reasonOf(errno) ?? errno };
    throw e;
  }
}

/** undefined when `path` exists and may be opened read-write (the ioctls need O_RDWR). */
async function deviceUnavailable(fs: TsmFs, path: string): Promise<string | undefined> {
  try {
    await fs.access(path, 'read-write');
    return undefined;
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === undefined) throw e;
    return reasonOf(errno) ?? errno;
  }
}

function reasonOf(errno: string | undefined): string | undefined {
  switch (errno) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'missing';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${errno})`;
    case 'ENXIO':
    case 'ENOTTY':
    case 'EOPNOTSUPP':
    case 'ENODEV':
      return `no attestation provider registered (${errno})`;
    default:
      return undefined;
  }
}

/** The default DeviceProviderFactory: the ioctl providers of deviceProviders.ts (the native addon loads at their first call). */
export function createDeviceProvider(kind: DeviceKind, path: string): EvidenceProvider {
  return kind === 'sev-guest' ? new SevGuestDeviceProvider({ path }) : new TdxGuestDeviceProvider({ path });
}
