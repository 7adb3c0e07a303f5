// A TDX collateral file (docs/evidence-bundle.md "Collateral files"), in either of two JSON shapes:
//   - dcap-qvl's collateral JSON (tcb_info, tcb_info_issuer_chain, ...), as a bundle's `collateral` member;
//   - Intel PCS responses as they were served, each body with its issuer chain header's value:
//       { "tcbInfo":    { "body": "<GET .../tdx/certification/v4/tcb body>", "issuerChain": "<TCB-Info-Issuer-Chain>" },
//         "qeIdentity": { "body": "<GET .../tdx/certification/v4/qe/identity body>", "issuerChain": "<SGX-Enclave-Identity-Issuer-Chain>" },
//         "pckCrl":     { "body": "<hex of the DER CRL>", "issuerChain": "<SGX-PCK-CRL-Issuer-Chain>" },   (optional)
//         "rootCaCrl":  { "body": "<hex of the DER CRL>" } }                                                    (optional)
// A `tcbInfo` member selects the second shape.
import { ParseError } from '../errors.js';
import { readTdxCollateral, type TdxCollateral } from './collateral.js';
import { collateralFromPcsResponses, type PcsCrlResponse, type PcsJsonResponse, type PcsResponseName } from './pcsResponses.js';

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The PCS responses of a file of the second shape, or the problems, each "path: what". */
function readPcsResponsesJson(o: JsonObject): { collateral?: TdxCollateral; problems: string[] } {
  const problems: string[] = [];
  const response = (name: PcsResponseName, required: boolean, chain: boolean): { body: string; issuerChain: string | undefined } | undefined => {
    const v = o[name];
    if (v === undefined && !required) return undefined;
    if (!isObject(v)) {
      problems.push(`$.${name}: must be an object with "body"${chain ? ' and "issuerChain"' : ''}`);
      return undefined;
    }
    const before = problems.length;
    if (typeof v.body !== 'string') problems.push(`$.${name}.body: must be a string`);
    if (chain && typeof v.issuerChain !== 'string') problems.push(`$.${name}.issuerChain: must be a string (the header's value)`);
    return problems.length === before ? { body: v.body as string, issuerChain: chain ? (v.issuerChain as string) : undefined } : undefined;
  };
  const crl = (r: { body: string; issuerChain: string | undefined } | undefined): PcsCrlResponse | undefined => (r === undefined ? undefined : { body: new TextEncoder().encode(r.body), issuerChain: r.issuerChain });
  const tcbInfo: PcsJsonResponse | undefined = response('tcbInfo', true, true);
  const qeIdentity: PcsJsonResponse | undefined = response('qeIdentity', true, true);
  const pckCrl = crl(response('pckCrl', false, true));
  const rootCaCrl = crl(response('rootCaCrl', false, false));
  if (tcbInfo === undefined || qeIdentity === undefined || problems.length > 0) return { problems };
  const read = collateralFromPcsResponses({ tcbInfo, qeIdentity, ...(pckCrl === undefined ? {} : { pckCrl }), ...(rootCaCrl === undefined ? {} : { rootCaCrl }) });
  return read.collateral === undefined ? { problems: read.problems.map((p) => `$.${p.response}: ${p.message}`) } : { collateral: read.collateral, problems: [] };
}

/**
 * Reads a collateral file of either shape. Anything else (not UTF-8 JSON, neither shape, a bad member) is one
 * ParseError MALFORMED_EVIDENCE listing every problem; its field is the list of their paths.
 */
export function parseTdxCollateralFile(file: Uint8Array | string): TdxCollateral {
  let value: unknown;
  try {
    value = JSON.parse(typeof file === 'string' ? file : new TextDecoder('utf-8', { fatal: true }).decode(file));
  } catch (cause) {
    throw new ParseError('MALFORMED_EVIDENCE', `collateral file is not UTF-8 JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
  const read = !isObject(value)
    ? { problems: ['$: must be an object'] }
    : 'tcbInfo' in value
      ? readPcsResponsesJson(value)
      : 'tcb_info' in value
        ? readTdxCollateral(value, '$')
        : { problems: ['$: neither dcap-qvl collateral JSON (tcb_info, qe_identity, ...) nor Intel PCS responses (tcbInfo, qeIdentity, ...)'] };
  if (read.collateral === undefined || read.problems.length > 0) {
    const fields = [...new Set(read.problems.map((p) => p.split(':')[0] ?? '$'))].join(', ');
    throw new ParseError('MALFORMED_EVIDENCE', `invalid collateral: ${read.problems.join('; ')}`, { field: fields });
  }
  return read.collateral;
}
