import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError, ERROR_CODES } from '../../attestation/errors.js';
import { documentedCodes, raisedCodes, sourcesUnder } from '../../attestation/testing/errorRegistry.js';
import { RUNTIME_ERROR_CODES, RuntimeError, UsageError } from './runtimeErrors.js';
import { PROBLEMS } from './problems.js';

describe('runtime error codes', () => {
  it('docs/errors.md "Runtime codes" lists exactly the codes in RUNTIME_ERROR_CODES, in order', () => {
    assert.deepEqual(documentedCodes('Runtime codes'), Object.keys(RUNTIME_ERROR_CODES));
  });

  it('every code is raised under src/ or scripts/, and every code raised there is in one of the two registries', () => {
    const sources = `${sourcesUnder('src')}\n${sourcesUnder('scripts')}`;
    for (const code of Object.keys(RUNTIME_ERROR_CODES)) assert.ok(sources.includes(`'${code}'`), `${code} is never raised`);
    for (const code of raisedCodes(sources)) {
      // GatewayError's first argument is the HTTP problem it stands for, not its code (GATEWAY_FAILED).
      if (Object.hasOwn(PROBLEMS, code) && sources.includes(`new GatewayError('${code}'`)) continue;
      assert.ok(Object.hasOwn(RUNTIME_ERROR_CODES, code) || Object.hasOwn(ERROR_CODES, code), `${code} is raised under src/ but is in neither registry`);
    }
  });

  it('no code is in both registries, and no SDK source raises a runtime code', () => {
    for (const code of Object.keys(RUNTIME_ERROR_CODES)) assert.ok(!Object.hasOwn(ERROR_CODES, code), `${code} is in both registries`);
    for (const code of raisedCodes(sourcesUnder('attestation'))) assert.ok(!Object.hasOwn(RUNTIME_ERROR_CODES, code), `the SDK raises the runtime code ${code}`);
  });

  it('a RuntimeError is a CloisterError with the same JSON shape', () => {
    const e = new RuntimeError('UNREADABLE_INPUT', 'cannot read policy "p.json": ENOENT', { field: 'policy', cause: new Error('x') });
    assert.ok(e instanceof CloisterError);
    assert.equal(e.name, 'RuntimeError');
    assert.ok(e.cause instanceof Error);
    assert.deepEqual(e.toJSON(), { name: 'RuntimeError', code: 'UNREADABLE_INPUT', message: 'cannot read policy "p.json": ENOENT', field: 'policy' });
  });

  it('a UsageError is a RuntimeError', () => {
    const e = new UsageError('USAGE', 'missing FILE', { field: 'FILE' });
    assert.ok(e instanceof RuntimeError && e instanceof CloisterError && e.name === 'UsageError');
  });
});
