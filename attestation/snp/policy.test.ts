import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../bytes.js';
import { PolicyError } from '../errors.js';
import { assertSnpPolicy, parseSnpPolicyJson } from './policy.js';
import { TCB_COMPONENTS } from './tcb.js';
import type { SnpPolicy } from './validate.js';

const M = toHex(new Uint8Array(48).fill(0x11));

describe('policy files', () => {
  it('accepts a complete policy', () => {
    const p = parseSnpPolicyJson(
      JSON.stringify({
        allowDebug: false,
        minTcb: { bootloader: 3, fmc: 0 },
        minLaunchTcb: { microcode: 115 },
        minBuild: 21,
        minVersion: '1.55',
        requireSmtDisabled: true,
        requireTsme: true,
        requireCiphertextHiding: false,
        vmpl: 0,
        measurements: [M],
        reportData: 'ab'.repeat(64),
        signingKeys: ['vcek'],
        requireCrl: true,
      }),
    );
    assert.deepEqual(p.minTcb, { bootloader: 3, fmc: 0 });
    assert.deepEqual(p.minLaunchTcb, { microcode: 115 });
    assert.equal(p.requireTsme, true);
  });

  it('lists every bad field path at once', () => {
    assert.throws(
      () =>
        assertSnpPolicy({
          allowDebug: 'yes',
          vmpl: 4,
          measurements: ['00', M],
          minTcb: { bogus: 1, snp: 300 },
          minLaunchTcb: [],
          requireTsme: 1,
          signingKeys: ['sek'],
          minVersion: '1.256',
          extra: 1,
          chipIds: [],
          cspIds: [''],
        }),
      (e) => {
        assert.ok(e instanceof PolicyError);
        assert.equal(e.code, 'MALFORMED_POLICY');
        for (const path of ['$.extra', '$.allowDebug', '$.vmpl', '$.measurements[0]', '$.minTcb.bogus', '$.minTcb.snp', '$.minLaunchTcb: must be an object', '$.requireTsme', '$.signingKeys', '$.minVersion', '$.chipIds: must be a non-empty', '$.cspIds']) {
          assert.ok(e.message.includes(path), path);
        }
        assert.ok(!e.message.includes('$.measurements[1]'));
        return true;
      },
    );
  });

  it('rejects JSON that is not an object, and text that is not JSON', () => {
    assert.throws(() => assertSnpPolicy([]), /policy must be a JSON object/);
    assert.throws(() => parseSnpPolicyJson('{'), /not valid JSON/);
  });
});

const hex = (bytes: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map(toHex);
const tcb = fc.record(Object.fromEntries(TCB_COMPONENTS.map((k) => [k, fc.integer({ min: 0, max: 255 })])), { requiredKeys: [], noNullPrototype: true });
const list = <T>(item: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(item, { minLength: 1, maxLength: 3 });

/** Any policy assertSnpPolicy must accept, every field optional. */
const validPolicy: fc.Arbitrary<SnpPolicy> = fc.record(
  {
    allowDebug: fc.boolean(),
    allowMigrationAgent: fc.boolean(),
    allowProvisionalFirmware: fc.boolean(),
    requireSmtDisabled: fc.boolean(),
    requireTsme: fc.boolean(),
    requireCiphertextHiding: fc.boolean(),
    requireCrl: fc.boolean(),
    minTcb: tcb,
    minLaunchTcb: tcb,
    minBuild: fc.integer({ min: 0, max: 255 }),
    minVersion: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `${a}.${b}`),
    minGuestSvn: fc.integer({ min: 0, max: 0xffffffff }),
    vmpl: fc.integer({ min: 0, max: 3 }),
    measurements: list(hex(48)),
    hostData: hex(32),
    reportData: hex(64),
    idKeyDigests: list(hex(48)),
    authorKeyDigests: list(hex(48)),
    signingKeys: fc.uniqueArray(fc.constantFrom('vcek' as const, 'vlek' as const), { minLength: 1 }),
    chipIds: list(hex(64)),
    cspIds: list(fc.string({ minLength: 1 })),
  },
  { requiredKeys: [], noNullPrototype: true },
);

/** A value no field takes: not a boolean, integer, hex, "major.minor", array or object. */
const WRONG = 'x';

describe('policy parser properties', () => {
  it('any JSON value is a policy or a MALFORMED_POLICY PolicyError, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom('minTcb', 'minLaunchTcb', 'minVersion', 'vmpl', 'requireTsme', 'measurements', 'x'), fc.jsonValue())), (value) => {
        try {
          assertSnpPolicy(value);
        } catch (e) {
          assert.ok(e instanceof PolicyError, String(e));
          assert.equal(e.code, 'MALFORMED_POLICY');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('every valid policy survives JSON and comes back equal', () => {
    fc.assert(
      fc.property(validPolicy, (policy) => {
        assert.deepEqual(parseSnpPolicyJson(JSON.stringify(policy)), policy);
      }),
      { numRuns: 300 },
    );
  });

  it('a valid policy with some fields broken names exactly those fields', () => {
    fc.assert(
      fc.property(
        validPolicy.filter((p) => Object.keys(p).length > 0),
        fc.infiniteStream(fc.boolean()),
        (policy, coin) => {
          const keys = Object.keys(policy);
          const broken = keys.filter(() => coin.next().value as boolean);
          fc.pre(broken.length > 0);
          const value = { ...policy, ...Object.fromEntries(broken.map((k) => [k, WRONG])) };
          try {
            assertSnpPolicy(value);
            assert.fail('a broken policy was accepted');
          } catch (e) {
            assert.ok(e instanceof PolicyError);
            assert.deepEqual(new Set(e.field?.split(',')), new Set(broken.map((k) => `$.${k}`)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
