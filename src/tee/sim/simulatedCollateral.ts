// Intel PCS collateral for the simulated TDX platform, in Intel's formats and signed by the development
// chain (tdxDevChain.ts) instead of Intel: what GET /tdx/certification/v4/tcb and /qe/identity, the root CA
// CRL and the PCK CRL would serve for it, in the TdxCollateral shape (dcap-qvl's member names). It is
// derived from a quote of the simulated platform, the way PCS answers for a platform's PCK certificate:
//
//   TCB info v3, id "TDX"     fmspc / pceId from the PCK certificate's SGX extensions, tcbType 0; tdxModule
//                             from the quote's MRSIGNERSEAM and SEAMATTRIBUTES; tdxModuleIdentities TDX_03 and
//                             TDX_01 (and TDX_nn for TEE_TCB_SVN[1] = nn), levels by TEE_TCB_SVN[0]; tcbLevels:
//                             UpToDate at exactly the platform's 16 SGX components, PCESVN and 16 TEE_TCB_SVN
//                             bytes, then OutOfDate one lower with advisory INTEL-SA-SIMULATED
//   TD_QE identity v2         the QE report's MRSIGNER and ISVPRODID, MISCSELECT and ATTRIBUTES under Intel's
//                             masks, tcbLevels UpToDate at its ISVSVN and OutOfDate one lower
//   signatures                ECDSA P-256 r||s (hex) by the TCB Signing key over the exact JSON text
//   CRLs                      empty v2 CRLs (CRL Number 1) by the root and by the PCK CA, hex DER
//
// issueDate / thisUpdate are now, nextUpdate now + 30 days, as Intel issues them. Member names, order and
// value types follow Intel's responses (testdata/attestation/go-tdx-guest/sample_*): hex in upper case,
// dates without fractions of a second.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { bytesEqual, encodePem, fromHex, toArrayBufferView, toHex } from '../../../attestation/bytes.js';
import { encodeSmallInteger } from '../../../attestation/der.js';
import type { TdxCollateral } from '../../../attestation/tdx/collateral.js';
import { parsePckExtensions } from '../../../attestation/tdx/pckExtensions.js';
import type { TdxQuote } from '../../../attestation/tdx/quote.js';
import { parseCertificate } from '../../../attestation/x509.js';
import { CloisterError } from '../../../attestation/errors.js';
import { collateralSchedule, type CollateralFetch, type CollateralSource } from '../collateralSource.js';
import { TDX_DEV_SIGNING, type TdxDevChain } from './tdxDevChain.js';

const subtle = globalThis.crypto.subtle;
const DAY_MS = 86_400_000;
export const SIMULATED_ADVISORY_ID = 'INTEL-SA-SIMULATED';
/** Intel's TCB recovery counter as of the 2025/2026 samples; a policy minimum at that number passes. */
export const SIMULATED_TCB_EVALUATION_DATA_NUMBER = 18;
export const SIMULATED_COLLATERAL_DAYS = 30;
/** tcbDate of the levels: the chain's notBefore for UpToDate, a year earlier for OutOfDate. */
const UP_TO_DATE_TCB_DATE = '2025-01-01T00:00:00Z';
const OUT_OF_DATE_TCB_DATE = '2024-01-01T00:00:00Z';
// Intel's masks for the TD QE: every MISCSELECT bit; ATTRIBUTES' flags but MODE64BIT (bit 2), no XFRM.
const QE_MISCSELECT_MASK = 0xffffffff;
const QE_ATTRIBUTES_MASK = 'FBFFFFFFFFFFFFFF0000000000000000';

// The component names Intel's TCB info gives the first SGX and TDX TCB components; the others have none.
const SGX_COMPONENTS: readonly (readonly [string?, string?])[] = [['BIOS', 'Early Microcode Update'], ['OS/VMM', 'SGX Late Microcode Update'], ['OS/VMM', 'TXT SINIT'], ['BIOS'], ['BIOS'], ['BIOS'], [], ['OS/VMM', 'SEAMLDR ACM']];
const TDX_COMPONENTS: readonly (readonly [string?, string?])[] = [['OS/VMM', 'TDX Module'], ['OS/VMM', 'TDX Module'], ['OS/VMM', 'TDX Late Microcode Update']];

