// The architecture's import rules, read from the sources (docs/architecture.md "Layers"):
//   - attestation/ (the SDK) never imports src/ or bench/, tests included;
//   - src/ is layered, and a module imports only from its own folder and the layers below it:
//       base  <  tee, ohttp, relay, privacypass, transparency  <  inference, fleet  <  server  <  cli
//     src/testing/ is test support: it may import anything, and only tests (and benchmarks) import it;
//   - bench/ reaches attestation/ and src/ only through their public entry points (index.ts files) and
//     test support;
//   - scripts/ (the image build, run on the build host) is imported only by src/cli/ (the `cloister image`
//     command, lazily) and by itself: the image's own dist/ leaves scripts/ out, so nothing the server loads
//     may reach it;
//   - web/ (the verify page, built into a static bundle) imports only the SDK and itself: what runs in the browser
//     is attestation/ and the page.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The rank of each src/ folder; a module may import from its own folder or a lower rank. */
export const SRC_LAYERS: Readonly<Record<string, number>> = { base: 0, tee: 1, ohttp: 1, relay: 1, privacypass: 1, transparency: 1, inference: 2, fleet: 2, server: 3, cli: 4 };

export interface Import {
  /** Repository-relative path of the importing file. */
  readonly from: string;
  /** Repository-relative path the specifier resolves to. */
  readonly to: string;
}

const isTest = (file: string): boolean => file.endsWith('.test.ts');
const top = (file: string): string => file.split('/')[0] ?? '';
const srcFolder = (file: string): string | undefined => (top(file) === 'src' ? file.split('/')[1] : undefined);
const isTesting = (file: string): boolean => /^(attestation|src)\/(.*\/)?testing\//.test(file);
const isEntryPoint = (file: string): boolean => file.endsWith('/index.ts');

