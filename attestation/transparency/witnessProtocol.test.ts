import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromBase64 } from '../bytes.js';
import { ParseError } from '../errors.js';
import { onlyParseErrors } from '../testing/parseErrors.js';
import { parseAddCheckpointRequest, parseWitnessSize, serializeAddCheckpointRequest } from './witnessProtocol.js';

// The example request body of C2SP tlog-witness "add-checkpoint".
const EXAMPLE = `old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
`;

describe('tlog-witness add-checkpoint messages', () => {
  it('reads the example request of the specification and writes it back byte for byte', () => {
    const r = parseAddCheckpointRequest(new TextEncoder().encode(EXAMPLE));
    assert.equal(r.oldSize, 20852014);
    assert.equal(r.proof.length, 4);
    assert.deepEqual(r.proof[0], fromBase64('PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw='));
    assert.ok(r.checkpoint.startsWith('example.com/behind-the-sofa\n20852163\n'));
    assert.equal(serializeAddCheckpointRequest(r), EXAMPLE);
  });

  it('refuses requests the specification does not allow', () => {
    const checkpoint = EXAMPLE.slice(EXAMPLE.indexOf('\n\n') + 2);
    const bad = [
      `old 01\n\n${checkpoint}`,
      `old -1\n\n${checkpoint}`,
      `new 1\n\n${checkpoint}`,
      `old 1\n${checkpoint}`,
      `old 1\nnot base64\n\n${checkpoint}`,
      `old 1\nAAAA\n\n${checkpoint}`,
      `old 1\n${'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n'.repeat(64)}\n${checkpoint}`,
    ];
    for (const body of bad) assert.throws(() => parseAddCheckpointRequest(body), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_CHECKPOINT', body.slice(0, 20));
    assert.throws(() => parseAddCheckpointRequest(Uint8Array.of(0x6f, 0x6c, 0x64, 0x20, 0x30, 0xff, 0x0a, 0x0a)), ParseError);
    fc.assert(fc.property(fc.string(), (s) => { onlyParseErrors(() => parseAddCheckpointRequest(`old ${s}`)); }), { numRuns: 200 });
  });

  it('reads the size of a 409 answer', () => {
    assert.equal(parseWitnessSize('20852014\n'), 20852014);
    assert.throws(() => parseWitnessSize('20852014'), ParseError);
  });
});
