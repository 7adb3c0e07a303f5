// The emulated tree behaves like the kernel's configfs-tsm (drivers/virt/coco/tsm.c).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmulatedTsm, errnoError, TSM_OUTBLOB_MAX, type EmulatedTsmOptions, type QuoteGenerator } from './emulatedTsm.js';
import { DEFAULT_TSM_REPORT_ROOT } from './tsmFs.js';

const ROOT = '/cfg/tsm/report';
const E = `${ROOT}/e1`;
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const rd = (fill: number): Uint8Array => new Uint8Array(64).fill(fill);

function tree(options: Partial<EmulatedTsmOptions> = {}): { tsm: EmulatedTsm; calls: { reportData: Uint8Array; privlevel: number }[] } {
  const calls: { reportData: Uint8Array; privlevel: number }[] = [];
  const generate: QuoteGenerator = (reportData, privlevel) => {
    calls.push({ reportData, privlevel });
    return { outblob: Uint8Array.from([privlevel, ...reportData]), auxblob: bytes('aux') };
  };
  return { tsm: new EmulatedTsm({ root: ROOT, generate, ...options }), calls };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, code, e.message);
    return true;
  });
}

describe('emulated configfs-tsm tree', () => {
  it('defaults to the kernel root and the sev_guest provider', async () => {
    const tsm = new EmulatedTsm({ generate: () => ({ outblob: new Uint8Array(1) }) });
    assert.equal(tsm.root, DEFAULT_TSM_REPORT_ROOT);
    await tsm.mkdir(`${DEFAULT_TSM_REPORT_ROOT}/x`);
    assert.equal(text(await tsm.readFile(`${DEFAULT_TSM_REPORT_ROOT}/x/provider`)), 'sev_guest\n');
  });

  it('creates an entry on mkdir with generation 0, provider and privlevel_floor', async () => {
    const { tsm } = tree({ privlevelFloor: 1 });
    await tsm.mkdir(E);
    assert.deepEqual(tsm.entries, ['e1']);
    assert.equal(text(await tsm.readFile(`${E}/generation`)), '0\n');
    assert.equal(text(await tsm.readFile(`${E}/provider`)), 'sev_guest\n');
    assert.equal(text(await tsm.readFile(`${E}/privlevel_floor`)), '1\n');
  });

  it('generates outblob and auxblob on read from the current inblob and privlevel, once per generation', async () => {
    const { tsm, calls } = tree();
    await tsm.mkdir(E);
    await tsm.writeFile(`${E}/privlevel`, bytes('2\n'));
    await tsm.writeFile(`${E}/inblob`, rd(7));
    assert.equal(tsm.generationOf('e1'), 2);
    const out = await tsm.readFile(`${E}/outblob`);
    assert.deepEqual(out, Uint8Array.from([2, ...rd(7)]));
    assert.equal(text(await tsm.readFile(`${E}/auxblob`)), 'aux');
    await tsm.readFile(`${E}/outblob`);
    assert.equal(calls.length, 1, 'cached while the generation is unchanged');
    await tsm.writeFile(`${E}/inblob`, rd(8));
    assert.deepEqual(await tsm.readFile(`${E}/outblob`), Uint8Array.from([2, ...rd(8)]));
    assert.equal(calls.length, 2);
    assert.equal(text(await tsm.readFile(`${E}/generation`)), '3\n');
  });

  it('removes entries on rmdir', async () => {
    const { tsm } = tree();
    await tsm.mkdir(E);
    await tsm.rmdir(E);
    assert.deepEqual(tsm.entries, []);
    await rejectsWith(tsm.readFile(`${E}/generation`), 'ENOENT');
  });

  const errorCases: { name: string; options?: Partial<EmulatedTsmOptions>; run: (t: EmulatedTsm) => Promise<unknown>; code: string }[] = [
    { name: 'mkdir with no provider registered', options: { provider: null }, run: (t) => t.mkdir(E), code: 'ENXIO' },
    { name: 'mkdir when configfs-tsm is absent', options: { mounted: false }, run: (t) => t.mkdir(E), code: 'ENOENT' },
    { name: 'mkdir in a denied root', options: { denied: [ROOT] }, run: (t) => t.mkdir(E), code: 'EACCES' },
    { name: 'mkdir of an existing entry', run: async (t) => t.mkdir(E).then(() => t.mkdir(E)), code: 'EEXIST' },
    { name: 'mkdir inside an entry', run: async (t) => t.mkdir(E).then(() => t.mkdir(`${E}/sub`)), code: 'EPERM' },
    { name: 'mkdir outside the report group', run: (t) => t.mkdir('/cfg/tsm/other'), code: 'EPERM' },
    { name: 'mkdir under an attribute', run: async (t) => t.mkdir(E).then(() => t.mkdir(`${E}/inblob/x`)), code: 'ENOTDIR' },
    { name: 'rmdir of a missing entry', run: (t) => t.rmdir(E), code: 'ENOENT' },
    { name: 'rmdir of the report group', run: (t) => t.rmdir(ROOT), code: 'EPERM' },
    { name: 'rmdir of an attribute', run: async (t) => t.mkdir(E).then(() => t.rmdir(`${E}/inblob`)), code: 'ENOTDIR' },
    { name: 'inblob over 64 bytes', run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/inblob`, new Uint8Array(65))), code: 'EFBIG' },
    { name: 'privlevel below the floor', options: { privlevelFloor: 1 }, run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/privlevel`, bytes('0'))), code: 'EINVAL' },
    { name: 'privlevel above 3', run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/privlevel`, bytes('4'))), code: 'EINVAL' },
    { name: 'privlevel not a number', run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/privlevel`, bytes('one'))), code: 'EINVAL' },
    { name: 'outblob before any inblob', run: async (t) => t.mkdir(E).then(() => t.readFile(`${E}/outblob`)), code: 'EINVAL' },
    { name: 'auxblob before any inblob', run: async (t) => t.mkdir(E).then(() => t.readFile(`${E}/auxblob`)), code: 'EINVAL' },
    { name: 'sev_guest with a short inblob', run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/inblob`, new Uint8Array(32))).then(() => t.readFile(`${E}/outblob`)), code: 'EINVAL' },
    { name: 'reading write-only inblob', run: async (t) => t.mkdir(E).then(() => t.readFile(`${E}/inblob`)), code: 'EACCES' },
    { name: 'writing read-only outblob', run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/outblob`, rd(1))), code: 'EACCES' },
    { name: 'writing generation', run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/generation`, bytes('9'))), code: 'EACCES' },
    { name: 'reading a directory', run: (t) => t.readFile(ROOT), code: 'EISDIR' },
    { name: 'reading an unknown attribute', run: async (t) => t.mkdir(E).then(() => t.readFile(`${E}/certs`)), code: 'ENOENT' },
    { name: 'tdx_guest has no privlevel', options: { provider: 'tdx_guest' }, run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/privlevel`, bytes('0'))), code: 'ENOENT' },
    { name: 'tdx_guest has no auxblob', options: { provider: 'tdx_guest' }, run: async (t) => t.mkdir(E).then(() => t.readFile(`${E}/auxblob`)), code: 'ENOENT' },
    { name: 'a denied attribute', options: { denied: [`${E}/provider`] }, run: async (t) => t.mkdir(E).then(() => t.readFile(`${E}/provider`)), code: 'EACCES' },
    {
      name: 'firmware failure from the generator',
      options: {
        generate: () => {
          throw errnoError('EIO', 'read', 'outblob');
        },
      },
      run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/inblob`, rd(1))).then(() => t.readFile(`${E}/outblob`)),
      code: 'EIO',
    },
    {
      name: 'outblob over 32 KiB',
      options: { generate: () => ({ outblob: new Uint8Array(TSM_OUTBLOB_MAX + 1) }) },
      run: async (t) => t.mkdir(E).then(() => t.writeFile(`${E}/inblob`, rd(1))).then(() => t.readFile(`${E}/outblob`)),
      code: 'EFBIG',
    },
  ];
  for (const c of errorCases) {
    it(`fails like the kernel: ${c.name} -> ${c.code}`, async () => {
      const { tsm } = tree(c.options);
      await rejectsWith(c.run(tsm), c.code);
    });
  }

  it('does not count rejected or empty writes in generation', async () => {
    const { tsm } = tree();
    await tsm.mkdir(E);
    await rejectsWith(tsm.writeFile(`${E}/privlevel`, bytes('9')), 'EINVAL');
    await rejectsWith(tsm.writeFile(`${E}/inblob`, new Uint8Array(65)), 'EFBIG');
    await tsm.writeFile(`${E}/inblob`, new Uint8Array(0));
    assert.equal(tsm.generationOf('e1'), 0);
  });

  it('shows only the attributes the provider makes visible', async () => {
    const { tsm } = tree({ provider: 'tdx_guest' });
    await tsm.mkdir(E);
    for (const a of ['generation', 'provider', 'inblob', 'outblob']) await tsm.access(`${E}/${a}`, 'exists');
    for (const a of ['privlevel', 'privlevel_floor', 'auxblob']) await rejectsWith(tsm.access(`${E}/${a}`, 'exists'), 'ENOENT');
    await rejectsWith(tsm.access(`${E}/outblob`, 'read-write'), 'EACCES');
    await rejectsWith(tsm.access(`${E}/inblob`, 'read'), 'EACCES');
    await tsm.access(`${E}/outblob`, 'read');
  });

  it('emulates other paths such as device nodes, with permissions', async () => {
    const { tsm } = tree({ devices: ['/dev/sev-guest', '/dev/tdx_guest'], denied: ['/dev/tdx_guest'] });
    await tsm.access('/dev/sev-guest', 'read-write');
    await tsm.access('/dev/tdx_guest', 'exists');
    await rejectsWith(tsm.access('/dev/tdx_guest', 'read-write'), 'EACCES');
    await rejectsWith(tsm.access('/dev/nothing', 'exists'), 'ENOENT');
    await rejectsWith(tsm.readFile('/dev/sev-guest'), 'ENODEV');
    await tsm.access('/dev', 'exists');
  });

  it('lets another process write between a write and a read (simulateRacingWriter)', async () => {
    const { tsm, calls } = tree();
    tsm.simulateRacingWriter(1, rd(0xaa));
    await tsm.mkdir(E);
    await tsm.writeFile(`${E}/inblob`, rd(1));
    const out = await tsm.readFile(`${E}/outblob`);
    assert.deepEqual(out.subarray(1), rd(0xaa), 'the report binds the other writer\'s data');
    assert.equal(tsm.generationOf('e1'), 2);
    assert.equal(calls.length, 1);
    await tsm.writeFile(`${E}/inblob`, rd(2));
    assert.deepEqual((await tsm.readFile(`${E}/outblob`)).subarray(1), rd(2), 'only the first read races');
  });

  it('regenerates when a write lands while a report is being generated', async () => {
    let release: () => void = () => undefined;
    let n = 0;
    const tsm = new EmulatedTsm({
      root: ROOT,
      generate: async (reportData) => {
        n++;
        if (n === 1) await new Promise<void>((resolve) => (release = resolve));
        return { outblob: reportData };
      },
    });
    await tsm.mkdir(E);
    await tsm.writeFile(`${E}/inblob`, rd(1));
    const first = tsm.readFile(`${E}/outblob`);
    await new Promise((resolve) => setImmediate(resolve));
    await tsm.writeFile(`${E}/inblob`, rd(2));
    release();
    assert.deepEqual(await first, rd(1));
    assert.deepEqual(await tsm.readFile(`${E}/outblob`), rd(2));
    assert.equal(n, 2);
  });

  it('builds errors like node:fs', () => {
    const e = errnoError('ENOENT', 'open', '/x');
    assert.equal(e.code, 'ENOENT');
    assert.equal(e.errno, -2);
    assert.equal(e.syscall, 'open');
    assert.equal(e.path, '/x');
    assert.equal(errnoError('ENOTANERRNO', 'open', '/x').errno, undefined);
  });

  it('logs every operation', async () => {
    const { tsm } = tree();
    await tsm.mkdir(`${E}/`);
    await tsm.rmdir(E);
    assert.deepEqual(tsm.operations, [`mkdir ${E}`, `rmdir ${E}`]);
  });
});
