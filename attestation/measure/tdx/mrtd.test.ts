// MRTD against its definition. No peer publishes an MRTD together with the firmware image it came from, so the
// expected values come from a reference written here from the TDX module specification, step by step and
// independently of mrtd.ts (node:crypto, Buffers, no shared helpers), over a hand-built TDVF image; Debian's
// OVMF.fd (testdata/README.md) checks that a real image parses as its metadata says, and pins its MRTD.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../../bytes.js';
import { ParseError } from '../../errors.js';
import { applyEdits, edits, onlyParseErrors } from '../../testing/parseErrors.js';
import { vector } from '../../testing/vectors.js';
import { tdxMrtd } from './mrtd.js';
import { parseTdvfDescriptor } from './tdvf.js';

interface Section { dataOffset: number; rawDataSize: number; address: number; size: number; type: number; attributes: number }

const guidBytes = (text: string): Buffer => {
  const h = text.replace(/-/g, '');
  const le = (s: string): string => (s.match(/../g) ?? []).reverse().join('');
  return Buffer.from(le(h.slice(0, 8)) + le(h.slice(8, 12)) + le(h.slice(12, 16)) + h.slice(16), 'hex');
};

/** An image: section data, then the descriptor, then the GUIDed table (TDX metadata entry, footer) and 0x20 bytes. */
function tdvfImage(sections: readonly Section[], data: Buffer, patch: (descriptor: Buffer) => void = () => undefined): Uint8Array {
  const descriptor = Buffer.alloc(16 + 32 * sections.length);
  descriptor.write('TDVF', 0, 'ascii');
  descriptor.writeUInt32LE(descriptor.length, 4);
  descriptor.writeUInt32LE(1, 8);
  descriptor.writeUInt32LE(sections.length, 12);
  sections.forEach((s, i) => {
    const at = 16 + 32 * i;
    descriptor.writeUInt32LE(s.dataOffset, at);
    descriptor.writeUInt32LE(s.rawDataSize, at + 4);
    descriptor.writeBigUInt64LE(BigInt(s.address), at + 8);
    descriptor.writeBigUInt64LE(BigInt(s.size), at + 16);
    descriptor.writeUInt32LE(s.type, at + 24);
    descriptor.writeUInt32LE(s.attributes, at + 28);
  });
  patch(descriptor);
  const tail = 4 + 18 + 18 + 0x20;
  const total = data.length + descriptor.length + tail;
  const entry = Buffer.alloc(4 + 18);
  entry.writeUInt32LE(total - data.length, 0);
  entry.writeUInt16LE(22, 4);
  guidBytes('e47a6535-984a-4798-865e-4685a7bf8ec2').copy(entry, 6);
  const footer = Buffer.alloc(18);
  footer.writeUInt16LE(22 + 18, 0);
  guidBytes('96b582de-1fb2-45f7-baea-a366c55a082d').copy(footer, 2);
  return new Uint8Array(Buffer.concat([data, descriptor, entry, footer, Buffer.alloc(0x20)]));
}

/** MRTD by the book: SHA-384 over 128-byte MEM.PAGE.ADD blocks and MR.EXTEND blocks each followed by 256 bytes. */
function referenceMrtd(image: Uint8Array, sections: readonly Section[], twoPass = false): string {
  const h = createHash('sha384');
  const block = (name: string, gpa: number): Buffer => {
    const b = Buffer.alloc(128);
    b.write(name, 0, 'ascii');
    b.writeBigUInt64LE(BigInt(gpa), 16);
    return b;
  };
  const add = (s: Section, page: number): void => { if (!(s.attributes & 2)) h.update(block('MEM.PAGE.ADD', s.address + page * 4096)); };
  const extend = (s: Section, page: number): void => {
    if (!(s.attributes & 1)) return;
    const memory = Buffer.alloc(s.size);
    Buffer.from(image.subarray(s.dataOffset, s.dataOffset + s.rawDataSize)).copy(memory);
    for (let c = 0; c < 16; c++) {
      const at = page * 4096 + c * 256;
      h.update(block('MR.EXTEND', s.address + at));
      h.update(memory.subarray(at, at + 256));
    }
  };
  for (const s of sections) {
    const pages = s.size / 4096;
    if (twoPass) {
      for (let p = 0; p < pages; p++) add(s, p);
      for (let p = 0; p < pages; p++) extend(s, p);
    } else {
      for (let p = 0; p < pages; p++) { add(s, p); extend(s, p); }
    }
  }
  return h.digest('hex');
}

const DATA = Buffer.from(Array.from({ length: 0x1800 }, (_, i) => (i * 7 + 3) & 0xff));
const SECTIONS: Section[] = [
  { dataOffset: 0x0000, rawDataSize: 0x1000, address: 0xfffff000, size: 0x1000, type: 0, attributes: 1 }, // BFV, MR.EXTEND
  { dataOffset: 0x1000, rawDataSize: 0x0800, address: 0xffffd000, size: 0x2000, type: 1, attributes: 1 }, // CFV, extended past its raw data
  { dataOffset: 0, rawDataSize: 0, address: 0x809000, size: 0x2000, type: 2, attributes: 0 }, // TD_HOB
  { dataOffset: 0, rawDataSize: 0, address: 0x800000, size: 0x3000, type: 3, attributes: 2 }, // TempMem added by PAGE.AUG: not measured
];

function expectParseError(image: Uint8Array, code: string, field: string): void {
  assert.throws(() => parseTdvfDescriptor(image), (e: unknown) => {
    assert.ok(e instanceof ParseError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.field, field, e.message);
    assert.equal(typeof e.offset, 'number');
    return true;
  });
}

