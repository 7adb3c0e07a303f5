// buildInit: two builds (each compiling twice internally) give the same binary, and the recorded info says
// what built it; a source with __DATE__ is refused. Skipped without gcc.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildInit, InitBuildError, type InitBuildInfo } from './buildInit.js';

const hasGcc = ((): boolean => {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('buildInit', { skip: hasGcc ? false : 'no gcc' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-init-test-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds a static init reproducibly and records the compiler', async () => {
    const lines: string[] = [];
    const a = await buildInit({ outDir: join(dir, 'a'), log: (l) => lines.push(l) });
    const b = await buildInit({ outDir: join(dir, 'b'), log: () => undefined });
    const bytes = readFileSync(a);
    assert.deepEqual(bytes, readFileSync(b));
    assert.equal(bytes.subarray(0, 4).toString('latin1'), '\x7fELF');
    const info = JSON.parse(readFileSync(join(dir, 'a', 'init.json'), 'utf8')) as InitBuildInfo;
    assert.equal(info.output.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.match(info.compiler.version, /^gcc /);
    assert.ok(info.flags.includes('-static') && info.flags.includes('-Wl,--build-id=none'));
    assert.ok(!bytes.includes(Buffer.from(dir)), 'the build directory does not appear in the binary');
    assert.match(lines.join('\n'), /two builds identical/);
  });

  it('refuses a source that uses __DATE__', async () => {
    const source = join(dir, 'dated.c');
    writeFileSync(source, 'const char *built = __DATE__;\nint main(void) { return 0; }\n');
    await assert.rejects(buildInit({ outDir: join(dir, 'c'), log: () => undefined, source }), (e: unknown) => e instanceof InitBuildError && /__DATE__/.test(e.message));
  });
});
