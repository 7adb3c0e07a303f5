// The one line a command prints for an error: the code, the message, and the field unless the error is a usage error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RuntimeError, UsageError } from '../base/runtimeErrors.js';
import { errorLine } from './io.js';

describe('errorLine', () => {
  it('prints a runtime error with its code and field', () => {
    const e = new RuntimeError('UNREADABLE_INPUT', 'cannot read policy "p.json": ENOENT', { field: 'policy', cause: new Error('x') });
    assert.equal(errorLine(e), 'error [UNREADABLE_INPUT]: cannot read policy "p.json": ENOENT (field policy)\n');
  });

  it('prints a usage error without a field part', () => {
    assert.equal(errorLine(new UsageError('USAGE', 'missing FILE', { field: 'FILE' })), 'error [USAGE]: missing FILE\n');
  });
});
