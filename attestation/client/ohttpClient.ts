// The Oblivious HTTP client (docs/ohttp.md "Client"): fetch the gateway's RA-TLS certificate (through
// the relay by default, so the gateway does not learn who asked), take the key configurations its
// attestation binds, only if that attestation meets the policy and a launch measurement the caller named
// (measurementSource.ts), then encapsulate each request to one of them, send it through the relay, and
// open the answer; with a PrivateTokenSource, answer the gateway's Privacy Pass challenges inside the
// encapsulation. Browser-safe: the transport is the global fetch (or one given).
import { VerificationError } from '../errors.js';
import { mediaType, problemCode } from '../protocols/httpText.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../protocols/ratlsExtension.js';
import type { MeasurementsFile } from '../measure/measurementsFile.js';
import type { RaTlsPolicy, RaTlsVerdict } from '../ratls/verifyCertificate.js';
import type { SnpVerifier } from '../snp/verify.js';
import type { TdxVerifier } from '../tdx/verify.js';
import { parseCertificate } from '../x509.js';
import { decodeResponse, encodeRequest, type BhttpFields, type BhttpResponse } from '../protocols/bhttp.js';
import { encapsulateRequest, requestOverhead } from '../protocols/ohttp/encapsulation.js';
import { cipherSuite, webCryptoHpke, type HpkePrimitives } from '../protocols/ohttp/hpke.js';
import { decodeKeyConfig, KEM_X25519_HKDF_SHA256, type KeyConfig } from '../protocols/ohttp/keyConfig.js';
import { assertPaddingPolicy, DEFAULT_PADDING, paddedLength, type PaddingPolicy } from '../protocols/padding.js';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH, OHTTP_REQUEST_MEDIA_TYPE, OHTTP_RESPONSE_MEDIA_TYPE, PKIX_CERT_MEDIA_TYPE } from '../protocols/ohttp/paths.js';
import { exchange, globalFetch, type FetchInit, type FetchLike } from './httpFetch.js';
import type { TransparencyTrust } from './loggedMeasurements.js';
import { fetchPublic, verifyServerCertificate } from './verifyServer.js';
import { clientPolicy, type MeasurementSource } from './measurementSource.js';

export interface OhttpClientOptions extends Pick<MeasurementSource, 'hardwarePolicyVersions' | 'requireHardwarePolicy'> {
  /** The relay's resource for the gateway (e.g. http://127.0.0.1:8081/default); requests go to {relay}/.well-known/ohttp-gateway. */
  readonly relay: string | URL;
  /** Fetch the key configurations and the certificate from this gateway origin directly instead of through the relay. */
  readonly gateway?: string | URL;
  /**
   * Where the gateway's RA-TLS certificate comes from instead of a GET (a fleet directory's entry: FleetClient);
   * `reload` asks for a copy past every cache, after a 422 or once the certificate expired.
   */
  readonly certificate?: (reload: boolean) => Promise<Uint8Array>;
  /** The policy; its platforms' lists of launch measurements (snp.measurements, tdx.mrtds) are what is accepted. */
  readonly policy?: RaTlsPolicy;
  /**
   * A parsed allowed-measurements file (parseMeasurementsFile): the launch measurements it lists are allowed,
   * besides those `policy` lists; a platform it has no entries for is refused unless `policy` allows it.
   */
  readonly measurements?: MeasurementsFile;
  /**
   * Accept any launch measurement of a platform for which neither `policy` nor `measurements` lists one, for
   * debugging; the verdict then has `anyMeasurement: true`. Without it the client refuses such a platform
   * (MEASUREMENT_SOURCE_MISSING), and one given no measurement at all is not constructed.
   */
  readonly anyMeasurement?: boolean;
  /** A transparency log the launch measurement must be published to (loggedMeasurements.ts, docs/transparency.md "Clients"). */
  readonly transparency?: TransparencyTrust;
  readonly snpVerifier?: SnpVerifier;
  readonly tdxVerifier?: TdxVerifier;
  /** Evaluation time for the certificate and evidence; default: now. */
  readonly at?: Date;
  readonly primitives?: HpkePrimitives;
  readonly fetch?: FetchLike;
  /** Per HTTP exchange, in ms (default 35 000). */
  readonly timeoutMs?: number;
  /**
   * The size classes requests are padded to inside the encryption (default DEFAULT_PADDING, powers of two
   * from 1 KiB); 'none' sends each at its own length, which the relay and the network then see.
   */
  readonly padding?: PaddingPolicy;
  /** Privacy Pass tokens for a gateway that requires them (a PrivacyPassClient; docs/privacy-pass.md "Client"). */
  readonly privacyPass?: PrivateTokenSource;
}

