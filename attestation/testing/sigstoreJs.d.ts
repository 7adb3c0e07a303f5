// The surface of sigstore-js that attestation/sigstore/sigstoreJs.test.ts uses, for when the packages are not
// installed (they are an optional dev dependency: the test skips without them). TypeScript reads the packages' own
// types first when they are installed; these ambient declarations are used only when they are not.
declare module '@sigstore/bundle' {
  export function bundleFromJSON(json: unknown): unknown;
}
declare module '@sigstore/protobuf-specs' {
  export const TrustedRoot: { fromJSON(json: unknown): unknown };
  export const PublicKeyDetails: { readonly PKIX_ECDSA_P256_SHA_256: number };
}
declare module '@sigstore/verify' {
  export function toSignedEntity(bundle: never, artifact?: Buffer): unknown;
  export function toTrustMaterial(root: never, keys?: Record<string, { rawBytes: Buffer; keyDetails: number; validFor: { start: Date } }>): unknown;
  export class Verifier {
    constructor(trustMaterial: never);
    verify(entity: never, policy?: { subjectAlternativeName: string; extensions: { issuer: string } }): unknown;
  }
}
