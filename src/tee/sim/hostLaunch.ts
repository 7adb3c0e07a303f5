// The simulated TEE's launch measurement as the host states it. On real hardware the AMD secure processor or
// the TDX module measures what the host loads; the simulated TEE cannot, so a host that boots the image under
// simulation (scripts/image/bootTest.ts) computes what a launch of those exact bytes would measure and hands
// it to the guest in SMBIOS OEM strings (QEMU `-smbios type=11,value=...`; ../smbios.ts). The guest trusts the host for it, as it must: nothing here is
// confidential, and the server says SIMULATED everywhere.
//   cloister.simulated.sev-snp.measurement=HEX   SEV-SNP MEASUREMENT, 48 bytes
//   cloister.simulated.tdx.mrtd=HEX              TDX MRTD, 48 bytes
//   cloister.simulated.tdx.rtmr1=HEX, ...rtmr2=  TDX RTMR1 and RTMR2, 48 bytes each
import { fromHex } from '../../../attestation/bytes.js';
import { RuntimeError } from '../../base/runtimeErrors.js';
import { DMI_ENTRIES, readOemStrings } from '../smbios.js';

const PREFIX = 'cloister.simulated.';
const MEASUREMENT_BYTES = 48;

/** What the host says a launch of the image it booted measures; absent members are the simulator's defaults. */
export interface HostLaunch {
  readonly snpMeasurement?: Uint8Array;
  readonly tdxMrtd?: Uint8Array;
  readonly tdxRtmr1?: Uint8Array;
  readonly tdxRtmr2?: Uint8Array;
}

const KEYS: { readonly [K in keyof HostLaunch]-?: string } = {
  snpMeasurement: 'sev-snp.measurement',
  tdxMrtd: 'tdx.mrtd',
  tdxRtmr1: 'tdx.rtmr1',
  tdxRtmr2: 'tdx.rtmr2',
};

const bad = (message: string, field: string): RuntimeError => new RuntimeError('SIMULATED_LAUNCH_INVALID', message, { field });

/** The SMBIOS OEM strings that state `launch` for the guest. */
export function hostLaunchOemStrings(launch: HostLaunch): string[] {
  return (Object.keys(KEYS) as (keyof HostLaunch)[]).flatMap((k) => {
    const value = launch[k];
    return value === undefined ? [] : [`${PREFIX}${KEYS[k]}=${Buffer.from(value).toString('hex')}`];
  });
}

/** The launch stated in `strings`; strings without the prefix are someone else's and ignored. */
export function hostLaunchFromStrings(strings: readonly string[]): HostLaunch {
  const found: { -readonly [K in keyof HostLaunch]: Uint8Array } = {};
  for (const s of strings) {
    if (!s.startsWith(PREFIX)) continue;
    const eq = s.indexOf('=');
    const name = s.slice(PREFIX.length, eq < 0 ? undefined : eq);
    const key = (Object.keys(KEYS) as (keyof HostLaunch)[]).find((k) => KEYS[k] === name);
    if (key === undefined) throw bad(`unknown SMBIOS OEM string ${PREFIX}${name}`, name);
    const hex = eq < 0 ? '' : s.slice(eq + 1);
    if (!/^[0-9a-f]*$/i.test(hex) || hex.length !== MEASUREMENT_BYTES * 2) throw bad(`${PREFIX}${name} must be ${MEASUREMENT_BYTES} bytes in hex, got "${hex.slice(0, 100)}"`, name);
    found[key] = fromHex(hex.toLowerCase());
  }
  return found;
}

/** The launch the host states in this machine's SMBIOS OEM strings; empty when it states none. */
export async function readHostLaunch(entries = DMI_ENTRIES): Promise<HostLaunch> {
  return hostLaunchFromStrings(await readOemStrings(entries));
}
