// How a client judges a Cloister server, in one place for every client (the OHTTP client, the Node RA-TLS agent
// behind `cloister verify`, the verify page in web/): the RA-TLS certificate verified under the caller's policy
// (verifyAttestedCertificate), then the client's rules on the launch measurement and the logged hardware policy
// (judgeVerified), with the transparency bundle the certificate ships. verifyServer first fetches, over HTTP through a
// relay or from the server itself, the certificate and the key configurations it serves, which the certificate must
// carry exactly; judgeEvidence applies the same rules to evidence alone, offline. Browser-safe: the transport is the global fetch (or one given).
import { VerificationError } from '../errors.js';
import { mediaType, problemCode } from '../protocols/httpText.js';
import { decodeOhttpKeys } from '../protocols/ohttp/keyConfig.js';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH, OHTTP_KEYS_MEDIA_TYPE, PKIX_CERT_MEDIA_TYPE } from '../protocols/ohttp/paths.js';
import type { DecodedEvidence } from '../evidence/platforms.js';
import { verifyAttestedCertificate, verifyEvidenceFor, type PlatformVerifiers, type RaTlsPolicy, type RaTlsVerdict } from '../ratls/verifyCertificate.js';
import { judgeVerified } from './hardwarePolicy.js';
import { exchange, globalFetch, type FetchLike } from './httpFetch.js';
import { shippedTransparencyBundle } from './loggedMeasurements.js';
import { clientPolicy, type MeasurementSource } from './measurementSource.js';

export interface ServerTrust extends MeasurementSource, PlatformVerifiers {
  /** Evaluation time for the certificate and evidence; default: now. */
  readonly at?: Date;
}

export interface CertificateJudgment extends ServerTrust {
  /** The key configurations the server serves apart from its certificate: the certificate must carry exactly these. */
  readonly expectedKeyConfigs?: readonly Uint8Array[];
}

/**
 * The client's verdict on a server's RA-TLS certificate under `policy` (clientPolicy of `trust`): its evidence,
 * then the launch measurement (the policy's lists or the log's) and the log's hardware policy. Never throws for a
 * bad certificate; the verdict says why.
 */
export async function verifyServerCertificate(der: Uint8Array, policy: RaTlsPolicy, trust: CertificateJudgment): Promise<RaTlsVerdict> {
  const verified = await verifyAttestedCertificate(der, policy, {
    ...(trust.at === undefined ? {} : { at: trust.at }),
    ...(trust.snpVerifier === undefined ? {} : { snpVerifier: trust.snpVerifier }),
    ...(trust.tdxVerifier === undefined ? {} : { tdxVerifier: trust.tdxVerifier }),
    ...(trust.expectedKeyConfigs === undefined ? {} : { expectedKeyConfigs: trust.expectedKeyConfigs }),
  });
  return judgeVerified(verified, policy, trust, verified.accepted && trust.transparency !== undefined ? shippedTransparencyBundle(der) : undefined);
}

export interface ServerFetch {
  readonly fetch?: FetchLike;
  /** Per HTTP exchange, in ms (default 35 000, above the relay's and the gateway's own limits). */
  readonly timeoutMs?: number;
}

/** A server's public resources, as fetched. */
export interface ServedAttestation {
  /** The RA-TLS certificate (DER). */
  readonly certificate: Uint8Array;
  /** The key configurations served at /.well-known/ohttp-gateway, each without its length prefix. */
  readonly keyConfigs: readonly Uint8Array[];
}

const base = (u: string | URL): string => String(u).replace(/\/+$/, '');

/**
 * GET `path` below `origin` (a server, or a relay's resource for it) answered 200 with `accept`'s media type;
 * anything else is OHTTP_REQUEST_FAILED naming the URL and the answer.
 */
