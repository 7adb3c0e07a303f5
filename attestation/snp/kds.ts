// AMD Key Distribution Service (AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
// Specification", publication 57230, chapter 4): a chip's VCEK at a TCB, each product's ASK/ASVK and ARK, and
// the ARK's CRL.
//
//   GET https://kdsintf.amd.com/vcek/v1/{product}/{hwid}?blSPL=B&teeSPL=T&snpSPL=S&ucodeSPL=U  DER certificate
//       Milan, Genoa: hwid is CHIP_ID, 64 bytes as 128 hex digits.
//       Turin: hwid is CHIP_ID's first 8 bytes (16 hex digits), and fmcSPL=F comes first.
//   GET https://kdsintf.amd.com/{vcek|vlek}/v1/{product}/cert_chain   PEM: the ASK (vlek: ASVK), then the ARK
//   GET https://kdsintf.amd.com/{vcek|vlek}/v1/{product}/crl          DER CRL issued by the ARK
//
// SPLs are plain decimal, as go-sev-guest's kds.VCEKCertURL writes them. VLEKs are not public (KDS hands them
// to cloud providers only), so only their chain and CRL are here. Nothing here verifies a signature: the
// verifier does, against its own roots. The fetch is injectable and every result carries the exact bytes
// served, so a cache can store those under the URL and serve them back through its own fetch.
import { decodePem, isAllZero, toHex } from '../bytes.js';
import { CloisterError, VerificationError } from '../errors.js';
import { parseCertificate, parseCrl, type Certificate, type Crl } from '../x509.js';
import type { Product } from './product.js';
import type { SnpReport } from './report.js';
import { componentsAbove, decodeTcb, formatTcb, type TcbParts } from './tcb.js';
import { parseVekExtensions } from './vek.js';

export const KDS_URL = 'https://kdsintf.amd.com';

