// The SEV-SNP launch digest chain (AMD SEV-SNP Firmware ABI specification, SNP_LAUNCH_UPDATE, section 8.17;
// PAGE_INFO is Table 67 in revision 1.55). Each page the VMM adds replaces the digest with
// SHA-384(PAGE_INFO), where PAGE_INFO is:
//
//   0x00 DIGEST_CUR [48]     the digest so far (zero at SNP_LAUNCH_START)
//   0x30 CONTENTS [48]       SHA-384 of the page for NORMAL and VMSA pages, zero for the other types
//   0x60 LENGTH u16          0x70, the size of this structure
//   0x62 PAGE_TYPE u8        PAGE_TYPES below
//   0x63 IMI_PAGE u8         0: no page here is an incoming-migration image page
//   0x64 VMPL3_PERMS u8, 0x65 VMPL2_PERMS u8, 0x66 VMPL1_PERMS u8   0: a VMM gives no VMPL permissions at launch
//   0x67 reserved u8
//   0x68 GPA u64
import { CloisterError } from '../../errors.js';
import { dataView } from '../../bytes.js';
import { defineLayout } from '../../layout.js';
import { webCryptoHasher, type Hasher } from '../../hash.js';

export const PAGE_SIZE = 0x1000;
export const LAUNCH_DIGEST_SIZE = 48;

export const PAGE_TYPES = { normal: 0x01, vmsa: 0x02, zero: 0x03, unmeasured: 0x04, secrets: 0x05, cpuid: 0x06 } as const;
export type PageType = keyof typeof PAGE_TYPES;

/**
 * The GPA a VMSA page is measured at: the RMP records it at (u64)-1, page-aligned, with bits 63:52 cleared
 * (as the peers and the firmware agree).
 */
export const VMSA_GPA = 0xfffffffff000;

const PAGE_INFO = defineLayout({
  name: 'SEV-SNP PAGE_INFO',
  size: 0x70,
  fields: {
    digestCur: { offset: 0x00, size: 48, kind: 'bytes' },
    contents: { offset: 0x30, size: 48, kind: 'bytes' },
    length: { offset: 0x60, size: 2, kind: 'u16' },
    pageType: { offset: 0x62, size: 1, kind: 'u8' },
    imiPage: { offset: 0x63, size: 1, kind: 'u8' },
    vmpl3Perms: { offset: 0x64, size: 1, kind: 'u8' },
    vmpl2Perms: { offset: 0x65, size: 1, kind: 'u8' },
    vmpl1Perms: { offset: 0x66, size: 1, kind: 'u8' },
    reserved: { offset: 0x67, size: 1, kind: 'zero', name: 'PAGE_INFO reserved' },
    gpa: { offset: 0x68, size: 8, kind: 'u64' },
  },
});

const ZERO_CONTENTS = new Uint8Array(LAUNCH_DIGEST_SIZE);

/** The PAGE_INFO structure one SNP_LAUNCH_UPDATE of a page hashes. */
export function pageInfo(digestCur: Uint8Array, pageType: PageType, gpa: number, contents: Uint8Array = ZERO_CONTENTS): Uint8Array {
  return PAGE_INFO.serialize({ digestCur, contents, length: 0x70, pageType: PAGE_TYPES[pageType], imiPage: 0, vmpl3Perms: 0, vmpl2Perms: 0, vmpl1Perms: 0, gpa: BigInt(gpa) });
}

/** A launch digest being extended page by page; `fork()` branches it, so a common prefix is hashed once. */
export class LaunchDigest {
  readonly #hasher: Hasher;
  #digest: Uint8Array;

  constructor(hasher: Hasher = webCryptoHasher, seed: Uint8Array = ZERO_CONTENTS) {
    if (seed.length !== LAUNCH_DIGEST_SIZE) {
      throw new CloisterError('MEASUREMENT_INPUT', `a launch digest seed is ${LAUNCH_DIGEST_SIZE} bytes, got ${seed.length}`, { field: 'ovmfHash', expected: String(LAUNCH_DIGEST_SIZE), actual: String(seed.length) });
    }
    this.#hasher = hasher;
    this.#digest = seed.slice();
  }

  /** The digest so far (a copy). */
  get digest(): Uint8Array {
    return this.#digest.slice();
  }

  fork(): LaunchDigest {
    return new LaunchDigest(this.#hasher, this.#digest);
  }

  // One PAGE_INFO, rewritten for every page: the layout's serializer costs more than the hash of 112 bytes.
  readonly #pageInfo = pageInfo(ZERO_CONTENTS, 'normal', 0);
  readonly #view = dataView(this.#pageInfo);

  /** One SNP_LAUNCH_UPDATE of one page; `contents` is the page's SHA-384 for normal and VMSA pages. */
  async update(pageType: PageType, gpa: number, contents: Uint8Array = ZERO_CONTENTS): Promise<void> {
    if (contents.length !== LAUNCH_DIGEST_SIZE) throw new RangeError(`PAGE_INFO contents: ${contents.length} bytes, not ${LAUNCH_DIGEST_SIZE}`);
    this.#pageInfo.set(this.#digest, 0x00);
    this.#pageInfo.set(contents, 0x30);
    this.#view.setUint8(0x62, PAGE_TYPES[pageType]);
    this.#view.setBigUint64(0x68, BigInt(gpa), true);
    this.#digest = await this.#hasher.digest('SHA-384', [this.#pageInfo]);
  }

  /** NORMAL pages holding `data` from `gpa` on; `data` is a whole number of pages. */
  async updateNormalPages(gpa: number, data: Uint8Array): Promise<void> {
    if (data.length % PAGE_SIZE !== 0) throw new RangeError(`normal pages: ${data.length} bytes is not a whole number of pages`);
    for (let at = 0; at < data.length; at += PAGE_SIZE) {
      const contents = await this.#hasher.digest('SHA-384', [data.subarray(at, at + PAGE_SIZE)]);
      await this.update('normal', gpa + at, contents);
    }
  }

  /** ZERO or UNMEASURED pages covering `length` bytes from `gpa` on. */
  async updateEmptyPages(pageType: 'zero' | 'unmeasured', gpa: number, length: number): Promise<void> {
    if (length % PAGE_SIZE !== 0) throw new RangeError(`${pageType} pages: ${length} bytes is not a whole number of pages`);
    for (let at = 0; at < length; at += PAGE_SIZE) await this.update(pageType, gpa + at);
  }

  /** A VMSA page, given its SHA-384 (callers cache it: every AP's page is the same). */
  async updateVmsa(pageSha384: Uint8Array): Promise<void> {
    await this.update('vmsa', VMSA_GPA, pageSha384);
  }
}
