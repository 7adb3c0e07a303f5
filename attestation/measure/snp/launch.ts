// The SEV-SNP launch digest of a QEMU/EC2/GCE guest booted from OVMF, as the VMM builds it with
// SNP_LAUNCH_UPDATE (peers: virtee/sev-snp-measure guest.py, virtee/sev measurement/snp.rs):
//
//   1. the OVMF image as NORMAL pages, ending at 4 GiB (or a given chain state after them)
//   2. each SEV metadata section in order: SNP_SEC_MEMORY and SVSM_CAA as ZERO pages (GCE: UNMEASURED),
//      SNP_SECRETS one SECRETS page, CPUID one CPUID page (EC2: after all other sections), SNP_KERNEL_HASHES
//      the hashes page as a NORMAL page with direct boot, else ZERO pages
//   3. one VMSA page per vCPU: the BSP's, then the APs' (all alike)
//
// The calculator caches the chain after 1, after 2 per (hashes page, VMM type) and each VMSA page's hash,
// so that explainLaunchDigest.ts can recompute many variations cheaply.
import { CloisterError, ParseError } from '../../errors.js';
import { webCryptoHasher, type Hasher } from '../../hash.js';
import { LaunchDigest, PAGE_SIZE } from './launchDigest.js';
import { parseSnpFirmware, type SnpFirmware } from './snpFirmware.js';
import { sevHashes, sevHashesKey, sevHashesPage, type SevHashes } from './sevHashTable.js';
import { vcpuSignature } from './vcpuTypes.js';
import { BSP_EIP, VMM_TYPES, vmsaPage, type VmmType } from './vmsa.js';

export interface SnpLaunchInputs {
  /** The whole OVMF image, or its last pages (the SEV metadata and GUIDed table) when ovmfHash is given. */
  readonly ovmf: Uint8Array;
  /** The 48-byte chain state after the OVMF pages, computed elsewhere (SnpMeasurement.ovmfHash). */
  readonly ovmfHash?: Uint8Array;
  /** Direct boot: the kernel (an empty array is an empty file, hashed); absent, no hashes table. */
  readonly kernel?: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly append?: string;
  readonly vcpus: number;
  /** A name of VCPU_TYPES; QEMU puts its signature in RDX, EC2 and GCE do not use it. */
  readonly vcpuType: string;
  /** SEV_FEATURES of every VMSA; default 0x1 (SNPActive only). */
  readonly guestFeatures?: bigint;
  readonly vmmType?: VmmType;
}

export interface SnpMeasurement {
  /** 48 bytes: the report's MEASUREMENT. */
  readonly digest: Uint8Array;
  /** The chain state after the OVMF pages. */
  readonly ovmfHash: Uint8Array;
  /** SHA-256 of each direct-boot input, as written into the hashes table. */
  readonly hashes?: SevHashes;
  /** Each distinct VMSA page's SHA-384: the BSP's, then the APs' when there are several vCPUs. */
  readonly vmsas: readonly { readonly role: 'bsp' | 'ap'; readonly sha384: Uint8Array }[];
}

export const MAX_VCPUS = 512;
export const DEFAULT_GUEST_FEATURES = 0x1n;

/** Everything but the vCPU count and the OVMF: what selects the chain after the metadata and the VMSA pages. */
export interface LaunchConfig {
  readonly hashes: SevHashes | undefined;
  readonly vmmType: VmmType;
  readonly vcpuSignature: number;
  readonly guestFeatures: bigint;
}

const inputError = (field: string, message: string, expected: string, actual: string): CloisterError =>
  new CloisterError('MEASUREMENT_INPUT', message, { field, expected, actual });

export function validateVcpus(vcpus: number): void {
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) {
    throw inputError('vcpus', `vCPU count ${vcpus} is not an integer in 1..${MAX_VCPUS}`, `1..${MAX_VCPUS}`, String(vcpus));
  }
}

export function validateGuestFeatures(features: bigint): void {
  if (features < 0n || features >= 1n << 64n || (features & 1n) === 0n) {
    throw inputError('guestFeatures', `guest features 0x${features.toString(16)} are not a 64-bit SEV_FEATURES value with SNPActive (bit 0) set`, 'u64 with bit 0 set', `0x${features.toString(16)}`);
  }
}

export function validateVmmType(vmmType: string): asserts vmmType is VmmType {
  if (!(VMM_TYPES as readonly string[]).includes(vmmType)) {
    throw inputError('vmmType', `unknown VMM type ${JSON.stringify(vmmType)}; known: ${VMM_TYPES.join(', ')}`, VMM_TYPES.join(', '), vmmType);
  }
}

