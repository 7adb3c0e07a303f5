// The simulated TEE's launch measurement as the host states it. On real hardware the AMD secure processor or
// the TDX module measures what the host loads; the simulated TEE cannot, so a host that boots the image under
// simulation (scripts/image/bootTest.ts) computes what a launch of those exact bytes would measure and hands
// it to the guest in SMBIOS OEM strings (QEMU `-smbios type=11,value=...`), which Linux exposes at
// /sys/firmware/dmi/entries/11-N/raw. The guest trusts the host for it, as it must: nothing here is
// confidential, and the server says SIMULATED everywhere.
//   cloister.simulated.sev-snp.measurement=HEX   SEV-SNP MEASUREMENT, 48 bytes
//   cloister.simulated.tdx.mrtd=HEX              TDX MRTD, 48 bytes
//   cloister.simulated.tdx.rtmr1=HEX, ...rtmr2=  TDX RTMR1 and RTMR2, 48 bytes each
// SMBIOS 3.x (DSP0134) 7.12: type 11 is a 5-byte formatted area (type, length, handle, count) followed by
// the string set, each string NUL-terminated and the set ending in an empty string.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromHex } from '../../../attestation/bytes.js';
import { RuntimeError } from '../../base/runtimeErrors.js';

export const DMI_ENTRIES = '/sys/firmware/dmi/entries';
const OEM_STRINGS_TYPE = 11;
const OEM_STRINGS_HEADER = 5;
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

/** The strings of one raw SMBIOS type 11 structure, in order. */
export function parseOemStrings(raw: Uint8Array): string[] {
  if (raw.length < OEM_STRINGS_HEADER + 2 || raw[0] !== OEM_STRINGS_TYPE || (raw[1] ?? 0) < OEM_STRINGS_HEADER) {
    throw bad(`not an SMBIOS type 11 structure (${raw.length} bytes, type ${raw[0] ?? 'none'})`, 'smbios');
  }
  const count = raw[4] ?? 0;
  const strings: string[] = [];
  let at = raw[1] ?? OEM_STRINGS_HEADER;
  while (strings.length < count) {
    const end = raw.indexOf(0, at);
    if (end < 0 || end === at) throw bad(`SMBIOS type 11 declares ${count} strings but holds ${strings.length}`, 'smbios');
    strings.push(new TextDecoder('latin1').decode(raw.subarray(at, end)));
    at = end + 1;
  }
  return strings;
}

/** The raw SMBIOS type 11 structure holding `strings`, as QEMU builds it (handle 0x0B00). */
export function serializeOemStrings(strings: readonly string[]): Uint8Array {
  const text = strings.map((s) => `${s}\0`).join('') + (strings.length === 0 ? '\0\0' : '\0');
  return Uint8Array.from([OEM_STRINGS_TYPE, OEM_STRINGS_HEADER, 0x00, 0x0b, strings.length, ...Buffer.from(text, 'latin1')]);
}

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
  const names = await readdir(entries).catch(() => []);
  const strings: string[] = [];
  for (const name of names.filter((n) => n.startsWith(`${OEM_STRINGS_TYPE}-`)).sort()) {
    strings.push(...parseOemStrings(new Uint8Array(await readFile(join(entries, name, 'raw')))));
  }
  return hostLaunchFromStrings(strings);
}
