import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PROBLEMS, problem } from './problems.js';

describe('HTTP problems', () => {
  it('docs/errors.md lists exactly the registry, with its statuses', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)), 'utf8');
    const rows = [...doc.matchAll(/^\| (\d{3}) \| `([A-Z_]+)` \|/gm)].map((m) => [m[2], Number(m[1])]);
    assert.deepEqual(rows, Object.entries(PROBLEMS).map(([code, p]) => [code, p.status]));
  });

  it('builds RFC 9457 objects', () => {
    assert.deepEqual(problem('RATE_LIMITED', 'slow down'), { type: 'urn:cloister:problem:rate-limited', title: 'too many requests', status: 429, code: 'RATE_LIMITED', detail: 'slow down' });
  });
});
