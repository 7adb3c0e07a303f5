// Bitfields of the SEV-SNP report (SEV-SNP Firmware ABI rev. 1.58: guest policy Table 9,
// PLATFORM_INFO Table 24, the key-info word at 0x48 in Table 23).

export interface GuestPolicy {
  readonly raw: bigint;
  readonly abiMinor: number;
  readonly abiMajor: number;
  readonly smt: boolean;
  /** Bit 17 must be one. */
  readonly reservedOne: boolean;
  readonly migrateMa: boolean;
  readonly debug: boolean;
  readonly singleSocket: boolean;
  readonly cxlAllow: boolean;
  readonly memAes256Xts: boolean;
  readonly raplDis: boolean;
  readonly ciphertextHiding: boolean;
  readonly pageSwapDisable: boolean;
  /** Bits 26..63, which no published ABI revision defines. */
  readonly reservedBits: bigint;
}

const bit = (raw: bigint, n: number): boolean => ((raw >> BigInt(n)) & 1n) === 1n;

export const POLICY_KNOWN_BITS = (1n << 26n) - 1n;

export function decodeGuestPolicy(raw: bigint): GuestPolicy {
  return Object.freeze({
    raw,
    abiMinor: Number(raw & 0xffn),
    abiMajor: Number((raw >> 8n) & 0xffn),
    smt: bit(raw, 16),
    reservedOne: bit(raw, 17),
    migrateMa: bit(raw, 18),
    debug: bit(raw, 19),
    singleSocket: bit(raw, 20),
    cxlAllow: bit(raw, 21),
    memAes256Xts: bit(raw, 22),
    raplDis: bit(raw, 23),
    ciphertextHiding: bit(raw, 24),
    pageSwapDisable: bit(raw, 25),
    reservedBits: raw & ~POLICY_KNOWN_BITS,
  });
}

export interface PlatformInfo {
  readonly raw: bigint;
  readonly smtEnabled: boolean;
  readonly tsmeEnabled: boolean;
  readonly eccEnabled: boolean;
  readonly raplDisabled: boolean;
  readonly ciphertextHidingEnabled: boolean;
  readonly aliasCheckComplete: boolean;
  /** Bit 6: set on real Turin platforms; peers (tinfoil) name it IOMMU_WRITE_SAFE. */
  readonly iommuWriteSafe: boolean;
  readonly tioEnabled: boolean;
  /** Bits 8..63. */
  readonly reservedBits: bigint;
}

export const PLATFORM_INFO_KNOWN_BITS = 0xffn;

export function decodePlatformInfo(raw: bigint): PlatformInfo {
  return Object.freeze({
    raw,
    smtEnabled: bit(raw, 0),
    tsmeEnabled: bit(raw, 1),
    eccEnabled: bit(raw, 2),
    raplDisabled: bit(raw, 3),
    ciphertextHidingEnabled: bit(raw, 4),
    aliasCheckComplete: bit(raw, 5),
    iommuWriteSafe: bit(raw, 6),
    tioEnabled: bit(raw, 7),
    reservedBits: raw & ~PLATFORM_INFO_KNOWN_BITS,
  });
}

export const SIGNING_KEY = { vcek: 0, vlek: 1, none: 7 } as const;
export type SigningKey = keyof typeof SIGNING_KEY | 'reserved';

export interface KeyInfo {
  readonly raw: number;
  readonly authorKeyEn: boolean;
  readonly maskChipKey: boolean;
  readonly signingKey: SigningKey;
  /** Bits 5..31. */
  readonly reservedBits: number;
}

export function decodeKeyInfo(raw: number): KeyInfo {
  const code = (raw >>> 2) & 0b111;
  const signingKey = (Object.keys(SIGNING_KEY) as (keyof typeof SIGNING_KEY)[]).find((k) => SIGNING_KEY[k] === code) ?? 'reserved';
  return Object.freeze({
    raw,
    authorKeyEn: (raw & 1) === 1,
    maskChipKey: (raw & 2) === 2,
    signingKey,
    reservedBits: (raw & ~0b11111) >>> 0,
  });
}
