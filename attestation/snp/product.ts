// AMD EPYC products that sign SEV-SNP reports, told apart by CPUID (report version >= 3) and by
// the names in AMD's certificates (ARK-<product>, SEV-<product>, SEV-VLEK-<product>, productName).
import type { CpuId } from './report.js';

export const PRODUCTS = ['Milan', 'Genoa', 'Turin'] as const;
export type Product = (typeof PRODUCTS)[number];

/** Family 19h models 00h-0Fh are Milan; 10h-1Fh and A0h-AFh (Bergamo, Siena) Genoa; family 1Ah models 00h-1Fh Turin. */
export function productFromCpuId(cpuid: CpuId): Product | undefined {
  if (cpuid.family === 0x19 && cpuid.model <= 0x0f) return 'Milan';
  if (cpuid.family === 0x19 && ((cpuid.model >= 0x10 && cpuid.model <= 0x1f) || (cpuid.model >= 0xa0 && cpuid.model <= 0xaf))) return 'Genoa';
  if (cpuid.family === 0x1a && cpuid.model <= 0x1f) return 'Turin';
  return undefined;
}

/** "Milan-B0", "ARK-Genoa", "SEV-VLEK-Turin" -> the product, or undefined. */
export function productFromName(name: string | undefined): Product | undefined {
  if (name === undefined) return undefined;
  return PRODUCTS.find((p) => name === p || name.startsWith(`${p}-`) || name.endsWith(`-${p}`));
}
