// Which launch input explains a MEASUREMENT that differs from the one computed for the expected inputs:
// recomputes the digest over the usual deviations (vCPU count 1..512, vCPU type, guest features, VMM type,
// a trailing newline on the command line, a missing initrd), single changes first, then pairs. The OVMF
// chain, the chain after the metadata sections and every VMSA hash are shared (SnpLaunchCalculator), and
// each configuration yields the digests of every vCPU count in one pass.
import { bytesEqual, toHex } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import { webCryptoHasher, type Hasher } from '../../hash.js';
import { MAX_VCPUS, SnpLaunchCalculator, validateLaunchInputs, type LaunchConfig, type SnpLaunchInputs } from './launch.js';
import { LAUNCH_DIGEST_SIZE } from './launchDigest.js';
import { cmdlineBytes, type SevHashes } from './sevHashTable.js';
import { VCPU_CPUIDS, VCPU_TYPES, vcpuSignature } from './vcpuTypes.js';
import { describeSevFeatures, SEV_FEATURES, VMM_TYPES, type VmmType } from './vmsa.js';

export type ExplainedInputs = Partial<Omit<SnpLaunchInputs, 'ovmf' | 'ovmfHash' | 'kernel' | 'initrd'>> & { readonly initrd?: 'given' | 'none'; readonly append?: string };

export interface SnpExplanation {
  readonly matched: boolean;
  /** One line: that the inputs match, which change explains the measurement, or that none does. */
  readonly line: string;
  /** The inputs that differ from the base's, when a change explains the measurement. */
  readonly inputs?: ExplainedInputs;
}

/** vCPU counts tried: 1 up to this (or the base's count, if higher). */
export const EXPLAIN_MAX_VCPUS = MAX_VCPUS;

interface State {
  readonly vcpuType: string;
  readonly guestFeatures: bigint;
  readonly vmmType: VmmType;
  readonly append: string | undefined;
  readonly initrd: 'given' | 'none';
}

interface Change {
  readonly dimension: keyof State;
  readonly label: string;
  readonly with: string;
  readonly not: string;
  readonly inputs: ExplainedInputs;
  readonly apply: (s: State) => State;
}

const vcpuCount = (n: number): string => `${n} vCPU${n === 1 ? '' : 's'}`;

function changes(base: State, directBoot: boolean, initrdGiven: boolean): Change[] {
  const out: Change[] = [];
  const baseSig = vcpuSignature(base.vcpuType);
  const bySignature = new Map<number, string[]>();
  for (const name of VCPU_TYPES) {
    const sig = vcpuSignature(name);
    if (sig !== baseSig) bySignature.set(sig, [...(bySignature.get(sig) ?? []), name]);
  }
  for (const [, names] of bySignature) {
    const [first, ...same] = names as [string, ...string[]];
    const id = VCPU_CPUIDS[first];
    const cpu = id === undefined ? '' : `family ${id.family} model ${id.model} stepping ${id.stepping}`;
    out.push({
      dimension: 'vcpuType', label: 'vCPU type', with: `${first} (${cpu}${same.length > 0 ? `; also ${same.join(', ')}` : ''})`, not: base.vcpuType,
      inputs: { vcpuType: first }, apply: (s) => ({ ...s, vcpuType: first }),
    });
  }
  const features = new Set<bigint>([0x1n, 0x21n]);
  for (const bit of Object.values(SEV_FEATURES)) if (bit !== 0) features.add(base.guestFeatures ^ (1n << BigInt(bit)));
  features.delete(base.guestFeatures);
  for (const f of features) {
    out.push({
      dimension: 'guestFeatures', label: 'guest features', with: `SEV_FEATURES ${describeSevFeatures(f)}`, not: describeSevFeatures(base.guestFeatures),
      inputs: { guestFeatures: f }, apply: (s) => ({ ...s, guestFeatures: f }),
    });
  }
  for (const vmm of VMM_TYPES) {
    if (vmm === base.vmmType) continue;
    out.push({ dimension: 'vmmType', label: 'VMM type', with: `VMM type ${vmm}`, not: base.vmmType, inputs: { vmmType: vmm }, apply: (s) => ({ ...s, vmmType: vmm }) });
  }
  if (directBoot) {
    const line = base.append ?? '';
    const other = line.endsWith('\n') ? line.slice(0, -1) : `${line}\n`;
    const note = line.endsWith('\n') ? 'without the trailing newline' : 'with a trailing newline';
    out.push({
      dimension: 'append', label: 'kernel command line', with: `${JSON.stringify(other)} (${note})`, not: JSON.stringify(line),
      inputs: { append: other }, apply: (s) => ({ ...s, append: other }),
    });
    if (initrdGiven) {
      out.push({ dimension: 'initrd', label: 'initrd', with: 'no initrd', not: 'the initrd given', inputs: { initrd: 'none' }, apply: (s) => ({ ...s, initrd: 'none' }) });
    }
  }
  return out;
}

const joinPhrases = (parts: readonly string[]): string => parts.join(' and ');

