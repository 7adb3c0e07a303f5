// SMBIOS OEM strings (type 11) as Linux exposes them at /sys/firmware/dmi/entries/11-N/raw: how a host hands a
// guest short, unmeasured facts (QEMU `-smbios type=11,value=...`). The simulated TEE's launch measurement
// (sim/hostLaunch.ts) and a fleet node's key ID range (src/fleet/instanceKeyIds.ts) travel this way.
// SMBIOS 3.x (DSP0134) 7.12: type 11 is a 5-byte formatted area (type, length, handle, count) followed by
// the string set, each string NUL-terminated and the set ending in an empty string.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from '../base/runtimeErrors.js';

export const DMI_ENTRIES = '/sys/firmware/dmi/entries';
const OEM_STRINGS_TYPE = 11;
const OEM_STRINGS_HEADER = 5;

const bad = (message: string): RuntimeError => new RuntimeError('SMBIOS_INVALID', message, { field: 'smbios' });

/** The strings of one raw SMBIOS type 11 structure, in order. */
export function parseOemStrings(raw: Uint8Array): string[] {
  if (raw.length < OEM_STRINGS_HEADER + 2 || raw[0] !== OEM_STRINGS_TYPE || (raw[1] ?? 0) < OEM_STRINGS_HEADER) {
    throw bad(`not an SMBIOS type 11 structure (${raw.length} bytes, type ${raw[0] ?? 'none'})`);
  }
  const count = raw[4] ?? 0;
  const strings: string[] = [];
  let at = raw[1] ?? OEM_STRINGS_HEADER;
  while (strings.length < count) {
    const end = raw.indexOf(0, at);
    if (end < 0 || end === at) throw bad(`SMBIOS type 11 declares ${count} strings but holds ${strings.length}`);
    strings.push(Buffer.from(raw.buffer, raw.byteOffset + at, end - at).toString('latin1'));
    at = end + 1;
  }
  return strings;
}

/** The raw SMBIOS type 11 structure holding `strings`, as QEMU builds it (handle 0x0B00). */
export function serializeOemStrings(strings: readonly string[]): Uint8Array {
  const text = strings.map((s) => `${s}\0`).join('') + (strings.length === 0 ? '\0\0' : '\0');
  return Uint8Array.from([OEM_STRINGS_TYPE, OEM_STRINGS_HEADER, 0x00, 0x0b, strings.length, ...Buffer.from(text, 'latin1')]);
}

/** Every OEM string of this machine, structure by structure; none when the directory is absent. */
export async function readOemStrings(entries = DMI_ENTRIES): Promise<string[]> {
  const names = await readdir(entries).catch(() => []);
  const strings: string[] = [];
  for (const name of names.filter((n) => n.startsWith(`${OEM_STRINGS_TYPE}-`)).sort()) {
    strings.push(...parseOemStrings(new Uint8Array(await readFile(join(entries, name, 'raw')))));
  }
  return strings;
}
