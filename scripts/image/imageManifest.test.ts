import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manifestProblems, IMAGE_SCHEMA, type ImageManifest } from './imageManifest.js';
import { cmdlineOf } from './buildImage.js';
import { droppedDependency, keptDist } from './appStage.js';
import { moduleDepends } from './debPackages.js';

const H = 'c'.repeat(64);
const GOOD: ImageManifest = {
  schema: IMAGE_SCHEMA,
  variant: 'test',
  inputs: [{ name: 'linux-image-6.12.117+deb13-cloud-amd64', kind: 'deb', version: '6.12.117-1', sha256: H, source: 'http://deb.debian.org/debian/pool/main/l/x.deb' }],
  outputs: {
    kernel: { file: 'vmlinuz', sha256: H, bytes: 1 },
    initrd: { file: 'initramfs.cpio.gz', sha256: H, bytes: 2 },
    cmdline: 'console=ttyS0 cloister.simulated=1',
    firmware: { 'sev-snp': { file: '../../firmware/OVMF.amdsev.fd', sha256: H } },
  },
};

describe('image-manifest.json (cloister-image/v1)', () => {
  it('has the contract shape', () => {
    assert.deepEqual(manifestProblems(GOOD), []);
  });

  const broken: readonly [string, unknown, RegExp][] = [
    ['another variant', { ...GOOD, variant: 'debug' }, /\$\.variant/],
    ['no inputs', { ...GOOD, inputs: [] }, /\$\.inputs/],
    ['an unknown input kind', { ...GOOD, inputs: [{ ...GOOD.inputs[0], kind: 'curl' }] }, /\$\.inputs\[0\]\.kind/],
    ['a kernel without bytes', { ...GOOD, outputs: { ...GOOD.outputs, kernel: { file: 'vmlinuz', sha256: H } } }, /\$\.outputs\.kernel\.bytes/],
    ['a two-line command line', { ...GOOD, outputs: { ...GOOD.outputs, cmdline: 'a\nb' } }, /\$\.outputs\.cmdline/],
    ['unknown firmware', { ...GOOD, outputs: { ...GOOD.outputs, firmware: { sgx: { file: 'x', sha256: H } } } }, /\$\.outputs\.firmware\.sgx/],
  ];
  for (const [name, json, pattern] of broken) it(`refuses ${name}`, () => {
      assert.match(manifestProblems(json).join('; '), pattern);
    });

  it('the test variant differs only by cloister.simulated=1 at the end of the command line', () => {
    assert.equal(cmdlineOf('console=ttyS0 rdinit=/init', 'production'), 'console=ttyS0 rdinit=/init');
    assert.equal(cmdlineOf('console=ttyS0 rdinit=/init', 'test'), 'console=ttyS0 rdinit=/init cloister.simulated=1');
  });
});

describe('what the image takes', () => {
  it('onnxruntime-node: the linux x64 CPU binding only', () => {
    assert.equal(droppedDependency('onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1'), false);
    assert.equal(droppedDependency('onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'), true);
    for (const p of ['onnxruntime-node/bin/napi-v6/linux/arm64', 'onnxruntime-node/bin/napi-v6/darwin', 'onnxruntime-node/bin/napi-v6/win32', '.bin', 'pino/node_modules/.bin', '.package-lock.json']) assert.equal(droppedDependency(p), true, p);
    assert.equal(droppedDependency('fastify/fastify.js'), false);
  });

  it('dist/: runtime JavaScript, no tests, maps, declarations, test support, benchmarks or scripts', () => {
    assert.equal(keptDist('src/cli/main.js'), true);
    assert.equal(keptDist('attestation/snp/report.js'), true);
    for (const p of ['src/cli/main.test.js', 'src/cli/main.js.map', 'src/cli/main.d.ts', 'src/testing/cliRun.js', 'attestation/testing/errorRegistry.js', 'bench/run.js', 'scripts/image/cpio.js']) assert.equal(keptDist(p), false, p);
  });

  it('reads a module\'s dependencies from its .modinfo strings', () => {
    const ko = Buffer.from('\x7fELF....\0license=GPL\0depends=tsm,configfs\0intree=Y\0');
    assert.deepEqual(moduleDepends(ko), ['tsm', 'configfs']);
    assert.deepEqual(moduleDepends(Buffer.from('\0depends=\0')), []);
  });
});
