// QEMU's setup-header patch against the Linux x86 boot protocol (Documentation/arch/x86/boot.rst) and QEMU's
// x86_load_linux(): every expected value below is worked out by hand from those two sources, over a synthetic
// bzImage-shaped buffer, and written as a literal; nothing is computed by qemuKernel.ts. No peer publishes a kernel
// small enough to copy with its QEMU-patched Authenticode hash (dstack-mr's tests check only that initrd addresses
// coincide), so there is no cross-implementation vector here.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../../bytes.js';
import { CloisterError, ParseError } from '../../errors.js';
import { applyEdits, edits, onlyParseErrors } from '../../testing/parseErrors.js';
import { directBootEvents } from './directBoot.js';
import type { QemuKernelLoad } from './qemuKernel.js';
import { qemuPatchedKernel } from './qemuKernel.js';

const GiB = 0x40000000;
const SIZE = 0x2000;

interface Header { version: number; loadflags: number; setupSects?: number; initrdAddrMax?: number; xloadflags?: number }

/**
 * A bzImage-shaped buffer: a pattern everywhere (so that a field QEMU writes differs from what was there), then the
 * boot.rst fields at their offsets, and a minimal PE32+ header before them (e_lfanew 0x40, no sections, no data
 * directories, SizeOfHeaders 0x200) so that the Authenticode hash of a real EFI-stub kernel can be reproduced.
 */
function bzImage(h: Header): Buffer {
  const b = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) b[i] = (i * 7 + 3) & 0xff;
  b.fill(0, 0, 0x1f1);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x40, 0x3c);
  b.write('PE\0\0', 0x40, 'latin1');
  b.writeUInt16LE(0xf0, 0x44 + 0x10); // SizeOfOptionalHeader
  b.writeUInt16LE(0x20b, 0x58); // PE32+
  b.writeUInt32LE(0x200, 0x58 + 0x3c); // SizeOfHeaders
  b.writeUInt32LE(0xdeadbeef, 0x58 + 0x40); // CheckSum, outside the hash
  b[0x1f1] = h.setupSects ?? 4;
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(h.version, 0x206);
  b[0x211] = h.loadflags;
  b.writeUInt32LE(h.initrdAddrMax ?? 0x7fffffff, 0x22c);
  b.writeUInt16LE(h.xloadflags ?? 0, 0x236);
  return b;
}

const modern = (over: Partial<Header> = {}): Buffer => bzImage({ version: 0x20f, loadflags: 0x01, xloadflags: 0x0003, ...over });

/** Byte ranges [start, end) QEMU may write, by field (boot.rst offsets). */
const WRITTEN = { cmd_line_magic: [0x20, 0x22], cmd_line_offset: [0x22, 0x24], vid_mode: [0x1fa, 0x1fc], type_of_loader: [0x210, 0x211], loadflags: [0x211, 0x212], ramdisk_image: [0x218, 0x21c], ramdisk_size: [0x21c, 0x220], heap_end_ptr: [0x224, 0x226], cmd_line_ptr: [0x228, 0x22c] } as const;
type Written = keyof typeof WRITTEN;

/** Checks each expected field's value and that every byte outside the expected fields is the input's. */
function expectPatch(input: Buffer, load: QemuKernelLoad, expected: Partial<Record<Written, number>>): void {
  const out = Buffer.from(qemuPatchedKernel(input, load));
  assert.equal(out.length, input.length);
  for (const [name, value] of Object.entries(expected) as [Written, number][]) {
    const [start, end] = WRITTEN[name];
    const actual = end - start === 1 ? out[start] : end - start === 2 ? out.readUInt16LE(start) : out.readUInt32LE(start);
    assert.equal(actual, value, `${name}: 0x${actual?.toString(16)} instead of 0x${value.toString(16)}`);
  }
  const touched = (i: number): boolean => Object.keys(expected).some((n) => i >= WRITTEN[n as Written][0] && i < WRITTEN[n as Written][1]);
  for (let i = 0; i < SIZE; i++) if (!touched(i)) assert.equal(out[i], input[i], `byte 0x${i.toString(16)} changed`);
}

/** What QEMU writes for a high protocol >= 2.02 kernel: setup at 0x10000, command line at 0x20000. */
const recent = { type_of_loader: 0xb0, loadflags: 0x81, heap_end_ptr: 0x20000 - 0x10000 - 0x200, cmd_line_ptr: 0x20000 } as const;

