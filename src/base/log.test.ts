import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError } from '../../attestation/errors.js';
import { errorFields, sizeClass } from './log.js';

describe('log schema', () => {
  it('logs an error as its class and code only, never its message', () => {
    const secret = 'the plaintext was "salary 123"';
    assert.deepEqual(errorFields(new CloisterError('MALFORMED_FIELD', secret)), { err: { type: 'CloisterError', code: 'MALFORMED_FIELD' } });
    assert.deepEqual(errorFields(Object.assign(new Error(secret), { code: 'ECONNRESET' })), { err: { type: 'Error', code: 'ECONNRESET' } });
    assert.deepEqual(errorFields(secret), { err: { type: 'string', code: undefined } });
    assert.ok(!JSON.stringify(errorFields(new TypeError(secret))).includes('salary'));
  });

  it('logs a size as the next power of two', () => {
    assert.deepEqual([0, 1, 3, 4, 1000].map(sizeClass), [0, 1, 4, 4, 1024]);
  });
});
