import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesEqual, toHex } from '../../../attestation/bytes.js';
import { children, decodeOid, decodeOne } from '../../../attestation/der.js';
import { CloisterError } from '../../../attestation/errors.js';
import { tdxVectorRows } from '../../../attestation/testing/tdxVectors.js';
import { parsePckExtensions, SGX_EXTENSIONS_OID } from '../../../attestation/tdx/pckExtensions.js';
import { parseQuote } from '../../../attestation/tdx/quote.js';
import { parseCertificate, type Certificate } from '../../../attestation/x509.js';
import { encodeSgxExtensions, type SgxExtensionFields } from './sgxExtensions.js';

/** The Configuration booleans (.7.1 .. .7.3) of a real PCK certificate, which parsePckExtensions does not read. */
function configuration(der: Uint8Array): boolean[] | undefined {
  for (const entry of children(decodeOne(der))) {
    const [oid, value] = children(entry);
    if (oid !== undefined && value !== undefined && decodeOid(oid) === `${SGX_EXTENSIONS_OID}.7`) return children(value).map((flag) => children(flag)[1]?.value[0] === 0xff);
  }
  return undefined;
}

function fieldsOf(pck: Certificate): SgxExtensionFields {
  const e = parsePckExtensions(pck);
  const der = pck.extensions.get(SGX_EXTENSIONS_OID)?.value ?? assert.fail('no SGX extensions');
  const [dynamicPlatform = false, cachedKeys = false, smtEnabled = false] = configuration(der) ?? [];
  return { ...e, ...(e.platformInstanceId === undefined ? {} : { platform: { instanceId: e.platformInstanceId, dynamicPlatform, cachedKeys, smtEnabled } }) };
}

const simulated: SgxExtensionFields = {
  ppid: new Uint8Array(16).fill(1),
  cpuSvnComponents: [4, 4, 3, 13, 15, 3, 255, 0, 3, 0, 0, 0, 0, 0, 0, 0],
  pceSvn: 13,
  cpuSvn: Uint8Array.from([4, 4, 3, 13, 15, 3, 255, 0, 3, 0, 0, 0, 0, 0, 0, 0]),
  pceId: new Uint8Array(2),
  fmspc: Uint8Array.from([0, 0, 0, 0, 0xc1, 0x0b]),
  sgxType: 'Scalable',
};

describe('encodeSgxExtensions', () => {
  for (const row of tdxVectorRows()) {
    it(`${row.id}: re-encoding the real PCK certificate's extension gives its bytes back`, () => {
      const pck = parseCertificate(parseQuote(row.quote).pckCertificates[0] as Uint8Array);
      const real = pck.extensions.get(SGX_EXTENSIONS_OID)?.value ?? assert.fail('no SGX extensions');
      const mine = encodeSgxExtensions(fieldsOf(pck));
      assert.ok(bytesEqual(mine, real), `${toHex(mine)}\n!=\n${toHex(real)}`);
    });
  }

  it('writes what parsePckExtensions reads, with and without the Platform CA members', () => {
    for (const fields of [simulated, { ...simulated, sgxType: 'Standard' as const, platform: { instanceId: new Uint8Array(16).fill(9), dynamicPlatform: false, cachedKeys: true, smtEnabled: false } }]) {
      const der = encodeSgxExtensions(fields);
      const e = parsePckExtensions({ extensions: new Map([[SGX_EXTENSIONS_OID, { critical: false, value: der }]]) } as unknown as Certificate);
      assert.deepEqual(e.cpuSvnComponents, fields.cpuSvnComponents);
      assert.equal(e.pceSvn, fields.pceSvn);
      assert.deepEqual(e.cpuSvn, fields.cpuSvn);
      assert.deepEqual(e.fmspc, fields.fmspc);
      assert.deepEqual(e.pceId, fields.pceId);
      assert.equal(e.sgxType, fields.sgxType);
      assert.deepEqual(e.platformInstanceId, fields.platform?.instanceId);
      assert.deepEqual(configuration(der), fields.platform === undefined ? undefined : [false, true, false]);
    }
  });

  it('refuses fields of the wrong size or range (MALFORMED_FIELD naming the field)', () => {
    const cases: [Partial<SgxExtensionFields>, string][] = [
      [{ ppid: new Uint8Array(15) }, 'ppid'],
      [{ fmspc: new Uint8Array(5) }, 'fmspc'],
      [{ pceId: new Uint8Array(3) }, 'pceId'],
      [{ cpuSvn: new Uint8Array(17) }, 'cpuSvn'],
      [{ cpuSvnComponents: [1, 2, 3] }, 'cpuSvnComponents'],
      [{ cpuSvnComponents: [...simulated.cpuSvnComponents.slice(1), 256] }, 'cpuSvnComponents'],
      [{ pceSvn: 0x10000 }, 'pceSvn'],
      [{ platform: { instanceId: new Uint8Array(8), dynamicPlatform: true, cachedKeys: true, smtEnabled: true } }, 'platform.instanceId'],
    ];
    for (const [bad, field] of cases) {
      assert.throws(() => encodeSgxExtensions({ ...simulated, ...bad }), (e: unknown) => e instanceof CloisterError && e.code === 'MALFORMED_FIELD' && e.field === field, field);
    }
  });
});
