// The server's attestation evidence: a bundle assembled at boot (REPORT_DATA binds the server's
// keys) and fresh bundles on demand (REPORT_DATA binds a client nonce and the keys), rate-limited,
// with their acquisition latency measured.
import { bootReportData, freshReportData, KEYS_DIGEST_SIZE } from '../../attestation/evidence/reportData.js';
import { assembleBundle, type BundleInputs, type EvidenceBundle } from '../tee/assembleBundle.js';
import type { EvidenceProvider } from '../tee/provider.js';
import { LatencyWindow } from '../base/latency.js';
import { TokenBucket } from '../base/tokenBucket.js';
import { CloisterError } from '../../attestation/errors.js';
import { RuntimeError } from '../base/runtimeErrors.js';

export interface EvidenceServiceOptions {
  readonly provider: EvidenceProvider;
  /** SHA-256 over the server's current public keys; 32 zero bytes until keys exist. */
  readonly keysDigest?: () => Uint8Array;
  /** Fresh-evidence requests per second across all clients (default 20), and burst (default 40). */
  readonly freshPerSecond?: number;
  readonly freshBurst?: number;
  readonly now?: () => number;
  /** Endorsements from a cache, put into every bundle: certificates, CRLs, TDX collateral; a function is read at each assembly. */
  readonly endorsements?: BundleInputs | (() => BundleInputs);
}

export class RateLimitedError extends RuntimeError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('EVIDENCE_RATE_LIMITED', `fresh evidence is rate-limited; retry in ${retryAfterSeconds.toFixed(2)} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class EvidenceService {
  readonly provider: EvidenceProvider;
  readonly freshLatency = new LatencyWindow();
  readonly #bundles = new Map<string, EvidenceBundle>();
  readonly #keysDigest: () => Uint8Array;
  /** Whether its bundles bind the OHTTP keys (the RA-TLS certificate's keys digest), and so may be cached only as long as those keys decrypt. */
  readonly bindsKeys: boolean;
  readonly #bucket: TokenBucket;
  readonly #now: () => number;
  readonly #endorsements: () => BundleInputs;
  #boot: EvidenceBundle | undefined;

  private constructor(options: EvidenceServiceOptions) {
    this.provider = options.provider;
    this.#keysDigest = options.keysDigest ?? (() => new Uint8Array(KEYS_DIGEST_SIZE));
    this.bindsKeys = options.keysDigest !== undefined;
    this.#now = options.now ?? (() => performance.now());
    const endorsements = options.endorsements ?? {};
    this.#endorsements = typeof endorsements === 'function' ? endorsements : () => endorsements;
    this.#bucket = new TokenBucket(options.freshPerSecond ?? 20, options.freshBurst ?? 40, this.#now);
  }

  /** Acquires the boot evidence; the server does not start without it. */
  static async start(options: EvidenceServiceOptions): Promise<EvidenceService> {
    const service = new EvidenceService(options);
    await service.refreshBoot();
    return service;
  }

  get platform(): string {
    return this.provider.platform;
  }

  get simulated(): boolean {
    return this.provider.simulated;
  }

  /** The current boot bundle (re-acquire with refreshBoot when keys rotate). */
  get boot(): EvidenceBundle {
    if (this.#boot === undefined) throw new CloisterError('INVALID_STATE', 'evidence service not started: no boot bundle before start()');
    return this.#boot;
  }

  async refreshBoot(): Promise<EvidenceBundle> {
    const raw = await this.provider.getEvidence({ reportData: await bootReportData(this.#keysDigest()) });
    const bundle = assembleBundle(raw, this.#endorsements());
    this.#boot = bundle;
    this.#bundles.set(bundle.id, bundle);
    return bundle;
  }

  bundle(id: string): EvidenceBundle | undefined {
    return this.#bundles.get(id);
  }

  /** Evidence whose REPORT_DATA binds `nonce` and the current keys. Not stored: it is for one client. */
  async fresh(nonce: Uint8Array): Promise<EvidenceBundle> {
    const wait = this.#bucket.take();
    if (wait > 0) throw new RateLimitedError(wait);
    const reportData = await freshReportData(nonce, this.#keysDigest());
    const started = this.#now();
    const raw = await this.provider.getEvidence({ reportData });
    const bundle = assembleBundle(raw, this.#endorsements());
    this.freshLatency.record(this.#now() - started);
    return bundle;
  }
}
