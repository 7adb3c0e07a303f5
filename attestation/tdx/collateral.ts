// Intel PCS collateral for a TDX quote, as carried in a `cloister-evidence/v1` bundle's `collateral`
// member (docs/evidence-bundle.md). The member names are those of Phala-Network/dcap-qvl's
// QuoteCollateralV3 JSON (testdata/attestation/dcap-qvl/tdx_quote_collateral.json), so a
// collateral file written by dcap-qvl drops in unchanged:
//
//   tcb_info                 the signed TCB info body exactly as Intel PCS serves it (GET /tdx/certification/v4/tcb,
//                            the "tcbInfo" member's text), JSON with issueDate and nextUpdate
//   tcb_info_issuer_chain    PEM: TCB Signing certificate || Intel SGX Root CA (TCB-Info-Issuer-Chain header)
//   tcb_info_signature       hex ECDSA P-256 r||s (64 bytes) over tcb_info
//   qe_identity              the signed TDX QE identity body (GET /tdx/certification/v4/qe/identity)
//   qe_identity_issuer_chain PEM (SGX-Enclave-Identity-Issuer-Chain header)
//   qe_identity_signature    hex r||s (64 bytes) over qe_identity
//   pck_crl_issuer_chain, root_ca_crl, pck_crl   optional; the CRLs as hex DER
//
// Only the shape is checked here. Nothing verifies the signatures or evaluates the TCB levels yet, so
// the contents are untrusted and grant nothing: the verdict's `collateral` check is `skipped`.
import { decodePem } from '../bytes.js';

export interface TdxCollateral {
  readonly tcbInfo: string;
  readonly tcbInfoIssuerChain: string;
  readonly tcbInfoSignature: string;
  readonly qeIdentity: string;
  readonly qeIdentityIssuerChain: string;
  readonly qeIdentitySignature: string;
  readonly pckCrlIssuerChain?: string;
  readonly rootCaCrl?: string;
  readonly pckCrl?: string;
}

/** camelCase field -> JSON member name (dcap-qvl's). */
export const COLLATERAL_MEMBERS = {
  tcbInfo: 'tcb_info',
  tcbInfoIssuerChain: 'tcb_info_issuer_chain',
  tcbInfoSignature: 'tcb_info_signature',
  qeIdentity: 'qe_identity',
  qeIdentityIssuerChain: 'qe_identity_issuer_chain',
  qeIdentitySignature: 'qe_identity_signature',
  pckCrlIssuerChain: 'pck_crl_issuer_chain',
  rootCaCrl: 'root_ca_crl',
  pckCrl: 'pck_crl',
} as const satisfies Record<keyof TdxCollateral, string>;

type Kind = 'signed-json' | 'pem' | 'signature' | 'hex';
const KINDS: Record<keyof TdxCollateral, Kind> = {
  tcbInfo: 'signed-json',
  tcbInfoIssuerChain: 'pem',
  tcbInfoSignature: 'signature',
  qeIdentity: 'signed-json',
  qeIdentityIssuerChain: 'pem',
  qeIdentitySignature: 'signature',
  pckCrlIssuerChain: 'pem',
  rootCaCrl: 'hex',
  pckCrl: 'hex',
};
const OPTIONAL = new Set<keyof TdxCollateral>(['pckCrlIssuerChain', 'rootCaCrl', 'pckCrl']);

function dateMember(o: Record<string, unknown>, k: string): boolean {
  const v = o[k];
  return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(new Date(v).getTime());
}

function problem(kind: Kind, v: unknown): string | undefined {
  if (typeof v !== 'string') return 'must be a string';
  switch (kind) {
    case 'signed-json': {
      let o: unknown;
      try {
        o = JSON.parse(v);
      } catch {
        return 'must be the signed JSON text';
      }
      if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'must be the signed JSON text of an object';
      const r = o as Record<string, unknown>;
      return dateMember(r, 'issueDate') && dateMember(r, 'nextUpdate') ? undefined : 'must have ISO 8601 issueDate and nextUpdate';
    }
    case 'pem':
      return decodePem(v).some((b) => b.label === 'CERTIFICATE') ? undefined : 'must be PEM with CERTIFICATE blocks';
    case 'signature':
      return /^[0-9a-fA-F]{128}$/.test(v) ? undefined : 'must be 64 bytes of hex (ECDSA P-256 r||s)';
    case 'hex':
      return /^(?:[0-9a-fA-F]{2})+$/.test(v) ? undefined : 'must be hex DER';
  }
}

/**
 * Reads a bundle's `collateral` member: the collateral, or the list of problems, each "path: what".
 * Members this version does not know are ignored, as elsewhere in the bundle.
 */
export function readTdxCollateral(value: unknown, path: string): { collateral?: TdxCollateral; problems: string[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problems: [`${path}: must be an object`] };
  const o = value as Record<string, unknown>;
  const problems: string[] = [];
  const out: Record<string, string> = {};
  for (const [field, member] of Object.entries(COLLATERAL_MEMBERS) as [keyof TdxCollateral, string][]) {
    if (!(member in o) && OPTIONAL.has(field)) continue;
    const p = member in o ? problem(KINDS[field], o[member]) : 'is required';
    if (p === undefined) out[field] = o[member] as string;
    else problems.push(`${path}.${member}: ${p}`);
  }
  return problems.length > 0 ? { problems } : { collateral: Object.freeze(out as unknown as TdxCollateral), problems };
}

/** The collateral as bundle JSON, with dcap-qvl's member names. */
export function tdxCollateralJson(c: TdxCollateral): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, member] of Object.entries(COLLATERAL_MEMBERS) as [keyof TdxCollateral, string][]) {
    const v = c[field];
    if (v !== undefined) out[member] = v;
  }
  return out;
}

export interface CollateralDates {
  readonly tcbInfo: { readonly issueDate: Date; readonly nextUpdate: Date };
  readonly qeIdentity: { readonly issueDate: Date; readonly nextUpdate: Date };
  /** The earlier nextUpdate: when this collateral stops being current. */
  readonly nextUpdate: Date;
}

/**
 * issueDate / nextUpdate as the collateral states them (unverified), or undefined when they cannot be
 * read (collateral built in code that never went through readTdxCollateral).
 */
export function collateralDates(c: TdxCollateral): CollateralDates | undefined {
  const dates = (text: string): { issueDate: Date; nextUpdate: Date } | undefined => {
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof o !== 'object' || o === null) return undefined;
    const r = o as Record<string, unknown>;
    return dateMember(r, 'issueDate') && dateMember(r, 'nextUpdate') ? { issueDate: new Date(r.issueDate as string), nextUpdate: new Date(r.nextUpdate as string) } : undefined;
  };
  const tcbInfo = dates(c.tcbInfo);
  const qeIdentity = dates(c.qeIdentity);
  if (tcbInfo === undefined || qeIdentity === undefined) return undefined;
  return { tcbInfo, qeIdentity, nextUpdate: new Date(Math.min(tcbInfo.nextUpdate.getTime(), qeIdentity.nextUpdate.getTime())) };
}
