// TCB_VERSION (SEV-SNP Firmware ABI rev. 1.58, Table 3): a u64 whose byte layout depends on the product.
//   Milan, Genoa: byte 0 BOOT_LOADER, 1 TEE, 2..5 reserved, 6 SNP, 7 MICROCODE
//   Turin:        byte 0 FMC, 1 BOOT_LOADER, 2 TEE, 3 SNP, 4..6 reserved, 7 MICROCODE
import type { Product } from './product.js';

export interface TcbParts {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin only. */
  readonly fmc?: number;
}

export const TCB_COMPONENTS = ['bootloader', 'tee', 'snp', 'microcode', 'fmc'] as const;
export type TcbComponent = (typeof TCB_COMPONENTS)[number];

const byteAt = (raw: bigint, i: number): number => Number((raw >> BigInt(8 * i)) & 0xffn);

export function decodeTcb(raw: bigint, product: Product): TcbParts {
  if (product === 'Turin') {
    return { fmc: byteAt(raw, 0), bootloader: byteAt(raw, 1), tee: byteAt(raw, 2), snp: byteAt(raw, 3), microcode: byteAt(raw, 7) };
  }
  return { bootloader: byteAt(raw, 0), tee: byteAt(raw, 1), snp: byteAt(raw, 6), microcode: byteAt(raw, 7) };
}

export function encodeTcb(parts: TcbParts, product: Product): bigint {
  const at = (v: number, i: number): bigint => BigInt(v & 0xff) << BigInt(8 * i);
  if (product === 'Turin') {
    return at(parts.fmc ?? 0, 0) | at(parts.bootloader, 1) | at(parts.tee, 2) | at(parts.snp, 3) | at(parts.microcode, 7);
  }
  return at(parts.bootloader, 0) | at(parts.tee, 1) | at(parts.snp, 6) | at(parts.microcode, 7);
}

/** The components at which `a` is above `b`, among those both have (FMC only on Turin), in TCB_COMPONENTS order. */
export function componentsAbove(a: Partial<TcbParts>, b: Partial<TcbParts>): TcbComponent[] {
  return TCB_COMPONENTS.filter((k) => {
    const x = a[k];
    const y = b[k];
    return x !== undefined && y !== undefined && x > y;
  });
}

export function formatTcb(parts: TcbParts): string {
  const fmc = parts.fmc === undefined ? '' : `fmc=${parts.fmc} `;
  return `{${fmc}bl=${parts.bootloader} tee=${parts.tee} snp=${parts.snp} ucode=${parts.microcode}}`;
}
