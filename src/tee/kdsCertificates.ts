// SEV-SNP certificates from AMD KDS for evidence whose host supplies none. Many hosts answer
// SNP_GET_EXT_REPORT / configfs-tsm with an empty certificate table (no VCEK loaded with SNP_SET_EXT_CONFIG);
// a bundle without the VCEK verifies only for clients that fetch it themselves. This provider wraps another
// and, for a VCEK-signed report whose table lacks the VCEK, adds the VCEK for its CHIP_ID and REPORTED_TCB,
// the product's ASK and ARK (and, when asked, the ARK's CRL) to the table, as if the host had supplied them.
// Answers are kept by VCEK URL: a TCB change (a firmware update) fetches again, nothing else does. A failure is
// reported to onError and the evidence goes out as the host gave it; the next attempt waits retryMs, so that
// fresh-evidence requests during a KDS outage do not each wait on it.
import { CERT_GUID, parseCertTable, serializeCertTable, type CertTableEntry } from '../../attestation/snp/certTable.js';
import { CloisterError, VerificationError } from '../../attestation/errors.js';
import { fetchCertChain, fetchCrl, fetchVcekForReport, vcekUrl, type KdsOptions } from '../../attestation/snp/kds.js';
import { productFromCpuId, type Product } from '../../attestation/snp/product.js';
import { parseReport, type SnpReport } from '../../attestation/snp/report.js';
import { decodeTcb } from '../../attestation/snp/tcb.js';
import type { EvidenceProvider, EvidenceRequest, RawEvidence } from './provider.js';

export interface KdsCertificateOptions extends KdsOptions {
  /** The product of reports that name none (version 2 has no CPUID); else the report's CPUID decides. */
  readonly product?: Product;
  /** Also add the ARK's CRL. It expires (its nextUpdate bounds every bundle's freshUntil) and is kept like the rest. Default false. */
  readonly crl?: boolean;
  /** Called with each failure (KdsError, or MISSING_CERTIFICATE when no VCEK can be fetched); the evidence then goes out without KDS certificates. */
  readonly onError?: (error: CloisterError) => void;
  /** How long after a failure the next attempt waits (default 60 s). */
  readonly retryMs?: number;
  readonly now?: () => number;
}

/** What RawEvidence.source gains when KDS filled the table. */
export const KDS_SOURCE_SUFFIX = ' + AMD KDS certificates';

const VEK_GUIDS: readonly string[] = [CERT_GUID.vcek, CERT_GUID.vlek];

export class KdsCertificateProvider implements EvidenceProvider {
  readonly name: string;
  readonly platform: EvidenceProvider['platform'];
  readonly simulated: boolean;
  readonly #inner: EvidenceProvider;
  readonly #options: KdsCertificateOptions;
  readonly #entries = new Map<string, Promise<CertTableEntry[]>>();
  #retryAt = -Infinity;

  constructor(inner: EvidenceProvider, options: KdsCertificateOptions = {}) {
    this.#inner = inner;
    this.#options = options;
    this.name = inner.name;
    this.platform = inner.platform;
    this.simulated = inner.simulated;
  }

  async getEvidence(request: EvidenceRequest): Promise<RawEvidence> {
    const raw = await this.#inner.getEvidence(request);
    if (raw.platform !== 'sev-snp') return raw;
    const table = raw.certTable === undefined || raw.certTable.length === 0 ? [] : parseCertTable(raw.certTable);
    if (table.some((e) => VEK_GUIDS.includes(e.guid))) return raw;
    const now = this.#options.now ?? Date.now;
    if (now() < this.#retryAt) return raw;
    let added: CertTableEntry[];
    try {
      added = await this.#fetch(parseReport(raw.evidence));
    } catch (e) {
      if (!(e instanceof CloisterError)) throw e;
      this.#retryAt = now() + (this.#options.retryMs ?? 60_000);
      this.#options.onError?.(e);
      return raw;
    }
    const have = new Set(table.map((e) => e.guid));
    const certTable = serializeCertTable([...table, ...added.filter((e) => !have.has(e.guid))]);
    return { ...raw, certTable, source: `${raw.source}${KDS_SOURCE_SUFFIX}` };
  }

  #fetch(report: SnpReport): Promise<CertTableEntry[]> {
    if (report.keyInfo.signingKey !== 'vcek') {
      throw new VerificationError('MISSING_CERTIFICATE', `the report is signed by the ${report.keyInfo.signingKey.toUpperCase()} and the host supplied no certificate: AMD KDS serves only VCEKs publicly`, { field: 'SIGNING_KEY' });
    }
    const product = (report.cpuid === undefined ? undefined : productFromCpuId(report.cpuid)) ?? this.#options.product;
    if (product === undefined) {
      throw new VerificationError('MISSING_CERTIFICATE', `the report (version ${report.version}) names no product by CPUID and none is configured: the AMD KDS URL needs Milan, Genoa or Turin`, { field: 'CPUID' });
    }
    const key = vcekUrl(product, report.chipId, decodeTcb(report.reportedTcb, product), this.#options);
    let entries = this.#entries.get(key);
    if (entries === undefined) {
      entries = this.#download(report, product);
      this.#entries.set(key, entries);
      // A failure is not kept: the next attempt (after retryMs) asks again.
      entries.catch(() => {
        this.#entries.delete(key);
      });
    }
    return entries;
  }

  async #download(report: SnpReport, product: Product): Promise<CertTableEntry[]> {
    const [vcek, chain, crl] = await Promise.all([
      fetchVcekForReport(report, product, this.#options),
      fetchCertChain(product, 'vcek', this.#options),
      this.#options.crl === true ? fetchCrl(product, 'vcek', this.#options) : undefined,
    ]);
    return [
      { guid: CERT_GUID.vcek, data: vcek.bytes },
      { guid: CERT_GUID.ask, data: chain.value.ask.der },
      { guid: CERT_GUID.ark, data: chain.value.ark.der },
      ...(crl === undefined ? [] : [{ guid: CERT_GUID.crl, data: crl.bytes }]),
    ];
  }
}
