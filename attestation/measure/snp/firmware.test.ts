// The parsers and builders under the calculator: OVMF SEV metadata, the firmware's GUIDed entries, the SEV
// hashes table, the VMSA and vCPU signatures; a mutation table where each row names its error code; input
// validation; and the property that any bytes either work or fail with a typed error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { concatBytes, dataView, toHex } from '../../bytes.js';
import { CloisterError, ParseError } from '../../errors.js';
import { applyEdits, edits, onlyParseErrors } from '../../testing/parseErrors.js';
import { vector } from '../../testing/vectors.js';
import { FOOTER_GUID, guidToBytes, guidToString, parseFirmwareTable, TABLE_GUIDS } from '../firmwareTable.js';
import {
  BSP_EIP, cpuSignature, decodeSevMetadata, parseSevHashTable, parseSevMetadata, parseSnpFirmware, SECTION_TYPES, serializeSevHashTable,
  serializeSevMetadata, sevHashesPage, snpLaunchDigest, vcpuSignature, VCPU_TYPES, vmsaPage, type SectionType, type SnpLaunchInputs,
} from './index.js';

const AMD_SEV = vector('sev-snp-measure/fixtures/ovmf_AmdSev_suffix.bin');
const OVMF_X64 = vector('sev-snp-measure/fixtures/ovmf_OvmfX64_suffix.bin');
/** The AmdSev fixture's "ASEV" block: its table entry says 0x554 bytes from the end. */
const META = 0x1000 - 0x554;
const DESC = META + 0x10;
const entryAt = (guid: string): number => (parseFirmwareTable(AMD_SEV).get(guid) as { offset: number }).offset;