const hex = (bytes: Uint8Array): string => toHex(bytes).toUpperCase();
/** ISO 8601 in whole seconds, as Intel writes dates. */
const isoSeconds = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const u64Le = (v: bigint): Uint8Array => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, true);
  return out;
};

const components = (svns: Iterable<number>, names: typeof SGX_COMPONENTS): object[] =>
  [...svns].map((svn, i) => {
    const [category, type] = names[i] ?? [];
    return { svn, ...(category === undefined ? {} : { category }), ...(type === undefined ? {} : { type }) };
  });

interface Level {
  readonly tcb: object;
  readonly tcbDate: string;
  readonly tcbStatus: 'UpToDate' | 'OutOfDate';
  readonly advisoryIDs?: readonly string[];
}

/** UpToDate at `tcb(0)`, and OutOfDate at `tcb(1)` (everything one lower) when that differs. */
function levels(tcb: (lower: number) => object): Level[] {
  const current = tcb(0);
  const older = tcb(1);
  const upToDate: Level = { tcb: current, tcbDate: UP_TO_DATE_TCB_DATE, tcbStatus: 'UpToDate' };
  if (JSON.stringify(older) === JSON.stringify(current)) return [upToDate];
  return [upToDate, { tcb: older, tcbDate: OUT_OF_DATE_TCB_DATE, tcbStatus: 'OutOfDate', advisoryIDs: [SIMULATED_ADVISORY_ID] }];
}

const minus = (svn: number, lower: number): number => Math.max(0, svn - lower);

/** The TCB info body (text Intel signs) for the platform that produced `quote`. */
export function simulatedTcbInfo(quote: TdxQuote, issueMs: number, days = SIMULATED_COLLATERAL_DAYS): string {
  const pck = parsePckExtensions(parseCertificate(quote.pckCertificates[0] ?? new Uint8Array()));
  const teeTcbSvn = quote.body.teeTcbSvn;
  const moduleSvn = teeTcbSvn[0] ?? 0;
  const moduleMajor = teeTcbSvn[1] ?? 0;
  const module = { mrsigner: hex(quote.body.mrSignerSeam), attributes: hex(u64Le(quote.body.seamAttributes)), attributesMask: 'FFFFFFFFFFFFFFFF' };
  // TDX_nn applies when TEE_TCB_SVN[1] is nn > 0; Intel lists TDX_03 and TDX_01, highest first.
  const majors = [...new Set([3, 1, ...(moduleMajor > 0 ? [moduleMajor] : [])])].sort((a, b) => b - a);
  const tcbInfo = {
    id: 'TDX',
    version: 3,
    issueDate: isoSeconds(issueMs),
    nextUpdate: isoSeconds(issueMs + days * DAY_MS),
    fmspc: toHex(pck.fmspc),
    pceId: toHex(pck.pceId),
    tcbType: 0,
    tcbEvaluationDataNumber: SIMULATED_TCB_EVALUATION_DATA_NUMBER,
    tdxModule: module,
    tdxModuleIdentities: majors.map((major) => ({
      id: `TDX_${major.toString(16).toUpperCase().padStart(2, '0')}`,
      ...module,
      tcbLevels: levels((lower) => ({ isvsvn: minus(moduleSvn, lower) })),
    })),
    // TEE_TCB_SVN[1] names the module series rather than ranking it: it stays in the older level.
    tcbLevels: levels((lower) => ({
      sgxtcbcomponents: components(pck.cpuSvnComponents.map((s) => minus(s, lower)), SGX_COMPONENTS),
      pcesvn: minus(pck.pceSvn, lower),
      tdxtcbcomponents: components([...teeTcbSvn].map((s, i) => (i === 1 ? s : minus(s, lower))), TDX_COMPONENTS),
    })),
  };
  return JSON.stringify(tcbInfo);
}