/** Every rule an import breaks, in words (empty when it breaks none). */
export function violations({ from, to }: Import): string[] {
  const out: string[] = [];
  if (to === '(computed)') return [`${from} imports a computed specifier: the rules cannot follow it`];
  if (top(from) === 'attestation' && (top(to) === 'src' || top(to) === 'bench')) out.push(`${from} imports ${to}: the SDK never imports ${top(to)}/`);
  const fromFolder = srcFolder(from);
  const toFolder = srcFolder(to);
  if (fromFolder !== undefined && toFolder !== undefined && fromFolder !== toFolder && fromFolder !== 'testing') {
    if (toFolder === 'testing') {
      if (!isTest(from)) out.push(`${from} imports ${to}: only tests use src/testing/`);
    } else {
      const a = SRC_LAYERS[fromFolder];
      const b = SRC_LAYERS[toFolder];
      if (a === undefined) out.push(`${from}: src/${fromFolder}/ is not a known layer (add it to SRC_LAYERS and docs/architecture.md)`);
      else if (b === undefined) out.push(`${from} imports ${to}: src/${toFolder}/ is not a known layer`);
      else if (b >= a) out.push(`${from} imports ${to}: src/${fromFolder}/ (layer ${a}) may import only from layers below it, and src/${toFolder}/ is layer ${b}`);
    }
  }
  if (top(to) === 'scripts' && top(from) !== 'scripts' && !from.startsWith('src/cli/')) out.push(`${from} imports ${to}: only src/cli/ imports the build scripts/ (they are not in the image)`);
  if (top(from) === 'web' && top(to) !== 'web' && top(to) !== 'attestation') out.push(`${from} imports ${to}: the verify page imports only attestation/ and web/ (it runs in browsers)`);
  if (top(from) === 'bench' && (top(to) === 'src' || top(to) === 'attestation') && !isEntryPoint(to) && !isTesting(to)) {
    out.push(`${from} imports ${to}: benchmarks use public entry points (an index.ts) or test support`);
  }
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The module specifiers a source names: static imports and re-exports (`from`), side-effect imports,
 * and dynamic `import()`, in any quotes. A dynamic import of anything but a literal is returned as
 * `(computed)`, which no rule allows: where it leads cannot be read.
 */
export function specifiersOf(text: string): string[] {
  const literal = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)(['"`])([^'"`$]+)\1/gm;
  const computed = /\bimport\s*\((?!\s*['"`][^'"`$]+['"`]\s*[,)])/g;
  return [...[...text.matchAll(literal)].map((m) => m[2] ?? ''), ...[...text.matchAll(computed)].map(() => '(computed)')];
}

/** The relative imports of the project's own TypeScript, resolved to repository paths. */
export function projectImports(): Import[] {
  // This file's own examples of imports are strings, not imports.
  return ['attestation', 'src', 'bench', 'scripts', 'web'].flatMap(sources).filter((f) => f !== 'attestation/importRules.test.ts').flatMap((from) => {
    const specifiers = specifiersOf(readFileSync(join(ROOT, from), 'utf8')).filter((s) => s.startsWith('.') || s === '(computed)');
    return specifiers.map((s) => ({ from, to: s === '(computed)' ? s : relative(ROOT, normalize(join(ROOT, dirname(from), s))).replace(/\.js$/, '.ts') }));
  });
}

describe('import rules', () => {
  const imports = projectImports();

  it('reads the imports of every part of the tree', () => {
    for (const part of ['attestation/', 'src/base/', 'src/tee/', 'src/ohttp/', 'src/relay/', 'src/inference/', 'src/server/', 'src/cli/', 'bench/', 'scripts/', 'web/']) {
      assert.ok(imports.some((i) => i.from.startsWith(part)), `no imports read under ${part}`);
    }
  });

  it('every import keeps the rules', () => {
    assert.deepEqual(imports.flatMap(violations), []);
  });

  it('no two modules share a name, but entry points (index.ts) and the files SEV-SNP and TDX keep in step (snp/, tdx/)', () => {
    const modules = ['attestation', 'src', 'bench', 'web'].flatMap(sources).filter((f) => !isTest(f) && !isEntryPoint(f));
    const byName = new Map<string, string[]>();
    for (const f of modules) byName.set(f.split('/').at(-1) ?? f, [...(byName.get(f.split('/').at(-1) ?? f) ?? []), f]);
    const platformPair = (files: readonly string[]): boolean => files.length === 2 && files.every((f) => /^attestation\/(snp|tdx)\/[^/]+$/.test(f)) && files[0]?.slice(15) === files[1]?.slice(15);
    assert.deepEqual([...byName.values()].filter((files) => files.length > 1 && !platformPair(files)), []);
  });

  it('every src/ folder is a known layer or test support', () => {
    const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    assert.deepEqual(folders.filter((f) => f !== 'testing' && SRC_LAYERS[f] === undefined), []);
  });

  // The rules catch what they are meant to: each row breaks one.
  const broken: readonly [string, Import, RegExp][] = [
    ['the SDK importing the server', { from: 'attestation/snp/verify.ts', to: 'src/base/log.ts' }, /the SDK never imports src\//],
    ['an SDK test importing the server', { from: 'attestation/snp/verify.test.ts', to: 'src/cli/io.ts' }, /the SDK never imports src\//],
    ['the bottom layer importing a feature', { from: 'src/base/memory/wipe.ts', to: 'src/inference/sessions.ts' }, /layer 0.*layer 2/],
    ['a feature importing its sibling', { from: 'src/ohttp/gateway.ts', to: 'src/tee/provider.ts' }, /layer 1.*layer 1/],
    ['a feature importing the server', { from: 'src/relay/relay.ts', to: 'src/server/app.ts' }, /layer 1.*layer 3/],
    ['a feature test importing the CLI', { from: 'src/ohttp/keyStore.test.ts', to: 'src/cli/serveCommand.ts' }, /layer 1.*layer 4/],
    ['library code importing test support', { from: 'src/inference/routes.ts', to: 'src/testing/freeWatch.ts' }, /only tests use src\/testing/],
    ['a benchmark importing an internal module', { from: 'bench/inference.ts', to: 'src/inference/routes.ts' }, /public entry points/],
    ['the server importing the image build', { from: 'src/server/app.ts', to: 'scripts/image/buildImage.ts' }, /only src\/cli\/ imports the build scripts/],
    ['the SDK importing the image build', { from: 'attestation/index.ts', to: 'scripts/image/cpio.ts' }, /only src\/cli\/ imports the build scripts/],
    ['the verify page importing the server', { from: 'web/src/verifyPage.ts', to: 'src/relay/relay.ts' }, /the verify page imports only attestation/],
    ['an unknown src/ folder', { from: 'src/extra/thing.ts', to: 'src/base/log.ts' }, /not a known layer/],
  ];
  for (const [what, imp, message] of broken) {
    it(`catches ${what}`, () => {
      const found = violations(imp);
      assert.equal(found.length, 1, found.join('; '));
      assert.match(found[0] ?? '', message);
    });
  }
  it('reads every form an import takes', () => {
    const text = [
      "import { a } from '../a.js';",
      'import type { B } from "../b.js";',
      "export * from '../c.js';",
      "import '../d.js';",
      'const e = await import(`../e.js`);',
      "const f = await import(\n  '../f.js'\n);",
      'const g = await import(name);',
      'const h = await import(`../${name}.js`);',
      "import { n } from 'node:fs';",
    ].join('\n');
    assert.deepEqual(specifiersOf(text), ['../a.js', '../b.js', '../c.js', '../d.js', '../e.js', '../f.js', 'node:fs', '(computed)', '(computed)']);
    assert.match(violations({ from: 'src/base/log.ts', to: '(computed)' })[0] ?? '', /computed specifier/);
  });

  it('lets through what the rules allow', () => {
    for (const imp of [
      { from: 'src/cli/serveCommand.ts', to: 'src/server/createServer.ts' },
      { from: 'src/inference/routes.ts', to: 'src/ohttp/target.ts' },
      { from: 'src/ohttp/gatewayWipe.test.ts', to: 'src/testing/freeWatch.ts' },
      { from: 'src/testing/loopbackClient.ts', to: 'src/cli/trustSimulated.ts' },
      { from: 'bench/inference.ts', to: 'src/inference/index.ts' },
      { from: 'bench/inference.ts', to: 'src/testing/renderText.ts' },
      { from: 'src/tee/provider.ts', to: 'attestation/errors.ts' },
    ]) assert.deepEqual(violations(imp), []);
  });
});
