// An Intel PCS API v4 client: the collateral a TDX quote needs, fetched for its PCK certificate's FMSPC and
// issuing CA. The requests (Intel SGX and Intel TDX PCS API v4; with update standard, the URLs of
// go-tdx-guest's pcs package, TcbInfoURL / QeIdentityURL / PckCrlURL):
//
//   GET {base}/tdx/certification/v4/tcb?fmspc={fmspc hex}[&update=early]
//   GET {base}/tdx/certification/v4/qe/identity[?update=early]
//   GET {base}/sgx/certification/v4/pckcrl?ca={platform|processor}&encoding=der
//   GET https://certificates.trustedservices.intel.com/IntelSGXRootCA.der   (the Intel SGX Root CA's CRL
//       distribution point; no PCS path serves it)
//
// {base} is Intel's PCS or a service that serves the same paths (a PCCS, a cloud's caching service).
// `update` omitted is PCS's default, standard. Browser-safe: the transport is the global fetch or one given.
import { readCapped, ResponseTooLarge } from '../client/httpFetch.js';
import { CloisterError, ParseError } from '../errors.js';
import { parseCertificate, type Certificate } from '../x509.js';
import type { TdxCollateral } from './collateral.js';
import { fmspcHex, parsePckExtensions, pckCaType } from './pckExtensions.js';
import { collateralFromPcsResponses, PCS_ISSUER_CHAIN_HEADERS, type PcsResponseName } from './pcsResponses.js';
import type { TdxQuote } from './quote.js';

export const INTEL_PCS_URL = 'https://api.trustedservices.intel.com';
export const INTEL_ROOT_CA_CRL_URL = 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der';
export const PCS_UPDATE_TYPES = ['standard', 'early'] as const;
export type PcsUpdateType = (typeof PCS_UPDATE_TYPES)[number];

/** Enough of fetch for GET: a browser's, Node's, or a test's. */
export type PcsFetch = (url: string, init: { method: 'GET'; signal: AbortSignal }) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  /** Read as a stream where present (a Response), so an endless body stops at the limit. */
  body?: ReadableStream<Uint8Array> | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

export interface PcsClientOptions {
  /** The PCS API's origin (and path prefix): default Intel's. A trailing /sgx|tdx/certification/v4 is dropped. */
  readonly baseUrl?: string;
  /** Where the Intel SGX Root CA CRL is fetched from; default Intel's. */
  readonly rootCaCrlUrl?: string;
  /** TCB info and QE identity of the standard (default) or the early TCB recovery schedule. */
  readonly update?: PcsUpdateType;
  readonly fetch?: PcsFetch;
  /** Per request, in ms (default 30 000). */
  readonly timeoutMs?: number;
}

/** Which platform's collateral: the PCK certificate's FMSPC and the PCK CA that issued it. */
export interface PcsTarget {
  readonly fmspc: string;
  readonly ca: 'platform' | 'processor';
}

export type PcsUrls = Readonly<Record<PcsResponseName, string>>;

/** Bodies larger than this are refused (a processor CA's PCK CRL is tens of KiB). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

const unavailable = (message: string, response: PcsResponseName, actual?: string, cause?: unknown): CloisterError =>
  new CloisterError('COLLATERAL_UNAVAILABLE', message, { field: response, ...(actual === undefined ? {} : { actual }), ...(cause === undefined ? {} : { cause }) });

/** The FMSPC and PCK CA of a PCK certificate. */
export function pcsTarget(pck: Certificate): PcsTarget {
  const ca = pckCaType(pck);
  if (ca === undefined) {
    throw new ParseError('MALFORMED_FIELD', `PCK certificate issuer "${pck.issuerCommonName ?? '?'}" is neither Intel SGX PCK Platform CA nor Intel SGX PCK Processor CA`, { field: 'PCK issuer', actual: pck.issuerCommonName ?? '' });
  }
  return { fmspc: fmspcHex(parsePckExtensions(pck)), ca };
}

/** An http(s) URL, else a ParseError naming the option. */
function httpUrl(text: string, field: string, what: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hash !== '') {
    throw new ParseError('MALFORMED_FIELD', `${what} "${text}" is not an http(s) URL without a fragment`, { field, actual: text });
  }
  return url;
}

function baseUrl(given: string | undefined): string {
  const url = httpUrl(given ?? INTEL_PCS_URL, 'baseUrl', 'PCS base URL');
  if (url.search !== '') throw new ParseError('MALFORMED_FIELD', `PCS base URL "${url.href}" has a query`, { field: 'baseUrl', actual: url.href });
  return url.href.replace(/\/+$/, '').replace(/\/(?:sgx|tdx)\/certification\/v4$/, '');
}

