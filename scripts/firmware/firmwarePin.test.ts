import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { RuntimeError } from '../../src/base/runtimeErrors.js';
import { canonicalJson, parseFirmwarePin, recipeDigest, RECIPE_VERSION } from './firmwarePin.js';
import { assertToolchain, toolchainDifference } from './toolchain.js';
import { workspaceDirectory } from './edk2Build.js';

const root = new URL('../../../', import.meta.url);
const pinJson = (): Record<string, unknown> => JSON.parse(readFileSync(new URL('image/firmware.json', root), 'utf8')) as Record<string, unknown>;
const clone = <T>(v: T): T => structuredClone(v);

/** Sets the value at a dotted path (array indexes as numbers) in a copy of the pin. */
function mutate(path: string, value: unknown): Record<string, unknown> {
  const pin = clone(pinJson());
  const keys = path.split('.');
  let at: Record<string, unknown> = pin;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = keys[keys.length - 1] ?? '';
  if (value === undefined) Reflect.deleteProperty(at, last);
  else at[last] = value;
  return pin;
}

const badFields = (input: unknown): string => {
  try {
    parseFirmwarePin(input);
  } catch (e) {
    assert.ok(e instanceof CloisterError);
    assert.equal(e.code, 'MALFORMED_FIELD');
    return e.field ?? '';
  }
  assert.fail('the pin was accepted');
};

describe('image/firmware.json', () => {
  it('parses, pins trixie edk2 2025.02 and both platforms, and comes back frozen', () => {
    const pin = parseFirmwarePin(pinJson());
    assert.equal(pin.source.package, 'edk2');
    assert.match(pin.source.version, /^2025\.02-/);
    assert.deepEqual(pin.source.files.map((f) => f.role), ['dsc', 'orig', 'debian']);
    assert.deepEqual(pin.platforms.map((p) => [p.tee, p.dsc, p.output]), [
      ['sev-snp', 'OvmfPkg/AmdSev/AmdSevX64.dsc', 'OVMF.amdsev.fd'],
      ['tdx', 'OvmfPkg/IntelTdx/IntelTdxX64.dsc', 'OVMF.inteltdx.fd'],
    ]);
    assert.deepEqual([pin.build.arch, pin.build.toolchain, pin.build.target], ['X64', 'GCC5', 'RELEASE']);
    assert.ok(Object.isFrozen(pin) && Object.isFrozen(pin.source.files[0]));
  });

  const cases: [string, unknown, RegExp][] = [
    ['schema', 'v0', /\$\.schema/],
    ['source.version', 'has space', /\$\.source\.version/],
    ['source.pool', 'ftp://x', /\$\.source\.pool/],
    ['source.topDirectory', '../up', /\$\.source\.topDirectory/],
    ['source.files.1.sha256', 'B63B', /\$\.source\.files\[1\]\.sha256/],
    ['source.files.1.name', '../etc/passwd', /\$\.source\.files\[1\]\.name/],
    ['source.files.2.role', 'orig', /\$\.source\.files\[2\]\.role|role orig, expected 1/],
    ['source.files.0.bytes', 0, /\$\.source\.files\[0\]\.bytes/],
    ['sourceDateEpoch', '1762625177', /\$\.sourceDateEpoch/],
    ['build.target', 'FAST', /\$\.build\.target/],
    ['build.workspacePathLength', 10, /\$\.build\.workspacePathLength/],
    ['build.flags', ['-p', 'Other.dsc'], /\$\.build\.flags\[0\].*\$\.build\.flags\[1\]/],
    ['platforms.0.dsc', '/abs/AmdSevX64.dsc', /\$\.platforms\[0\]\.dsc/],
    ['platforms.0.dsc', 'OvmfPkg/../../x.dsc', /\$\.platforms\[0\]\.dsc/],
    ['platforms.1.output', 'OVMF.amdsev.fd', /\$\.platforms\[1\]\.output \(repeated\)/],
    ['platforms.1.tee', 'sgx', /\$\.platforms\[1\]\.tee/],
    ['platforms', [], /\$\.platforms \(empty\)/],
    ['toolchain.gccVersion', '12', /\$\.toolchain\.gccVersion/],
    ['toolchain.packages', { 'gcc-12': 12 }, /\$\.toolchain\.packages\.gcc-12/],
  ];
  for (const [path, value, field] of cases) {
    it(`refuses ${path} = ${JSON.stringify(value)}`, () => {
      assert.match(badFields(mutate(path, value)), field);
    });
  }

  it('lists every bad field at once', () => {
    const pin = mutate('sourceDateEpoch', -1);
    (pin.build as Record<string, unknown>).target = 'FAST';
    assert.equal(badFields(pin), '$.sourceDateEpoch,$.build.target');
  });

  it('refuses what is not an object', () => {
    assert.equal(badFields([]), '$');
    assert.equal(badFields(null), '$');
  });

  it('accepts -D and --pcd= flags', () => {
    assert.doesNotThrow(() => parseFirmwarePin(mutate('build.flags', ['-DDEBUG_ON_SERIAL_PORT=TRUE', '--pcd=PcdFoo=0x1'])));
  });
});