export function validateDirectBoot(kernel: Uint8Array | undefined, initrd: Uint8Array | undefined, append: string | undefined): void {
  if (kernel === undefined && (initrd !== undefined || append !== undefined)) {
    throw inputError('kernel', `${initrd !== undefined ? 'an initrd' : 'a kernel command line'} is given without a kernel (QEMU accepts them only with -kernel)`, 'a kernel', 'none');
  }
}

/** Checks every input but the firmware's, before any hashing. */
export function validateLaunchInputs(inputs: Omit<SnpLaunchInputs, 'ovmf' | 'ovmfHash'>): Omit<LaunchConfig, 'hashes'> {
  validateVcpus(inputs.vcpus);
  const vmmType = inputs.vmmType ?? 'qemu';
  validateVmmType(vmmType);
  const guestFeatures = inputs.guestFeatures ?? DEFAULT_GUEST_FEATURES;
  validateGuestFeatures(guestFeatures);
  validateDirectBoot(inputs.kernel, inputs.initrd, inputs.append);
  return { vmmType, guestFeatures, vcpuSignature: vcpuSignature(inputs.vcpuType) };
}

/** One OVMF image's calculations, sharing the chain prefixes and VMSA hashes they have in common. */
export class SnpLaunchCalculator {
  readonly firmware: SnpFirmware;
  readonly hasher: Hasher;
  readonly #ovmfState: LaunchDigest;
  readonly #afterSections = new Map<string, Promise<LaunchDigest>>();
  readonly #vmsaHashes = new Map<string, Promise<Uint8Array>>();

  private constructor(firmware: SnpFirmware, ovmfState: LaunchDigest, hasher: Hasher) {
    this.firmware = firmware;
    this.#ovmfState = ovmfState;
    this.hasher = hasher;
  }

  static async create(ovmf: Uint8Array, ovmfHash: Uint8Array | undefined, hasher: Hasher = webCryptoHasher): Promise<SnpLaunchCalculator> {
    const firmware = parseSnpFirmware(ovmf);
    if (ovmfHash !== undefined) return new SnpLaunchCalculator(firmware, new LaunchDigest(hasher, ovmfHash), hasher);
    if (ovmf.length % PAGE_SIZE !== 0) {
      throw new ParseError('MALFORMED_FIELD', `OVMF image is ${ovmf.length} bytes, not a whole number of 4 KiB pages`, { field: 'ovmf', offset: ovmf.length - (ovmf.length % PAGE_SIZE), expected: 'a multiple of 4096', actual: String(ovmf.length) });
    }
    const chain = new LaunchDigest(hasher);
    await chain.updateNormalPages(firmware.gpa, ovmf);
    return new SnpLaunchCalculator(firmware, chain, hasher);
  }

  /** The chain state after the OVMF pages. */
  get ovmfHash(): Uint8Array {
    return this.#ovmfState.digest;
  }

  /** Checks that direct boot is possible with this firmware, then hashes its inputs. */
  async directBootHashes(kernel: Uint8Array | undefined, initrd: Uint8Array | undefined, append: string | undefined): Promise<SevHashes | undefined> {
    if (kernel === undefined) {
      validateDirectBoot(kernel, initrd, append);
      return undefined;
    }
    if (!this.firmware.sections.some((s) => s.type === 'SNP_KERNEL_HASHES')) {
      throw inputError('kernel', 'a kernel is given but the OVMF SEV metadata has no SNP_KERNEL_HASHES section: this firmware cannot measure a direct-boot kernel, initrd and command line (use an AmdSev build)', 'an SNP_KERNEL_HASHES section', 'none');
    }
    return sevHashes(kernel, initrd, append, this.hasher);
  }

  /** The chain after the metadata sections, for this hashes page and VMM type (cached). */
  afterSections(hashes: SevHashes | undefined, vmmType: VmmType): Promise<LaunchDigest> {
    const key = `${vmmType}/${sevHashesKey(hashes)}`;
    let p = this.#afterSections.get(key);
    if (p === undefined) {
      p = this.#measureSections(hashes, vmmType);
      this.#afterSections.set(key, p);
    }
    return p;
  }

