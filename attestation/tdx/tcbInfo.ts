// Intel's TDX TCB info, version 3 (PCS GET /tdx/certification/v4/tcb): the TCB levels of one FMSPC, newest first,
// and the TDX module identities. Only the shape is read here; tcbEvaluation.ts matches a quote against it.
import { JsonReader, levelOutcome, malformedCollateral, type LevelOutcome } from './collateralJson.js';

export interface TdxModuleIdentity {
  /** "TDX_" and the module's major version in two hex digits (TEE_TCB_SVN[1]). */
  readonly id: string;
  readonly mrSigner: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  /** Newest first; matched on TEE_TCB_SVN[0]. */
  readonly tcbLevels: readonly (LevelOutcome & { readonly isvSvn: number })[];
}

export interface TcbLevel extends LevelOutcome {
  readonly sgxComponents: readonly number[];
  readonly pceSvn: number;
  readonly tdxComponents: readonly number[];
}

export interface TcbInfo {
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly fmspc: Uint8Array;
  readonly pceId: Uint8Array;
  readonly tcbType: number;
  readonly tcbEvaluationDataNumber: number;
  readonly tdxModule: { readonly mrSigner: Uint8Array; readonly attributes: Uint8Array; readonly attributesMask: Uint8Array };
  readonly tdxModuleIdentities: readonly TdxModuleIdentity[];
  readonly tcbLevels: readonly TcbLevel[];
}

const MODULE_STATUSES = ['UpToDate', 'OutOfDate', 'Revoked'] as const;

const svns = (r: JsonReader, key: string): number[] => r.objects(key, { length: 16 }).map((c) => c.integer('svn', 255));

function moduleIdentity(r: JsonReader): TdxModuleIdentity {
  const id = r.string('id');
  if (!/^TDX_[0-9A-Fa-f]{2}$/.test(id)) malformedCollateral(`${r.path}.id`, `is "${id}", expected TDX_ and two hex digits`);
  return {
    id: id.toUpperCase(),
    mrSigner: r.hex('mrsigner', 48),
    attributes: r.hex('attributes', 8),
    attributesMask: r.hex('attributesMask', 8),
    tcbLevels: r.objects('tcbLevels', { min: 1 }).map((l) => ({ isvSvn: l.object('tcb').integer('isvsvn', 255), ...levelOutcome(l, MODULE_STATUSES) })),
  };
}

/** Intel defines TCB type 0 only (16 SGX and 16 TDX SVN components compared one by one). */
function tcbType0(r: JsonReader): number {
  const t = r.integer('tcbType');
  if (t !== 0) malformedCollateral('tcb_info.tcbType', `is ${t}; only TCB type 0 is defined`);
  return t;
}

/** Parses the signed `tcb_info` text. Anything but a TDX TCB info of version 3 is a MALFORMED_COLLATERAL error. */
export function parseTcbInfo(text: string): TcbInfo {
  const r = JsonReader.parse(text, 'tcb_info');
  const id = r.string('id');
  const version = r.integer('version');
  if (id !== 'TDX' || version !== 3) malformedCollateral(id !== 'TDX' ? 'tcb_info.id' : 'tcb_info.version', `is ${id} version ${version}; a TDX quote needs TDX TCB info version 3`);
  const module = r.object('tdxModule');
  return Object.freeze({
    issueDate: r.date('issueDate'),
    nextUpdate: r.date('nextUpdate'),
    fmspc: r.hex('fmspc', 6),
    pceId: r.hex('pceId', 2),
    tcbType: tcbType0(r),
    tcbEvaluationDataNumber: r.integer('tcbEvaluationDataNumber'),
    tdxModule: { mrSigner: module.hex('mrsigner', 48), attributes: module.hex('attributes', 8), attributesMask: module.hex('attributesMask', 8) },
    tdxModuleIdentities: r.has('tdxModuleIdentities') ? r.objects('tdxModuleIdentities').map(moduleIdentity) : [],
    tcbLevels: r.objects('tcbLevels', { min: 1 }).map((l) => {
      const tcb = l.object('tcb');
      return { sgxComponents: svns(tcb, 'sgxtcbcomponents'), pceSvn: tcb.integer('pcesvn', 0xffff), tdxComponents: svns(tcb, 'tdxtcbcomponents'), ...levelOutcome(l) };
    }),
  });
}
