// The server's TLS identity (docs/ra-tls.md "Serving and rotation"): the RA-TLS certificate issued at
// boot with an in-memory key, re-issued at a fraction (default 2/3) of its validity and installed
// with setSecureContext, so that new handshakes get the new certificate while open connections keep
// the one they negotiated. It also provides the keys digest the boot and fresh evidence bind
// (docs/evidence-bundle.md "REPORT_DATA bindings"), which changes with every rotation.
import { createHash, createPublicKey } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { keysDigest } from '../../attestation/evidence/reportData.js';
import { issueAttestedCertificate, spkiOf, DEFAULT_VALIDITY_SECONDS, type AttestedCertificate } from '../tee/ratls/issue.js';
import type { BundleInputs } from '../tee/assembleBundle.js';
import type { EvidenceProvider } from '../tee/provider.js';
import { MAX_TIMER_MS, unrefTimer, type TimerHandle } from '../base/timer.js';

export type { TimerHandle };

/** What the identity needs of a Node tls/https server. */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}


export interface TlsIdentityOptions {
  readonly provider: EvidenceProvider;
  /** The OHTTP key configurations served now, in order; none by default. */
  readonly keyConfigs?: () => readonly Uint8Array[];
  /** Certificate validity in seconds (default 3600). */
  readonly validitySeconds?: number;
  /** When to re-issue, as a fraction of the validity after notBefore (default 2/3). */
  readonly rotateFraction?: number;
  /** Delay before retrying a failed rotation, in ms (default 30 000). */
  readonly retryMs?: number;
  readonly dnsNames?: readonly string[];
  /** CRLs, certificates, TDX collateral for the certificate's bundle; a function is read at each issuance. */
  readonly bundleInputs?: BundleInputs | (() => BundleInputs);
  /** The Sigstore bundle of this image's logged measurements statement, shipped in every certificate it issues. */
  readonly transparencyBundle?: Uint8Array;
  /** Clock (default Date.now). */
  readonly now?: () => number;
  /** Timer (default an unref'd setTimeout). */
  readonly setTimer?: (fn: () => void, ms: number) => TimerHandle;
  /** Called after each rotation, once the new certificate is installed (errors go to onError). */
  readonly onRotate?: (identity: TlsIdentity) => void | Promise<void>;
  /** Called when a scheduled rotation fails; the old certificate stays and the rotation is retried. */
  readonly onError?: (error: unknown) => void;
}

export interface TlsCertificateInfo {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Hex SHA-256 of the certificate's DER SubjectPublicKeyInfo. */
  readonly spkiSha256: string;
}

interface Current {
  readonly certificate: AttestedCertificate;
  readonly keyPem: string;
  readonly spki: Uint8Array;
  readonly keyConfigs: readonly Uint8Array[];
  readonly keysDigest: Uint8Array;
  readonly info: TlsCertificateInfo;
}

export class TlsIdentity {
  readonly #options: TlsIdentityOptions;
  readonly #validitySeconds: number;
  readonly #rotateFraction: number;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => TimerHandle;
  #current: Current;
  #server: SecureContextTarget | undefined;
  #timer: TimerHandle | undefined;
  #rotating: Promise<void> | undefined;
  #closed = false;

  private constructor(options: TlsIdentityOptions, current: Current, validitySeconds: number, rotateFraction: number) {
    this.#options = options;
    this.#validitySeconds = validitySeconds;
    this.#rotateFraction = rotateFraction;
    this.#now = options.now ?? Date.now;
    this.#setTimer = options.setTimer ?? unrefTimer;
    this.#current = current;
  }

