// The test vectors live in the repository (testdata/, see its README), so a clone alone runs the tests:
// vectors.ts locates them inside the checkout, and no test or test support reaches for the shared folder
// beside the repository any more.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ATTESTATION_VECTORS, PROTOCOL_VECTORS, TESTDATA } from './vectors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SELF = 'attestation/testing/testdata.test.ts';

function testSources(): string[] {
  return ['attestation', 'src', 'bench']
    .flatMap((dir) => readdirSync(`${ROOT}${dir}`, { recursive: true, encoding: 'utf8' }).map((f) => `${dir}/${f}`))
    .filter((f) => f.endsWith('.test.ts') || /\/testing\/[^/]+\.ts$/.test(f))
    .filter((f) => f !== SELF);
}

describe('testdata/', () => {
  it('is located inside the checkout, with the attestation and protocol trees and their provenance', () => {
    assert.equal(TESTDATA, `${ROOT}testdata/`);
    for (const f of [`${TESTDATA}README.md`, `${ATTESTATION_VECTORS}SOURCES.md`, `${ATTESTATION_VECTORS}README.md`, `${PROTOCOL_VECTORS}SOURCES.md`]) {
      assert.ok(existsSync(f), `${f} is missing`);
    }
  });

  it('is the only place tests read vectors from: no test names the shared folder beside the repository or CLOISTER_SHARED', () => {
    const files = testSources();
    assert.ok(files.length > 50, `only ${files.length} test sources found`);
    for (const f of files) {
      const src = readFileSync(`${ROOT}${f}`, 'utf8');
      assert.doesNotMatch(src, /\.\.[/]shared\b|\bshared\/vectors\b|\bSHARED\b|CLOISTER_SHARED/, `${f} reads the shared folder beside the repository`);
    }
  });
});