describe('qemuPatchedKernel: QEMU x86_load_linux setup-header patch', () => {
  it('a modern kernel (2.15, LOADED_HIGH, CAN_BE_LOADED_ABOVE_4G) without an initrd: loader, heap and command line only', () => {
    expectPatch(modern(), { memoryBytes: 4 * GiB }, recent);
    // The command line's length does not move a recent kernel's command line.
    expectPatch(modern(), { memoryBytes: 4 * GiB, cmdline: 'console=ttyS0 '.repeat(40) }, recent);
  });

  it('places the initrd below the q35 low-RAM top minus 0x28000 of ACPI data, 4 KiB aligned down', () => {
    // 4 GiB >= 0xB0000000: split at 2 GiB. initrd_max = 0x80000000 - 0x28000 - 1 = 0x7ffd7fff;
    // 0x7ffd7fff - 0x123456 = 0x7feb4ba9 -> 0x7feb4000.
    expectPatch(modern(), { memoryBytes: 4 * GiB, initrdSize: 0x123456 }, { ...recent, ramdisk_image: 0x7feb4000, ramdisk_size: 0x123456 });
    // Exactly 2 GiB is below 0xB0000000 and fits whole below 4G: the same 2 GiB, the same address (bigint input).
    expectPatch(modern(), { memoryBytes: 2n * BigInt(GiB), initrdSize: 0x123456 }, { ...recent, ramdisk_image: 0x7feb4000, ramdisk_size: 0x123456 });
    // 0xB0000000 is the first size split at 2 GiB; 64 GiB too.
    expectPatch(modern(), { memoryBytes: 0xb0000000, initrdSize: 0x123456 }, { ...recent, ramdisk_image: 0x7feb4000, ramdisk_size: 0x123456 });
    expectPatch(modern(), { memoryBytes: 64 * GiB, initrdSize: 0x123456 }, { ...recent, ramdisk_image: 0x7feb4000, ramdisk_size: 0x123456 });
    // 0x90000000 stays whole below 4G: 0x90000000 - 0x28000 - 1 = 0x8ffd7fff; - 0x1000 = 0x8ffd6fff -> 0x8ffd6000.
    expectPatch(modern(), { memoryBytes: 0x90000000, initrdSize: 0x1000 }, { ...recent, ramdisk_image: 0x8ffd6000, ramdisk_size: 0x1000 });
    // 0x7ffff000: 0x7ffff000 - 0x28000 - 1 = 0x7ffd6fff; - 0x1000 = 0x7ffd5fff -> 0x7ffd5000.
    expectPatch(modern(), { memoryBytes: 0x7ffff000, initrdSize: 0x1000 }, { ...recent, ramdisk_image: 0x7ffd5000, ramdisk_size: 0x1000 });
    // max-ram-below-4g=1G on 8 GiB: 0x40000000 - 0x28000 - 1 = 0x3ffd7fff; - 0x1000 -> 0x3ffd6000.
    expectPatch(modern(), { memoryBytes: 8 * GiB, maxRamBelow4g: GiB, initrdSize: 0x1000 }, { ...recent, ramdisk_image: 0x3ffd6000, ramdisk_size: 0x1000 });
    // Another ACPI reservation (i440fx 1.7 and older used 0x10000): 0x80000000 - 0x10000 - 1 - 0x1000 -> 0x7ffee000.
    expectPatch(modern(), { memoryBytes: 4 * GiB, acpiDataSize: 0x10000, initrdSize: 0x1000 }, { ...recent, ramdisk_image: 0x7ffee000, ramdisk_size: 0x1000 });
    // An empty -initrd file still fills both fields: (0x7ffd7fff - 0) & ~0xfff.
    expectPatch(modern(), { memoryBytes: 4 * GiB, initrdSize: 0 }, { ...recent, ramdisk_image: 0x7ffd7000, ramdisk_size: 0 });
  });

  it('follows the kernel\'s initrd_addr_max unless xloadflags has CAN_BE_LOADED_ABOVE_4G (bit 1, not 5-level bit 6) on 2.12+', () => {
    const low = { initrdAddrMax: 0x37ffffff };
    // initrd_max 0x37ffffff; - 0x1000 = 0x37ffefff -> 0x37ffe000.
    expectPatch(modern({ ...low, xloadflags: 0x0001 }), { memoryBytes: 4 * GiB, initrdSize: 0x1000 }, { ...recent, ramdisk_image: 0x37ffe000, ramdisk_size: 0x1000 });
    expectPatch(modern({ ...low, xloadflags: 0x0040 }), { memoryBytes: 4 * GiB, initrdSize: 0x1000 }, { ...recent, ramdisk_image: 0x37ffe000, ramdisk_size: 0x1000 });
    expectPatch(modern({ ...low, xloadflags: 0x0002 }), { memoryBytes: 4 * GiB, initrdSize: 0x1000 }, { ...recent, ramdisk_image: 0x7ffd6000, ramdisk_size: 0x1000 });
    // 2.11 has no xloadflags: the flag is not read.
    expectPatch(modern({ ...low, version: 0x20b, xloadflags: 0x0002 }), { memoryBytes: 4 * GiB, initrdSize: 0x1000 }, { ...recent, ramdisk_image: 0x37ffe000, ramdisk_size: 0x1000 });
    // 2.02 has no initrd_addr_max: QEMU assumes 0x37ffffff.
    expectPatch(modern({ version: 0x202, initrdAddrMax: 0x7fffffff }), { memoryBytes: 4 * GiB, initrdSize: 0x1000 }, { ...recent, ramdisk_image: 0x37ffe000, ramdisk_size: 0x1000 });
  });

  it('protocol 2.00/2.01 and kernels loaded low: setup at 0x90000, command line at 0x9a000 - (strlen + 16 & ~15)', () => {
    // "console=ttyS0" is 13 bytes: (13 + 16) & ~15 = 16, so the command line is at 0x99ff0, 0x9ff0 above the setup.
    const cmdline = 'console=ttyS0';
    expectPatch(bzImage({ version: 0x201, loadflags: 0x01 }), { memoryBytes: 4 * GiB, cmdline }, { cmd_line_magic: 0xa33f, cmd_line_offset: 0x9ff0, type_of_loader: 0xb0, loadflags: 0x81, heap_end_ptr: 0x9ff0 - 0x200 });
    // 2.00 has no heap_end_ptr and no CAN_USE_HEAP; 0 bytes of command line: (0 + 16) & ~15 = 16 as well.
    expectPatch(bzImage({ version: 0x200, loadflags: 0x00 }), { memoryBytes: 4 * GiB }, { cmd_line_magic: 0xa33f, cmd_line_offset: 0x9ff0, type_of_loader: 0xb0 });
    // A 2.15 kernel without LOADED_HIGH is "low": cmd_line_ptr = 0x9a000 - 32 for 16 bytes ("(16 + 16) & ~15").
    expectPatch(modern({ loadflags: 0x00 }), { memoryBytes: 4 * GiB, cmdline: 'a'.repeat(16) }, { type_of_loader: 0xb0, loadflags: 0x80, heap_end_ptr: 0x9a000 - 32 - 0x90000 - 0x200, cmd_line_ptr: 0x9a000 - 32 });
    // Protocol < 2.03 with an initrd: initrd_max 0x37ffffff.
    expectPatch(bzImage({ version: 0x201, loadflags: 0x01 }), { memoryBytes: 4 * GiB, initrdSize: 0x1000 }, { cmd_line_magic: 0xa33f, cmd_line_offset: 0x9ff0, type_of_loader: 0xb0, loadflags: 0x81, heap_end_ptr: 0x9df0, ramdisk_image: 0x37ffe000, ramdisk_size: 0x1000 });
  });

  it('"vga=" in the command line sets vid_mode (the first occurrence, as strstr finds it)', () => {
    expectPatch(modern(), { memoryBytes: 4 * GiB, cmdline: 'quiet vga=0x317 ro' }, { ...recent, vid_mode: 0x317 });
    expectPatch(modern(), { memoryBytes: 4 * GiB, cmdline: 'vga=791' }, { ...recent, vid_mode: 791 });
    expectPatch(modern(), { memoryBytes: 4 * GiB, cmdline: 'vga=017' }, { ...recent, vid_mode: 0o17 });
    expectPatch(modern(), { memoryBytes: 4 * GiB, cmdline: 'vga=ask' }, { ...recent, vid_mode: 0xfffd });
    expectPatch(modern(), { memoryBytes: 4 * GiB, cmdline: 'vga=extended' }, { ...recent, vid_mode: 0xfffe });
    expectPatch(modern(), { memoryBytes: 4 * GiB, cmdline: 'xvga=normal vga=1' }, { ...recent, vid_mode: 0xffff });
    for (const cmdline of ['vga=', 'vga=08', 'vga=12ab', 'vga=0x1ffffffff']) {
      assert.throws(() => qemuPatchedKernel(modern(), { memoryBytes: 4 * GiB, cmdline }), (e) => e instanceof CloisterError && e.code === 'MEASUREMENT_INPUT' && e.field === 'cmdline', cmdline);
    }
  });

  it('QEMU 10.2 and later leave a confidential guest\'s header as the file has it; 10.1 and older patch it', () => {
    const input = modern();
    assert.deepEqual(Buffer.from(qemuPatchedKernel(input, { memoryBytes: 4 * GiB, initrdSize: 0x1000, qemuVersion: '10.2.0' })), input);
    assert.deepEqual(Buffer.from(qemuPatchedKernel(input, { memoryBytes: 4 * GiB, qemuVersion: '11.0' })), input);
    expectPatch(input, { memoryBytes: 4 * GiB, qemuVersion: '10.1.2' }, recent);
    expectPatch(input, { memoryBytes: 4 * GiB, qemuVersion: '8.2' }, recent);
    // The checks QEMU makes before it decides are made for every version.
    assert.throws(() => qemuPatchedKernel(input, { memoryBytes: GiB, initrdSize: GiB, qemuVersion: '10.2' }), (e) => e instanceof CloisterError && e.code === 'MEASUREMENT_INPUT');
    assert.throws(() => qemuPatchedKernel(input, { memoryBytes: GiB, qemuVersion: 'v10' }), (e) => e instanceof CloisterError && e.field === 'qemuVersion');
  });

  it('returns a copy and leaves its input alone', () => {
    const input = modern();
    const before = Buffer.from(input);
    const out = qemuPatchedKernel(input, { memoryBytes: 4 * GiB, initrdSize: 1 });
    assert.deepEqual(input, before);
    assert.notEqual(out.buffer, input.buffer);
    // A view into a larger (pooled) buffer is read at its own offset.
    const pooled = Buffer.concat([Buffer.alloc(13, 0xee), input]).subarray(13);
    assert.deepEqual(Buffer.from(qemuPatchedKernel(pooled, { memoryBytes: 4 * GiB, initrdSize: 1 })), Buffer.from(out));
  });
});

