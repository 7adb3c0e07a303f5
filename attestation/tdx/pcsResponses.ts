// Intel PCS API v4 responses -> TdxCollateral (Intel SGX and Intel TDX PCS API v4, "Get TDX TCB Info",
// "Get TDX QE Identity", "Get PCK Cert CRL"; the root CA CRL is Intel's file at the root certificate's CRL
// distribution point):
//
//   response      body                                              issuer chain header
//   tcbInfo       {"tcbInfo":{...signed...},"signature":"<r||s hex>"}  TCB-Info-Issuer-Chain
//   qeIdentity    {"enclaveIdentity":{...signed...},"signature":...}   SGX-Enclave-Identity-Issuer-Chain
//   pckCrl        the CRL, DER (encoding=der)                          SGX-PCK-CRL-Issuer-Chain
//   rootCaCrl     the CRL, DER                                         none
//
// The header values are URL-encoded PEM (RFC 3986 percent-encoding; Intel encodes "+" as %2B, so "+" is
// kept as it is, not read as a space). Signed members are cut out of the body as served (jsonMemberText).
// Nothing is verified here: the result is untrusted collateral, as readTdxCollateral describes it.
import { decodePem, fromHex, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';
import { parseCertificate, parseCrl } from '../x509.js';
import { COLLATERAL_MEMBERS, readTdxCollateral, tdxCollateralJson, type TdxCollateral } from './collateral.js';
import { jsonMemberText } from './jsonMemberText.js';

export const PCS_ISSUER_CHAIN_HEADERS = {
  tcbInfo: 'TCB-Info-Issuer-Chain',
  qeIdentity: 'SGX-Enclave-Identity-Issuer-Chain',
  pckCrl: 'SGX-PCK-CRL-Issuer-Chain',
} as const;

/** A signed JSON response: its body as text, and its issuer chain header's value (undefined: no such header). */
export interface PcsJsonResponse {
  readonly body: string;
  readonly issuerChain: string | undefined;
}

export interface PcsCrlResponse {
  readonly body: Uint8Array;
  readonly issuerChain?: string | undefined;
}

export interface PcsResponses {
  readonly tcbInfo: PcsJsonResponse;
  readonly qeIdentity: PcsJsonResponse;
  readonly pckCrl?: PcsCrlResponse;
  readonly rootCaCrl?: PcsCrlResponse;
}

export type PcsResponseName = keyof PcsResponses;

export interface PcsProblem {
  readonly response: PcsResponseName;
  readonly message: string;
}

const malformed = (message: string, field: string): ParseError => new ParseError('MALFORMED_FIELD', message, { field });

/** The signed member's exact text and the signature beside it. */
export function signedMember(body: string, member: 'tcbInfo' | 'enclaveIdentity'): { text: string; signature: string } {
  const text = jsonMemberText(body, member, 'body');
  const signature = (JSON.parse(body) as Record<string, unknown>).signature;
  if (typeof signature !== 'string') throw malformed('body: "signature" is missing or not a string', 'signature');
  return { text, signature };
}

/** The PEM of an issuer chain header: percent-decoded, only CERTIFICATE blocks, each a certificate. */
export function issuerChainPem(value: string | undefined, header: string): string {
  if (value === undefined || value === '') throw malformed(`the ${header} header is missing`, header);
  let pem: string;
  try {
    pem = decodeURIComponent(value);
  } catch {
    throw malformed(`the ${header} header is not valid URL encoding (a "%" not followed by two hex digits, or not UTF-8)`, header);
  }
  const blocks = decodePem(pem);
  if (blocks.length === 0 || blocks.some((b) => b.label !== 'CERTIFICATE')) throw malformed(`the ${header} header is not PEM CERTIFICATE blocks`, header);
  if (pem.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g, '').trim() !== '') throw malformed(`the ${header} header has text outside its PEM blocks`, header);
  blocks.forEach((b, i) => {
    try {
      parseCertificate(b.der);
    } catch (e) {
      throw e instanceof ParseError ? malformed(`the ${header} header's certificate ${i + 1} is not valid: ${e.message}`, header) : e;
    }
  });
  return pem;
}

