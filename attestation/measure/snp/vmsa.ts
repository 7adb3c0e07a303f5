// The initial VMSA page of each vCPU (AMD64 APM Volume 2, Table B-4 "VMSA Layout, State Save Area for
// SEV-ES"; Linux arch/x86/include/asm/svm.h struct sev_es_save_area), as KVM sets it up at reset and as each
// VMM adjusts it. Only the fields a VMM sets are declared; the rest of the 4 KiB page is zero.
//
//   0x000 ES, 0x010 CS, 0x020 SS, 0x030 DS, 0x040 FS, 0x050 GS, 0x060 GDTR, 0x070 LDTR, 0x080 IDTR, 0x090 TR
//         each a VMCB segment: 0x0 selector u16, 0x2 attrib u16, 0x4 limit u32, 0x8 base u64
//   0x0d0 EFER   0x148 CR4   0x158 CR0   0x160 DR7   0x168 DR6   0x170 RFLAGS   0x178 RIP
//   0x268 G_PAT  0x310 RDX   0x3b0 SEV_FEATURES   0x3e8 XCR0   0x408 MXCSR u32   0x410 X87_FCW u16
//
// The BSP starts at the reset vector 0xfffffff0; APs at the SEV-ES reset block's IP: CS.base holds its
// high 16 bits and RIP its low 16.
import { defineLayout, type Parsed } from '../../layout.js';
import { PAGE_SIZE } from './launchDigest.js';

export const VMM_TYPES = ['qemu', 'ec2', 'gce'] as const;
export type VmmType = (typeof VMM_TYPES)[number];

export const BSP_EIP = 0xfffffff0;

/** SEV_FEATURES bits (APM Volume 2, Table 15-34 "SEV_FEATURES"; the ones guests and peers use). */
export const SEV_FEATURES = {
  SNPActive: 0, vTOM: 1, ReflectVC: 2, RestrictedInjection: 3, AlternateInjection: 4, DebugSwap: 5,
  PreventHostIBS: 6, BTBIsolation: 7, VmplSSS: 8, SecureTSC: 9, VmgexitParameter: 10, IbsVirtualization: 12,
  VmsaRegProt: 14, SmtProtection: 15,
} as const;

/** "0x21 (SNPActive, DebugSwap)". */
export function describeSevFeatures(features: bigint): string {
  const names = Object.entries(SEV_FEATURES).filter(([, bit]) => (features >> BigInt(bit)) & 1n).map(([name]) => name);
  const known = Object.values(SEV_FEATURES).reduce((m, bit) => m | (1n << BigInt(bit)), 0n);
  if (features & ~known) names.push(`unnamed 0x${(features & ~known).toString(16)}`);
  return `0x${features.toString(16)}${names.length > 0 ? ` (${names.join(', ')})` : ''}`;
}

const SEGMENT = defineLayout({
  name: 'VMCB segment',
  size: 0x10,
  fields: {
    selector: { offset: 0x0, size: 2, kind: 'u16' },
    attrib: { offset: 0x2, size: 2, kind: 'u16' },
    limit: { offset: 0x4, size: 4, kind: 'u32' },
    base: { offset: 0x8, size: 8, kind: 'u64' },
  },
});

