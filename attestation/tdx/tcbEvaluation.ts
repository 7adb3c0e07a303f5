// The TCB status of a TDX quote from verified collateral, as Intel's Quote Verification Library decides it
// (QuoteVerifier.cpp 4.1.2.4.9-4.1.2.4.17, TcbLevelCheck.cpp, TdxModuleCheck.cpp, TDRelaunchCheck.cpp):
//   platform  the first TCB level whose 16 SGX components and PCESVN the PCK certificate meets selects the SGX
//             status; the first from there whose TDX components TEE_TCB_SVN meets (bytes 2.. only when
//             TEE_TCB_SVN[1], the module's major version, is set) is the TDX level
//   module    for a module of major version > 0, the identity "TDX_%02X" names its MRSIGNER and attributes and
//             its TCB levels, matched on TEE_TCB_SVN[0]
//   QE        MRSIGNER, ISVPRODID and the masked MISCSELECT and ATTRIBUTES of the QE report, then its ISVSVN level
// The statuses converge as QVL's converge functions do: an OutOfDate module or QE turns an UpToDate or
// SWHardeningNeeded level into OutOfDate (the ConfigurationNeeded ones into OutOfDateConfigurationNeeded), a
// Revoked one into Revoked. Advisory IDs are those of the selected TDX level, module level and QE level.
import { bytesEqual, toHex } from '../bytes.js';
import { VerificationError } from '../errors.js';
import { TCB_STATUSES, type LevelOutcome, type TcbStatus } from './collateralJson.js';
import type { PckExtensions } from './pckExtensions.js';
import type { QeIdentity } from './qeIdentity.js';
import { TD_BODY_TYPE, type TdxQuote } from './quote.js';
import type { TcbInfo, TcbLevel, TdxModuleIdentity } from './tcbInfo.js';

/** Intel's statuses, and QVL's two for a TDX 1.5 TD that a relaunch would bring up to date. */
export const TDX_TCB_STATUSES = [...TCB_STATUSES, 'TDRelaunchAdvised', 'TDRelaunchAdvisedConfigurationNeeded'] as const;
export type TdxTcbStatus = (typeof TDX_TCB_STATUSES)[number];

export interface TcbPart {
  readonly status: TcbStatus;
  /** When the matched level was current (absent for a module of major version 0, which TCB info does not list). */
  readonly tcbDate?: string;
  readonly advisoryIds: readonly string[];
}

export interface TcbEvaluation {
  readonly status: TdxTcbStatus;
  readonly platform: TcbPart & { readonly sgxStatus: TcbStatus };
  readonly module: TcbPart & { readonly id: string };
  readonly qe: TcbPart & { readonly isvSvn: number };
  readonly advisoryIds: readonly string[];
  readonly tcbEvaluationDataNumber: number;
}

function mismatch(code: 'COLLATERAL_MISMATCH' | 'TDX_MODULE_MISMATCH' | 'QE_IDENTITY_MISMATCH' | 'TCB_NOT_SUPPORTED', message: string, field: string, expected: string, actual: string): never {
  throw new VerificationError(code, message, { field, expected, actual });
}

const part = (l: LevelOutcome): TcbPart => ({ status: l.tcbStatus, tcbDate: l.tcbDate.toISOString(), advisoryIds: l.advisoryIds });
const svnList = (v: readonly number[] | Uint8Array): string => [...v].join(',');

function checkPlatformIdentity(tcbInfo: TcbInfo, pck: PckExtensions): void {
  if (!bytesEqual(tcbInfo.fmspc, pck.fmspc)) mismatch('COLLATERAL_MISMATCH', `TCB info is for FMSPC ${toHex(tcbInfo.fmspc)}, the PCK certificate's platform is ${toHex(pck.fmspc)}`, 'tcb_info.fmspc', toHex(pck.fmspc), toHex(tcbInfo.fmspc));
  if (!bytesEqual(tcbInfo.pceId, pck.pceId)) mismatch('COLLATERAL_MISMATCH', `TCB info is for PCE ID ${toHex(tcbInfo.pceId)}, the PCK certificate's is ${toHex(pck.pceId)}`, 'tcb_info.pceId', toHex(pck.pceId), toHex(tcbInfo.pceId));
}

function moduleIdentity(tcbInfo: TcbInfo, major: number, field: string): TdxModuleIdentity {
  const id = `TDX_${major.toString(16).padStart(2, '0').toUpperCase()}`;
  const found = tcbInfo.tdxModuleIdentities.find((m) => m.id === id);
  if (found === undefined) mismatch('TDX_MODULE_MISMATCH', `TCB info has no TDX module identity ${id} for the module of major version ${major} (${field})`, 'tcb_info.tdxModuleIdentities', id, tcbInfo.tdxModuleIdentities.map((m) => m.id).join('|') || 'none');
  return found;
}