describe('OVMF SEV metadata and GUIDed entries', () => {
  it('reads the AmdSev fixture: seven sections, the AP reset IP and the hash table', () => {
    const fw = parseSnpFirmware(AMD_SEV);
    assert.deepEqual(fw.sections.map((s) => [s.type, s.gpa, s.size]), [
      ['SNP_SEC_MEMORY', 0x800000, 0x9000], ['SNP_SEC_MEMORY', 0x80a000, 0x3000], ['SNP_SECRETS', 0x80d000, 0x1000], ['CPUID', 0x80e000, 0x1000],
      ['SVSM_CAA', 0x80f000, 0x1000], ['SNP_KERNEL_HASHES', 0x810000, 0x1000], ['SNP_SEC_MEMORY', 0x811000, 0xf000],
    ]);
    assert.equal(fw.sevEsResetEip, 0x80b004);
    assert.deepEqual(fw.sevHashTable, { gpa: 0x810c00, size: 0x400 });
    assert.equal(fw.gpa, 2 ** 32 - 0x1000);
    const x64 = parseSnpFirmware(OVMF_X64);
    assert.equal(x64.sevHashTable, undefined);
    assert.ok(!x64.sections.some((s) => s.type === 'SNP_KERNEL_HASHES'));
  });

  it('serializes the metadata back to the fixture\'s bytes', () => {
    const m = parseSevMetadata(AMD_SEV);
    assert.ok(m !== undefined);
    assert.equal(toHex(serializeSevMetadata(m)), toHex(AMD_SEV.subarray(META, META + 100)));
  });

  it('round-trips any page-aligned sections through serialize and decode', () => {
    const types = Object.keys(SECTION_TYPES) as SectionType[];
    const section = fc.record({ type: fc.constantFrom(...types), gpa: fc.nat({ max: 0xff }).map((p) => p * 0x1000), size: fc.nat({ max: 8 }).map((p) => p * 0x1000) })
      .map((r) => ({ ...r })); // fc.record's objects have a null prototype
    fc.assert(fc.property(fc.array(section, { maxLength: 12 }), (sections) => {
      const m = { version: 1, sections };
      assert.deepEqual(decodeSevMetadata(serializeSevMetadata(m)), m);
    }), { numRuns: 200 });
  });

  it('GUIDs convert both ways', () => {
    for (const g of [FOOTER_GUID, ...Object.values(TABLE_GUIDS)]) assert.equal(guidToString(guidToBytes(g)), g);
    assert.throws(() => guidToBytes('not-a-guid'), RangeError);
  });

  const le32 = (v: number): [number, number][] => Array.from({ length: 4 }, (_, i) => [i, (v >>> (8 * i)) & 0xff]);
  const at = (base: number, list: [number, number][]): [number, number][] => list.map(([o, v]) => [base + o, v]);
  const MUTATIONS: { readonly name: string; readonly edits: [number, number][]; readonly code: string; readonly message: RegExp }[] = [
    { name: 'signature', edits: [[META, 0x42]], code: 'MALFORMED_FIELD', message: /signature at offset 0xaac/ },
    { name: 'version 2', edits: [[META + 0x08, 2]], code: 'UNSUPPORTED_VERSION', message: /version 2 at offset 0xab4/ },
    { name: 'one section more than the size holds', edits: [[META + 0x0c, 8]], code: 'TRUNCATED', message: /8 sections/ },
    { name: 'one section less than the size holds', edits: [[META + 0x0c, 6]], code: 'TRAILING_BYTES', message: /6 sections/ },
    { name: 'a huge section count', edits: at(META + 0x0c, le32(0x7fffffff)), code: 'TRUNCATED', message: /2147483647 sections/ },
    { name: 'unknown section type', edits: [[DESC + 0x08, 0x07]], code: 'MALFORMED_FIELD', message: /section 0 at offset 0xabc has unknown type 0x7/ },
    { name: 'section gpa not page-aligned', edits: [[DESC + 0x01, 0x01]], code: 'MALFORMED_FIELD', message: /gpa 0x800100/ },
    { name: 'section size not whole pages', edits: [[DESC + 0x05, 0x91]], code: 'MALFORMED_FIELD', message: /size 0x9100/ },
    { name: 'section above 4 GiB', edits: at(DESC, le32(0xfffff000)), code: 'MALFORMED_FIELD', message: /above 4 GiB/ },
    { name: 'sections adding up past the cap', edits: [[DESC + 0x07, 0x10]], code: 'MALFORMED_FIELD', message: /above the 0x4000000/ },
    { name: 'metadata offset past the start of the image', edits: at(entryAt(TABLE_GUIDS.sevMetadata), le32(0x10000)), code: 'MALFORMED_FIELD', message: /points outside the 4096-byte image/ },
    { name: 'metadata size past the end of the image', edits: at(META + 0x04, le32(0x10000)), code: 'TRUNCATED', message: /past the end of the image/ },
    { name: 'AP reset IP 0', edits: at(entryAt(TABLE_GUIDS.sevEsResetBlock), le32(0)), code: 'MALFORMED_FIELD', message: /AP reset IP 0/ },
    { name: 'table size past the image', edits: [[0x1000 - 0x20 - 0x12, 0xff], [0x1000 - 0x20 - 0x11, 0xff]], code: 'MALFORMED_FIELD', message: /points outside the image/ },
    { name: 'no footer GUID', edits: [[0x1000 - 0x20 - 0x10, 0]], code: 'MALFORMED_FIELD', message: /no SEV metadata entry .* not a firmware built for SEV-SNP/ },
  ];
  for (const m of MUTATIONS) {
    it(`mutation: ${m.name} -> ${m.code}`, () => {
      assert.throws(() => parseSnpFirmware(applyEdits(AMD_SEV, m.edits)), (e) => e instanceof ParseError && e.code === m.code && m.message.test(e.message));
    });
  }

  it('a truncated image is an error, not a crash: its end lost (no table) or its metadata cut off', () => {
    for (const n of [0, 1, 50, 0xfff]) assert.throws(() => parseSnpFirmware(AMD_SEV.subarray(0, n)), (e) => e instanceof ParseError && /no SEV metadata entry/.test(e.message));
    assert.throws(() => parseSnpFirmware(AMD_SEV.subarray(0x1000 - 0x500)), (e) => e instanceof ParseError && /points outside the 1280-byte image/.test(e.message));
  });
});

describe('SEV hashes table', () => {
  const h = { kernel: new Uint8Array(32).fill(1), initrd: new Uint8Array(32).fill(2), cmdline: new Uint8Array(32).fill(3) };
  it('is 0xb0 bytes with the entries in QEMU\'s order, and parses back', () => {
    const t = serializeSevHashTable(h);
    assert.equal(t.length, 0xb0);
    assert.equal(guidToString(t.subarray(0x00, 0x10)), '9438d606-4f22-4cc9-b479-a793d411fd21');
    assert.equal(dataView(t).getUint16(0x10, true), 0xa8);
    assert.equal(guidToString(t.subarray(0x12, 0x22)), '97d02dd8-bd20-4c94-aa78-e7714d36ab2a');
    assert.equal(t[0x24], 3);
    assert.equal(guidToString(t.subarray(0x44, 0x54)), '44baf731-3a2f-4bd7-9af1-41e29169781d');
    assert.equal(guidToString(t.subarray(0x76, 0x86)), '4de79437-abd2-427f-b835-d5b172d2045b');
    assert.equal(t[0x88], 1);
    assert.deepEqual(parseSevHashTable(t), h);
  });

  it('sits at the hash table gpa\'s offset in its page, which it must fit in', () => {
    const page = sevHashesPage(h, 0xc00);
    assert.equal(toHex(page.subarray(0xc00, 0xcb0)), toHex(serializeSevHashTable(h)));
    assert.ok(page.subarray(0, 0xc00).every((b) => b === 0) && page.subarray(0xcb0).every((b) => b === 0));
    assert.throws(() => sevHashesPage(h, 0xf60), (e) => e instanceof ParseError && e.code === 'MALFORMED_FIELD');
  });

  it('refuses a wrong GUID, a wrong length and non-zero padding', () => {
    const t = serializeSevHashTable(h);
    for (const [offset, code] of [[0x00, 'MALFORMED_FIELD'], [0x22, 'MALFORMED_FIELD'], [0x76, 'MALFORMED_FIELD'], [0xa8, 'RESERVED_NONZERO']] as const) {
      assert.throws(() => parseSevHashTable(applyEdits(t, [[offset, 0xee]])), (e) => e instanceof ParseError && e.code === code && e.offset === offset);
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 0xc0 }), (b) => { onlyParseErrors(() => parseSevHashTable(b)); }), { numRuns: 200 });
  });
});