describe('qemuPatchedKernel: errors', () => {
  const parseCases: { name: string; image: Uint8Array; code: string; field: string; offset: number }[] = [
    { name: 'empty', image: new Uint8Array(0), code: 'TRUNCATED', field: 'bzImage.version', offset: 0 },
    { name: 'cut inside the header', image: modern().subarray(0, 0x207), code: 'TRUNCATED', field: 'bzImage.version', offset: 0x207 },
    { name: 'no "HdrS" (a PE without a setup header)', image: applyEdits(modern(), [[0x202, 0x68]]), code: 'MALFORMED_FIELD', field: 'bzImage.header', offset: 0x202 },
    { name: 'protocol 1.ff', image: bzImage({ version: 0x1ff, loadflags: 0 }), code: 'UNSUPPORTED_VERSION', field: 'bzImage.version', offset: 0x206 },
    { name: 'setup_sects beyond the file', image: modern({ setupSects: 0x10 }), code: 'TRUNCATED', field: 'bzImage.setup_sects', offset: 0x1f1 },
    { name: 'setup_sects 0 (read as 4) in a 0x9ff-byte file', image: modern({ setupSects: 0 }).subarray(0, 0x9ff), code: 'TRUNCATED', field: 'bzImage.setup_sects', offset: 0x1f1 },
  ];
  for (const c of parseCases) {
    it(`ParseError ${c.code} for ${c.name}`, () => {
      assert.throws(() => qemuPatchedKernel(c.image, { memoryBytes: 4 * GiB }), (e) => e instanceof ParseError && e.code === c.code && e.field === c.field && e.offset === c.offset);
    });
  }

  it('a setup of exactly the file\'s length is accepted (QEMU: setup_size > kernel_size is the error)', () => {
    expectPatch(modern({ setupSects: 0x0f }), { memoryBytes: 4 * GiB }, recent);
  });

  const inputCases: { name: string; load: QemuKernelLoad; field: string }[] = [
    { name: 'an initrd reaching initrd_max', load: { memoryBytes: 4 * GiB, initrdSize: 0x7ffd7fff }, field: 'initrdSize' },
    { name: 'negative memory', load: { memoryBytes: -1 }, field: 'memoryBytes' },
    { name: 'fractional memory', load: { memoryBytes: 1.5 }, field: 'memoryBytes' },
    { name: 'memory within the ACPI reservation', load: { memoryBytes: 0x28000 }, field: 'memoryBytes' },
    { name: 'a fractional initrd size', load: { memoryBytes: 4 * GiB, initrdSize: 0.5 }, field: 'initrdSize' },
    { name: 'a NUL in the command line', load: { memoryBytes: 4 * GiB, cmdline: 'a\0b' }, field: 'cmdline' },
  ];
  for (const c of inputCases) {
    it(`MEASUREMENT_INPUT for ${c.name}`, () => {
      assert.throws(() => qemuPatchedKernel(modern(), c.load), (e) => e instanceof CloisterError && !(e instanceof ParseError) && e.code === 'MEASUREMENT_INPUT' && e.field === c.field);
    });
  }
  it('an initrd one byte smaller than initrd_max fits (0x7ffd7fff - 0x7ffd7ffe = 1 -> 0)', () => {
    expectPatch(modern(), { memoryBytes: 4 * GiB, initrdSize: 0x7ffd7ffe }, { ...recent, ramdisk_image: 0, ramdisk_size: 0x7ffd7ffe });
  });

  it('arbitrary bytes, bytes with "HdrS", and mutated headers: a patched copy or ParseError, nothing else', () => {
    // No initrd: a random initrd_addr_max would make one too large, which is MEASUREMENT_INPUT, not a parse error.
    const load = { memoryBytes: 4 * GiB };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 0x1200 }), (b) => { onlyParseErrors(() => qemuPatchedKernel(b, load)); }), { numRuns: 200 });
    fc.assert(fc.property(fc.uint8Array({ minLength: 0x208, maxLength: 0x1200 }), fc.integer({ min: 0x200, max: 0xffff }), (b, version) => {
      const image = Buffer.from(b);
      image.write('HdrS', 0x202, 'latin1');
      image.writeUInt16LE(version, 0x206);
      onlyParseErrors(() => {
        const out = qemuPatchedKernel(image, load);
        assert.equal(out.length, image.length);
        assert.equal(out[0x210], 0xb0);
      });
    }), { numRuns: 300 });
    fc.assert(fc.property(edits(0x240), (list) => { onlyParseErrors(() => qemuPatchedKernel(applyEdits(modern(), list), load)); }), { numRuns: 300 });
  });
});

