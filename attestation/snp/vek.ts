// AMD's X.509 extensions on VCEK and VLEK certificates (AMD "Versioned Chip Endorsement Key (VCEK)
// Certificate and KDS Interface Specification", publication 57230, "VCEK Certificate Extensions"; VLEK
// certificates carry the same SPL extensions and a cspId in place of hwID):
//   1.3.6.1.4.1.3704.1.1   structVersion   INTEGER
//   1.3.6.1.4.1.3704.1.2   productName     IA5String ("Milan-B0", "Genoa", "Turin")
//   1.3.6.1.4.1.3704.1.3.1 blSPL, .3.2 teeSPL, .3.3 snpSPL, .3.4-.3.7 spl_4..7, .3.8 ucodeSPL, .3.9 fmcSPL (Turin)
//   1.3.6.1.4.1.3704.1.4   hwID            raw bytes (64; 8 on Turin), VCEK only
//   1.3.6.1.4.1.3704.1.5   cspId           IA5String, VLEK only
import { TAG, decodeOne, decodeSmallInteger, decodeString } from '../der.js';
import { ParseError } from '../errors.js';
import type { Certificate } from '../x509.js';
import { productFromName, type Product } from './product.js';
import type { TcbParts } from './tcb.js';

const ARC = '1.3.6.1.4.1.3704.1';
export const AMD_OID = {
  structVersion: `${ARC}.1`,
  productName: `${ARC}.2`,
  blSpl: `${ARC}.3.1`,
  teeSpl: `${ARC}.3.2`,
  snpSpl: `${ARC}.3.3`,
  ucodeSpl: `${ARC}.3.8`,
  fmcSpl: `${ARC}.3.9`,
  hwId: `${ARC}.4`,
  cspId: `${ARC}.5`,
} as const;

export interface VekInfo {
  readonly kind: 'vcek' | 'vlek';
  readonly structVersion: number | undefined;
  readonly productName: string;
  readonly product: Product;
  readonly tcb: TcbParts;
  readonly hwId: Uint8Array | undefined;
  readonly cspId: string | undefined;
}

export function isVekCertificate(cert: Certificate): boolean {
  return cert.extensions.has(AMD_OID.productName) && (cert.extensions.has(AMD_OID.hwId) || cert.extensions.has(AMD_OID.cspId));
}

function ext(cert: Certificate, oid: string, name: string): Uint8Array {
  const e = cert.extensions.get(oid);
  if (e === undefined) throw new ParseError('MALFORMED_FIELD', `VCEK/VLEK certificate lacks the ${name} extension (${oid})`, { field: name });
  return e.value;
}

function spl(cert: Certificate, oid: string, name: string): number {
  return decodeSmallInteger(decodeOne(ext(cert, oid, name), TAG.INTEGER));
}

export function parseVekExtensions(cert: Certificate): VekInfo {
  const productName = decodeString(decodeOne(ext(cert, AMD_OID.productName, 'productName'), TAG.IA5_STRING));
  const product = productFromName(productName);
  if (product === undefined) {
    throw new ParseError('MALFORMED_FIELD', `VCEK/VLEK productName "${productName}" is not a known product`, { field: 'productName', actual: productName });
  }
  const hwId = cert.extensions.get(AMD_OID.hwId)?.value;
  const cspIdRaw = cert.extensions.get(AMD_OID.cspId)?.value;
  if ((hwId === undefined) === (cspIdRaw === undefined)) {
    throw new ParseError('MALFORMED_FIELD', 'certificate must carry exactly one of hwID (VCEK) and cspId (VLEK)', { field: 'hwID/cspId' });
  }
  const structVersion = cert.extensions.has(AMD_OID.structVersion) ? spl(cert, AMD_OID.structVersion, 'structVersion') : undefined;
  const tcb: TcbParts = {
    bootloader: spl(cert, AMD_OID.blSpl, 'blSPL'),
    tee: spl(cert, AMD_OID.teeSpl, 'teeSPL'),
    snp: spl(cert, AMD_OID.snpSpl, 'snpSPL'),
    microcode: spl(cert, AMD_OID.ucodeSpl, 'ucodeSPL'),
    ...(product === 'Turin' ? { fmc: spl(cert, AMD_OID.fmcSpl, 'fmcSPL') } : {}),
  };
  return Object.freeze({
    kind: hwId === undefined ? 'vlek' : 'vcek',
    structVersion,
    productName,
    product,
    tcb,
    hwId,
    cspId: cspIdRaw === undefined ? undefined : decodeString(decodeOne(cspIdRaw, TAG.IA5_STRING)),
  });
}