  async #measureSections(hashes: SevHashes | undefined, vmmType: VmmType): Promise<LaunchDigest> {
    const chain = this.#ovmfState.fork();
    for (const s of this.firmware.sections) {
      switch (s.type) {
        case 'SNP_SEC_MEMORY':
          await chain.updateEmptyPages(vmmType === 'gce' ? 'unmeasured' : 'zero', s.gpa, s.size);
          break;
        case 'SNP_SECRETS':
          await chain.update('secrets', s.gpa);
          break;
        case 'CPUID':
          if (vmmType !== 'ec2') await chain.update('cpuid', s.gpa);
          break;
        case 'SNP_KERNEL_HASHES':
          await this.#measureHashesSection(chain, hashes, s.gpa, s.size);
          break;
        case 'SVSM_CAA':
          await chain.updateEmptyPages('zero', s.gpa, s.size);
          break;
      }
    }
    // EC2 adds the CPUID page last.
    if (vmmType === 'ec2') for (const s of this.firmware.sections) if (s.type === 'CPUID') await chain.update('cpuid', s.gpa);
    return chain;
  }

  async #measureHashesSection(chain: LaunchDigest, hashes: SevHashes | undefined, gpa: number, size: number): Promise<void> {
    if (hashes === undefined) return chain.updateEmptyPages('zero', gpa, size);
    const table = this.firmware.sevHashTable;
    if (table === undefined) {
      throw new ParseError('MALFORMED_FIELD', 'OVMF has an SNP_KERNEL_HASHES section but no SEV hash table entry (7255371f-...) to place the hashes', { field: 'ovmf.footerTable.sevHashTable' });
    }
    if (size !== PAGE_SIZE) {
      throw new ParseError('MALFORMED_FIELD', `SNP_KERNEL_HASHES section is 0x${size.toString(16)} bytes; direct boot fills exactly one page`, { field: 'ovmf.sevMetadata.section.size', expected: '0x1000', actual: `0x${size.toString(16)}` });
    }
    await chain.updateNormalPages(gpa, sevHashesPage(hashes, table.gpa & (PAGE_SIZE - 1)));
  }

  /** The SHA-384 of the BSP's or an AP's VMSA page (cached). */
  vmsaHash(role: 'bsp' | 'ap', config: LaunchConfig): Promise<Uint8Array> {
    const eip = role === 'bsp' ? BSP_EIP : this.firmware.sevEsResetEip;
    const key = `${eip}/${config.vmmType}/${config.vcpuSignature}/${config.guestFeatures}`;
    let p = this.#vmsaHashes.get(key);
    if (p === undefined) {
      p = this.hasher.digest('SHA-384', [vmsaPage({ eip, sevFeatures: config.guestFeatures, vcpuSignature: config.vcpuSignature, vmmType: config.vmmType })]);
      this.#vmsaHashes.set(key, p);
    }
    return p;
  }

  /** The digests for 1..maxVcpus vCPUs, in order: each extends the previous by one AP page. */
  async digestsByVcpuCount(config: LaunchConfig, maxVcpus: number): Promise<Uint8Array[]> {
    validateVcpus(maxVcpus);
    const chain = (await this.afterSections(config.hashes, config.vmmType)).fork();
    await chain.updateVmsa(await this.vmsaHash('bsp', config));
    const out = [chain.digest];
    if (maxVcpus > 1) {
      const ap = await this.vmsaHash('ap', config);
      for (let n = 2; n <= maxVcpus; n++) {
        await chain.updateVmsa(ap);
        out.push(chain.digest);
      }
    }
    return out;
  }

  async measure(inputs: Omit<SnpLaunchInputs, 'ovmf' | 'ovmfHash'>): Promise<SnpMeasurement> {
    const config: LaunchConfig = { ...validateLaunchInputs(inputs), hashes: await this.directBootHashes(inputs.kernel, inputs.initrd, inputs.append) };
    const digests = await this.digestsByVcpuCount(config, inputs.vcpus);
    const vmsas: { role: 'bsp' | 'ap'; sha384: Uint8Array }[] = [{ role: 'bsp', sha384: (await this.vmsaHash('bsp', config)).slice() }];
    if (inputs.vcpus > 1) vmsas.push({ role: 'ap', sha384: (await this.vmsaHash('ap', config)).slice() });
    return Object.freeze({
      digest: digests[inputs.vcpus - 1] as Uint8Array,
      ovmfHash: this.ovmfHash,
      ...(config.hashes === undefined ? {} : { hashes: config.hashes }),
      vmsas: Object.freeze(vmsas),
    });
  }
}

/** The launch digest (the report's MEASUREMENT) of an SEV-SNP guest with these inputs. */
export async function snpLaunchDigest(inputs: SnpLaunchInputs, hasher: Hasher = webCryptoHasher): Promise<SnpMeasurement> {
  validateLaunchInputs(inputs);
  const calculator = await SnpLaunchCalculator.create(inputs.ovmf, inputs.ovmfHash, hasher);
  return calculator.measure(inputs);
}
