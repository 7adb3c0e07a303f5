// The vCPU types QEMU offers for AMD EPYC guests (QEMU target/i386/cpu.c builtin_x86_defs, as listed by the
// peers virtee/sev-snp-measure vcpu_types.py and virtee/sev measurement/vcpu_types.rs). QEMU puts the type's
// CPUID Fn0000_0001_EAX signature in RDX of the initial VMSA, so it is part of the launch digest.
import { CloisterError } from '../../errors.js';

export interface CpuId {
  readonly family: number;
  readonly model: number;
  readonly stepping: number;
}

/**
 * CPUID Fn0000_0001_EAX from family, model and stepping (AMD CPUID Specification #25481): families above
 * 0xf are 0xf plus an extended family in bits 27:20; the model's high nibble goes to bits 19:16.
 */
export function cpuSignature({ family, model, stepping }: CpuId): number {
  const [familyLow, familyHigh] = family > 0xf ? [0xf, (family - 0xf) & 0xff] : [family, 0];
  return (familyHigh << 20) | (((model >> 4) & 0xf) << 16) | (familyLow << 8) | ((model & 0xf) << 4) | (stepping & 0xf);
}

const NAPLES: CpuId = { family: 23, model: 1, stepping: 2 };
const ROME: CpuId = { family: 23, model: 49, stepping: 0 };
const MILAN: CpuId = { family: 25, model: 1, stepping: 1 };
const GENOA: CpuId = { family: 25, model: 17, stepping: 0 };
const TURIN: CpuId = { family: 26, model: 0, stepping: 0 };

/** Each known vCPU type's family, model and stepping; a type's versions share them. */
export const VCPU_CPUIDS: Readonly<Record<string, CpuId>> = Object.freeze({
  'EPYC': NAPLES, 'EPYC-v1': NAPLES, 'EPYC-v2': NAPLES, 'EPYC-IBPB': NAPLES, 'EPYC-v3': NAPLES, 'EPYC-v4': NAPLES,
  'EPYC-Rome': ROME, 'EPYC-Rome-v1': ROME, 'EPYC-Rome-v2': ROME, 'EPYC-Rome-v3': ROME,
  'EPYC-Milan': MILAN, 'EPYC-Milan-v1': MILAN, 'EPYC-Milan-v2': MILAN,
  'EPYC-Genoa': GENOA, 'EPYC-Genoa-v1': GENOA,
  'EPYC-Turin': TURIN,
});

export const VCPU_TYPES: readonly string[] = Object.freeze(Object.keys(VCPU_CPUIDS));

/** The RDX signature of a known vCPU type; an unknown one is an error listing the known ones. */
export function vcpuSignature(vcpuType: string): number {
  const id = Object.hasOwn(VCPU_CPUIDS, vcpuType) ? VCPU_CPUIDS[vcpuType] : undefined;
  if (id === undefined) {
    throw new CloisterError('MEASUREMENT_INPUT', `unknown vCPU type ${JSON.stringify(vcpuType)}; known: ${VCPU_TYPES.join(', ')}`, { field: 'vcpuType', expected: VCPU_TYPES.join(', '), actual: vcpuType });
  }
  return cpuSignature(id);
}