/** The TD_QE identity body (text Intel signs) matching `quote`'s QE report. */
export function simulatedQeIdentity(quote: TdxQuote, issueMs: number, days = SIMULATED_COLLATERAL_DAYS): string {
  const qe = quote.qeReport;
  const attributesMask = fromHex(QE_ATTRIBUTES_MASK);
  const identity = {
    id: 'TD_QE',
    version: 2,
    issueDate: isoSeconds(issueMs),
    nextUpdate: isoSeconds(issueMs + days * DAY_MS),
    tcbEvaluationDataNumber: SIMULATED_TCB_EVALUATION_DATA_NUMBER,
    // MISCSELECT as the number it is (the simulated QE's is 0, so byte order never shows).
    miscselect: ((qe.miscSelect & QE_MISCSELECT_MASK) >>> 0).toString(16).toUpperCase().padStart(8, '0'),
    miscselectMask: QE_MISCSELECT_MASK.toString(16).toUpperCase(),
    attributes: hex(qe.attributes.map((b, i) => b & (attributesMask[i] ?? 0))),
    attributesMask: QE_ATTRIBUTES_MASK,
    mrsigner: hex(qe.mrSigner),
    isvprodid: qe.isvProdId,
    tcbLevels: levels((lower) => ({ isvsvn: minus(qe.isvSvn, lower) })),
  };
  return JSON.stringify(identity);
}

async function signText(key: CryptoKey, text: string): Promise<string> {
  // WebCrypto's ECDSA signature is already r||s (IEEE P1363), Intel's format.
  return toHex(new Uint8Array(await subtle.sign(TDX_DEV_SIGNING, key, new TextEncoder().encode(text))));
}

async function emptyCrl(issuerDer: Uint8Array, key: CryptoKey, issueMs: number, days: number): Promise<string> {
  const thisUpdate = new Date(Math.floor(issueMs / 1000) * 1000);
  const crl = await x509.X509CrlGenerator.create({
    issuer: new x509.X509Certificate(toArrayBufferView(issuerDer)).subjectName,
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + days * DAY_MS),
    signingKey: key,
    signingAlgorithm: TDX_DEV_SIGNING,
    extensions: [new x509.Extension('2.5.29.20', false, toArrayBufferView(encodeSmallInteger(1)))], // CRL Number
  });
  return toHex(new Uint8Array(crl.rawData));
}

/**
 * The complete simulated collateral for `quote`, issued at `issueMs`. The quote must come from this chain's
 * platform (its PCK certificate is the chain's): the development keys vouch for nothing else.
 */
export async function createSimulatedCollateral(chain: TdxDevChain, quote: TdxQuote, issueMs: number, days = SIMULATED_COLLATERAL_DAYS): Promise<TdxCollateral> {
  const pck = quote.pckCertificates[0];
  if (pck === undefined || !bytesEqual(pck, chain.pck)) {
    throw new CloisterError('COLLATERAL_UNAVAILABLE', 'simulated collateral covers only the simulated platform: the quote\'s PCK certificate is not the development chain\'s', { field: 'pckCertificate' });
  }
  const tcbInfo = simulatedTcbInfo(quote, issueMs, days);
  const qeIdentity = simulatedQeIdentity(quote, issueMs, days);
  const signingChain = encodePem('CERTIFICATE', chain.tcbSigning) + encodePem('CERTIFICATE', chain.root);
  return {
    tcbInfo,
    tcbInfoIssuerChain: signingChain,
    tcbInfoSignature: await signText(chain.tcbSigningKey, tcbInfo),
    qeIdentity,
    qeIdentityIssuerChain: signingChain,
    qeIdentitySignature: await signText(chain.tcbSigningKey, qeIdentity),
    pckCrlIssuerChain: encodePem('CERTIFICATE', chain.pckCa) + encodePem('CERTIFICATE', chain.root),
    rootCaCrl: await emptyCrl(chain.root, chain.rootKey, issueMs, days),
    pckCrl: await emptyCrl(chain.pckCa, chain.pckCaKey, issueMs, days),
  };
}

/** The simulated TEE's CollateralSource: fresh collateral from the development keys on every fetch. */
export class SimulatedCollateralSource implements CollateralSource {
  readonly name = 'SIMULATED (development TCB Signing key, not Intel PCS)';
  readonly simulated = true;
  readonly #chain: TdxDevChain;
  readonly #now: () => number;
  readonly #days: number;

  constructor(chain: TdxDevChain, options: { now?: () => number; days?: number } = {}) {
    this.#chain = chain;
    this.#now = options.now ?? Date.now;
    this.#days = options.days ?? SIMULATED_COLLATERAL_DAYS;
  }

  async fetch(quote: TdxQuote): Promise<CollateralFetch> {
    const collateral = await createSimulatedCollateral(this.#chain, quote, this.#now(), this.#days);
    return { collateral, ...collateralSchedule(collateral) };
  }
}