export async function fetchPublic(origin: string | URL, path: string, accept: string, options: ServerFetch & { readonly reload?: boolean } = {}): Promise<Uint8Array> {
  const url = `${base(origin)}${path}`;
  let r;
  try {
    r = await exchange(options.fetch ?? globalFetch, url, options.reload === true ? { method: 'GET', headers: { accept, 'cache-control': 'no-cache' }, cache: 'no-store' } : { method: 'GET', headers: { accept } }, options.timeoutMs ?? 35_000);
  } catch (cause) {
    throw new VerificationError('OHTTP_REQUEST_FAILED', `GET ${url} failed: ${(cause as Error).message}`, { field: 'response', actual: (cause as Error).name, cause });
  }
  const type = mediaType(r.headers.get('content-type'));
  if (r.status !== 200 || type !== accept) {
    throw new VerificationError('OHTTP_REQUEST_FAILED', `GET ${url} answered ${r.status} ${type || '(no content type)'}, expected 200 ${accept}`, { field: 'response', actual: `${r.status} ${problemCode(r.body) ?? type}` });
  }
  return r.body;
}

/** The certificate and the key configurations `origin` serves; `reload` past every cache on the way. */
export async function fetchServedAttestation(origin: string | URL, options: ServerFetch & { readonly reload?: boolean } = {}): Promise<ServedAttestation> {
  const [certificate, keys] = await Promise.all([fetchPublic(origin, ATTESTATION_CERTIFICATE_PATH, PKIX_CERT_MEDIA_TYPE, options), fetchPublic(origin, OHTTP_GATEWAY_PATH, OHTTP_KEYS_MEDIA_TYPE, options)]);
  return { certificate, keyConfigs: decodeOhttpKeys(keys) };
}

/**
 * Fetches `origin`'s certificate and key configurations and judges them (verifyServerCertificate, the served key
 * configurations expected in the certificate); `trust` may depend on what was fetched (the verify page takes the
 * simulated TEE's roots from its evidence when its visitor allows simulation). Throws MEASUREMENT_SOURCE_MISSING
 * without a measurement to accept, OHTTP_REQUEST_FAILED when a resource cannot be fetched, MALFORMED_FIELD or
 * TRUNCATED for unreadable key configurations.
 */
export async function verifyServer(origin: string | URL, trust: ServerTrust | ((served: ServedAttestation) => Promise<ServerTrust>), options: ServerFetch = {}): Promise<ServedAttestation & { readonly verdict: RaTlsVerdict }> {
  if (typeof trust !== 'function') clientPolicy(trust);
  const judge = async (reload: boolean): Promise<ServedAttestation & { readonly verdict: RaTlsVerdict }> => {
    const served = await fetchServedAttestation(origin, { ...options, reload });
    const given = typeof trust === 'function' ? await trust(served) : trust;
    return { ...served, verdict: await verifyServerCertificate(served.certificate, clientPolicy(given), { ...given, expectedKeyConfigs: served.keyConfigs }) };
  };
  const first = await judge(false);
  // Cached apart (a relay keeps each for its own max-age), the two may straddle a key rotation: fetched again past
  // the caches, they agree unless the server serves keys its certificate does not bind.
  return first.verdict.error?.code === 'KEY_CONFIG_MISMATCH' ? judge(true) : first;
}

/**
 * Evidence on its own (a bundle, a report or a quote, offline) judged as a client judges a server's: the evidence
 * under `policy`, then the same rules on the launch measurement and the logged hardware policy. The verdict has the
 * shape of a certificate's, its claims' `evidence` the evidence's own, without certificate or key configurations.
 */
export async function judgeEvidence(decoded: DecodedEvidence, policy: RaTlsPolicy, trust: ServerTrust): Promise<RaTlsVerdict> {
  const verified = await verifyEvidenceFor(decoded, policy, trust, trust.at ?? new Date());
  const shaped: RaTlsVerdict = { ...verified, ...(verified.claims === undefined ? {} : { claims: { evidence: verified.claims } }) };
  return judgeVerified(shaped, policy, trust);
}