describe('VMSA and vCPU types', () => {
  it('signatures: CPUID Fn0000_0001_EAX of each known type', () => {
    assert.equal(vcpuSignature('EPYC-v4'), 0x800f12);
    assert.equal(vcpuSignature('EPYC-Rome'), 0x830f10);
    assert.equal(vcpuSignature('EPYC-Milan'), 0xa00f11);
    assert.equal(vcpuSignature('EPYC-Genoa-v1'), 0xa10f10);
    assert.equal(vcpuSignature('EPYC-Turin'), 0xb00f00);
    assert.equal(cpuSignature({ family: 6, model: 0x55, stepping: 4 }), 0x50654);
    assert.equal(VCPU_TYPES.length, 16);
  });

  it('an unknown vCPU type is an error naming the known ones', () => {
    assert.throws(() => vcpuSignature('EPYC-v9'), (e) => e instanceof CloisterError && e.code === 'MEASUREMENT_INPUT' && e.message.includes('EPYC-Turin') && e.message.includes('EPYC-Milan-v2'));
    assert.throws(() => vcpuSignature('toString'), (e) => e instanceof CloisterError && e.code === 'MEASUREMENT_INPUT');
  });

  it('places the registers at their APM offsets', () => {
    const bsp = dataView(vmsaPage({ eip: BSP_EIP, sevFeatures: 0x21n, vcpuSignature: 0x800f12, vmmType: 'qemu' }));
    assert.deepEqual([bsp.getUint16(0x010, true), bsp.getUint16(0x012, true), bsp.getUint32(0x014, true), bsp.getBigUint64(0x018, true)], [0xf000, 0x9b, 0xffff, 0xffff0000n]);
    assert.equal(bsp.getBigUint64(0x178, true), 0xfff0n);
    assert.equal(bsp.getBigUint64(0x310, true), 0x800f12n);
    assert.equal(bsp.getBigUint64(0x3b0, true), 0x21n);
    assert.equal(bsp.getUint32(0x408, true), 0x1f80);
    assert.equal(bsp.getUint16(0x410, true), 0x37f);
    const ap = dataView(vmsaPage({ eip: 0x80b004, sevFeatures: 1n, vcpuSignature: 0, vmmType: 'ec2' }));
    assert.equal(ap.getBigUint64(0x018, true), 0x800000n);
    assert.equal(ap.getBigUint64(0x178, true), 0xb004n);
    assert.equal(ap.getBigUint64(0x310, true), 0x600n);
    assert.equal(ap.getUint16(0x012, true), 0x9b);
    assert.equal(dataView(vmsaPage({ eip: BSP_EIP, sevFeatures: 1n, vcpuSignature: 0, vmmType: 'ec2' })).getUint16(0x012, true), 0x9a);
    assert.equal(dataView(vmsaPage({ eip: BSP_EIP, sevFeatures: 1n, vcpuSignature: 0, vmmType: 'gce' })).getBigUint64(0x268, true), 0x70106n);
  });
});

