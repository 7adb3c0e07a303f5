// attestation/ runs in browsers: its library modules import nothing from Node, the server or native code.
// Exception: attestation/client/node/ is the Node-only RA-TLS client (node:tls, node:https), published
// separately as cloister/attestation/node and never imported by the browser-safe modules. Packages:
// only the browser-safe HPKE implementation (@hpke/*, WebCrypto-based), which a browser gets through a
// bundler or an import map.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BROWSER_SAFE_PACKAGES = ['@hpke/core', '@hpke/chacha20poly1305'];

const dir = fileURLToPath(new URL('../../attestation/', import.meta.url));

function libraryFiles(sub = ''): string[] {
  return readdirSync(dir + sub, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return e.name === 'testing' || (sub === 'client/' && e.name === 'node') ? [] : libraryFiles(`${sub}${e.name}/`);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [`${sub}${e.name}`] : [];
  });
}

describe('attestation/ portability', () => {
  const files = libraryFiles();
  it('has library files to check', () => {
    assert.ok(files.length > 10);
  });
  for (const f of files) {
    it(`${f} imports only relative modules (or @hpke) and uses no Node globals`, () => {
      const src = readFileSync(dir + f, 'utf8');
      for (const m of src.matchAll(/(?:\bfrom|^import) '([^']+)'/gm)) {
        const spec = m[1] as string;
        if (BROWSER_SAFE_PACKAGES.includes(spec)) continue;
        assert.match(spec, /^\.\.?\//, `${f} imports ${spec}`);
        assert.ok(new URL(spec, `file:///attestation/${f}`).pathname.startsWith('/attestation/'), `${f} imports ${spec}, outside attestation/`);
      }
      assert.doesNotMatch(src, /\b(?:Buffer|process)\.[A-Za-z]|\brequire\(/, `${f} uses a Node global`);
    });
  }
});
