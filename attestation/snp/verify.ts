// Cryptographic verification of a SEV-SNP report: the AMD chain ARK -> ASK/ASVK -> VCEK/VLEK
// (RSA-PSS SHA-384), validity at a given time, AMD CRLs, the binding of the report to the VCEK/VLEK
// (signing key kind, REPORTED_TCB, CHIP_ID) and the report's ECDSA P-384 signature.
// Only roots the caller passes, or AMD's embedded ARKs by default, are trusted.
import { bytesEqual, decodePem, isAllZero, toHex } from '../bytes.js';
import { CheckLog } from '../checks.js';
import { ParseError, VerificationError } from '../errors.js';
import { webCryptoEcdsa, type EcdsaImporter, type EcdsaPublicKey } from '../ecdsa.js';
import { ecCurve, verifySignedBy } from '../signatures.js';
import { checkValidity } from '../validity.js';
import { parseCertificate, parseCrl, type Certificate, type Crl } from '../x509.js';
import { AMD_CHAINS } from './amdRoots.js';
import { PRODUCTS, productFromCpuId, productFromName, type Product } from './product.js';
import { signatureP1363, type SnpReport } from './report.js';
import { decodeTcb, formatTcb, TCB_COMPONENTS, type TcbParts } from './tcb.js';
import { isVekCertificate, parseVekExtensions, type VekInfo } from './vek.js';

export interface SnpEndorsements {
  /** DER certificates in any order and any role (VCEK/VLEK, ASK/ASVK, ARK). */
  readonly certificates?: readonly Uint8Array[];
  /** DER CRLs (AMD's are issued by the ARK and list revoked ASK/ASVK serials). */
  readonly crls?: readonly Uint8Array[];
}

export interface SnpVerifyOptions {
  /** Evaluation time for certificate and CRL validity. Default: now. */
  readonly at?: Date;
  /** Fail with CRL_UNAVAILABLE when no CRL from the chain's root is supplied. */
  readonly requireCrl?: boolean;
}

export interface ChainSummary {
  readonly root: string;
  readonly intermediate: string;
  readonly leaf: string;
  readonly notAfter: string;
}

export interface SnpVerification {
  readonly product: Product;
  readonly signingKey: 'vcek' | 'vlek';
  readonly vek: VekInfo;
  readonly chain: ChainSummary;
  readonly crlChecked: boolean;
}

interface VerifiedChain {
  readonly root: Certificate;
  readonly intermediate: Certificate;
  readonly leaf: Certificate;
  readonly vek: VekInfo;
  readonly leafKey: EcdsaPublicKey;
}

export interface SnpVerifierOptions {
  /** DER ARK certificates to trust. Default: AMD's ARKs for Milan, Genoa and Turin. */
  readonly trustedRoots?: readonly Uint8Array[];
  /** DER roots trusted in addition to `trustedRoots` (or AMD's), e.g. the simulated TEE's development root. */
  readonly additionalRoots?: readonly Uint8Array[];
  /** How many verified chains to keep. Default 64. */
  readonly cacheSize?: number;
  /** ECDSA backend for the report signature. Default: WebCrypto. */
  readonly ecdsa?: EcdsaImporter;
}

function pemCert(pem: string): Certificate {
  const block = decodePem(pem)[0];
  if (block === undefined) throw new ParseError('MALFORMED_DER', 'an embedded AMD certificate holds no PEM CERTIFICATE block', { field: 'embedded AMD certificate' });
  return parseCertificate(block.der);
}

let amdCache: { roots: Certificate[]; intermediates: Certificate[] } | undefined;
function amdCertificates(): { roots: Certificate[]; intermediates: Certificate[] } {
  amdCache ??= {
    roots: PRODUCTS.map((p) => pemCert(AMD_CHAINS[p].ark)),
    intermediates: PRODUCTS.flatMap((p) => [pemCert(AMD_CHAINS[p].ask), pemCert(AMD_CHAINS[p].asvk)]),
  };
  return amdCache;
}

