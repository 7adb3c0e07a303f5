import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError, ERROR_CODES, isParseErrorCode, PARSE_ERROR_CODES, ParseError, PolicyError } from './errors.js';
import { documentedCodes, raisedCodes, sourcesUnder } from './testing/errorRegistry.js';

describe('error codes', () => {
  it('docs/errors.md "SDK codes" lists exactly the codes in ERROR_CODES, in order', () => {
    assert.deepEqual(documentedCodes('SDK codes'), Object.keys(ERROR_CODES));
  });

  it('every code is raised under attestation/, and every code raised there is in ERROR_CODES', () => {
    const sources = sourcesUnder('attestation');
    for (const code of Object.keys(ERROR_CODES)) assert.ok(sources.includes(`'${code}'`), `${code} is never raised`);
    for (const code of raisedCodes(sources)) assert.ok(Object.hasOwn(ERROR_CODES, code), `${code} is raised under attestation/ but is not in ERROR_CODES`);
  });

  it('PARSE_ERROR_CODES is the parse group at the head of ERROR_CODES, in order', () => {
    assert.deepEqual(PARSE_ERROR_CODES, Object.keys(ERROR_CODES).slice(0, PARSE_ERROR_CODES.length));
    assert.equal(Object.keys(ERROR_CODES)[PARSE_ERROR_CODES.length], 'MISSING_CERTIFICATE');
    assert.equal(isParseErrorCode('TRUNCATED'), true);
    assert.equal(isParseErrorCode('POLICY_VMPL'), false);
  });

  it('errors carry name, code, field, expected and actual, and serialize without the stack', () => {
    const e = new PolicyError('POLICY_VMPL', 'vmpl 1 differs from the expected 0', { field: 'VMPL', expected: '0', actual: '1' });
    assert.equal(e.name, 'PolicyError');
    assert.ok(e instanceof CloisterError);
    assert.deepEqual(e.toJSON(), { name: 'PolicyError', code: 'POLICY_VMPL', message: 'vmpl 1 differs from the expected 0', field: 'VMPL', expected: '0', actual: '1' });
    const p = new ParseError('TRUNCATED', 'short', { offset: 4, cause: new Error('x') });
    assert.equal(p.offset, 4);
    assert.ok(p.cause instanceof Error);
    assert.deepEqual(p.toJSON(), { name: 'ParseError', code: 'TRUNCATED', message: 'short' });
  });
});