  /** Issues the first certificate and schedules its rotation. */
  static async create(options: TlsIdentityOptions): Promise<TlsIdentity> {
    const validitySeconds = options.validitySeconds ?? DEFAULT_VALIDITY_SECONDS;
    if (!Number.isInteger(validitySeconds) || validitySeconds <= 0) throw new RangeError(`validitySeconds must be a positive integer, got ${validitySeconds}`);
    const rotateFraction = options.rotateFraction ?? 2 / 3;
    if (!(rotateFraction > 0 && rotateFraction < 1)) throw new RangeError(`rotateFraction must be in (0, 1), got ${rotateFraction}`);
    const identity = new TlsIdentity(options, await TlsIdentity.#issue(options, validitySeconds), validitySeconds, rotateFraction);
    identity.#schedule();
    return identity;
  }

  static async #issue(options: TlsIdentityOptions, validitySeconds: number): Promise<Current> {
    const configs = options.keyConfigs?.() ?? [];
    const certificate = await issueAttestedCertificate({
      provider: options.provider,
      keyConfigs: configs,
      validitySeconds,
      now: new Date((options.now ?? Date.now)()),
      ...(options.dnsNames === undefined ? {} : { dnsNames: options.dnsNames }),
      ...(options.bundleInputs === undefined ? {} : { bundleInputs: typeof options.bundleInputs === 'function' ? options.bundleInputs() : options.bundleInputs }),
      ...(options.transparencyBundle === undefined ? {} : { transparencyBundle: options.transparencyBundle }),
    });
    const spki = spkiOf(createPublicKey(certificate.privateKey));
    return {
      certificate,
      keyPem: certificate.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      spki,
      keyConfigs: configs,
      keysDigest: await keysDigest(spki, configs),
      info: {
        notBefore: new Date(certificate.notAfter.getTime() - validitySeconds * 1000),
        notAfter: certificate.notAfter,
        spkiSha256: createHash('sha256').update(spki).digest('hex'),
      },
    };
  }

  /** The current certificate (PEM) and private key (PKCS #8 PEM, in memory only), for a server's `https` options. */
  get tlsOptions(): { cert: string; key: string } {
    return { cert: this.#current.certificate.certificatePem, key: this.#current.keyPem };
  }

  get certificate(): AttestedCertificate {
    return this.#current.certificate;
  }

  get info(): TlsCertificateInfo {
    return this.#current.info;
  }

  /** DER SubjectPublicKeyInfo of the current certificate. */
  get spki(): Uint8Array {
    return this.#current.spki;
  }

  /** The OHTTP key configurations the current certificate binds, in order. */
  get keyConfigs(): readonly Uint8Array[] {
    return this.#current.keyConfigs;
  }

  /** keysDigest (attestation/evidence/reportData.ts) of the current certificate's key and the key configs it was issued with. */
  keysDigest(): Uint8Array {
    return this.#current.keysDigest;
  }

  /** Installs every later certificate into `server` (new handshakes only; open connections keep theirs). */
  attach(server: SecureContextTarget): void {
    this.#server = server;
  }

  /** When the next rotation is due (ms since the epoch). */
  get rotationDue(): number {
    return this.#current.info.notBefore.getTime() + Math.floor(this.#validitySeconds * 1000 * this.#rotateFraction);
  }

  /** Issues a new certificate now and installs it; concurrent calls share one issuance. */
  rotate(): Promise<void> {
    this.#rotating ??= this.#rotate().finally(() => (this.#rotating = undefined));
    return this.#rotating;
  }

  async #rotate(): Promise<void> {
    const next = await TlsIdentity.#issue(this.#options, this.#validitySeconds);
    if (this.#closed) return;
    this.#current = next;
    this.#server?.setSecureContext({ cert: next.certificate.certificatePem, key: next.keyPem });
    this.#schedule();
    try {
      await this.#options.onRotate?.(this);
    } catch (e) {
      this.#options.onError?.(e);
    }
  }

  #schedule(delayMs: number = this.rotationDue - this.#now()): void {
    this.#timer?.clear();
    if (this.#closed) return;
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      this.rotate().catch((e: unknown) => {
        this.#options.onError?.(e);
        this.#schedule(this.#options.retryMs ?? 30_000);
      });
    }, Math.min(MAX_TIMER_MS, Math.max(0, delayMs)));
  }

  /** Stops rotating. */
  close(): void {
    this.#closed = true;
    this.#timer?.clear();
    this.#timer = undefined;
  }
}