function explanation(found: readonly Change[], vcpus: { readonly now: number; readonly base: number } | undefined): SnpExplanation {
  const parts = found.map((c) => ({ label: c.label, with: c.with, not: c.not }));
  if (vcpus !== undefined) parts.push({ label: 'vCPU count', with: vcpuCount(vcpus.now), not: String(vcpus.base) });
  const inputs = Object.assign({}, ...found.map((c) => c.inputs), vcpus === undefined ? {} : { vcpus: vcpus.now }) as ExplainedInputs;
  const line = `${joinPhrases(parts.map((p) => p.label))}: the report was launched with ${joinPhrases(parts.map((p) => p.with))}, not ${joinPhrases(parts.map((p) => p.not))}`;
  return Object.freeze({ matched: false, line, inputs: Object.freeze(inputs) });
}

/**
 * Compares `actual` (a report's MEASUREMENT) with recomputations of `base` over the usual variations and
 * returns one line naming which input explains the mismatch, or that none does.
 */
export async function explainSnpMeasurement(actual: Uint8Array, base: SnpLaunchInputs, hasher: Hasher = webCryptoHasher): Promise<SnpExplanation> {
  if (actual.length !== LAUNCH_DIGEST_SIZE) {
    throw new ParseError('MALFORMED_FIELD', `a MEASUREMENT is ${LAUNCH_DIGEST_SIZE} bytes, got ${actual.length}`, { field: 'measurement', expected: String(LAUNCH_DIGEST_SIZE), actual: String(actual.length) });
  }
  const validated = validateLaunchInputs(base);
  const calculator = await SnpLaunchCalculator.create(base.ovmf, base.ovmfHash, hasher);
  const baseHashes = await calculator.directBootHashes(base.kernel, base.initrd, base.append);
  const emptyHash = await hasher.digest('SHA-256', [new Uint8Array(0)]);
  const cmdlineHashes = new Map<string, Promise<Uint8Array>>();
  const hashesFor = async (s: State): Promise<SevHashes | undefined> => {
    if (baseHashes === undefined) return undefined;
    const line = s.append ?? '';
    let cmdline = cmdlineHashes.get(line);
    if (cmdline === undefined) {
      cmdline = hasher.digest('SHA-256', [cmdlineBytes(line)]);
      cmdlineHashes.set(line, cmdline);
    }
    return { kernel: baseHashes.kernel, initrd: s.initrd === 'given' ? baseHashes.initrd : emptyHash, cmdline: await cmdline };
  };
  const configFor = async (s: State): Promise<LaunchConfig> => ({ hashes: await hashesFor(s), vmmType: s.vmmType, vcpuSignature: vcpuSignature(s.vcpuType), guestFeatures: s.guestFeatures });

  const maxVcpus = Math.max(EXPLAIN_MAX_VCPUS, base.vcpus);
  const baseState: State = { vcpuType: base.vcpuType, guestFeatures: validated.guestFeatures, vmmType: validated.vmmType, append: base.append, initrd: base.initrd === undefined ? 'none' : 'given' };
  const baseDigests = await calculator.digestsByVcpuCount(await configFor(baseState), maxVcpus);
  const at = (digests: readonly Uint8Array[], n: number): boolean => bytesEqual(digests[n - 1] as Uint8Array, actual);
  if (at(baseDigests, base.vcpus)) {
    return Object.freeze({ matched: true, line: `the measurement matches the given inputs (${vcpuCount(base.vcpus)}, ${validated.vmmType === 'qemu' ? `${base.vcpuType}, ` : ''}SEV_FEATURES ${describeSevFeatures(validated.guestFeatures)}, VMM type ${validated.vmmType})` });
  }
  const otherCount = (digests: readonly Uint8Array[]): number | undefined => {
    const i = digests.findIndex((d, k) => k + 1 !== base.vcpus && bytesEqual(d, actual));
    return i < 0 ? undefined : i + 1;
  };
  const n = otherCount(baseDigests);
  if (n !== undefined) return explanation([], { now: n, base: base.vcpus });

  // The vCPU type goes into the VMSA only under QEMU: elsewhere a type change changes nothing.
  const matters = (c: Change, s: State): boolean => c.dimension !== 'vcpuType' || s.vmmType === 'qemu';
  const all = changes(baseState, baseHashes !== undefined, base.initrd !== undefined && base.initrd.length > 0);
  let withCount: SnpExplanation | undefined;
  for (const c of all) {
    const s = c.apply(baseState);
    if (!matters(c, s)) continue;
    const digests = await calculator.digestsByVcpuCount(await configFor(s), maxVcpus);
    if (at(digests, base.vcpus)) return explanation([c], undefined);
    const count = withCount === undefined ? otherCount(digests) : undefined;
    if (count !== undefined) withCount = explanation([c], { now: count, base: base.vcpus });
  }
  if (withCount !== undefined) return withCount;
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const a = all[i] as Change;
      const b = all[j] as Change;
      if (a.dimension === b.dimension) continue;
      const s = b.apply(a.apply(baseState));
      if (!matters(a, s) || !matters(b, s)) continue;
      const digests = await calculator.digestsByVcpuCount(await configFor(s), base.vcpus);
      if (at(digests, base.vcpus)) return explanation([a, b], undefined);
    }
  }
  const expected = baseDigests[base.vcpus - 1] as Uint8Array;
  return Object.freeze({
    matched: false,
    line: `no single or paired change of the vCPU count (1..${maxVcpus}), vCPU type, guest features, VMM type, command line newline or initrd explains MEASUREMENT ${toHex(actual)}; the given inputs give ${toHex(expected)}: check the OVMF image, kernel and initrd`,
  });
}
