// The hardening checklist over entry lists built here (the image's cpio reader is tested with the image build):
// a clean image passes, and each violation fails with its named finding (the proof: /bin/sh added).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkImage, notStaticElf, type CheckImageOptions, type ImageEntry } from './hardening.js';

/** A minimal static ELF64 executable header: ET_EXEC, one PT_LOAD program header. */
function elf(interp = false): Uint8Array {
  const b = new Uint8Array(0x40 + 2 * 0x38);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  const v = new DataView(b.buffer);
  v.setUint16(0x10, 2, true);
  v.setBigUint64(0x20, 0x40n, true);
  v.setUint16(0x36, 0x38, true);
  v.setUint16(0x38, 2, true);
  v.setUint32(0x40, 1, true);
  v.setUint32(0x40 + 0x38, interp ? 3 : 1, true);
  return b;
}

const INIT = elf();
const sha256 = (d: Uint8Array): string => createHash('sha256').update(d).digest('hex');
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const file = (path: string, data: Uint8Array = new Uint8Array(), mode = 0o644): ImageEntry => ({ path, mode, data, kind: 'file' });
const dir = (path: string, mode = 0o755): ImageEntry => ({ path, mode, data: new Uint8Array(), kind: 'dir' });
const PRODUCTION = 'console=ttyS0 quiet panic=-1';

const clean = (): ImageEntry[] => [
  dir('.'), dir('app'), dir('dev'), dir('proc'), dir('sys'), dir('tmp', 0o755),
  file('init', INIT, 0o755),
  { path: 'dev/console', mode: 0o600, data: new Uint8Array(), kind: 'char' },
  file('app/node', elf(true), 0o755),
  file('app/package.json', text(JSON.stringify({ dependencies: { fastify: '5' }, devDependencies: { typescript: '6', '@types/node': '24' } }))),
  dir('app/node_modules'), dir('app/node_modules/fastify'), dir('app/node_modules/@types'),
  file('app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1', new Uint8Array(), 0o755),
  file('app/dist/src/cli/main.js', text('// main')),
];

const options = (over: Partial<CheckImageOptions> = {}): CheckImageOptions => ({
  entries: clean(), cmdline: PRODUCTION, manifest: { variant: 'production', inputs: [{ name: 'init', sha256: sha256(INIT) }] }, ...over,
});

const checksOf = (o: CheckImageOptions): string[] => [...new Set(checkImage(o).map((f) => f.check))];

describe('hardening checklist', () => {
  it('passes a clean image, and the test variant differing only by cloister.simulated=1', () => {
    assert.deepEqual(checkImage(options()), []);
    assert.deepEqual(checkImage(options({ cmdline: `${PRODUCTION} cloister.simulated=1`, manifest: { variant: 'test', outputs: { init: { sha256: sha256(INIT) } } }, productionCmdline: PRODUCTION })), []);
  });

  it('fails NO_SHELL when /bin/sh is added (the issue\'s proof)', () => {
    const findings = checkImage(options({ entries: [...clean(), dir('bin'), file('bin/sh', elf(true), 0o755)] }));
    assert.deepEqual(findings, [{ check: 'NO_SHELL', path: '/bin/sh', message: '/bin/sh: a shell or interpreter' }]);
  });

  const violations: [string, Partial<CheckImageOptions> | ImageEntry, string][] = [
    ['busybox', file('bin/busybox', new Uint8Array(), 0o755), 'NO_SHELL'],
    ['a python symlink', { path: 'usr/bin/python3.11', mode: 0o777, data: text('python3'), kind: 'symlink' }, 'NO_SHELL'],
    ['sshd', file('usr/sbin/sshd', new Uint8Array(), 0o755), 'NO_LOGIN'],
    ['getty', file('sbin/getty', new Uint8Array(), 0o755), 'NO_LOGIN'],
    ['npm', file('app/node_modules/.bin/npm', new Uint8Array(), 0o755), 'NO_PACKAGE_MANAGER'],
    ['dpkg state', dir('var/lib/dpkg'), 'NO_PACKAGE_MANAGER'],
    ['a setuid file', file('app/helper', new Uint8Array(), 0o4755), 'NO_SETUID'],
    ['a world-writable file', file('app/data', new Uint8Array(), 0o666), 'NO_WORLD_WRITABLE'],
    ['a world-writable /tmp in the image', dir('tmp2', 0o1777), 'NO_WORLD_WRITABLE'],
    ['a devDependency', dir('app/node_modules/@types/node'), 'NO_DEV_DEPENDENCIES'],
    ['the CUDA provider', file('app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'), 'NO_GPU_PROVIDERS'],
    ['a disk root', { cmdline: `${PRODUCTION} root=/dev/vda1` }, 'CMDLINE_NO_DISK'],
    ['resume from swap', { cmdline: `${PRODUCTION} resume=/dev/vda2` }, 'CMDLINE_NO_DISK'],
    ['another init', { cmdline: `${PRODUCTION} init=/bin/sh` }, 'CMDLINE_INIT'],
    ['another rdinit', { cmdline: `${PRODUCTION} rdinit=/sbin/init` }, 'CMDLINE_INIT'],
    ['debug on production', { cmdline: `${PRODUCTION} debug` }, 'CMDLINE_NO_DEBUG'],
    ['earlyprintk on production', { cmdline: `earlyprintk=serial ${PRODUCTION}` }, 'CMDLINE_NO_DEBUG'],
    ['simulated on production', { cmdline: `${PRODUCTION} cloister.simulated=1` }, 'CMDLINE_NO_DEBUG'],
    ['a test variant with more', { cmdline: `${PRODUCTION} loglevel=8 cloister.simulated=1`, manifest: { variant: 'test', inputs: [{ name: 'init', sha256: sha256(INIT) }] }, productionCmdline: PRODUCTION }, 'VARIANT'],
    ['a test variant without the flag', { manifest: { variant: 'test', inputs: [{ name: 'init', sha256: sha256(INIT) }] } }, 'VARIANT'],
    ['an init not ours', { manifest: { variant: 'production', inputs: [{ name: 'init', sha256: '00'.repeat(32) }] } }, 'INIT'],
    ['no init in the manifest', { manifest: { variant: 'production' } }, 'INIT'],
  ];
  for (const [name, change, check] of violations) {
    it(`fails ${check} for ${name}`, () => {
      const o = 'kind' in change ? options({ entries: [...clean(), change] }) : options(change);
      assert.deepEqual(checksOf(o), [check]);
    });
  }

  it('fails INIT for a missing, dynamic, non-ELF or non-executable /init', () => {
    const without = clean().filter((e) => e.path !== 'init');
    assert.match(checkImage(options({ entries: without }))[0]?.message ?? '', /does not exist/);
    const dynamic = elf(true);
    const findings = checkImage(options({ entries: [...without, file('init', dynamic, 0o644)], manifest: { variant: 'production', inputs: [{ name: 'init', sha256: sha256(dynamic) }] } }));
    assert.deepEqual(findings.map((f) => f.message), ['/init is not executable (mode 644)', '/init is not a static ELF executable: dynamically linked (has a PT_INTERP program interpreter)']);
    assert.equal(notStaticElf(text('#!/bin/sh\n')), 'not an ELF file');
    assert.equal(notStaticElf(INIT), undefined);
  });
});