/** Answers a gateway's Privacy Pass challenges (RFC 9577) with Authorization values; PrivacyPassClient is one. */
export interface PrivateTokenSource {
  /** The Authorization value to send first in `scope` (one gateway), when its challenge is known; undefined otherwise. */
  authorization(scope: string): Promise<string | undefined>;
  /** The Authorization value answering a 401's WWW-Authenticate value; undefined when it holds no PrivateToken challenge. */
  authorizationFor(wwwAuthenticate: string, scope: string): Promise<string | undefined>;
}

export interface OhttpRequest {
  /** The target URL inside the encapsulation, e.g. https://cloister/v1/echo (scheme, authority, path). */
  readonly url: string;
  readonly method?: string;
  readonly headers?: BhttpFields;
  readonly body?: Uint8Array;
}

export interface OhttpResponse extends BhttpResponse {
  /** The key configuration the request was encapsulated to. */
  readonly keyId: number;
  /** The verdict on the certificate that binds that key configuration. */
  readonly verdict: RaTlsVerdict;
}

/** The gateway's key configurations were refused: the verdict says why (its error code is this error's code). */
export class KeyConfigRejectedError extends VerificationError {
  readonly verdict: RaTlsVerdict;

  constructor(verdict: RaTlsVerdict) {
    const e = verdict.error;
    super((e?.code ?? 'NO_ATTESTATION') as ConstructorParameters<typeof VerificationError>[0], `the gateway's key configurations are not attested: ${e?.message ?? 'rejected'}`, {
      ...(e?.field === undefined ? {} : { field: e.field }),
      ...(e?.expected === undefined ? {} : { expected: e.expected }),
      ...(e?.actual === undefined ? {} : { actual: e.actual }),
    });
    this.verdict = verdict;
  }
}

interface VerifiedKeys {
  readonly config: KeyConfig;
  readonly verdict: RaTlsVerdict;
  readonly notAfter: number;
}

const base = (u: string | URL): string => String(u).replace(/\/+$/, '');

// The request is encoded before a key configuration is chosen (and kept for the retry after a 422, which
// may choose another): its padding assumes X25519, the only KEM the SDK's primitives offer. With another
// KEM the request is a class plus the difference in enc sizes, the same for every request of that class.
const REQUEST_OVERHEAD = requestOverhead(KEM_X25519_HKDF_SHA256);

function failed(message: string, actual: string, cause?: unknown): VerificationError {
  return new VerificationError('OHTTP_REQUEST_FAILED', message, { field: 'response', actual, ...(cause === undefined ? {} : { cause }) });
}

/** A client for one gateway through one relay; it keeps the verified key configuration until its certificate expires. */
export class OhttpClient {
  readonly #options: OhttpClientOptions;
  readonly #primitives: HpkePrimitives;
  readonly #fetch: FetchLike;
  readonly #padding: PaddingPolicy;
  readonly #policy: RaTlsPolicy;
  #keys: Promise<VerifiedKeys> | undefined;

  /** Throws MALFORMED_POLICY for an invalid `padding`, MEASUREMENT_SOURCE_MISSING without a measurement to accept (see `anyMeasurement`). */
  constructor(options: OhttpClientOptions) {
    this.#options = options;
    this.#primitives = options.primitives ?? webCryptoHpke;
    this.#padding = assertPaddingPolicy(options.padding ?? DEFAULT_PADDING);
    this.#policy = clientPolicy(options);
    this.#fetch = options.fetch ?? globalFetch;
  }

  async #exchange(url: string, init: Omit<FetchInit, 'signal'>): Promise<{ status: number; type: string; body: Uint8Array }> {
    try {
      // Above the relay's 30 s and the gateway's 25 s, so their answers arrive before the client gives up.
      const r = await exchange(this.#fetch, url, init, this.#options.timeoutMs ?? 35_000);
      return { status: r.status, type: mediaType(r.headers.get('content-type')), body: r.body };
    } catch (cause) {
      throw failed(`${init.method} ${url} failed: ${(cause as Error).message}`, (cause as Error).name, cause);
    }
  }

