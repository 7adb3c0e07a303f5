// Intel's identity of the TDX Quoting Enclave, version 2 (PCS GET /tdx/certification/v4/qe/identity): what the QE
// report in a quote must show (MRSIGNER, ISVPRODID, masked MISCSELECT and ATTRIBUTES), and the TCB levels of its
// ISVSVN, newest first.
import { JsonReader, levelOutcome, malformedCollateral, type LevelOutcome } from './collateralJson.js';

export interface QeIdentity {
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly tcbEvaluationDataNumber: number;
  readonly miscSelect: number;
  readonly miscSelectMask: number;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly tcbLevels: readonly (LevelOutcome & { readonly isvSvn: number })[];
}

const QE_STATUSES = ['UpToDate', 'OutOfDate', 'Revoked'] as const;

/** MISCSELECT as Intel writes it: four bytes of hex in the report's (little-endian) byte order. */
function u32le(r: JsonReader, key: string): number {
  const b = r.hex(key, 4);
  return ((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16) | ((b[3] as number) << 24)) >>> 0;
}

/** Parses the signed `qe_identity` text; anything but a TD_QE identity of version 2 is MALFORMED_COLLATERAL. */
export function parseQeIdentity(text: string): QeIdentity {
  const r = JsonReader.parse(text, 'qe_identity');
  const id = r.string('id');
  const version = r.integer('version');
  if (id !== 'TD_QE' || version !== 2) malformedCollateral(id !== 'TD_QE' ? 'qe_identity.id' : 'qe_identity.version', `is ${id} version ${version}; a TDX quote needs the TD_QE identity version 2`);
  return Object.freeze({
    issueDate: r.date('issueDate'),
    nextUpdate: r.date('nextUpdate'),
    tcbEvaluationDataNumber: r.integer('tcbEvaluationDataNumber'),
    miscSelect: u32le(r, 'miscselect'),
    miscSelectMask: u32le(r, 'miscselectMask'),
    attributes: r.hex('attributes', 16),
    attributesMask: r.hex('attributesMask', 16),
    mrSigner: r.hex('mrsigner', 32),
    isvProdId: r.integer('isvprodid', 0xffff),
    tcbLevels: r.objects('tcbLevels', { min: 1 }).map((l) => ({ isvSvn: l.object('tcb').integer('isvsvn', 0xffff), ...levelOutcome(l, QE_STATUSES) })),
  });
}