describe('tdxMrtd', () => {
  const image = tdvfImage(SECTIONS, DATA);

  it('equals the by-the-book MRTD of a hand-built TDVF image, in both page orders', async () => {
    assert.equal(toHex(await tdxMrtd(image)), referenceMrtd(image, SECTIONS));
    assert.equal(toHex(await tdxMrtd(image, undefined, { pageOrder: 'two-pass' })), referenceMrtd(image, SECTIONS, true));
    assert.notEqual(referenceMrtd(image, SECTIONS), referenceMrtd(image, SECTIONS, true));
  });

  it('changes with any byte of an extended section', async () => {
    const before = toHex(await tdxMrtd(image));
    for (const at of [0x0000, 0x0fff, 0x1000, 0x17ff]) assert.notEqual(toHex(await tdxMrtd(applyEdits(image, [[at, (image[at] ?? 0) ^ 1]]))), before, `byte 0x${at.toString(16)}`);
  });

  it("parses Debian's OVMF.fd (2022.11-6+deb12u2) as its TDX metadata says and gives a stable MRTD", async () => {
    const ovmf = vector('debian/ovmf/OVMF.fd');
    const d = parseTdvfDescriptor(ovmf);
    assert.equal(d.offset, 0x1ff7c0);
    assert.deepEqual(d.sections.map((s) => [s.typeName, s.dataOffset, s.rawDataSize, s.memoryAddress, s.memoryDataSize, s.attributes]), [
      ['BFV', 0x20000, 0x1e0000, 0xffe20000n, 0x1e0000n, 1],
      ['CFV', 0, 0x20000, 0xffe00000n, 0x20000n, 0],
      ['TempMem', 0, 0, 0x810000n, 0x10000n, 0],
      ['TempMem', 0, 0, 0x80b000n, 0x2000n, 0],
      ['TD_HOB', 0, 0, 0x809000n, 0x2000n, 0],
      ['TempMem', 0, 0, 0x800000n, 0x6000n, 0],
    ]);
    // Computed by this implementation and by the reference above (no independent MRTD for this image exists).
    const mrtd = toHex(await tdxMrtd(ovmf));
    assert.equal(mrtd, '4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47');
    const sections = d.sections.map((s) => ({ dataOffset: s.dataOffset, rawDataSize: s.rawDataSize, address: Number(s.memoryAddress), size: Number(s.memoryDataSize), type: s.type, attributes: s.attributes }));
    assert.equal(mrtd, referenceMrtd(ovmf, sections));
    assert.equal(toHex(await tdxMrtd(ovmf, undefined, { pageOrder: 'two-pass' })), referenceMrtd(ovmf, sections, true));
  });

  it('refuses malformed descriptors with a ParseError naming the field and offset', () => {
    const patched = (f: (d: Buffer) => void): Uint8Array => tdvfImage(SECTIONS, DATA, f);
    expectParseError(new Uint8Array(64), 'MALFORMED_FIELD', 'tdvf.metadataOffset');
    expectParseError(patched((d) => d.write('TDVX', 0, 'ascii')), 'MALFORMED_FIELD', 'tdvf.signature');
    expectParseError(patched((d) => d.writeUInt32LE(2, 8)), 'UNSUPPORTED_VERSION', 'tdvf.version');
    expectParseError(patched((d) => d.writeUInt32LE(16, 4)), 'MALFORMED_FIELD', 'tdvf.length');
    expectParseError(patched((d) => { d.writeUInt32LE(0x1000, 12); d.writeUInt32LE(16 + 32 * 0x1000, 4); }), 'TRUNCATED', 'tdvf.numberOfSectionEntry');
    expectParseError(patched((d) => d.writeUInt32LE(9, 16 + 24)), 'MALFORMED_FIELD', 'tdvf.section.type');
    expectParseError(patched((d) => d.writeUInt32LE(0x10, 16 + 28)), 'MALFORMED_FIELD', 'tdvf.section.attributes');
    expectParseError(patched((d) => d.writeUInt32LE(0xffff0000, 16)), 'MALFORMED_FIELD', 'tdvf.section.dataOffset');
    expectParseError(patched((d) => d.writeBigUInt64LE(0xfffff800n, 16 + 8)), 'MALFORMED_FIELD', 'tdvf.section.memoryAddress');
    expectParseError(patched((d) => d.writeBigUInt64LE(0x0n, 16 + 16)), 'MALFORMED_FIELD', 'tdvf.section.rawDataSize');
    expectParseError(patched((d) => d.writeBigUInt64LE(0x100000000000n, 32 + 16 + 16)), 'MALFORMED_FIELD', 'tdvf.section.memoryDataSize');
    const outside = image.slice();
    new DataView(outside.buffer).setUint32(outside.length - 0x20 - 18 - 22, outside.length + 1, true);
    expectParseError(outside, 'MALFORMED_FIELD', 'tdvf.metadataOffset');
  });

  it('on arbitrary bytes and on mutated descriptors: sections or ParseError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => { onlyParseErrors(() => parseTdvfDescriptor(b)); }), { numRuns: 300 });
    const tail = image.subarray(DATA.length);
    fc.assert(fc.property(edits(tail.length), (list) => {
      const mutated = new Uint8Array(image.length);
      mutated.set(image.subarray(0, DATA.length));
      mutated.set(applyEdits(tail, list), DATA.length);
      onlyParseErrors(() => parseTdvfDescriptor(mutated));
    }), { numRuns: 500 });
    const ovmfTail = vector('debian/ovmf/OVMF.fd');
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0x1ff7c0, max: ovmfTail.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (list) => {
      onlyParseErrors(() => parseTdvfDescriptor(applyEdits(ovmfTail, list)));
    }), { numRuns: 200 });
  });
});
