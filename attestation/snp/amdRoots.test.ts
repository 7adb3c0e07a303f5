import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePem } from '../bytes.js';
import { vector } from '../testing/vectors.js';
import { AMD_CHAINS } from './amdRoots.js';
import { PRODUCTS } from './product.js';

const der = (pem: string): Uint8Array => {
  const block = decodePem(pem)[0];
  assert.ok(block);
  return block.der;
};

describe('embedded AMD certificates', () => {
  for (const p of PRODUCTS) {
    it(`${p}: ARK and ASK equal virtee/sev's builtin copies`, () => {
      const dir = `virtee-sev/builtin_snp/${p.toLowerCase()}/`;
      assert.deepEqual(der(AMD_CHAINS[p].ark), der(new TextDecoder().decode(vector(`${dir}ark.pem`))));
      assert.deepEqual(der(AMD_CHAINS[p].ask), der(new TextDecoder().decode(vector(`${dir}ask.pem`))));
    });
  }
});