describe('directBootEvents with the qemu option', () => {
  const sha384 = (...parts: Uint8Array[]): string => { const h = createHash('sha384'); for (const p of parts) h.update(p); return h.digest('hex'); };
  /** Authenticode of the synthetic PE: everything but CheckSum (0x98..0x9c); no sections, so the rest is trailing data. */
  const authenticode = (pe: Buffer): string => sha384(pe.subarray(0, 0x98), pe.subarray(0x9c));

  it('hashes the kernel with the patch QEMU applies for this memory, initrd and command line', async () => {
    const kernel = modern();
    const initrd = new Uint8Array(0x2345);
    // Expected image written by hand: 4 GiB -> 0x7ffd7fff - 0x2345 = 0x7ffd5cba -> 0x7ffd5000.
    const patched = Buffer.from(kernel);
    patched[0x210] = 0xb0;
    patched[0x211] = 0x81;
    patched.writeUInt32LE(0x7ffd5000, 0x218);
    patched.writeUInt32LE(0x2345, 0x21c);
    patched.writeUInt16LE(0xfe00, 0x224);
    patched.writeUInt32LE(0x20000, 0x228);
    const [event] = await directBootEvents({ kernel, initrd, append: 'console=hvc0' }, undefined, { qemu: { memoryBytes: 4 * GiB } });
    assert.equal(toHex(event?.digest ?? new Uint8Array()), authenticode(patched));
    assert.match(event?.description ?? '', /QEMU's setup-header patch/);
    const [unpatched] = await directBootEvents({ kernel, initrd, append: 'console=hvc0' });
    assert.equal(toHex(unpatched?.digest ?? new Uint8Array()), authenticode(kernel));
    const [later] = await directBootEvents({ kernel, initrd }, undefined, { qemu: { memoryBytes: 4 * GiB, qemuVersion: '10.2' } });
    assert.equal(toHex(later?.digest ?? new Uint8Array()), authenticode(kernel));
    // Without an initrd the ramdisk fields stay as the file has them.
    const noInitrd = Buffer.from(patched);
    kernel.copy(noInitrd, 0x218, 0x218, 0x220);
    const [bare] = await directBootEvents({ kernel }, undefined, { qemu: { memoryBytes: 4 * GiB } });
    assert.equal(toHex(bare?.digest ?? new Uint8Array()), authenticode(noInitrd));
  });
});