const isSelfIssued = (c: Certificate): boolean => bytesEqual(c.subject, c.issuer);
const name = (c: Certificate): string => c.subjectCommonName ?? '(no CN)';

/** A cheap map key for DER bytes: its length and the tail of its signature; hits are confirmed byte for byte. */
function fingerprint(der: Uint8Array): string {
  return `${der.length}:${toHex(der.subarray(Math.max(0, der.length - 16)))}`;
}

/** A bounded insertion-ordered cache: the oldest entry goes first. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, size: number): V {
  if (map.size >= size) map.delete(map.keys().next().value as K);
  map.set(key, value);
  return value;
}

export class SnpVerifier {
  readonly #roots: readonly Certificate[];
  readonly #chains = new Map<Certificate, VerifiedChain>();
  readonly #certificates = new Map<string, Certificate>();
  /** The same input array is usually handed in again: found by identity, then confirmed byte for byte. */
  readonly #byArray = new WeakMap<Uint8Array, Certificate>();
  readonly #vekInfo = new WeakMap<Certificate, VekInfo>();
  readonly #cacheSize: number;
  readonly #ecdsa: EcdsaImporter;

  constructor(options: SnpVerifierOptions = {}) {
    this.#roots = [
      ...(options.trustedRoots === undefined ? amdCertificates().roots : options.trustedRoots.map((d) => parseCertificate(d))),
      ...(options.additionalRoots ?? []).map((d) => parseCertificate(d)),
    ];
    this.#cacheSize = options.cacheSize ?? 64;
    this.#ecdsa = options.ecdsa ?? webCryptoEcdsa;
  }

  /** Verifies `report` against its endorsements; throws the first failure, recording every check in `log`. */
  async verify(report: SnpReport, endorsements: SnpEndorsements, options: SnpVerifyOptions = {}, log = new CheckLog()): Promise<SnpVerification> {
    const at = options.at ?? new Date();
    const { certs, crls } = await log.run(
      'endorsements',
      () => ({ certs: (endorsements.certificates ?? []).map((d) => this.#parse(d)), crls: (endorsements.crls ?? []).map((d) => parseCrl(d)) }),
      (e) => `${e.certs.length} certificate(s), ${e.crls.length} CRL(s)`,
    );

    const { leaf, vek } = await log.run('chain.leaf', () => this.#selectLeaf(report, certs), (c) => `${name(c.leaf)} (${c.vek.productName})`);
    const product = await log.run('product', () => this.#checkProduct(report, vek, certs), (p) => p);
    const chain = await log.run('chain.signatures', () => this.#chain(leaf, vek, certs), (c) => `${name(c.leaf)} <- ${name(c.intermediate)} <- ${name(c.root)}`);
    await log.run('chain.validity', () => { checkValidity([chain.root, chain.intermediate, chain.leaf], at); }, () => `at ${at.toISOString()}`);
    const crlChecked = await this.#checkCrls(chain, crls, at, options.requireCrl ?? false, log);
    await log.run('vek.tcb', () => { checkTcb(report, vek, product); }, () => formatTcb(vek.tcb));
    if (vek.kind === 'vcek') {
      // A platform configured with MASK_CHIP_ID reports an all-zero CHIP_ID; the VCEK, unique per chip, still signs.
      if (isAllZero(report.chipId)) log.skip('vek.chip-id', 'CHIP_ID is all zero (MASK_CHIP_ID set on the platform)');
      else await log.run('vek.chip-id', () => { checkChipId(report, vek); });
    } else {
      log.pass('vek.csp-id', vek.cspId);
    }
    await log.run('report.signature', async () => {
      const ok = await chain.leafKey.verify(signatureP1363(report), report.signedBytes);
      if (!ok) {
        throw new VerificationError('REPORT_SIGNATURE_INVALID', `report signature does not verify with the ${vek.kind.toUpperCase()} (${vek.productName})`, {
          field: 'SIGNATURE',
        });
      }
    });
    return Object.freeze({
      product,
      signingKey: vek.kind,
      vek,
      chain: { root: name(chain.root), intermediate: name(chain.intermediate), leaf: name(chain.leaf), notAfter: chain.leaf.notAfter.toISOString() },
      crlChecked,
    });
  }

  #parse(der: Uint8Array): Certificate {
    const same = this.#byArray.get(der);
    if (same !== undefined && bytesEqual(same.der, der)) return same;
    const key = fingerprint(der);
    let cert = this.#certificates.get(key);
    if (cert === undefined || !bytesEqual(cert.der, der)) cert = remember(this.#certificates, key, parseCertificate(der.slice()), 4 * this.#cacheSize);
    this.#byArray.set(der, cert);
    return cert;
  }

  #vek(leaf: Certificate): VekInfo {
    let info = this.#vekInfo.get(leaf);
    if (info === undefined) {
      info = parseVekExtensions(leaf);
      this.#vekInfo.set(leaf, info);
    }
    return info;
  }

  #selectLeaf(report: SnpReport, certs: Certificate[]): { leaf: Certificate; vek: VekInfo } {
    const wanted = report.keyInfo.signingKey;
    if (wanted !== 'vcek' && wanted !== 'vlek') {
      throw new VerificationError('SIGNING_KEY_MISMATCH', `report SIGNING_KEY is "${wanted}": it is not signed by a VCEK or VLEK`, {
        field: 'SIGNING_KEY',
        expected: 'vcek|vlek',
        actual: wanted,
      });
    }
    const veks = certs.filter(isVekCertificate).map((leaf) => ({ leaf, vek: this.#vek(leaf) }));
    const match = veks.find((c) => c.vek.kind === wanted);
    if (match !== undefined) return match;
    const other = veks[0];
    if (other !== undefined) {
      throw new VerificationError('SIGNING_KEY_MISMATCH', `report is signed by the ${wanted.toUpperCase()}, but only a ${other.vek.kind.toUpperCase()} was supplied`, {
        field: 'SIGNING_KEY',
        expected: wanted,
        actual: other.vek.kind,
      });
    }
    throw new VerificationError('MISSING_CERTIFICATE', `no ${wanted.toUpperCase()} certificate: supply it (--certs) or use an extended report that carries it`, {
      field: wanted.toUpperCase(),
    });
  }

  #checkProduct(report: SnpReport, vek: VekInfo, certs: Certificate[]): Product {
    if (report.cpuid !== undefined) {
      const fromCpu = productFromCpuId(report.cpuid);
      const cpu = `family 0x${report.cpuid.family.toString(16)} model 0x${report.cpuid.model.toString(16)}`;
      if (fromCpu === undefined) {
        throw new VerificationError('PRODUCT_MISMATCH', `report CPUID (${cpu}) is not a known SEV-SNP product`, { field: 'CPUID_FAM_ID', actual: cpu });
      }
      if (fromCpu !== vek.product) {
        throw new VerificationError('PRODUCT_MISMATCH', `report CPUID says ${fromCpu} (${cpu}), but the ${vek.kind.toUpperCase()} is for ${vek.productName}`, {
          field: 'productName',
          expected: fromCpu,
          actual: vek.productName,
        });
      }
    }
    for (const c of certs) {
      if (isVekCertificate(c)) continue;
      const p = productFromName(c.subjectCommonName);
      if (p !== undefined && p !== vek.product) {
        throw new VerificationError('PRODUCT_MISMATCH', `certificate ${name(c)} is for ${p}, but the ${vek.kind.toUpperCase()} is for ${vek.productName}`, {
          field: 'certificates',
          expected: vek.product,
          actual: p,
        });
      }
    }
    return vek.product;
  }

  async #chain(leaf: Certificate, vek: VekInfo, certs: Certificate[]): Promise<VerifiedChain> {
    const supplied = certs.filter((c) => !isVekCertificate(c) && !isSelfIssued(c));
    const intermediate =
      supplied.find((c) => bytesEqual(c.subject, leaf.issuer)) ?? amdCertificates().intermediates.find((c) => bytesEqual(c.subject, leaf.issuer));
    if (intermediate === undefined) {
      throw new VerificationError('MISSING_CERTIFICATE', `no issuer certificate "${leaf.issuerCommonName ?? '?'}" for the ${vek.kind.toUpperCase()}`, {
        field: vek.kind === 'vcek' ? 'ASK' : 'ASVK',
        expected: leaf.issuerCommonName ?? '?',
      });
    }
    const root = this.#roots.find((r) => bytesEqual(r.subject, intermediate.issuer));
    const suppliedRoot = certs.find((c) => isSelfIssued(c) && bytesEqual(c.subject, intermediate.issuer));
    if (root === undefined || (suppliedRoot !== undefined && !bytesEqual(suppliedRoot.der, root.der))) {
      throw new VerificationError('UNTRUSTED_ROOT', `the chain ends in "${intermediate.issuerCommonName ?? '?'}", which is not a trusted root`, {
        field: 'ARK',
        expected: this.#roots.map(name).join('|'),
        actual: suppliedRoot === undefined ? (intermediate.issuerCommonName ?? '?') : `${name(suppliedRoot)} (untrusted key)`,
      });
    }
    // Certificates come from #parse, so a cached chain holds the very same objects.
    const cached = this.#chains.get(leaf);
    if (cached !== undefined && cached.intermediate === intermediate && cached.root === root) return cached;

    checkConstraints(root, intermediate, leaf);
    const links: [Certificate, Certificate, string][] = [
      [root, root, 'ARK self-signature'],
      [intermediate, root, `${name(intermediate)} signed by ${name(root)}`],
      [leaf, intermediate, `${name(leaf)} signed by ${name(intermediate)}`],
    ];
    for (const [subject, issuer, what] of links) {
      if (!(await verifySignedBy(subject, issuer))) {
        throw new VerificationError('CHAIN_SIGNATURE_INVALID', `${what}: signature does not verify`, { field: name(subject) });
      }
    }
    const verified: VerifiedChain = {
      root,
      intermediate,
      leaf,
      vek,
      leafKey: await this.#leafKey(leaf),
    };
    return remember(this.#chains, leaf, verified, this.#cacheSize);
  }

  async #leafKey(leaf: Certificate): Promise<EcdsaPublicKey> {
    const curve = ecCurve(leaf).name;
    if (curve !== 'P-384') {
      throw new ParseError('UNSUPPORTED_ALGORITHM', `${name(leaf)} key is on ${curve}, SEV-SNP reports are signed with P-384`, { field: name(leaf), expected: 'P-384', actual: curve });
    }
    try {
      return await this.#ecdsa(leaf.spki, 'P-384', 'SHA-384');
    } catch (cause) {
      throw new ParseError('UNSUPPORTED_ALGORITHM', `${name(leaf)} public key cannot be imported as P-384`, { field: name(leaf), cause });
    }
  }

  async #checkCrls(chain: VerifiedChain, crls: Crl[], at: Date, requireCrl: boolean, log: CheckLog): Promise<boolean> {
    const fromRoot = crls.filter((c) => bytesEqual(c.issuer, chain.root.subject));
    if (fromRoot.length === 0) {
      if (requireCrl) {
        log.fail('crl', new VerificationError('CRL_UNAVAILABLE', `policy requires a CRL issued by ${name(chain.root)} and none was supplied`, {
          field: 'crl',
          expected: name(chain.root),
          actual: crls.length === 0 ? 'none' : crls.map((c) => c.issuerCommonName ?? '?').join('|'),
        }));
      }
      log.skip('crl', 'no CRL from the chain root supplied');
      return false;
    }
    return log.run('crl', async () => {
      for (const crl of fromRoot) {
        if (chain.root.keyUsage !== undefined && !chain.root.keyUsage.cRLSign) throw constraintError(chain.root, 'issued a CRL but its keyUsage lacks cRLSign');
        if (!(await verifySignedBy(crl, chain.root))) {
          throw new VerificationError('CRL_INVALID', `CRL issued by ${name(chain.root)} is not signed by it`, { field: 'crl' });
        }
        if (at < crl.thisUpdate || (crl.nextUpdate !== undefined && at > crl.nextUpdate)) {
          throw new VerificationError('CRL_EXPIRED', `CRL from ${name(chain.root)} is valid ${crl.thisUpdate.toISOString()}..${crl.nextUpdate?.toISOString() ?? 'open'}, evaluated at ${at.toISOString()}`, {
            field: 'crl.nextUpdate',
            expected: `${crl.thisUpdate.toISOString()}..${crl.nextUpdate?.toISOString() ?? ''}`,
            actual: at.toISOString(),
          });
        }
        if (crl.revokedSerialsHex.has(chain.intermediate.serialHex)) {
          throw new VerificationError('CERT_REVOKED', `${name(chain.intermediate)} (serial ${chain.intermediate.serialHex}) is revoked by ${name(chain.root)}'s CRL`, {
            field: name(chain.intermediate),
            actual: chain.intermediate.serialHex,
          });
        }
      }
      return true;
    }, () => `${fromRoot.length} CRL(s) from ${name(chain.root)}`);
  }
}

function constraintError(c: Certificate, message: string): VerificationError {
  return new VerificationError('CERT_CONSTRAINTS', `${name(c)} ${message}`, { field: name(c) });
}

function checkConstraints(root: Certificate, intermediate: Certificate, leaf: Certificate): void {
  for (const c of [root, intermediate, leaf]) {
    if (c.unhandledCritical.length > 0) throw constraintError(c, `has critical extensions this verifier does not process: ${c.unhandledCritical.join(', ')}`);
  }
  for (const issuer of [root, intermediate]) {
    if (issuer.basicConstraints?.ca !== true) throw constraintError(issuer, 'issues certificates but is not a CA (basicConstraints cA is not true)');
    if (issuer.keyUsage !== undefined && !issuer.keyUsage.keyCertSign) throw constraintError(issuer, 'issues certificates but its keyUsage lacks keyCertSign');
  }
  if (root.basicConstraints?.pathLength === 0) throw constraintError(root, 'has pathLenConstraint 0 but issued the CA certificate ' + name(intermediate));
  if (leaf.basicConstraints?.ca === true) throw constraintError(leaf, 'is a CA certificate, not a VCEK/VLEK');
}


function checkTcb(report: SnpReport, vek: VekInfo, product: Product): void {
  const reported: TcbParts = decodeTcb(report.reportedTcb, product);
  for (const k of TCB_COMPONENTS) {
    if (reported[k] !== vek.tcb[k]) {
      throw new VerificationError('TCB_MISMATCH', `reported_tcb ${formatTcb(reported)} differs from the ${vek.kind.toUpperCase()}'s ${formatTcb(vek.tcb)} (${k})`, {
        field: `REPORTED_TCB.${k}`,
        expected: String(vek.tcb[k]),
        actual: String(reported[k]),
      });
    }
  }
}

function checkChipId(report: SnpReport, vek: VekInfo): void {
  const hwId = vek.hwId as Uint8Array;
  // Turin VCEKs carry an 8-byte hwID: the first 8 bytes of CHIP_ID; the rest of CHIP_ID is zero.
  const reported = report.chipId.subarray(0, hwId.length);
  const rest = report.chipId.subarray(hwId.length);
  if (!bytesEqual(reported, hwId) || rest.some((b) => b !== 0)) {
    throw new VerificationError('CHIP_ID_MISMATCH', `chip_id ${toHex(report.chipId)} differs from the VCEK hwID ${toHex(hwId)}`, {
      field: 'CHIP_ID',
      expected: toHex(hwId),
      actual: toHex(report.chipId),
    });
  }
}
