// What the error registries' tests share (attestation/errors.test.ts, src/base/runtimeErrors.test.ts): the codes
// docs/errors.md lists in a section, and the codes the sources raise.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The codes in the table of a `## heading` section of docs/errors.md, in order. */
export function documentedCodes(heading: string): string[] {
  const doc = readFileSync(`${root}docs/errors.md`, 'utf8');
  const start = doc.indexOf(`\n## ${heading}\n`);
  assert.ok(start !== -1, `docs/errors.md has no section "${heading}"`);
  const end = doc.indexOf('\n## ', start + 1);
  return [...doc.slice(start, end === -1 ? undefined : end).matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1] as string);
}

/** The non-test TypeScript under `dir` (a registry file itself left out), joined. */
export function sourcesUnder(dir: string): string {
  return readdirSync(`${root}${dir}`, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('errors.ts'))
    .map((f) => readFileSync(`${root}${dir}/${f}`, 'utf8'))
    .join('\n');
}

/** The codes passed literally as the first argument of an error constructor or of super(). */
export function raisedCodes(sources: string): Set<string> {
  return new Set([...sources.matchAll(/(?:new \w*Error\(|super\()\s*'([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1] as string));
}