/** QVL 4.1.2.4.11: the quote's SEAM signer and attributes against TCB info's module (or the module identity). */
function checkModuleSigner(quote: TdxQuote, tcbInfo: TcbInfo): TdxModuleIdentity | undefined {
  const major = quote.body.teeTcbSvn[1] as number;
  const identity = major > 0 ? moduleIdentity(tcbInfo, major, 'TEE_TCB_SVN[1]') : undefined;
  const expected = identity ?? tcbInfo.tdxModule;
  if (!bytesEqual(quote.body.mrSignerSeam, expected.mrSigner)) {
    mismatch('TDX_MODULE_MISMATCH', 'MRSIGNERSEAM is not the TDX module signer TCB info names', 'MRSIGNERSEAM', toHex(expected.mrSigner), toHex(quote.body.mrSignerSeam));
  }
  const attributes = quote.body.seamAttributes;
  if (attributes !== 0n || expected.attributes.some((b) => b !== 0)) {
    // Both as the bytes stand in the report (little-endian), as TCB info writes them.
    const asBytes = Uint8Array.from({ length: 8 }, (_, i) => Number((attributes >> BigInt(8 * i)) & 0xffn));
    mismatch('TDX_MODULE_MISMATCH', 'SEAMATTRIBUTES must be zero and equal to the TDX module attributes in TCB info', 'SEAMATTRIBUTES', toHex(expected.attributes), toHex(asBytes));
  }
  return identity;
}

function qeLevel(quote: TdxQuote, qe: QeIdentity): TcbPart & { isvSvn: number } {
  const r = quote.qeReport;
  if (!bytesEqual(r.mrSigner, qe.mrSigner)) mismatch('QE_IDENTITY_MISMATCH', 'the QE report\'s MRSIGNER is not the TD_QE signer in the QE identity', 'QE Report.MRSIGNER', toHex(qe.mrSigner), toHex(r.mrSigner));
  if (r.isvProdId !== qe.isvProdId) mismatch('QE_IDENTITY_MISMATCH', `the QE report's ISVPRODID is ${r.isvProdId}, the QE identity's ${qe.isvProdId}`, 'QE Report.ISVPRODID', String(qe.isvProdId), String(r.isvProdId));
  if (((r.miscSelect & qe.miscSelectMask) >>> 0) !== ((qe.miscSelect & qe.miscSelectMask) >>> 0)) {
    const hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
    mismatch('QE_IDENTITY_MISMATCH', 'the QE report\'s MISCSELECT differs from the QE identity\'s under its mask', 'QE Report.MISCSELECT', hex(qe.miscSelect & qe.miscSelectMask), hex(r.miscSelect & qe.miscSelectMask));
  }
  const masked = (a: Uint8Array): Uint8Array => a.map((b, i) => b & (qe.attributesMask[i] as number));
  if (!bytesEqual(masked(r.attributes), masked(qe.attributes))) {
    mismatch('QE_IDENTITY_MISMATCH', 'the QE report\'s ATTRIBUTES differ from the QE identity\'s under its mask', 'QE Report.ATTRIBUTES', toHex(masked(qe.attributes)), toHex(masked(r.attributes)));
  }
  const level = qe.tcbLevels.find((l) => r.isvSvn >= l.isvSvn);
  if (level === undefined) mismatch('TCB_NOT_SUPPORTED', `the QE's ISVSVN ${r.isvSvn} is below every TCB level of the QE identity`, 'QE Report.ISVSVN', `>= ${Math.min(...qe.tcbLevels.map((l) => l.isvSvn))}`, String(r.isvSvn));
  return { ...part(level), isvSvn: r.isvSvn };
}

function platformLevels(quote: TdxQuote, pck: PckExtensions, tcbInfo: TcbInfo): { sgx: TcbLevel; tdx: TcbLevel } {
  const tee = quote.body.teeTcbSvn;
  const from = (tee[1] as number) > 0 ? 2 : 0;
  let sgx: TcbLevel | undefined;
  for (const level of tcbInfo.tcbLevels) {
    if (pck.pceSvn < level.pceSvn || level.sgxComponents.some((svn, i) => (pck.cpuSvnComponents[i] as number) < svn)) continue;
    sgx ??= level;
    if (level.tdxComponents.every((svn, i) => i < from || (tee[i] as number) >= svn)) return { sgx, tdx: level };
  }
  if (sgx === undefined) {
    mismatch('TCB_NOT_SUPPORTED', `no TCB level of FMSPC ${toHex(tcbInfo.fmspc)} is met by the PCK certificate's SGX TCB (components ${svnList(pck.cpuSvnComponents)}, PCESVN ${pck.pceSvn})`, 'PCK SGX TCB', 'a TCB level in tcb_info', `${svnList(pck.cpuSvnComponents)} pce ${pck.pceSvn}`);
  }
  return mismatch('TCB_NOT_SUPPORTED', `no TCB level of FMSPC ${toHex(tcbInfo.fmspc)} is met by TEE_TCB_SVN ${toHex(tee)}`, 'TEE_TCB_SVN', 'a TCB level in tcb_info', toHex(tee));
}

