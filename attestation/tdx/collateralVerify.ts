// Cryptographic verification of Intel PCS collateral for a TDX quote whose PCK chain has been verified:
//   - TCB info and QE identity: each issuer chain is a TCB Signing certificate and the root, the same trusted
//     root as the PCK chain; the signing certificate is signed by it, valid at the evaluation time and not on
//     the root CA CRL; the ECDSA P-256 signature (r||s) covers the exact signed JSON text; the evaluation time
//     lies within issueDate..nextUpdate;
//   - the root CA CRL, signed by the root, within thisUpdate..nextUpdate, must not list the PCK CA;
//   - the PCK CRL, issued by the PCK certificate's own CA (Platform or Processor) and signed by it, within its
//     window, must not list the PCK certificate.
import { bytesEqual, decodePem, fromHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import type { EcdsaImporter } from '../ecdsa.js';
import { VerificationError } from '../errors.js';
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

const iso = (d: Date): string => d.toISOString();

function missing(member: string): never {
  throw new VerificationError('COLLATERAL_MISSING', `the collateral has no ${member}; Intel PCS serves it with the TCB info (cloister collateral fetch)`, { field: member });
}

function checkWindow(what: string, field: string, issueDate: Date, nextUpdate: Date, at: Date): void {
  if (at < issueDate || at > nextUpdate) {
    throw new VerificationError('COLLATERAL_EXPIRED', `${what} is valid ${iso(issueDate)}..${iso(nextUpdate)}, evaluated at ${iso(at)}${at > nextUpdate ? ': fetch current collateral' : ''}`, {
      field: at > nextUpdate ? `${field}.nextUpdate` : `${field}.issueDate`,
      expected: `${iso(issueDate)}..${iso(nextUpdate)}`,
      actual: iso(at),
    });
  }
}

function crlCurrent(crl: Crl, what: string, at: Date): void {
  if (at < crl.thisUpdate || (crl.nextUpdate !== undefined && at > crl.nextUpdate)) {
    throw new VerificationError('CRL_EXPIRED', `${what} is valid ${iso(crl.thisUpdate)}..${crl.nextUpdate === undefined ? 'open' : iso(crl.nextUpdate)}, evaluated at ${iso(at)}`, {
      field: `${what}.nextUpdate`,
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

async function signedCrl(hex: string, member: string, issuer: Certificate, at: Date): Promise<Crl> {
  const crl = parseCrl(fromHex(hex, member));
  if (!bytesEqual(crl.issuer, issuer.subject)) {
    throw new VerificationError('CRL_INVALID', `${member} is issued by "${crl.issuerCommonName ?? '?'}", expected "${name(issuer)}"`, { field: member, expected: name(issuer), actual: crl.issuerCommonName ?? '?' });
  }
  if (!(await verifySignedBy(crl, issuer))) throw new VerificationError('CRL_INVALID', `${member} is not signed by ${name(issuer)}`, { field: member });
  crlCurrent(crl, member, at);
  return crl;
}

/** The signing certificate of an issuer chain (signing certificate || root), checked against the trusted root; revocation is crl.root's. */
async function signer(pem: string, member: string, ctx: CollateralContext): Promise<Certificate> {
  const certs = decodePem(pem).filter((b) => b.label === 'CERTIFICATE').map((b) => parseCertificate(b.der));
  const [leaf, root] = certs;
  if (leaf === undefined || root === undefined || certs.length !== 2) {
    throw new VerificationError('MISSING_CERTIFICATE', `${member} holds ${certs.length} certificate(s), expected 2 (TCB Signing certificate, root CA)`, { field: member, expected: '2', actual: String(certs.length) });
  }
  ctx.checkTrusted(root, member);
  if (!bytesEqual(leaf.issuer, root.subject) || !(await verifySignedBy(leaf, root))) {
    throw new VerificationError('CHAIN_SIGNATURE_INVALID', `${member}: ${name(leaf)} is not signed by ${name(root)}`, { field: member });
  }
  if (leaf.unhandledCritical.length > 0) throw new VerificationError('CERT_CONSTRAINTS', `${name(leaf)} has critical extensions this verifier does not process: ${leaf.unhandledCritical.join(', ')}`, { field: name(leaf) });
  checkValidity([leaf, root], ctx.at);
  return leaf;
}

async function checkSignature(ctx: CollateralContext, cert: Certificate, text: string, signatureHex: string, member: string): Promise<void> {
  const key = await ctx.ecdsa(cert.spki, 'P-256', 'SHA-256');
  if (!(await key.verify(fromHex(signatureHex, `${member}_signature`), new TextEncoder().encode(text)))) {
    throw new VerificationError('COLLATERAL_SIGNATURE_INVALID', `${member}_signature does not verify over ${member} with the key of ${name(cert)}`, { field: `${member}_signature` });
  }
}

/** Verifies `collateral` for the quote's PCK chain; each step is one check in `log`. */
export async function verifyCollateral(collateral: TdxCollateral | undefined, ctx: CollateralContext, log = new CheckLog()): Promise<VerifiedCollateral> {
  const c = await log.run('collateral.present', () => {
    if (collateral === undefined) {
      throw new VerificationError('COLLATERAL_MISSING', 'no Intel PCS collateral (TCB info, QE identity, CRLs) was supplied, so the TCB cannot be evaluated; pass --collateral, or --chain-only to check signatures and chain alone', { field: 'collateral' });
    }
    if (collateral.rootCaCrl === undefined) missing('root_ca_crl');
    if (collateral.pckCrl === undefined) missing('pck_crl');
    return { ...collateral, rootCaCrl: collateral.rootCaCrl, pckCrl: collateral.pckCrl };
  });
  const [tcbInfo, qeIdentity] = await log.run('collateral.parse', () => [parseTcbInfo(c.tcbInfo), parseQeIdentity(c.qeIdentity)] as const);
  const tcbSigner = await log.run('collateral.tcb-info', async () => {
    const cert = await signer(c.tcbInfoIssuerChain, 'tcb_info_issuer_chain', ctx);
    await checkSignature(ctx, cert, c.tcbInfo, c.tcbInfoSignature, 'tcb_info');
    checkWindow('TCB info', 'tcb_info', tcbInfo.issueDate, tcbInfo.nextUpdate, ctx.at);
    return cert;
  }, (cert) => `signed by ${name(cert)}, next update ${iso(tcbInfo.nextUpdate)}`);
  const qeSigner = await log.run('collateral.qe-identity', async () => {
    const cert = await signer(c.qeIdentityIssuerChain, 'qe_identity_issuer_chain', ctx);
    await checkSignature(ctx, cert, c.qeIdentity, c.qeIdentitySignature, 'qe_identity');
    checkWindow('QE identity', 'qe_identity', qeIdentity.issueDate, qeIdentity.nextUpdate, ctx.at);
    return cert;
  }, () => `next update ${iso(qeIdentity.nextUpdate)}`);
  await log.run('crl.root', async () => {
    const crl = await signedCrl(c.rootCaCrl, 'root_ca_crl', ctx.root, ctx.at);
    for (const cert of [ctx.pckCa, tcbSigner, qeSigner]) notRevoked(crl, cert, 'root CA CRL');
    return crl;
  }, (crl) => `${crl.revokedSerialsHex.size} revoked, none of ours; next update ${crl.nextUpdate === undefined ? 'open' : iso(crl.nextUpdate)}`);
  await log.run('crl.pck', async () => {
    const crl = await signedCrl(c.pckCrl, 'pck_crl', ctx.pckCa, ctx.at);
    notRevoked(crl, ctx.pck, 'PCK CRL');
    return crl;
  }, (crl) => `issued by ${name(ctx.pckCa)}, ${crl.revokedSerialsHex.size} revoked, not the PCK certificate`);
  return { tcbInfo, qeIdentity, tcbSigner: name(tcbSigner) };
}