/** The part of a fetch Response this client reads; the global fetch's Response has it. */
export interface KdsResponse {
  readonly status: number;
  readonly statusText: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type KdsFetch = (url: string, init: { readonly signal: AbortSignal }) => Promise<KdsResponse>;

export interface KdsOptions {
  /** Default: the global fetch. */
  readonly fetch?: KdsFetch;
  /** Default KDS_URL; a mirror or caching proxy with the same paths. */
  readonly baseUrl?: string;
  /** Per request; default 30 s. */
  readonly timeoutMs?: number;
}

/** What KDS served: the URL asked, the body exactly as served (for a cache), and the body parsed. */
export interface KdsResult<T> {
  readonly url: string;
  readonly bytes: Uint8Array;
  readonly value: T;
}

export interface AmdCertChain {
  /** The ASK (VCEK chain) or ASVK (VLEK chain). */
  readonly ask: Certificate;
  readonly ark: Certificate;
}

export type KdsKeyKind = 'vcek' | 'vlek';

/** A request to KDS that did not give what was asked: a network failure, an HTTP error, or a body that is not the expected certificate or CRL. */
export class KdsError extends CloisterError {
  readonly url: string;
  /** The HTTP status; undefined when no response came. */
  readonly status: number | undefined;
  constructor(url: string, status: number | undefined, message: string, cause?: unknown) {
    super('KDS_REQUEST_FAILED', message, { field: url, ...(status === undefined ? {} : { actual: String(status) }), ...(cause === undefined ? {} : { cause }) });
    this.url = url;
    this.status = status;
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

const base = (options: KdsOptions): string => (options.baseUrl ?? KDS_URL).replace(/\/+$/, '');

/** The hwid KDS names a chip by: all of CHIP_ID, or on Turin its first 8 bytes. */
export function kdsHwid(product: Product, chipId: Uint8Array): string {
  return toHex(product === 'Turin' ? chipId.subarray(0, 8) : chipId);
}

export function vcekUrl(product: Product, chipId: Uint8Array, tcb: TcbParts, options: KdsOptions = {}): string {
  const spl = `blSPL=${tcb.bootloader}&teeSPL=${tcb.tee}&snpSPL=${tcb.snp}&ucodeSPL=${tcb.microcode}`;
  const query = product === 'Turin' ? `fmcSPL=${tcb.fmc ?? 0}&${spl}` : spl;
  return `${base(options)}/vcek/v1/${product}/${kdsHwid(product, chipId)}?${query}`;
}

export function certChainUrl(product: Product, kind: KdsKeyKind, options: KdsOptions = {}): string {
  return `${base(options)}/${kind}/v1/${product}/cert_chain`;
}

export function crlUrl(product: Product, kind: KdsKeyKind, options: KdsOptions = {}): string {
  return `${base(options)}/${kind}/v1/${product}/crl`;
}

async function get(url: string, options: KdsOptions): Promise<Uint8Array> {
  const fetcher: KdsFetch = options.fetch ?? ((u, init) => globalThis.fetch(u, init));
  let response: KdsResponse;
  try {
    response = await fetcher(url, { signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS) });
  } catch (cause) {
    throw new KdsError(url, undefined, `AMD KDS request to ${url} failed: ${reason(cause)}`, cause);
  }
  // KDS answers 200 with the body; anything else (a redirect not followed, 204, an error) is not the answer.
  if (response.status !== 200) throw new KdsError(url, response.status, `AMD KDS answered ${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`} for ${url}`);
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    throw new KdsError(url, response.status, `AMD KDS answered ${response.status} for ${url} but the body could not be read: ${reason(cause)}`, cause);
  }
}

/** fetch's own message and, where Node gives one, the network error's code (ECONNREFUSED, ENOTFOUND). */
function reason(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `${cause.message} (${code})` : cause.message;
}

/** Reads a body that answered 200; what does not parse or is not what was asked for is a KdsError naming the URL. */
function read<T>(url: string, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (cause) {
    if (!(cause instanceof CloisterError)) throw cause;
    throw new KdsError(url, 200, `AMD KDS answered 200 for ${url} but the body is not ${what}: ${cause.message}`, cause);
  }
}

/** Thrown inside read(): the body parsed but is not the one asked for. */
const wrong = (message: string): CloisterError => new CloisterError('MALFORMED_FIELD', message);

/** The VCEK of the chip `chipId` (a report's CHIP_ID) at `tcb` (its REPORTED_TCB), checked to be that chip's at that TCB. */
export async function fetchVcek(product: Product, chipId: Uint8Array, tcb: TcbParts, options: KdsOptions = {}): Promise<KdsResult<Certificate>> {
  if (isAllZero(chipId)) {
    throw new VerificationError('MISSING_CERTIFICATE', 'CHIP_ID is all zero (MASK_CHIP_ID, or a VLEK-signed report): AMD KDS serves a VCEK only by chip ID', { field: 'CHIP_ID' });
  }
  const url = vcekUrl(product, chipId, tcb, options);
  const bytes = await get(url, options);
  const value = read(url, 'the VCEK asked for', () => {
    const cert = parseCertificate(bytes);
    const info = parseVekExtensions(cert);
    if (info.kind !== 'vcek' || info.product !== product) throw wrong(`it is a ${info.kind.toUpperCase()} for ${info.productName}`);
    if (info.hwId === undefined || toHex(info.hwId) !== kdsHwid(product, chipId)) throw wrong(`its hwID is ${toHex(info.hwId ?? new Uint8Array(0))}`);
    if (componentsAbove(info.tcb, tcb).length > 0 || componentsAbove(tcb, info.tcb).length > 0) throw wrong(`its TCB is ${formatTcb(info.tcb)}, not ${formatTcb(tcb)}`);
    return cert;
  });
  return { url, bytes, value };
}

/** The VCEK that signed `report`, by its CHIP_ID and REPORTED_TCB. */
export function fetchVcekForReport(report: SnpReport, product: Product, options: KdsOptions = {}): Promise<KdsResult<Certificate>> {
  return fetchVcek(product, report.chipId, decodeTcb(report.reportedTcb, product), options);
}

/** The product's ASK (or, for VLEKs, ASVK) and ARK, checked by name. */
export async function fetchCertChain(product: Product, kind: KdsKeyKind, options: KdsOptions = {}): Promise<KdsResult<AmdCertChain>> {
  const url = certChainUrl(product, kind, options);
  const bytes = await get(url, options);
  const askName = kind === 'vcek' ? `SEV-${product}` : `SEV-VLEK-${product}`;
  const value = read(url, `the PEM ${askName} and ARK-${product} certificates`, () => {
    const blocks = decodePem(new TextDecoder().decode(bytes));
    if (blocks.length !== 2 || blocks.some((b) => b.label !== 'CERTIFICATE')) throw wrong(`it holds ${blocks.length === 0 ? 'no PEM block' : blocks.map((b) => b.label).join(', ')}`);
    const [ask, ark] = blocks.map((b) => parseCertificate(b.der)) as [Certificate, Certificate];
    if (ask.subjectCommonName !== askName || ark.subjectCommonName !== `ARK-${product}`) throw wrong(`it names ${String(ask.subjectCommonName)} and ${String(ark.subjectCommonName)}`);
    return { ask, ark };
  });
  return { url, bytes, value };
}

/** The CRL the product's ARK issues for its ASK (vcek) or ASVK (vlek). */
export async function fetchCrl(product: Product, kind: KdsKeyKind, options: KdsOptions = {}): Promise<KdsResult<Crl>> {
  const url = crlUrl(product, kind, options);
  const bytes = await get(url, options);
  const value = read(url, `a DER CRL issued by ARK-${product}`, () => {
    const crl = parseCrl(bytes);
    if (crl.issuerCommonName !== `ARK-${product}`) throw wrong(`its issuer is ${String(crl.issuerCommonName)}`);
    return crl;
  });
  return { url, bytes, value };
}