function moduleLevel(quote: TdxQuote, identity: TdxModuleIdentity | undefined): TcbPart & { id: string } {
  if (identity === undefined) return { id: 'TDX_00', status: 'UpToDate', advisoryIds: [] };
  const isvSvn = quote.body.teeTcbSvn[0] as number;
  const level = identity.tcbLevels.find((l) => isvSvn >= l.isvSvn);
  if (level === undefined) mismatch('TCB_NOT_SUPPORTED', `the TDX module's SVN ${isvSvn} (TEE_TCB_SVN[0]) is below every TCB level of ${identity.id}`, 'TEE_TCB_SVN[0]', `>= ${Math.min(...identity.tcbLevels.map((l) => l.isvSvn))}`, String(isvSvn));
  return { ...part(level), id: identity.id };
}

const CONFIGURATION_NEEDED: readonly TdxTcbStatus[] = ['ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded'];

/** QVL's convergeTcbStatusWithTdxModuleStatus and convergeTcbStatusWithQeTcbStatus (same rule for both). */
function converge(level: TdxTcbStatus, other: TcbStatus): TdxTcbStatus {
  if (other === 'Revoked') return 'Revoked';
  if (other === 'OutOfDate') {
    if (level === 'UpToDate' || level === 'SWHardeningNeeded') return 'OutOfDate';
    if (CONFIGURATION_NEEDED.includes(level)) return 'OutOfDateConfigurationNeeded';
  }
  return level;
}

/** QVL's checkForRelaunch: a TDX 1.5 TD whose TEE_TCB_SVN2 (after a module update) would meet the newest level. */
function relaunch(quote: TdxQuote, tcbInfo: TcbInfo, sgx: TcbStatus, tdx: TdxTcbStatus, module: TcbStatus, qe: TcbStatus): TdxTcbStatus {
  const svn2 = quote.body.teeTcbSvn2;
  if (svn2 === undefined || qe !== 'UpToDate') return tdx;
  if (!(['UpToDate', 'SWHardeningNeeded', ...CONFIGURATION_NEEDED] as TdxTcbStatus[]).includes(sgx)) return tdx;
  if ((tdx !== 'OutOfDate' && tdx !== 'OutOfDateConfigurationNeeded') || module !== 'OutOfDate') return tdx;
  const latest = tcbInfo.tcbLevels[0] as TcbLevel;
  const major2 = svn2[1] as number;
  const moduleSvnMet = major2 === 0 ? (svn2[0] as number) >= (latest.tdxComponents[0] as number) : (svn2[0] as number) >= (moduleIdentity(tcbInfo, major2, 'TEE_TCB_SVN2[1]').tcbLevels[0]?.isvSvn ?? Infinity);
  if (!moduleSvnMet || (svn2[2] as number) < (latest.tdxComponents[2] as number)) return tdx;
  return CONFIGURATION_NEEDED.includes(sgx) || tdx === 'OutOfDateConfigurationNeeded' ? 'TDRelaunchAdvisedConfigurationNeeded' : 'TDRelaunchAdvised';
}

/** The quote's TCB status from verified TCB info and QE identity; a mismatch or an unmatched level throws. */
export function evaluateTcb(quote: TdxQuote, pck: PckExtensions, tcbInfo: TcbInfo, qe: QeIdentity): TcbEvaluation {
  checkPlatformIdentity(tcbInfo, pck);
  const identity = checkModuleSigner(quote, tcbInfo);
  const qePart = qeLevel(quote, qe);
  const { sgx, tdx } = platformLevels(quote, pck, tcbInfo);
  const modulePart = moduleLevel(quote, identity);
  let status = converge(tdx.tcbStatus, modulePart.status);
  if (status !== 'Revoked' && quote.body.bodyType === TD_BODY_TYPE.tdx15) status = relaunch(quote, tcbInfo, sgx.tcbStatus, status, modulePart.status, qePart.status);
  status = converge(status, qePart.status);
  const advisoryIds = [...new Set([...tdx.advisoryIds, ...modulePart.advisoryIds, ...qePart.advisoryIds])];
  return Object.freeze({
    status,
    platform: { ...part(tdx), sgxStatus: sgx.tcbStatus },
    module: modulePart,
    qe: qePart,
    advisoryIds,
    tcbEvaluationDataNumber: tcbInfo.tcbEvaluationDataNumber,
  });
}
