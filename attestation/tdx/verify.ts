// Cryptographic verification of a TDX quote, the part of Intel's DCAP quote verification that needs no
// collateral:
//   - the PCK certificate chain the quote carries: PCK certificate -> Intel SGX PCK Platform/Processor CA
//     -> Intel SGX Root CA (ECDSA P-256 SHA-256), ending in a trusted root, valid at the evaluation time;
//   - the QE report signature by the PCK key (ECDSA P-256 SHA-256 over the 384-byte QE report);
//   - the QE report's binding of the attestation key: REPORTDATA = SHA-256(attestation key || QE
//     authentication data) followed by 32 zero bytes;
//   - the quote signature by the attestation key (ECDSA P-256 SHA-256 over header and body).
// verifyCollateral then checks Intel PCS collateral against the same trusted roots (collateralVerify.ts), from
// which tcbEvaluation.ts derives the TCB status. Only roots the caller passes, or Intel's SGX Root CA by
// default, are trusted.
import { bytesEqual, concatBytes, decodePem, fromHex, isAllZero, toHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import { webCryptoHasher, type Hasher } from '../hash.js';
import { webCryptoEcdsa, type EcdsaImporter, type EcdsaPublicKey } from '../ecdsa.js';
import { ParseError, VerificationError } from '../errors.js';
import { ecCurve, verifySignedBy } from '../signatures.js';
import { checkValidity } from '../validity.js';
import { parseCertificate, type Certificate } from '../x509.js';
import { INTEL_SGX_ROOT_CA_PEM } from './intelRoots.js';
import type { TdxCollateral } from './collateral.js';
import { sameCollateral, verifyCollateral, type CollateralMemo, type VerifiedCollateral } from './collateralVerify.js';
import type { TdxQuote } from './quote.js';

export interface TdxVerifierOptions {
  /** DER root certificates to trust. Default: the Intel SGX Root CA. */
  readonly trustedRoots?: readonly Uint8Array[];
  /** DER roots trusted in addition to `trustedRoots` (or Intel's), e.g. the simulated TEE's development root. */
  readonly additionalRoots?: readonly Uint8Array[];
  /** ECDSA backend for the quote and QE report signatures. Default: WebCrypto. */
  readonly ecdsa?: EcdsaImporter;
  /** SHA-256 for the QE report binding. Default: WebCrypto (a thread-pool round trip; node:crypto avoids it). */
  readonly hasher?: Hasher;
}

export interface TdxVerifyOptions {
  /** Evaluation time for certificate validity. Default: now. */
  readonly at?: Date;
}

export interface TdxChainSummary {
  readonly root: string;
  readonly intermediate: string;
  readonly leaf: string;
  readonly notAfter: string;
}

export interface TdxVerification {
  readonly chain: TdxChainSummary;
  /** The PCK certificate; its Intel SGX extensions (FMSPC, TCB) are what collateral is matched against. */
  readonly pck: Certificate;
  /** The PCK CA (Platform or Processor), the issuer of the PCK CRL. */
  readonly pckCa: Certificate;
  readonly root: Certificate;
}

// SubjectPublicKeyInfo of an id-ecPublicKey on prime256v1, up to the uncompressed point's 0x04 prefix.
const P256_SPKI_PREFIX = fromHex('3059301306072a8648ce3d020106082a8648ce3d03010703420004');

/** The quote's 64-byte x||y attestation key as a DER SubjectPublicKeyInfo. */
export function attestationKeySpki(key: Uint8Array): Uint8Array {
  return concatBytes(P256_SPKI_PREFIX, key);
}

/** The REPORTDATA a QE report must carry to bind `attestationKey` and `qeAuthData`. */
export async function expectedQeReportData(attestationKey: Uint8Array, qeAuthData: Uint8Array, hasher: Hasher = webCryptoHasher): Promise<Uint8Array> {
  return concatBytes(await hasher.digest('SHA-256', [attestationKey, qeAuthData]), new Uint8Array(32));
}

let intelRoot: Certificate | undefined;
function intelRoots(): Certificate[] {
  if (intelRoot === undefined) {
    const block = decodePem(INTEL_SGX_ROOT_CA_PEM)[0];
    if (block === undefined) throw new ParseError('MALFORMED_DER', 'the embedded Intel SGX Root CA holds no PEM CERTIFICATE block', { field: 'embedded Intel SGX Root CA' });
    intelRoot = parseCertificate(block.der);
  }
  return [intelRoot];
}

const name = (c: Certificate): string => c.subjectCommonName ?? '(no CN)';

interface PckChain {
  readonly leaf: Certificate;
  readonly intermediate: Certificate;
  readonly root: Certificate;
}

/** A bounded insertion-ordered cache: the oldest entry goes first. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, size = 64): V {
  if (map.size >= size) map.delete(map.keys().next().value as K);
  map.set(key, value);
  return value;
}

const fingerprint = (bytes: Uint8Array): string => `${bytes.length}:${toHex(bytes.subarray(Math.max(0, bytes.length - 16)))}`;

interface CachedChain {
  readonly bytes: Uint8Array;
  readonly chain: PckChain;
  /** Set once the chain's signatures verified. */
  signed: boolean;
  pckKey?: EcdsaPublicKey;
}

