// MRTD, the TD's build-time measurement, predicted from a TDVF image: the TDX module extends a SHA-384 over
// one 128-byte block per TDH.MEM.PAGE.ADD and three per 256-byte TDH.MR.EXTEND chunk (Intel TDX Module Base
// Architecture Specification, "MRTD: Build-Time Measurement Register"; TDVF Design Guide 11.2 "TD Measurement"):
//
//   TDH.MEM.PAGE.ADD   0x00 "MEM.PAGE.ADD" (12 ASCII bytes)   0x10 GPA u64   rest zero to 0x80
//   TDH.MR.EXTEND      0x00 "MR.EXTEND" (9 ASCII bytes)       0x10 GPA u64   rest zero to 0x80,
//                      then the 256 bytes of the chunk (two 128-byte blocks)
//
// Every 4 KiB page of every section is added (except PAGE.AUG sections, added after launch and outside MRTD);
// the pages of MR.EXTEND sections are then extended, bytes past RawDataSize reading as zero. The order of the
// two depends on the VMM: upstream KVM (Linux 6.16+, QEMU 10.1+) adds and extends page by page ('single-pass');
// the QEMU 8 / KVM trees of Intel's TDX early releases added all of a section's pages before extending any
// ('two-pass'), which gives another MRTD for the same image.
import type { Hasher } from '../../hash.js';
import { webCryptoHasher } from '../../hash.js';
import { PAGE_SIZE, parseTdvfDescriptor, TDVF_ATTRIBUTES } from './tdvf.js';
import type { TdvfSection } from './tdvf.js';

export type PageAddOrder = 'single-pass' | 'two-pass';

export interface MrtdOptions {
  /** Default 'single-pass', the upstream KVM order. */
  readonly pageOrder?: PageAddOrder;
}

const BLOCK = 0x80;
const CHUNK = 0x100;
const ZERO_CHUNK = new Uint8Array(CHUNK);
const ASCII = new TextEncoder();

function operation(name: string, gpa: bigint): Uint8Array {
  const block = new Uint8Array(BLOCK);
  block.set(ASCII.encode(name), 0x00);
  new DataView(block.buffer).setBigUint64(0x10, gpa, true);
  return block;
}

/** The bytes a chunk of a section holds in the TD: the image's raw data, zero past RawDataSize. */
function chunkData(firmware: Uint8Array, s: TdvfSection, from: number): Uint8Array {
  if (from + CHUNK <= s.rawDataSize) return firmware.subarray(s.dataOffset + from, s.dataOffset + from + CHUNK);
  if (from >= s.rawDataSize) return ZERO_CHUNK;
  const chunk = new Uint8Array(CHUNK);
  chunk.set(firmware.subarray(s.dataOffset + from, s.dataOffset + s.rawDataSize));
  return chunk;
}

function pageAdd(out: Uint8Array[], s: TdvfSection, page: number): void {
  if ((s.attributes & TDVF_ATTRIBUTES.PAGE_AUG) === 0) out.push(operation('MEM.PAGE.ADD', s.memoryAddress + BigInt(page * PAGE_SIZE)));
}

function mrExtend(out: Uint8Array[], firmware: Uint8Array, s: TdvfSection, page: number): void {
  if ((s.attributes & TDVF_ATTRIBUTES.MR_EXTEND) === 0) return;
  for (let from = page * PAGE_SIZE; from < (page + 1) * PAGE_SIZE; from += CHUNK) {
    out.push(operation('MR.EXTEND', s.memoryAddress + BigInt(from)), chunkData(firmware, s, from));
  }
}

/** The MRTD (48 bytes) a TD launched from this TDVF / OVMF image reports. */
export async function tdxMrtd(firmware: Uint8Array, hasher: Hasher = webCryptoHasher, options: MrtdOptions = {}): Promise<Uint8Array> {
  const { sections } = parseTdvfDescriptor(firmware);
  const parts: Uint8Array[] = [];
  for (const s of sections) {
    const pages = Number(s.memoryDataSize / BigInt(PAGE_SIZE));
    if (options.pageOrder === 'two-pass') {
      for (let p = 0; p < pages; p++) pageAdd(parts, s, p);
      for (let p = 0; p < pages; p++) mrExtend(parts, firmware, s, p);
    } else {
      for (let p = 0; p < pages; p++) {
        pageAdd(parts, s, p);
        mrExtend(parts, firmware, s, p);
      }
    }
  }
  return hasher.digest('SHA-384', parts);
}
