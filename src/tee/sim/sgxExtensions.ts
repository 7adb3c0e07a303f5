// The Intel SGX extensions of a PCK certificate (Intel SGX PCK Certificate and CRL Profile, extension
// 1.2.840.113741.1.13.1), written for the simulated PCK certificate in the layout Intel's PCK certificates
// use; attestation/tdx/pckExtensions.ts reads them. A real Platform-CA PCK certificate, dumped with
// `openssl asn1parse`, is:
//
//   SEQUENCE {
//     SEQUENCE { OID .1 PPID,      OCTET STRING (16) }
//     SEQUENCE { OID .2 TCB,       SEQUENCE {
//                  SEQUENCE { OID .2.1  SGX TCB Comp01 SVN, INTEGER } ... .2.16 Comp16,
//                  SEQUENCE { OID .2.17 PCESVN, INTEGER },
//                  SEQUENCE { OID .2.18 CPUSVN, OCTET STRING (16) } } }
//     SEQUENCE { OID .3 PCE-ID,    OCTET STRING (2) }
//     SEQUENCE { OID .4 FMSPC,     OCTET STRING (6) }
//     SEQUENCE { OID .5 SGX Type,  ENUMERATED (0 Standard, 1 Scalable, 2 Scalable with Integrity) }
//     -- Platform CA certificates only:
//     SEQUENCE { OID .6 PlatformInstanceID, OCTET STRING (16) }
//     SEQUENCE { OID .7 Configuration, SEQUENCE {
//                  SEQUENCE { OID .7.1 dynamicPlatform, BOOLEAN },
//                  SEQUENCE { OID .7.2 cachedKeys, BOOLEAN },
//                  SEQUENCE { OID .7.3 SMTEnabled, BOOLEAN } } }
//   }
import { CloisterError } from '../../../attestation/errors.js';
import { encodeOid, encodeSequence, encodeSmallInteger, encodeTlv, TAG } from '../../../attestation/der.js';
import { SGX_EXTENSIONS_OID, type PckExtensions, type SgxType } from '../../../attestation/tdx/pckExtensions.js';

const TAG_ENUMERATED = 0x0a;
const SGX_TYPE_VALUE: Record<SgxType, number> = { Standard: 0, Scalable: 1, ScalableWithIntegrity: 2 };

/** What parsePckExtensions returns, the Platform CA members (Platform Instance ID, Configuration) together. */
export type SgxExtensionFields = Omit<PckExtensions, 'platformInstanceId'> & {
  /** Platform CA certificates: the 16-byte Platform Instance ID, and the Configuration flags after it. */
  readonly platform?: { readonly instanceId: Uint8Array; readonly dynamicPlatform: boolean; readonly cachedKeys: boolean; readonly smtEnabled: boolean };
};

function check(ok: boolean, field: string, expected: string, actual: string): void {
  if (!ok) throw new CloisterError('MALFORMED_FIELD', `SGX extensions: ${field} must be ${expected}, got ${actual}`, { field, expected, actual });
}

const entry = (oid: string, value: Uint8Array): Uint8Array => encodeSequence(encodeOid(oid), value);
const octets = (bytes: Uint8Array): Uint8Array => encodeTlv(TAG.OCTET_STRING, bytes);
const bool = (b: boolean): Uint8Array => encodeTlv(TAG.BOOLEAN, new Uint8Array([b ? 0xff : 0]));

/** The extension's extnValue contents (DER), as Intel's PCK certificates carry them. */
export function encodeSgxExtensions(f: SgxExtensionFields): Uint8Array {
  for (const [field, value, size] of [['ppid', f.ppid, 16], ['cpuSvn', f.cpuSvn, 16], ['pceId', f.pceId, 2], ['fmspc', f.fmspc, 6], ['platform.instanceId', f.platform?.instanceId, 16]] as const) {
    if (value !== undefined) check(value.length === size, field, `${size} bytes`, `${value.length}`);
  }
  check(f.cpuSvnComponents.length === 16 && f.cpuSvnComponents.every((n) => Number.isInteger(n) && n >= 0 && n <= 255), 'cpuSvnComponents', '16 SVNs of 0..255', `[${f.cpuSvnComponents.join(', ')}]`);
  check(Number.isInteger(f.pceSvn) && f.pceSvn >= 0 && f.pceSvn <= 0xffff, 'pceSvn', '0..65535', String(f.pceSvn));
  const arc = SGX_EXTENSIONS_OID;
  const tcb = encodeSequence(
    ...f.cpuSvnComponents.map((svn, i) => entry(`${arc}.2.${i + 1}`, encodeSmallInteger(svn))),
    entry(`${arc}.2.17`, encodeSmallInteger(f.pceSvn)),
    entry(`${arc}.2.18`, octets(f.cpuSvn)),
  );
  const p = f.platform;
  return encodeSequence(
    entry(`${arc}.1`, octets(f.ppid)),
    entry(`${arc}.2`, tcb),
    entry(`${arc}.3`, octets(f.pceId)),
    entry(`${arc}.4`, octets(f.fmspc)),
    entry(`${arc}.5`, encodeTlv(TAG_ENUMERATED, new Uint8Array([SGX_TYPE_VALUE[f.sgxType]]))),
    ...(p === undefined
      ? []
      : [
          entry(`${arc}.6`, octets(p.instanceId)),
          entry(`${arc}.7`, encodeSequence(entry(`${arc}.7.1`, bool(p.dynamicPlatform)), entry(`${arc}.7.2`, bool(p.cachedKeys)), entry(`${arc}.7.3`, bool(p.smtEnabled)))),
        ]),
  );
}
