// Cryptographic verification of Intel PCS collateral for a TDX quote whose PCK chain has been verified:
//   - TCB info and QE identity: each issuer chain is a TCB Signing certificate and the root, the same trusted
//     root as the PCK chain; the signing certificate is signed by it, valid at the evaluation time and not on
//     the root CA CRL; the ECDSA P-256 signature (r||s) covers the exact signed JSON text; the evaluation time
//     lies within issueDate..nextUpdate;
//   - the root CA CRL, signed by the root, within thisUpdate..nextUpdate, must not list the PCK CA;
//   - the PCK CRL, issued by the PCK certificate's own CA (Platform or Processor) and signed by it, within its
//     window, must not list the PCK certificate.
// What does not depend on the evaluation time (parsing, every signature) is kept in a CollateralMemo, so a
// verifier that sees the same collateral again checks only validity, windows and revocation.
import { bytesEqual, decodePem, fromHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import type { EcdsaImporter } from '../ecdsa.js';
import { ParseError, VerificationError } from '../errors.js';
import { verifySignedBy } from '../signatures.js';
import { certificateName as name, checkValidity } from '../validity.js';
import { parseCertificate, parseCrl, type Certificate, type Crl } from '../x509.js';
import type { TdxCollateral } from './collateral.js';
import { parseQeIdentity, type QeIdentity } from './qeIdentity.js';
import { parseTcbInfo, type TcbInfo } from './tcbInfo.js';

export interface CollateralContext {
  /** Throws UNTRUSTED_ROOT unless `root` is one of the verifier's trusted roots. */
  readonly checkTrusted: (root: Certificate, chain: string) => void;
  readonly ecdsa: EcdsaImporter;
  readonly at: Date;
  /** The verified PCK chain of the quote. */
  readonly pck: Certificate;
  readonly pckCa: Certificate;
  readonly root: Certificate;
}

export interface VerifiedCollateral {
  readonly tcbInfo: TcbInfo;
  readonly qeIdentity: QeIdentity;
  readonly tcbSigner: string;
}

/** The time-independent results for one collateral, filled step by step as each succeeds. */
export interface CollateralMemo {
  readonly collateral: TdxCollateral;
  parsed?: readonly [TcbInfo, QeIdentity];
  tcbSigner?: { readonly leaf: Certificate; readonly root: Certificate };
  qeSigner?: { readonly leaf: Certificate; readonly root: Certificate };
  rootCrl?: { readonly crl: Crl; readonly issuer: Certificate };
  pckCrl?: { readonly crl: Crl; readonly issuer: Certificate };
}

const iso = (d: Date): string => d.toISOString();

function missing(member: string): never {
  throw new VerificationError('COLLATERAL_MISSING', `the collateral has no ${member}; Intel PCS serves it with the TCB info (cloister collateral fetch)`, { field: member });
}

function checkWindow(what: string, field: string, issueDate: Date, nextUpdate: Date, at: Date): void {
  if (at < issueDate || at > nextUpdate) {
    throw new VerificationError('COLLATERAL_EXPIRED', `${what} is valid ${iso(issueDate)}..${iso(nextUpdate)}, evaluated at ${iso(at)}${at > nextUpdate ? ': fetch current collateral' : ': issued after the evaluation time'}`, {
      field: at > nextUpdate ? `${field}.nextUpdate` : `${field}.issueDate`,
      expected: `${iso(issueDate)}..${iso(nextUpdate)}`,
      actual: iso(at),
    });
  }
}

function crlCurrent(crl: Crl, what: string, at: Date): void {
  if (at < crl.thisUpdate || (crl.nextUpdate !== undefined && at > crl.nextUpdate)) {
    const early = at < crl.thisUpdate;
    throw new VerificationError('CRL_EXPIRED', `${what} is valid ${iso(crl.thisUpdate)}..${crl.nextUpdate === undefined ? 'open' : iso(crl.nextUpdate)}, evaluated at ${iso(at)}${early ? ': not valid yet' : ''}`, {
      field: `${what}.${early ? 'thisUpdate' : 'nextUpdate'}`,
      expected: `${iso(crl.thisUpdate)}..${crl.nextUpdate === undefined ? '' : iso(crl.nextUpdate)}`,
      actual: iso(at),
    });
  }
}

function notRevoked(crl: Crl, cert: Certificate, by: string): void {
  if (crl.revokedSerialsHex.has(cert.serialHex)) {
    throw new VerificationError('CERT_REVOKED', `${name(cert)} (serial ${cert.serialHex}) is revoked by the ${by}`, { field: name(cert), actual: cert.serialHex });
  }
}

/** A CRL signed by `issuer`; its window is checked per evaluation. */
async function signedCrl(hex: string, member: string, issuer: Certificate): Promise<{ crl: Crl; issuer: Certificate }> {
  const crl = parseCrl(fromHex(hex, member));
  if (!bytesEqual(crl.issuer, issuer.subject)) {
    throw new VerificationError('CRL_INVALID', `${member} is issued by "${crl.issuerCommonName ?? '?'}", expected "${name(issuer)}"`, { field: member, expected: name(issuer), actual: crl.issuerCommonName ?? '?' });
  }
  if (!(await verifySignedBy(crl, issuer))) throw new VerificationError('CRL_INVALID', `${member} is not signed by ${name(issuer)}`, { field: member });
  return { crl, issuer };
}

/** An issuer chain (signing certificate || root) whose signature verifies; trust and validity are checked per evaluation. */
async function signedChain(pem: string, member: string): Promise<{ leaf: Certificate; root: Certificate }> {
  const certs = decodePem(pem).filter((b) => b.label === 'CERTIFICATE').map((b) => parseCertificate(b.der));
  const [leaf, root] = certs;
  if (certs.length > 2) throw new ParseError('MALFORMED_FIELD', `${member} holds ${certs.length} certificates, expected 2 (TCB Signing certificate, root CA)`, { field: member, expected: '2', actual: String(certs.length) });
  if (leaf === undefined || root === undefined) {
    throw new VerificationError('MISSING_CERTIFICATE', `${member} holds ${certs.length} certificate(s), expected 2 (TCB Signing certificate, root CA)`, { field: member, expected: '2', actual: String(certs.length) });
  }
  if (!bytesEqual(leaf.issuer, root.subject) || !(await verifySignedBy(leaf, root))) {
    throw new VerificationError('CHAIN_SIGNATURE_INVALID', `${member}: ${name(leaf)} is not signed by ${name(root)}`, { field: member });
  }
  if (leaf.unhandledCritical.length > 0) throw new VerificationError('CERT_CONSTRAINTS', `${name(leaf)} has critical extensions this verifier does not process: ${leaf.unhandledCritical.join(', ')}`, { field: name(leaf) });
  // The TCB Signing certificate is an end entity: a CA's key (the root's, a PCK CA's) does not sign collateral.
  if (leaf.basicConstraints?.ca === true || bytesEqual(leaf.der, root.der)) throw new VerificationError('CERT_CONSTRAINTS', `${member}: ${name(leaf)} is a CA certificate, not a TCB Signing certificate`, { field: member });
  return { leaf, root };
}

async function checkSignature(ecdsa: EcdsaImporter, cert: Certificate, text: string, signatureHex: string, member: string): Promise<void> {
  const key = await ecdsa(cert.spki, 'P-256', 'SHA-256');
  if (!(await key.verify(fromHex(signatureHex, `${member}_signature`), new TextEncoder().encode(text)))) {
    throw new VerificationError('COLLATERAL_SIGNATURE_INVALID', `${member}_signature does not verify over ${member} with the key of ${name(cert)}`, { field: `${member}_signature` });
  }
}

/** The issuer chain's signing certificate, signed once (memo) and checked for trust and validity every time. */
async function signer(memo: { leaf: Certificate; root: Certificate } | undefined, make: () => Promise<{ leaf: Certificate; root: Certificate }>, member: string, ctx: CollateralContext): Promise<{ leaf: Certificate; root: Certificate }> {
  const chain = memo ?? (await make());
  ctx.checkTrusted(chain.root, member);
  // Another trusted root (a development root, one added by the caller) must not vouch for Intel's platforms.
  if (!bytesEqual(chain.root.der, ctx.root.der)) {
    throw new VerificationError('UNTRUSTED_ROOT', `${member} ends in "${name(chain.root)}", not in the root of the quote's PCK chain ("${name(ctx.root)}"): collateral must come from the platform's own root`, {
      field: member,
      expected: name(ctx.root),
      actual: name(chain.root),
    });
  }
  checkValidity([chain.leaf, chain.root], ctx.at);
  return chain;
}

/** Verifies `collateral` for the quote's PCK chain; each step is one check in `log`. `memo` carries earlier results for the same collateral. */
export async function verifyCollateral(collateral: TdxCollateral | undefined, ctx: CollateralContext, log = new CheckLog(), memo?: CollateralMemo): Promise<VerifiedCollateral> {
  const c = log.runSync('collateral.present', () => {
    if (collateral === undefined) {
      throw new VerificationError('COLLATERAL_MISSING', 'no Intel PCS collateral (TCB info, QE identity, CRLs) was supplied, so the TCB cannot be evaluated; pass --collateral, or --chain-only to check signatures and chain alone', { field: 'collateral' });
    }
    if (collateral.rootCaCrl === undefined) missing('root_ca_crl');
    if (collateral.pckCrl === undefined) missing('pck_crl');
    return { ...collateral, rootCaCrl: collateral.rootCaCrl, pckCrl: collateral.pckCrl };
  });
  const m: CollateralMemo = memo ?? { collateral: c };
  const [tcbInfo, qeIdentity] = log.runSync('collateral.parse', () => (m.parsed ??= [parseTcbInfo(c.tcbInfo), parseQeIdentity(c.qeIdentity)] as const));
  /** One signed document (TCB info, QE identity): its issuer chain and signature (once, memo), then its window. */
  const document = async (member: 'tcb_info' | 'qe_identity', what: string, window: { issueDate: Date; nextUpdate: Date }, slot: 'tcbSigner' | 'qeSigner', text: string, signature: string, chainPem: string): Promise<Certificate> => {
    const chain = await signer(m[slot], async () => {
      const made = await signedChain(chainPem, `${member}_issuer_chain`);
      await checkSignature(ctx.ecdsa, made.leaf, text, signature, member);
      return made;
    }, `${member}_issuer_chain`, ctx);
    m[slot] = chain;
    checkWindow(what, member, window.issueDate, window.nextUpdate, ctx.at);
    return chain.leaf;
  };
  const tcbSigner = await log.run('collateral.tcb-info', () => document('tcb_info', 'TCB info', tcbInfo, 'tcbSigner', c.tcbInfo, c.tcbInfoSignature, c.tcbInfoIssuerChain), (cert) => `signed by ${name(cert)}, next update ${iso(tcbInfo.nextUpdate)}`);
  const qeSigner = await log.run('collateral.qe-identity', () => document('qe_identity', 'QE identity', qeIdentity, 'qeSigner', c.qeIdentity, c.qeIdentitySignature, c.qeIdentityIssuerChain), () => `next update ${iso(qeIdentity.nextUpdate)}`);
  await log.run('crl.root', async () => {
    const signed = m.rootCrl?.issuer === ctx.root ? m.rootCrl : await signedCrl(c.rootCaCrl, 'root_ca_crl', ctx.root);
    m.rootCrl = signed;
    crlCurrent(signed.crl, 'root_ca_crl', ctx.at);
    for (const cert of [ctx.pckCa, tcbSigner, qeSigner]) notRevoked(signed.crl, cert, 'root CA CRL');
    return signed.crl;
  }, (crl) => `${crl.revokedSerialsHex.size} revoked, none of ours; next update ${crl.nextUpdate === undefined ? 'open' : iso(crl.nextUpdate)}`);
  await log.run('crl.pck', async () => {
    const signed = m.pckCrl?.issuer === ctx.pckCa ? m.pckCrl : await signedCrl(c.pckCrl, 'pck_crl', ctx.pckCa);
    m.pckCrl = signed;
    crlCurrent(signed.crl, 'pck_crl', ctx.at);
    notRevoked(signed.crl, ctx.pck, 'PCK CRL');
    return signed.crl;
  }, (crl) => `issued by ${name(ctx.pckCa)}, ${crl.revokedSerialsHex.size} revoked, not the PCK certificate`);
  return { tcbInfo, qeIdentity, tcbSigner: name(tcbSigner) };
}

/** The same collateral, member for member (the strings are usually the very same objects). */
export function sameCollateral(a: TdxCollateral, b: TdxCollateral): boolean {
  return a.tcbInfo === b.tcbInfo && a.tcbInfoIssuerChain === b.tcbInfoIssuerChain && a.tcbInfoSignature === b.tcbInfoSignature && a.qeIdentity === b.qeIdentity &&
    a.qeIdentityIssuerChain === b.qeIdentityIssuerChain && a.qeIdentitySignature === b.qeIdentitySignature && a.rootCaCrl === b.rootCaCrl && a.pckCrl === b.pckCrl;
}