describe('recipeDigest', () => {
  const pin = parseFirmwarePin(pinJson());
  const digest = recipeDigest(pin);

  it('is 64 hex, independent of key order, whitespace and comments', () => {
    assert.match(digest, /^[0-9a-f]{64}$/);
    const reversed = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reversed) : typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)])) : v;
    const reordered = reversed(pinJson());
    assert.notEqual(JSON.stringify(reordered), JSON.stringify(pinJson()));
    const commented = mutate('comment', 'another comment');
    assert.equal(recipeDigest(parseFirmwarePin(reordered)), digest);
    assert.equal(recipeDigest(parseFirmwarePin(commented)), digest);
    assert.equal(recipeDigest(parseFirmwarePin(mutate('source.files.1.bytes', 1))), digest, 'byte counts are informative; the sha256 names the file');
  });

  it('changes with every field that reaches the bytes', () => {
    const changed = [
      mutate('source.files.1.sha256', '0'.repeat(64)),
      mutate('source.version', '2025.02-9'),
      mutate('sourceDateEpoch', 1),
      mutate('build.flags', ['-DSECURE_BOOT_ENABLE=TRUE']),
      mutate('build.workspacePathLength', 201),
      mutate('platforms.0.emptyGrub', false),
      mutate('toolchain.gccVersion', '12.2.1'),
      mutate('toolchain.packages', { nasm: '2.16.01-1' }),
    ].map((p) => recipeDigest(parseFirmwarePin(p)));
    assert.equal(new Set([digest, ...changed]).size, changed.length + 1);
  });

  it('covers the recipe version', () => {
    assert.equal(RECIPE_VERSION, 2, 'bump RECIPE_VERSION when the build logic changes the bytes, and this test with it');
  });

  it('canonicalJson sorts keys at every depth and keeps array order', () => {
    assert.equal(canonicalJson({ b: [2, { d: 1, c: 'x' }], a: null }), '{"a":null,"b":[2,{"c":"x","d":1}]}');
  });
});

describe('workspaceDirectory', () => {
  it('pads the work directory so the source tree path has the pinned length, wherever the cache is', () => {
    for (const root of ['/c/firmware/d', '/a/much/longer/cache/directory/firmware/0123456789abcdef']) {
      const dir = workspaceDirectory(root, 'edk2-2025.02', 120);
      assert.ok(dir.startsWith(`${root}/w`));
      assert.equal(`${dir}/edk2-2025.02`.length, 120);
    }
  });

  it('refuses a build root too long for the length, naming CLOISTER_CACHE_DIR', () => {
    assert.throws(() => workspaceDirectory('/x'.repeat(80), 'edk2-2025.02', 120), (e: unknown) => e instanceof RuntimeError && e.code === 'FIRMWARE_BUILD_FAILED' && e.message.includes('CLOISTER_CACHE_DIR'));
  });
});

describe('the toolchain check', () => {
  const expected = parseFirmwarePin(pinJson()).toolchain;
  const found = { packages: { ...expected.packages }, gccVersion: expected.gccVersion };

  it('passes when every version matches', () => {
    assert.equal(toolchainDifference(expected, found), undefined);
    assert.doesNotThrow(() => { assertToolchain(expected, found); });
  });

  it('names every difference in one line', () => {
    const line = toolchainDifference(expected, { packages: { ...found.packages, nasm: '2.16.03-1', 'acpica-tools': undefined }, gccVersion: '14.2.0' });
    assert.equal(
      line,
      'toolchain differs from image/firmware.json: nasm 2.16.03-1 (pinned 2.16.01-1); acpica-tools not installed (pinned 20200925-8); gcc is 14.2.0 (pinned 12.2.0); build on Debian bookworm with these versions, or re-pin the toolchain on purpose',
    );
    assert.ok(!line.includes('\n'));
  });

  it('throws TOOLCHAIN_MISMATCH with that line', () => {
    assert.throws(() => { assertToolchain(expected, { ...found, gccVersion: undefined }); }, (e: unknown) => e instanceof RuntimeError && e.code === 'TOOLCHAIN_MISMATCH' && /gcc is missing \(pinned 12\.2\.0\)/.test(e.message));
  });
});