  // The configurations come from the certificate that binds them, not from a second fetch of
  // /.well-known/ohttp-gateway: two resources cached apart could disagree around a key rotation.
  async #fetchKeys(reload: boolean): Promise<VerifiedKeys> {
    const certificate =
      this.#options.certificate === undefined
        ? await fetchPublic(this.#options.gateway ?? this.#options.relay, ATTESTATION_CERTIFICATE_PATH, PKIX_CERT_MEDIA_TYPE, { fetch: this.#fetch, reload, ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }) })
        : await this.#options.certificate(reload);
    const verdict = await verifyServerCertificate(certificate, this.#policy, this.#options);
    if (!verdict.accepted) throw new KeyConfigRejectedError(verdict);
    const cmw = parseCertificate(certificate).extensions.get(ID_PE_CMW);
    const configs = cmw === undefined ? [] : [...decodeRaTlsExtension(cmw.value).keyConfigs];
    const usable = configs.flatMap((bytes) => {
      try {
        const c = decodeKeyConfig(bytes);
        return c.suites.some((s) => cipherSuite(this.#primitives, c.kemId, s.kdfId, s.aeadId) !== undefined) ? [c] : [];
      } catch {
        return [];
      }
    });
    const config = usable[0];
    if (config === undefined) throw new VerificationError('OHTTP_UNSUPPORTED_SUITE', `none of the gateway's ${configs.length} key configuration(s) uses a suite ${this.#primitives.name} supports`, { field: 'ohttp-keys' });
    const notAfter = Date.parse((verdict.claims as { certificate?: { notAfter?: string } } | undefined)?.certificate?.notAfter ?? '');
    return { config, verdict, notAfter: Number.isNaN(notAfter) ? 0 : notAfter };
  }

  /** The verified key configuration in use (fetched and verified at first use, and again, past any cache, after it expires or on `refresh`). */
  keys(refresh = false): Promise<VerifiedKeys> {
    const now = (this.#options.at ?? new Date()).getTime();
    if (refresh || this.#keys === undefined) {
      this.#keys = this.#fetchKeys(refresh);
      this.#keys.catch(() => (this.#keys = undefined));
      return this.#keys;
    }
    return this.#keys.then((k) => (k.notAfter <= now ? this.keys(true) : k));
  }

  /**
   * Sends one request through the relay, padded to its size class. A 422 (key configuration unknown)
   * refetches the keys and retries once. With `privacyPass`, a request without its own Authorization carries a
   * token once the gateway's challenge is known, and a 401 with a PrivateToken challenge is answered with a token
   * and sent once more; every other answer (a 503 of the spent-token store among them) is returned as it is.
   */
  async fetch(request: OhttpRequest): Promise<OhttpResponse> {
    const target = new URL(request.url);
    const tokens = this.#options.privacyPass;
    if (tokens === undefined || (request.headers ?? []).some(([name]) => name.toLowerCase() === 'authorization')) return this.#sendRequest(request, target, undefined);
    // The relay and the target's origin: one gateway, whose challenge holds for all of its requests.
    const scope = `${base(this.#options.relay)} ${target.origin}`;
    const first = await this.#sendRequest(request, target, await tokens.authorization(scope));
    const challenges = first.headers.filter(([name]) => name.toLowerCase() === 'www-authenticate').map(([, value]) => value);
    if (first.status !== 401 || challenges.length === 0) return first;
    const authorization = await tokens.authorizationFor(challenges.join(', '), scope);
    if (authorization === undefined) return first;
    first.content.fill(0);
    return this.#sendRequest(request, target, authorization);
  }

  async #sendRequest(request: OhttpRequest, target: URL, authorization: string | undefined): Promise<OhttpResponse> {
    const padding = this.#padding;
    const message = encodeRequest(
      {
        method: request.method ?? (request.body === undefined ? 'GET' : 'POST'),
        scheme: target.protocol.replace(/:$/, ''),
        authority: target.host,
        path: `${target.pathname}${target.search}`,
        headers: authorization === undefined ? (request.headers ?? []) : [...(request.headers ?? []), ['authorization', authorization]],
        content: request.body ?? new Uint8Array(0),
        trailers: [],
      },
      { padTo: (length) => paddedLength(padding, length, REQUEST_OVERHEAD) },
    );
    try {
      return await this.#send(message, false);
    } finally {
      message.fill(0);
    }
  }

  async #send(message: Uint8Array, retried: boolean): Promise<OhttpResponse> {
    const keys = await this.keys(retried);
    const encapsulated = await encapsulateRequest(keys.config, message, { primitives: this.#primitives });
    const url = `${base(this.#options.relay)}${OHTTP_GATEWAY_PATH}`;
    const r = await this.#exchange(url, { method: 'POST', headers: { 'content-type': OHTTP_REQUEST_MEDIA_TYPE }, body: encapsulated.bytes });
    if (r.status === 422 && !retried) return this.#send(message, true);
    if (r.status !== 200 || r.type !== OHTTP_RESPONSE_MEDIA_TYPE) {
      const code = problemCode(r.body);
      throw failed(`the relay answered ${r.status}${code === undefined ? '' : ` ${code}`} instead of an encapsulated response`, `${r.status}${code === undefined ? '' : ` ${code}`}`);
    }
    const plaintext = await encapsulated.opener.open(r.body);
    try {
      const response = decodeResponse(plaintext);
      return { ...response, content: response.content.slice(), keyId: keys.config.keyId, verdict: keys.verdict };
    } finally {
      plaintext.fill(0);
    }
  }
}

/** One request with a new client: fetches and verifies the key configuration, then sends. */
export async function ohttpFetch(request: OhttpRequest, options: OhttpClientOptions): Promise<OhttpResponse> {
  return await new OhttpClient(options).fetch(request);
}

