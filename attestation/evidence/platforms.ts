// The platform table: one entry per TEE platform, and the one place evidence is decoded. Raw bytes are
// recognized by the entry whose `detect` matches; a JSON bundle (docs/evidence-bundle.md) by its
// `platform` member. Adding a platform means adding its entry to TABLE.
import type { Hasher } from '../hash.js';
import type { Verdict } from '../checks.js';
import { SNP_PLATFORM } from '../snp/platform.js';
import { TDX_PLATFORM } from '../tdx/platform.js';
import { isJsonBundle, readEvidenceBundle, wrongPlatform } from './bundle.js';
import type { Platform, PlatformMembers } from './platformEntry.js';

export { isJsonBundle };

const TABLE = { 'sev-snp': SNP_PLATFORM, tdx: TDX_PLATFORM } as const;

type Table = typeof TABLE;
export type PlatformName = keyof Table;
type Parts<T> = T extends Platform<infer N, infer E, infer P, infer V, infer K> ? { name: N; evidence: E; policy: P; verifier: V; key: K } : never;
export type EvidenceOf<N extends PlatformName> = Parts<Table[N]>['evidence'];
export type PolicyOf<N extends PlatformName> = Parts<Table[N]>['policy'];
export type VerifierOf<N extends PlatformName> = Parts<Table[N]>['verifier'];
export type PlatformKey<N extends PlatformName> = Parts<Table[N]>['key'];
export type PlatformEntry<N extends PlatformName> = Platform<N, EvidenceOf<N>, PolicyOf<N>, VerifierOf<N>, PlatformKey<N>>;

/** Every platform by name; typed so that a function generic in the name keeps evidence, policy and verifier together. */
export const PLATFORMS: { readonly [N in PlatformName]: PlatformEntry<N> } = TABLE;

/** The platforms in bundle-message order ("sev-snp" or "tdx"). */
export const PLATFORM_LIST: readonly PlatformEntry<PlatformName>[] = Object.values(PLATFORMS);
export const BUNDLE_PLATFORMS = PLATFORM_LIST.map((p) => p.name);
export type BundlePlatform = PlatformName;

export type DecodedEvidenceOf<N extends PlatformName> = { readonly platform: N; readonly evidence: EvidenceOf<N> };
/** Evidence of some platform, tagged with the platform's name. */
export type DecodedEvidence = { [N in PlatformName]: DecodedEvidenceOf<N> }[PlatformName];
export type DecodedEvidenceBundle = DecodedEvidence;

// Raw bytes no platform recognizes go to SEV-SNP's decoder, whose error (TRUNCATED, UNSUPPORTED_VERSION)
// says what a report should have been: the format Cloister began with.
const FALLBACK: PlatformName = 'sev-snp';

function tagged<N extends PlatformName>(platform: PlatformEntry<N>, members: PlatformMembers<EvidenceOf<N>>): PlatformMembers<DecodedEvidenceOf<N>> {
  return { problems: members.problems, evidence: (common) => ({ platform: platform.name, evidence: members.evidence(common) }) };
}

const bundleReaders = PLATFORM_LIST.map(<N extends PlatformName>(p: PlatformEntry<N>) => ({ name: p.name, fromBundle: (o: Readonly<Record<string, unknown>>) => tagged(p, p.fromBundle(o)) }));

/** Decodes a `cloister-evidence/v1` bundle of any platform; every bad member is reported at once. */
export function decodeEvidenceBundle(bytes: Uint8Array): DecodedEvidence {
  return readEvidenceBundle(bytes, bundleReaders).evidence as DecodedEvidence;
}

/** Evidence of any platform: a JSON bundle, or raw bytes recognized by a platform's `detect`. */
export function decodeEvidence(bytes: Uint8Array): DecodedEvidence {
  if (isJsonBundle(bytes)) return decodeEvidenceBundle(bytes);
  return decodeRaw(PLATFORM_LIST.find((p) => p.detect(bytes)) ?? PLATFORMS[FALLBACK], bytes) as DecodedEvidence;
}

function decodeRaw<N extends PlatformName>(platform: PlatformEntry<N>, bytes: Uint8Array): DecodedEvidenceOf<N> {
  return { platform: platform.name, evidence: platform.decode(bytes) };
}

/** Evidence of `platform` alone: its raw form or a bundle naming it (a bundle of another platform is a ParseError). */
export function decodePlatformEvidence<N extends PlatformName>(platform: PlatformEntry<N>, bytes: Uint8Array): EvidenceOf<N> {
  if (!isJsonBundle(bytes)) return platform.decode(bytes);
  const decoded = decodeEvidenceBundle(bytes);
  if (decoded.platform !== platform.name) throw wrongPlatform(PLATFORMS[decoded.platform], platform);
  return decoded.evidence;
}

/** Recognizes a raw report, an extended report or a JSON evidence bundle with `platform: "sev-snp"`. */
export const decodeSnpEvidence = (bytes: Uint8Array): EvidenceOf<'sev-snp'> => decodePlatformEvidence(PLATFORMS['sev-snp'], bytes);
/** Recognizes a raw quote or a JSON evidence bundle with `platform: "tdx"`. The quote is parsed by verifyTdxEvidence. */
export const decodeTdxEvidence = (bytes: Uint8Array): EvidenceOf<'tdx'> => decodePlatformEvidence(PLATFORMS.tdx, bytes);

/** The entry for decoded evidence, with the evidence typed for it. */
export function platformOf<N extends PlatformName>(decoded: DecodedEvidenceOf<N>): PlatformEntry<N> {
  return PLATFORMS[decoded.platform];
}

/** Verifies decoded evidence of any platform with that platform's verifier; `policies`/`verifiers` are looked up by the entry's key. */
export function verifyDecoded<N extends PlatformName>(
  decoded: DecodedEvidenceOf<N>,
  policy: PolicyOf<N> | undefined,
  options: { readonly at?: Date; readonly verifier?: VerifierOf<N> | undefined; readonly chainOnly?: boolean; readonly hasher?: Hasher },
): Promise<Verdict<N>> {
  const { at, verifier, chainOnly, hasher } = options;
  return platformOf(decoded).verify(decoded.evidence, policy, { ...(at === undefined ? {} : { at }), ...(verifier === undefined ? {} : { verifier }), ...(chainOnly === true ? { chainOnly } : {}), ...(hasher === undefined ? {} : { hasher }) });
}