/** The four URLs the collateral for `target` is fetched from. */
export function pcsUrls(target: PcsTarget, options: PcsClientOptions = {}): PcsUrls {
  if (!/^[0-9a-fA-F]{12}$/.test(target.fmspc)) throw new ParseError('MALFORMED_FIELD', `FMSPC "${target.fmspc}" is not 6 bytes of hex`, { field: 'fmspc', actual: target.fmspc });
  const update = options.update ?? 'standard';
  if (!(PCS_UPDATE_TYPES as readonly string[]).includes(update)) throw new ParseError('MALFORMED_FIELD', `update "${update}" is neither standard nor early`, { field: 'update', actual: update });
  const base = baseUrl(options.baseUrl);
  const early = update === 'early';
  return {
    tcbInfo: `${base}/tdx/certification/v4/tcb?fmspc=${target.fmspc}${early ? '&update=early' : ''}`,
    qeIdentity: `${base}/tdx/certification/v4/qe/identity${early ? '?update=early' : ''}`,
    pckCrl: `${base}/sgx/certification/v4/pckcrl?ca=${target.ca}&encoding=der`,
    rootCaCrl: options.rootCaCrlUrl === undefined ? INTEL_ROOT_CA_CRL_URL : httpUrl(options.rootCaCrlUrl, 'rootCaCrlUrl', 'root CA CRL URL').href,
  };
}

interface Fetched {
  readonly url: string;
  readonly status: number;
  readonly body: Uint8Array;
  readonly header: (name: string) => string | undefined;
}

async function get(response: PcsResponseName, url: string, options: PcsClientOptions): Promise<Fetched> {
  // Called unbound, a browser's fetch throws "Illegal invocation".
  const fetch = options.fetch ?? ((u, init) => globalThis.fetch(u, init));
  let r: Awaited<ReturnType<PcsFetch>>;
  let body: Uint8Array;
  try {
    r = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
    if (r.status !== 200) throw unavailable(`GET ${url}: HTTP ${r.status}`, response, String(r.status));
    const length = Number(r.headers.get('content-length') ?? 0);
    if (length > MAX_BODY_BYTES) throw unavailable(`GET ${url}: HTTP 200 with a ${length}-byte body, over the limit of ${MAX_BODY_BYTES}`, response, '200');
    body = await readCapped(r, MAX_BODY_BYTES).catch((e: unknown) => {
      throw e instanceof ResponseTooLarge ? unavailable(`GET ${url}: HTTP 200 with a body over the limit of ${MAX_BODY_BYTES} bytes`, response, '200') : e;
    });
  } catch (cause) {
    if (cause instanceof CloisterError) throw cause;
    const reason = (cause as Error).cause instanceof Error ? `${(cause as Error).message} (${((cause as Error).cause as Error).message})` : (cause as Error).message;
    throw unavailable(`GET ${url} failed: ${reason}`, response, (cause as Error).name, cause);
  }
  if (body.length > MAX_BODY_BYTES) throw unavailable(`GET ${url}: HTTP 200 with a ${body.length}-byte body, over the limit of ${MAX_BODY_BYTES}`, response, '200');
  return { url, status: r.status, body, header: (name) => r.headers.get(name) ?? undefined };
}

function text(f: Fetched, response: PcsResponseName): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(f.body);
  } catch (cause) {
    throw unavailable(`GET ${f.url}: HTTP ${f.status} but the body is not UTF-8 text`, response, String(f.status), cause);
  }
}

/**
 * Fetches the collateral for the platform of `pck` (the quote's PCK certificate). Every failure is a
 * CloisterError COLLATERAL_UNAVAILABLE whose message names the URL and the HTTP status (field: which
 * response, `actual`: the status or the network error's name); a PCK certificate without the SGX
 * extensions or an unknown issuing CA is a ParseError, as is a malformed option.
 */
export async function fetchPckCollateral(pck: Certificate, options: PcsClientOptions = {}): Promise<TdxCollateral> {
  const urls = pcsUrls(pcsTarget(pck), options);
  const [tcb, qe, pckCrl, rootCaCrl] = await Promise.all([get('tcbInfo', urls.tcbInfo, options), get('qeIdentity', urls.qeIdentity, options), get('pckCrl', urls.pckCrl, options), get('rootCaCrl', urls.rootCaCrl, options)]);
  const fetched: Record<PcsResponseName, Fetched> = { tcbInfo: tcb, qeIdentity: qe, pckCrl, rootCaCrl };
  const { collateral, problems } = collateralFromPcsResponses({
    // PCS API v3 named this header SGX-TCB-Info-Issuer-Chain; dcap-qvl accepts either from a PCCS, and so do we.
    tcbInfo: { body: text(tcb, 'tcbInfo'), issuerChain: tcb.header(PCS_ISSUER_CHAIN_HEADERS.tcbInfo) ?? tcb.header('SGX-TCB-Info-Issuer-Chain') },
    qeIdentity: { body: text(qe, 'qeIdentity'), issuerChain: qe.header(PCS_ISSUER_CHAIN_HEADERS.qeIdentity) },
    pckCrl: { body: pckCrl.body, issuerChain: pckCrl.header(PCS_ISSUER_CHAIN_HEADERS.pckCrl) },
    rootCaCrl: { body: rootCaCrl.body },
  });
  const first = problems[0];
  if (first !== undefined) {
    const f = fetched[first.response];
    throw unavailable(`GET ${f.url}: HTTP ${f.status} but ${first.message}`, first.response, String(f.status));
  }
  return collateral as TdxCollateral;
}

/** Fetches the collateral for a parsed quote, through its PCK certificate (the first of its chain). */
export async function fetchQuoteCollateral(quote: TdxQuote, options: PcsClientOptions = {}): Promise<TdxCollateral> {
  const der = quote.pckCertificates[0];
  if (der === undefined) throw new ParseError('MALFORMED_FIELD', 'the quote carries no PCK certificate', { field: 'pckCertificates' });
  return fetchPckCollateral(parseCertificate(der), options);
}