describe('snpLaunchDigest input validation', () => {
  const base: SnpLaunchInputs = { ovmf: AMD_SEV, vcpus: 1, vcpuType: 'EPYC-v4' };
  const ROWS: { readonly name: string; readonly inputs: SnpLaunchInputs; readonly code: string; readonly field: string }[] = [
    { name: 'no vCPU', inputs: { ...base, vcpus: 0 }, code: 'MEASUREMENT_INPUT', field: 'vcpus' },
    { name: '513 vCPUs', inputs: { ...base, vcpus: 513 }, code: 'MEASUREMENT_INPUT', field: 'vcpus' },
    { name: 'a fractional vCPU count', inputs: { ...base, vcpus: 1.5 }, code: 'MEASUREMENT_INPUT', field: 'vcpus' },
    { name: 'an unknown vCPU type', inputs: { ...base, vcpuType: 'Skylake' }, code: 'MEASUREMENT_INPUT', field: 'vcpuType' },
    { name: 'guest features without SNPActive', inputs: { ...base, guestFeatures: 0x20n }, code: 'MEASUREMENT_INPUT', field: 'guestFeatures' },
    { name: 'guest features above 64 bits', inputs: { ...base, guestFeatures: (1n << 64n) | 1n }, code: 'MEASUREMENT_INPUT', field: 'guestFeatures' },
    { name: 'an unknown VMM type', inputs: { ...base, vmmType: 'xen' as 'qemu' }, code: 'MEASUREMENT_INPUT', field: 'vmmType' },
    { name: 'an initrd without a kernel', inputs: { ...base, initrd: new Uint8Array(0) }, code: 'MEASUREMENT_INPUT', field: 'kernel' },
    { name: 'a command line without a kernel', inputs: { ...base, append: 'quiet' }, code: 'MEASUREMENT_INPUT', field: 'kernel' },
    { name: 'a 47-byte ovmfHash', inputs: { ...base, ovmfHash: new Uint8Array(47) }, code: 'MEASUREMENT_INPUT', field: 'ovmfHash' },
    { name: 'a kernel for OvmfX64', inputs: { ...base, ovmf: OVMF_X64, kernel: new Uint8Array(0) }, code: 'MEASUREMENT_INPUT', field: 'kernel' },
    { name: 'an image that is not whole pages', inputs: { ...base, ovmf: concatBytes(new Uint8Array(100), AMD_SEV) }, code: 'MALFORMED_FIELD', field: 'ovmf' },
  ];
  for (const r of ROWS) {
    it(`${r.name} -> ${r.code} (${r.field})`, async () => {
      await assert.rejects(snpLaunchDigest(r.inputs), (e) => e instanceof CloisterError && e.code === r.code && e.field === r.field);
    });
  }

  it('gives each distinct VMSA hash and the direct-boot hashes', async () => {
    const empty = new Uint8Array(0);
    const m = await snpLaunchDigest({ ...base, vcpus: 3, kernel: empty, append: 'x' });
    assert.deepEqual(m.vmsas.map((v) => v.role), ['bsp', 'ap']);
    assert.equal(toHex(m.hashes?.initrd ?? empty), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(toHex(m.hashes?.cmdline ?? empty), toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('x\0')))));
    assert.equal((await snpLaunchDigest(base)).hashes, undefined);
  });
});

describe('properties: any bytes either measure or fail with a typed error', () => {
  /** A body of arbitrary bytes ending in a GUIDed table footer of arbitrary size, so the table walk runs. */
  const withFooter = fc.tuple(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 0xffff })).map(([body, size]) => {
    const footer = new Uint8Array(0x12 + 0x20);
    dataView(footer).setUint16(0, size, true);
    footer.set(guidToBytes(FOOTER_GUID), 2);
    return concatBytes(body, footer);
  });
  const tailEdits = edits(0x580).map((list) => list.map(([o, v]): [number, number] => [0x1000 - 0x580 + o, v]));

  it('the firmware parsers on arbitrary bytes, on bytes with a footer, and on mutated fixtures', () => {
    const parsers = (b: Uint8Array): void => {
      onlyParseErrors(() => parseSnpFirmware(b));
      onlyParseErrors(() => parseSevMetadata(b));
      onlyParseErrors(() => decodeSevMetadata(b));
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), parsers), { numRuns: 300 });
    fc.assert(fc.property(withFooter, parsers), { numRuns: 300 });
    fc.assert(fc.property(fc.oneof(edits(0x1000), tailEdits), fc.constantFrom(AMD_SEV, OVMF_X64), (list, image) => { parsers(applyEdits(image, list)); }), { numRuns: 500 });
  });

  it('snpLaunchDigest on arbitrary bytes, bytes with a footer and mutated fixtures, with and without a kernel', async () => {
    const kernel = new Uint8Array(0);
    const mutated = fc.tuple(tailEdits, fc.constantFrom(AMD_SEV, OVMF_X64)).map(([list, image]) => applyEdits(image, list));
    const images = fc.oneof({ arbitrary: mutated, weight: 4 }, fc.uint8Array({ maxLength: 600 }), withFooter);
    await fc.assert(fc.asyncProperty(images, fc.boolean(), fc.boolean(), async (ovmf, direct, seeded) => {
      const inputs: SnpLaunchInputs = { ovmf, ...(seeded ? { ovmfHash: new Uint8Array(48) } : {}), vcpus: 2, vcpuType: 'EPYC-v4', ...(direct ? { kernel } : {}) };
      try {
        assert.equal((await snpLaunchDigest(inputs)).digest.length, 48);
      } catch (e) {
        if (!(e instanceof CloisterError)) throw e;
      }
    }), { numRuns: 200 });
  });
});
