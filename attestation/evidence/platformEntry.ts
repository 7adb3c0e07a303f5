// What one TEE platform contributes to the platform table (platforms.ts): how its evidence is recognized and
// decoded (raw bytes or a bundle's members), verified, and what platform-blind callers read from it. The
// platforms implement it in snp/platform.ts and tdx/platform.ts; this module imports neither.
import type { Verdict } from '../checks.js';
import type { Hasher } from '../hash.js';
import type { EcdsaImporter } from '../ecdsa.js';

/** The members every `cloister-evidence/v1` bundle has, decoded (docs/evidence-bundle.md). */
export interface BundleMembers {
  readonly evidence: Uint8Array;
  readonly certificates: Uint8Array[];
  readonly crls: Uint8Array[];
  readonly simulated: boolean;
}

/** A bundle's platform-specific members: the problems found in them, and how to build the evidence once the common members are decoded. */
export interface PlatformMembers<E> {
  readonly problems: readonly string[];
  evidence(members: BundleMembers): E;
}

/** A field of the evidence that platform-blind checks compare, with its spec name for messages. */
export interface EvidenceField<E> {
  readonly field: string;
  of(evidence: E): Uint8Array;
}

/** The policy fields the platform-blind command-line options set; an option the platform lacks is absent. */
export interface PolicyOptionFields<P> {
  readonly allowDebug: keyof P & string;
  readonly measurements: keyof P & string;
  readonly reportData: keyof P & string;
  readonly allowProvisionalFirmware?: keyof P & string;
  readonly acceptedTcbStatuses?: keyof P & string;
  readonly minTcb?: keyof P & string;
  readonly minLaunchTcb?: keyof P & string;
  readonly minVersion?: keyof P & string;
  readonly requireSmtDisabled?: keyof P & string;
  readonly requireTsme?: keyof P & string;
  readonly requireCiphertextHiding?: keyof P & string;
}

export interface PlatformVerifyOptions<V> {
  readonly at?: Date;
  readonly verifier?: V;
  /** TDX: signatures and chain alone, the collateral and TCB not evaluated. SEV-SNP has no such mode and ignores it. */
  readonly chainOnly?: boolean;
  /** Hashing backend for what the verification itself hashes (TDX: an event log's replay). */
  readonly hasher?: Hasher;
}

export interface PlatformVerifierOptions {
  readonly ecdsa?: EcdsaImporter;
  /** Hashing backend where the platform's verifier hashes (TDX: the QE report binding). */
  readonly hasher?: Hasher;
  readonly additionalRoots?: readonly Uint8Array[];
}

/**
 * N: the bundle's `platform` name; E: the evidence; P: the policy; V: the verifier; K: the key of the
 * platform's policy in RaTlsPolicy (and, with "Verifier" appended, of its verifier in VerifyRaTlsOptions).
 */
/** What every platform's evidence carries besides its report or quote. */
export interface PlatformEvidence {
  readonly certificates: readonly Uint8Array[];
  readonly crls: readonly Uint8Array[];
  /** Set by bundles produced by the simulated TEE; informational only, trust comes from roots. */
  readonly simulated: boolean;
}

export interface Platform<N extends string, E extends PlatformEvidence, P extends object, V, K extends string> {
  readonly name: N;
  /** The platform's name in messages: "SEV-SNP", "TDX". */
  readonly label: string;
  readonly key: K;
  /** The exported function that decodes this platform's evidence alone, named in wrong-platform messages. */
  readonly decoderName: string;
  /** True when raw bytes (not a bundle) start like this platform's evidence. */
  detect(bytes: Uint8Array): boolean;
  /** Raw bytes -> evidence; shape checks only, verify parses the rest. Throws ParseError. */
  decode(bytes: Uint8Array): E;
  fromBundle(bundle: Readonly<Record<string, unknown>>): PlatformMembers<E>;
  /** parse -> verify -> validate; never throws for bad evidence. */
  verify(evidence: E, policy: P | undefined, options: PlatformVerifyOptions<V>): Promise<Verdict<N>>;
  /** Every parsed field, JSON-ready, without verifying anything. Throws ParseError. */
  claims(evidence: E): Record<string, unknown>;
  /** The 64 bytes the evidence binds (SEV-SNP REPORT_DATA, TDX REPORTDATA). Throws ParseError. */
  reportData(evidence: E): Uint8Array;
  /** The launch measurement (SEV-SNP MEASUREMENT, TDX MRTD). */
  readonly measurement: EvidenceField<E>;
  /** The chip the evidence comes from, on platforms whose evidence names one (SEV-SNP CHIP_ID). */
  readonly chip?: EvidenceField<E>;
  parsePolicyJson(text: string): P;
  readonly policyOptions: PolicyOptionFields<P>;
  /** Whether the verifier uses certificates and CRLs supplied beside the evidence (TDX: no, its PCK chain is in the quote). */
  readonly usesSuppliedEndorsements: boolean;
  /** Takes Intel PCS collateral (verify-evidence --collateral) and can verify on the chain alone (--chain-only). */
  readonly takesCollateral: boolean;
  createVerifier(options: PlatformVerifierOptions): V;
}