const seg = { offset: 0, size: 0x10, kind: 'bytes' } as const;
export const VMSA = defineLayout({
  name: 'VMSA',
  size: PAGE_SIZE,
  fields: {
    es: { ...seg, offset: 0x000 }, cs: { ...seg, offset: 0x010 }, ss: { ...seg, offset: 0x020 }, ds: { ...seg, offset: 0x030 },
    fs: { ...seg, offset: 0x040 }, gs: { ...seg, offset: 0x050 }, gdtr: { ...seg, offset: 0x060 }, ldtr: { ...seg, offset: 0x070 },
    idtr: { ...seg, offset: 0x080 }, tr: { ...seg, offset: 0x090 },
    efer: { offset: 0x0d0, size: 8, kind: 'u64' },
    cr4: { offset: 0x148, size: 8, kind: 'u64' },
    cr0: { offset: 0x158, size: 8, kind: 'u64' },
    dr7: { offset: 0x160, size: 8, kind: 'u64' },
    dr6: { offset: 0x168, size: 8, kind: 'u64' },
    rflags: { offset: 0x170, size: 8, kind: 'u64' },
    rip: { offset: 0x178, size: 8, kind: 'u64' },
    gPat: { offset: 0x268, size: 8, kind: 'u64' },
    rdx: { offset: 0x310, size: 8, kind: 'u64' },
    sevFeatures: { offset: 0x3b0, size: 8, kind: 'u64' },
    xcr0: { offset: 0x3e8, size: 8, kind: 'u64' },
    mxcsr: { offset: 0x408, size: 4, kind: 'u32' },
    x87Fcw: { offset: 0x410, size: 2, kind: 'u16' },
  },
});

export type VmsaRegisters = Parsed<typeof VMSA.fields>;

const segment = (selector: number, attrib: number, base = 0n): Uint8Array => SEGMENT.serialize({ selector, attrib, limit: 0xffff, base });

/** PAT MSR at reset (APM Volume 2, section A.3). */
const DEFAULT_G_PAT = 0x0007040600070406n;
/** CPUID signature in RDX for EC2 and GCE, whose VMMs do not pass the vCPU type's. */
const FIXED_RDX = 0x600n;

export interface VmsaInputs {
  readonly eip: number;
  readonly sevFeatures: bigint;
  /** CPUID Fn0000_0001_EAX of the vCPU type (vcpuTypes.ts); QEMU only. */
  readonly vcpuSignature: number;
  readonly vmmType: VmmType;
}

/**
 * The registers each VMM sets. EC2 marks CS, SS and TR not accessed (the BSP's CS also not yet accessed);
 * GCE overwrites G_PAT; both leave the x87/SSE control words zero. EC2 RDX follows virtee/sev-snp-measure
 * (0x600 since April 2026), not virtee/sev (0): see docs/measure.md, "SEV-SNP".
 */
export function vmsaRegisters({ eip, sevFeatures, vcpuSignature, vmmType }: VmsaInputs): VmsaRegisters {
  const vmm = {
    qemu: { cs: 0x9b, ss: 0x93, tr: 0x8b, gPat: DEFAULT_G_PAT, rdx: BigInt(vcpuSignature), mxcsr: 0x1f80, x87Fcw: 0x37f },
    ec2: { cs: eip === BSP_EIP ? 0x9a : 0x9b, ss: 0x92, tr: 0x83, gPat: DEFAULT_G_PAT, rdx: FIXED_RDX, mxcsr: 0, x87Fcw: 0 },
    gce: { cs: 0x9b, ss: 0x93, tr: 0x8b, gPat: 0x70106n, rdx: FIXED_RDX, mxcsr: 0, x87Fcw: 0 },
  }[vmmType];
  const data = segment(0, 0x93);
  return Object.freeze({
    es: data, cs: segment(0xf000, vmm.cs, BigInt(eip) & 0xffff0000n), ss: segment(0, vmm.ss), ds: data, fs: data, gs: data,
    gdtr: segment(0, 0), ldtr: segment(0, 0x82), idtr: segment(0, 0), tr: segment(0, vmm.tr),
    efer: 0x1000n, // KVM sets EFER.SVME
    cr4: 0x40n, // KVM sets CR4.MCE
    cr0: 0x10n, dr7: 0x400n, dr6: 0xffff0ff0n, rflags: 0x2n,
    rip: BigInt(eip) & 0xffffn,
    gPat: vmm.gPat, rdx: vmm.rdx, sevFeatures, xcr0: 0x1n, mxcsr: vmm.mxcsr, x87Fcw: vmm.x87Fcw,
  });
}

export function vmsaPage(inputs: VmsaInputs): Uint8Array {
  return VMSA.serialize(vmsaRegisters(inputs));
}