/** A CRL body: DER, or the hex of DER (Intel's PCCS serves its root CA CRL so). Returned as hex DER. */
export function crlHex(body: Uint8Array): string {
  const text = new TextDecoder().decode(body).trim();
  const der = body[0] === 0x30 ? body : /^(?:[0-9a-fA-F]{2})+$/.test(text) ? fromHex(text) : undefined;
  if (der === undefined) throw malformed('the body is neither a DER CRL nor its hex', 'CRL');
  try {
    parseCrl(der);
  } catch (e) {
    throw e instanceof ParseError ? malformed(`the body is not a DER CRL: ${e.message}`, 'CRL') : e;
  }
  return toHex(der);
}

/** Which response each collateral member comes from. */
const SOURCE: Record<keyof TdxCollateral, PcsResponseName> = {
  tcbInfo: 'tcbInfo',
  tcbInfoIssuerChain: 'tcbInfo',
  tcbInfoSignature: 'tcbInfo',
  qeIdentity: 'qeIdentity',
  qeIdentityIssuerChain: 'qeIdentity',
  qeIdentitySignature: 'qeIdentity',
  pckCrlIssuerChain: 'pckCrl',
  pckCrl: 'pckCrl',
  rootCaCrl: 'rootCaCrl',
};

/**
 * The collateral in these responses, or every problem found, each naming the response it is in. The
 * collateral then passes readTdxCollateral's checks (dates in the signed bodies, 64-byte signatures).
 */
export function collateralFromPcsResponses(r: PcsResponses): { collateral?: TdxCollateral; problems: PcsProblem[] } {
  const problems: PcsProblem[] = [];
  const out: Partial<Record<keyof TdxCollateral, string>> = {};
  const take = (response: PcsResponseName, convert: () => void): void => {
    try {
      convert();
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      problems.push({ response, message: e.message });
    }
  };
  take('tcbInfo', () => {
    ({ text: out.tcbInfo, signature: out.tcbInfoSignature } = signedMember(r.tcbInfo.body, 'tcbInfo'));
  });
  take('tcbInfo', () => (out.tcbInfoIssuerChain = issuerChainPem(r.tcbInfo.issuerChain, PCS_ISSUER_CHAIN_HEADERS.tcbInfo)));
  take('qeIdentity', () => {
    ({ text: out.qeIdentity, signature: out.qeIdentitySignature } = signedMember(r.qeIdentity.body, 'enclaveIdentity'));
  });
  take('qeIdentity', () => (out.qeIdentityIssuerChain = issuerChainPem(r.qeIdentity.issuerChain, PCS_ISSUER_CHAIN_HEADERS.qeIdentity)));
  const { pckCrl, rootCaCrl } = r;
  if (pckCrl !== undefined) {
    take('pckCrl', () => (out.pckCrl = crlHex(pckCrl.body)));
    take('pckCrl', () => (out.pckCrlIssuerChain = issuerChainPem(pckCrl.issuerChain, PCS_ISSUER_CHAIN_HEADERS.pckCrl)));
  }
  if (rootCaCrl !== undefined) take('rootCaCrl', () => (out.rootCaCrl = crlHex(rootCaCrl.body)));
  if (problems.length > 0) return { problems };
  const read = readTdxCollateral(tdxCollateralJson(out as TdxCollateral), 'collateral');
  for (const p of read.problems) {
    const field = (Object.keys(COLLATERAL_MEMBERS) as (keyof TdxCollateral)[]).find((f) => p.startsWith(`collateral.${COLLATERAL_MEMBERS[f]}:`));
    problems.push({ response: field === undefined ? 'tcbInfo' : SOURCE[field], message: p.replace(/^collateral\./, '') });
  }
  return read.collateral === undefined ? { problems } : { collateral: read.collateral, problems };
}
