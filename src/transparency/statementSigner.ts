// Signing in-toto statements with the operator's key on node:crypto (the `cloister publish` side of issue 18): a DSSE
// signer from a private KeyObject, ECDSA P-256 with SHA-256 (ASN.1 DER signatures, as Sigstore writes them) or
// Ed25519, and the envelope of a statement. The formats, the log entry and the bundle are the SDK's
// (attestation/sigstore); only the private-key operation is here.
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { IN_TOTO_PAYLOAD_TYPE, signDsseEnvelope, type DsseEnvelope } from '../../attestation/sigstore/dsse.js';
import { serializeStatement, type Statement } from '../../attestation/sigstore/inToto.js';
import type { SigstoreKeyScheme } from '../../attestation/sigstore/sigstoreKeys.js';
import { RuntimeError } from '../base/runtimeErrors.js';

export interface StatementSigner {
  readonly scheme: SigstoreKeyScheme;
  /** The public key's SubjectPublicKeyInfo: what verifiers are given, and what the log entry records. */
  readonly spki: Uint8Array;
  readonly keyid?: string;
  sign(message: Uint8Array): Uint8Array;
}

/** A signer from an EC P-256 or Ed25519 private key; SIGNING_KEY_INVALID for any other key. */
export function statementSigner(privateKey: KeyObject, keyid?: string): StatementSigner {
  const type = privateKey.asymmetricKeyType;
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.type !== 'private' || !(type === 'ed25519' || (type === 'ec' && curve === 'prime256v1'))) {
    throw new RuntimeError('SIGNING_KEY_INVALID', `the statement signing key is a ${privateKey.type} ${type ?? 'symmetric'}${curve === undefined ? '' : ` ${curve}`} key, not an EC P-256 or Ed25519 private key`, { field: 'key' });
  }
  const spki = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
  const scheme: SigstoreKeyScheme = type === 'ed25519' ? 'ed25519' : 'ecdsa-p256-sha256';
  const hash = type === 'ed25519' ? null : 'sha256';
  return { scheme, spki, ...(keyid === undefined ? {} : { keyid }), sign: (message) => new Uint8Array(sign(hash, message, privateKey)) };
}

/** The DSSE envelope (application/vnd.in-toto+json) of `statement`, signed by each signer. */
export function signStatement(statement: Omit<Statement, 'type'>, signers: readonly StatementSigner[]): Promise<DsseEnvelope> {
  return signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, new TextEncoder().encode(serializeStatement(statement)), signers);
}