// A verifier keeps what does not depend on the evaluation time: parsed and signature-checked PCK chains with
// their imported keys, attestation keys, and collateral memos (collateralVerify.ts). Validity, windows,
// revocation and the quote's own signatures are checked on every call.
export class TdxVerifier {
  readonly #roots: readonly Certificate[];
  readonly #ecdsa: EcdsaImporter;
  readonly #hasher: Hasher;
  readonly #chains = new Map<string, CachedChain>();
  readonly #attestationKeys = new Map<string, EcdsaPublicKey>();
  readonly #collateral = new Map<string, CollateralMemo>();

  constructor(options: TdxVerifierOptions = {}) {
    this.#roots = [
      ...(options.trustedRoots === undefined ? intelRoots() : options.trustedRoots.map((d) => parseCertificate(d))),
      ...(options.additionalRoots ?? []).map((d) => parseCertificate(d)),
    ];
    this.#ecdsa = options.ecdsa ?? webCryptoEcdsa;
    this.#hasher = options.hasher ?? webCryptoHasher;
  }

  /** Verifies `quote`; throws the first failure, recording every check in `log`. */
  async verify(quote: TdxQuote, options: TdxVerifyOptions = {}, log = new CheckLog()): Promise<TdxVerification> {
    const at = options.at ?? new Date();
    const cached = log.runSync('pck.certificates', () => this.#chain(quote), (c) => `${name(c.chain.leaf)} <- ${name(c.chain.intermediate)} <- ${name(c.chain.root)}`);
    const chain = cached.chain;
    // Signatures before trust: a damaged certificate is reported as the link that broke, and a chain
    // that is intact but ends elsewhere (the simulated TEE's development root) as an untrusted root.
    await log.run('chain.signatures', async () => {
      if (!cached.signed) await verifyChainSignatures(chain);
      cached.signed = true;
    });
    log.runSync('chain.root', () => { this.#checkTrusted(chain.root); }, () => name(chain.root));
    log.runSync('chain.validity', () => { checkValidity([chain.leaf, chain.intermediate, chain.root], at); }, () => `at ${at.toISOString()}`);
    await log.run('qe-report.signature', async () => {
      const pckKey = (cached.pckKey ??= await this.#importPck(chain.leaf));
      if (!(await pckKey.verify(quote.qeReportSignature, quote.qeReport.raw))) {
        throw new VerificationError('REPORT_SIGNATURE_INVALID', `QE report signature does not verify with the PCK key of "${name(chain.leaf)}"`, { field: 'QE Report Signature' });
      }
    });
    await log.run('qe-report.binding', async () => {
      const expected = await expectedQeReportData(quote.attestationKey, quote.qeAuthData, this.#hasher);
      const actual = quote.qeReport.reportData;
      if (!bytesEqual(actual, expected)) {
        const what = isAllZero(actual.subarray(32)) ? 'is not SHA-256(attestation key || QE authentication data)' : 'has non-zero bytes after the SHA-256';
        throw new VerificationError('QE_REPORT_DATA_MISMATCH', `QE report REPORTDATA ${what}: the QE did not certify this attestation key`, {
          field: 'QE Report.REPORTDATA',
          expected: toHex(expected),
          actual: toHex(actual),
        });
      }
    });
    await log.run('quote.signature', async () => {
      const hex = toHex(quote.attestationKey);
      const key = this.#attestationKeys.get(hex) ?? remember(this.#attestationKeys, hex, await this.#importAttestationKey(quote.attestationKey));
      if (!(await key.verify(quote.signature, quote.signedBytes))) {
        throw new VerificationError('REPORT_SIGNATURE_INVALID', 'quote signature does not verify with the attestation key over the header and TD quote body', { field: 'Quote Signature' });
      }
    });
    return Object.freeze({
      chain: { root: name(chain.root), intermediate: name(chain.intermediate), leaf: name(chain.leaf), notAfter: chain.leaf.notAfter.toISOString() },
      pck: chain.leaf,
      pckCa: chain.intermediate,
      root: chain.root,
    });
  }

  /** Verifies Intel PCS collateral for a quote this verifier verified (collateralVerify.ts). */
  verifyCollateral(collateral: TdxCollateral | undefined, verification: TdxVerification, at: Date, log = new CheckLog()): Promise<VerifiedCollateral> {
    const checkTrusted = (root: Certificate, chain: string): void => { this.#checkTrusted(root, chain); };
    return verifyCollateral(collateral, { checkTrusted, ecdsa: this.#ecdsa, at, pck: verification.pck, pckCa: verification.pckCa, root: verification.root }, log, collateral === undefined ? undefined : this.#memo(collateral));
  }

  #memo(collateral: TdxCollateral): CollateralMemo {
    const key = `${collateral.tcbInfoSignature}:${collateral.qeIdentitySignature}`;
    const memo = this.#collateral.get(key);
    // The memo keeps its own copy: a caller's object changed after this call must not match it.
    return memo !== undefined && sameCollateral(memo.collateral, collateral) ? memo : remember(this.#collateral, key, { collateral: Object.freeze({ ...collateral }) });
  }

  /** The quote's PCK chain, parsed once per distinct chain bytes. */
  #chain(quote: TdxQuote): CachedChain {
    const key = fingerprint(quote.pckCertChain);
    const hit = this.#chains.get(key);
    if (hit !== undefined && bytesEqual(hit.bytes, quote.pckCertChain)) return hit;
    return remember(this.#chains, key, { bytes: quote.pckCertChain.slice(), chain: pckChain(quote), signed: false });
  }

  #checkTrusted(root: Certificate, chain = 'the PCK chain'): void {
    if (this.#roots.some((r) => bytesEqual(r.der, root.der))) return;
    const sameName = this.#roots.some((r) => bytesEqual(r.subject, root.subject));
    throw new VerificationError('UNTRUSTED_ROOT', `${chain} ends in "${name(root)}"${sameName ? ', whose key differs from the trusted root of that name' : ', which is not a trusted root'}`, {
      field: chain === 'the PCK chain' ? 'Root CA' : chain,
      expected: this.#roots.map(name).join('|'),
      actual: sameName ? `${name(root)} (untrusted key)` : name(root),
    });
  }

  async #importPck(leaf: Certificate): Promise<EcdsaPublicKey> {
    const curve = ecCurve(leaf).name;
    if (curve !== 'P-256') {
      throw new ParseError('UNSUPPORTED_ALGORITHM', `${name(leaf)} key is on ${curve}, QE reports are signed with P-256`, { field: name(leaf), expected: 'P-256', actual: curve });
    }
    try {
      return await this.#ecdsa(leaf.spki, 'P-256', 'SHA-256');
    } catch (cause) {
      throw new ParseError('UNSUPPORTED_ALGORITHM', `${name(leaf)} public key cannot be imported as P-256`, { field: name(leaf), cause });
    }
  }

  async #importAttestationKey(key: Uint8Array): Promise<EcdsaPublicKey> {
    try {
      return await this.#ecdsa(attestationKeySpki(key), 'P-256', 'SHA-256');
    } catch (cause) {
      throw new ParseError('MALFORMED_FIELD', `ECDSA attestation key ${toHex(key.subarray(0, 8))}... is not a point on P-256`, { field: 'ECDSA Attestation Key', cause });
    }
  }
}

/** The quote's chain as PCK certificate, its issuing CA and the root, linked by name. */
function pckChain(quote: TdxQuote): PckChain {
  const certs = quote.pckCertificates.map((d) => parseCertificate(d));
  const [leaf, intermediate, root] = certs;
  if (leaf === undefined || intermediate === undefined || root === undefined) {
    throw new VerificationError('MISSING_CERTIFICATE', `the PCK certificate chain holds ${certs.length} certificate(s), expected 3 (PCK certificate, PCK CA, root CA)`, {
      field: 'PCK Cert Chain',
      expected: '3',
      actual: String(certs.length),
    });
  }
  if (certs.length > 3) {
    throw new ParseError('MALFORMED_FIELD', `the PCK certificate chain holds ${certs.length} certificates, expected 3 (PCK certificate, PCK CA, root CA)`, {
      field: 'PCK Cert Chain',
      expected: '3',
      actual: String(certs.length),
    });
  }
  const links: [Certificate, Certificate, string][] = [
    [leaf, intermediate, 'PCK certificate'],
    [intermediate, root, 'PCK CA certificate'],
    [root, root, 'root CA certificate'],
  ];
  for (const [subject, issuer, role] of links) {
    if (!bytesEqual(subject.issuer, issuer.subject)) {
      throw new VerificationError('MISSING_CERTIFICATE', `the ${role} "${name(subject)}" is issued by "${subject.issuerCommonName ?? '?'}", but the next certificate in the chain is "${name(issuer)}"`, {
        field: 'PCK Cert Chain',
        expected: subject.issuerCommonName ?? '?',
        actual: name(issuer),
      });
    }
  }
  return { leaf, intermediate, root };
}

function constraintError(c: Certificate, message: string): VerificationError {
  return new VerificationError('CERT_CONSTRAINTS', `${name(c)} ${message}`, { field: name(c) });
}

async function verifyChainSignatures({ leaf, intermediate, root }: PckChain): Promise<void> {
  for (const c of [root, intermediate, leaf]) {
    if (c.unhandledCritical.length > 0) throw constraintError(c, `has critical extensions this verifier does not process: ${c.unhandledCritical.join(', ')}`);
  }
  for (const issuer of [root, intermediate]) {
    if (issuer.basicConstraints?.ca !== true) throw constraintError(issuer, 'issues certificates but is not a CA (basicConstraints cA is not true)');
    if (issuer.keyUsage !== undefined && !issuer.keyUsage.keyCertSign) throw constraintError(issuer, 'issues certificates but its keyUsage lacks keyCertSign');
  }
  if (root.basicConstraints?.pathLength === 0) throw constraintError(root, `has pathLenConstraint 0 but issued the CA certificate ${name(intermediate)}`);
  if (leaf.basicConstraints?.ca === true) throw constraintError(leaf, 'is a CA certificate, not a PCK certificate');
  const links: [Certificate, Certificate, string][] = [
    [root, root, `root CA ${name(root)} self-signature`],
    [intermediate, root, `PCK CA ${name(intermediate)} signed by ${name(root)}`],
    [leaf, intermediate, `PCK certificate ${name(leaf)} signed by ${name(intermediate)}`],
  ];
  for (const [subject, issuer, what] of links) {
    if (!(await verifySignedBy(subject, issuer))) {
      throw new VerificationError('CHAIN_SIGNATURE_INVALID', `${what}: signature does not verify`, { field: name(subject) });
    }
  }
}

