// What the visitor trusts, from the page's inputs, as the SDK's ServerTrust: the same meaning as `cloister verify`'s
// options (src/cli/trustOptions.ts). A transparency log (--log, --publisher-key, --log-key, --witness) is where the
// accepted launch measurements come from; or launch measurements given by hand or in a measurements file; or, when the
// visitor allows a simulated server and gives neither, the simulated TEE's own. Simulation also trusts the development
// roots the simulated evidence carries (simulatedTrust.ts): evidence that proves nothing, and the page says so.
import { httpLogFetcher, LOG_VKEY_FILE, type TransparencyTrust } from '../../attestation/client/loggedMeasurements.js';
import { simulatedMeasurementPolicy } from '../../attestation/client/simulatedTrust.js';
import type { ServerTrust } from '../../attestation/client/verifyServer.js';
import { PolicyError, VerificationError } from '../../attestation/errors.js';
import { parseMeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import type { RaTlsPolicy } from '../../attestation/ratls/verifyCertificate.js';
import { publicKeyFromPem } from '../../attestation/sigstore/sigstoreKeys.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { TdxVerifier } from '../../attestation/tdx/verify.js';
import { BrowserCheckpointStore } from './browserStore.js';

export interface TrustInputs {
  /** The transparency log's URL. */
  readonly log: string;
  /** PEM text with one or more PUBLIC KEY blocks. */
  readonly publisherKeys: string;
  /** The log's vkey; empty: fetched from the log. */
  readonly logKey: string;
  /** Witness vkeys, one per line. */
  readonly witnesses: string;
  /** Launch measurements in hex, separated by white space or commas. */
  readonly measurements: string;
  /** A measurements file's text (measurements.json), or empty. */
  readonly measurementsFile: string;
  readonly allowSimulated: boolean;
}

/** How the launch measurement is to be judged, for the story. */
export type MeasurementSourceKind = 'logged' | 'given' | 'simulated';

export interface PageTrust {
  readonly trust: ServerTrust;
  readonly source: MeasurementSourceKind;
  /** The log, whether its key was given, and the names of the witnesses that must have cosigned, when there is a log. */
  readonly log?: { readonly url: string; readonly keyPinned: boolean; readonly witnesses: readonly string[] };
}

const lines = (text: string): string[] => text.split(/[\s,]+/).map((s) => s.trim()).filter((s) => s !== '');

function publisherKeys(pem: string): Uint8Array[] {
  const blocks = pem.match(/-----BEGIN PUBLIC KEY-----[^-]*-----END PUBLIC KEY-----/g) ?? [];
  if (blocks.length === 0) throw new PolicyError('MALFORMED_POLICY', 'the publisher key must be PEM with a PUBLIC KEY block (publisher.pub)', { field: 'publisher key' });
  return blocks.map(publicKeyFromPem);
}

async function transparency(inputs: TrustInputs): Promise<{ trust: TransparencyTrust; keyPinned: boolean }> {
  const fetch = httpLogFetcher(inputs.log);
  let logVkey = inputs.logKey.trim();
  const keyPinned = logVkey !== '';
  if (!keyPinned) {
    const fetched = await fetch(LOG_VKEY_FILE);
    if (fetched === undefined) throw new VerificationError('TLOG_UNAVAILABLE', `the log ${inputs.log} has no ${LOG_VKEY_FILE}: give its log key`, { field: LOG_VKEY_FILE });
    logVkey = new TextDecoder().decode(fetched).trim();
  }
  const witnesses = inputs.witnesses.split('\n').map((w) => w.trim()).filter((w) => w !== '');
  return {
    trust: { publisherKeys: publisherKeys(inputs.publisherKeys), logVkey, ...(witnesses.length === 0 ? {} : { witnesses: { vkeys: witnesses } }), store: new BrowserCheckpointStore(), fetch },
    keyPinned,
  };
}

/** The measurement lists a policy accepts on either platform. */
function measurementPolicy(hex: readonly string[]): RaTlsPolicy {
  return { snp: { measurements: hex }, tdx: { mrtds: hex } };
}

/**
 * The trust of `inputs`, with `simulatedRoots` (the roots a simulated server's evidence carries) trusted only when
 * the visitor allowed simulation. MEASUREMENT_SOURCE_MISSING when nothing says which measurement to accept.
 */
export async function pageTrust(inputs: TrustInputs, simulatedRoots: readonly Uint8Array[] = []): Promise<PageTrust> {
  const roots = inputs.allowSimulated ? simulatedRoots : [];
  const verifiers = { snpVerifier: new SnpVerifier({ additionalRoots: roots }), tdxVerifier: new TdxVerifier({ additionalRoots: roots }) };
  const hex = lines(inputs.measurements);
  const file = inputs.measurementsFile.trim() === '' ? undefined : parseMeasurementsFile(inputs.measurementsFile);
  if (inputs.log.trim() !== '') {
    const log = await transparency(inputs);
    return { trust: { ...verifiers, transparency: log.trust }, source: 'logged', log: { url: inputs.log, keyPinned: log.keyPinned, witnesses: (log.trust.witnesses?.vkeys ?? []).map((v) => v.split('+')[0] ?? v) } };
  }
  if (hex.length > 0 || file !== undefined) return { trust: { ...verifiers, ...(hex.length === 0 ? {} : { policy: measurementPolicy(hex) }), ...(file === undefined ? {} : { measurements: file }) }, source: 'given' };
  if (inputs.allowSimulated) return { trust: { ...verifiers, policy: await simulatedMeasurementPolicy() }, source: 'simulated' };
  throw new PolicyError('MEASUREMENT_SOURCE_MISSING', 'give a transparency log (with its publisher key), a measurements file or launch measurements to accept; or, for the local simulated stack only, allow a simulated server', { field: 'trust' });
}
