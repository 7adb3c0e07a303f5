// verifyServer, judgeEvidence and serverReport (attestation/client/) against `cloister serve --simulated`, SEV-SNP and
// TDX, each behind a relay (what the verify page, web/, does in a browser): the roots a simulated server's evidence
// carries are the simulated TEE's development roots, and only then trusted; the report's facts; a log that lists the
// measurement; the failures with their codes; a tampered bundle offline.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromBase64, toBase64 } from '../../attestation/bytes.js';
import { httpLogFetcher, imageManifestPath, loggedImageInputs, LOG_VKEY_FILE, type LogFetcher } from '../../attestation/client/loggedMeasurements.js';
import { clientPolicy } from '../../attestation/client/measurementSource.js';
import { serverReport } from '../../attestation/client/serverReport.js';
import { embeddedRoots, simulatedMeasurementPolicy, simulatedMeasurementsHex, simulatedRootsOfCertificate } from '../../attestation/client/simulatedTrust.js';
import { fetchPublic, judgeEvidence, verifyServer, type ServedAttestation, type ServerTrust } from '../../attestation/client/verifyServer.js';
import { globalFetch, type FetchLike } from '../../attestation/client/httpFetch.js';
import { encodeOhttpKeys } from '../../attestation/protocols/ohttp/keyConfig.js';
import { CloisterError } from '../../attestation/errors.js';
import { decodeEvidenceBundle } from '../../attestation/evidence/platforms.js';
import { ATTESTATION_CERTIFICATE_PATH, OHTTP_GATEWAY_PATH, OHTTP_KEYS_MEDIA_TYPE, PKIX_CERT_MEDIA_TYPE } from '../../attestation/protocols/ohttp/paths.js';
import { decodeRaTlsExtension, ID_PE_CMW } from '../../attestation/protocols/ratlsExtension.js';
import { publicKeyFromPem } from '../../attestation/sigstore/sigstoreKeys.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { MemoryCheckpointStore } from '../../attestation/transparency/checkpointStore.js';
import { TdxVerifier } from '../../attestation/tdx/verify.js';
import { parseCertificate } from '../../attestation/x509.js';
import { startRelay, type Relay } from '../relay/relay.js';
import { cli } from '../testing/cliRun.js';
import { serveDirectory, type StaticServer } from '../testing/staticFiles.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { processIo } from './io.js';
import { serveCommand } from './serveCommand.js';
import { availableSimulatedRoots } from './trustSimulated.js';

const work = temporaryDirectories('cloister-verify-server-')();
process.env.CLOISTER_STATE_DIR = join(work, 'state');
const COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';

interface Stack {
  readonly relay: Relay;
  readonly url: string;
  close(): Promise<void>;
}

async function stack(platform: 'sev-snp' | 'tdx'): Promise<Stack> {
  let gateway = '';
  let close: (() => Promise<void>) | undefined;
  const code = await serveCommand(['--simulated', '--platform', platform, '--port', '0', '--models', 'none'], { ...processIo, stdout: () => undefined, stderr: () => undefined }, { stopSignal: (fn) => (close = fn), onListening: (u) => (gateway = u), logDestination: { write: () => true } as unknown as NodeJS.WritableStream });
  assert.equal(code, 0);
  const relay = await startRelay({ gateways: [{ name: 'default', origin: gateway }], port: 0 });
  return {
    relay,
    url: `${relay.url}/default`,
    close: async () => {
      await relay.close();
      await close?.();
    },
  };
}

/** Trusts what a simulated server's certificate carries, as the verify page does when simulation is allowed. */
const simulatedTrust = async (certificate: Uint8Array): Promise<ServerTrust> => {
  const roots = simulatedRootsOfCertificate(certificate);
  return { snpVerifier: new SnpVerifier({ additionalRoots: roots }), tdxVerifier: new TdxVerifier({ additionalRoots: roots }), policy: await simulatedMeasurementPolicy() };
};

describe('verifyServer and serverReport against the simulated server', () => {
  let snp: Stack;
  let tdx: Stack;
  let log: StaticServer;
  let logDir: string;

  before(async () => {
    snp = await stack('sev-snp');
    tdx = await stack('tdx');
    logDir = join(work, 'log');
    const key = join(work, 'publisher.pem');
    writeFileSync(key, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const file = join(work, 'measurements.json');
    writeFileSync(file, JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: 'cd'.repeat(32), variant: 'production' }, notes: ['built twice'], 'sev-snp': [{ measurement: (await simulatedMeasurementsHex())['sev-snp'], vcpus: 2, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }] }));
    const r = await cli('publish', '--measurements', file, '--key', key, '--log', logDir, '--commit', COMMIT);
    assert.equal(r.code, 0, r.stderr);
    log = await serveDirectory(logDir);
  });

  after(async () => {
    await snp.close();
    await tdx.close();
    await log.close();
  });

  it('takes the development roots from simulated evidence: exactly the state directory\'s, SEV-SNP and TDX', async () => {
    const roots = await availableSimulatedRoots();
    for (const [s, expected] of [[snp, roots.snp], [tdx, roots.tdx === undefined ? [] : [roots.tdx]]] as const) {
      const certificate = await fetchPublic(s.url, ATTESTATION_CERTIFICATE_PATH, PKIX_CERT_MEDIA_TYPE);
      const found = simulatedRootsOfCertificate(certificate);
      assert.equal(found.length, 1);
      assert.ok(expected.some((r) => Buffer.from(r).equals(Buffer.from(found[0] ?? []))));
    }
    assert.deepEqual(simulatedRootsOfCertificate(new Uint8Array([0x30, 0])), []);
  });

  it('accepts the SEV-SNP server with the simulated trust, and reports the AMD product, TCB, measurement, keys and certificate', async () => {
    const { verdict, keyConfigs } = await verifyServer(snp.url, ({ certificate }) => simulatedTrust(certificate));
    const r = serverReport(verdict);
    assert.equal(r.accepted, true, JSON.stringify(verdict.error));
    assert.equal(r.simulated, true);
    assert.deepEqual([r.hardware?.vendor, r.hardware?.technology, r.hardware?.product, r.hardware?.tcbStatus], ['AMD', 'SEV-SNP', 'Milan', 'reported']);
    assert.match(r.hardware?.tcb ?? '', /^bootloader \d+, tee \d+, snp \d+, microcode \d+$/);
    assert.deepEqual(r.measurement, { name: 'MEASUREMENT', value: (await simulatedMeasurementsHex())['sev-snp'], judged: 'listed' });
    assert.equal(r.keys.length, keyConfigs.length);
    assert.equal(r.keys[0]?.kem, 'X25519');
    assert.ok(r.keys.some((k) => k.suites.includes('HKDF-SHA256 + AES-128-GCM')));
    assert.match(r.certificate?.spkiSha256 ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(r.failures, []);
    assert.equal(r.logged, undefined);
  });

  it('accepts the TDX server and reports Intel, the quote, its TCB status and the MRTD', async () => {
    const r = serverReport((await verifyServer(tdx.url, ({ certificate }) => simulatedTrust(certificate))).verdict);
    assert.equal(r.accepted, true, JSON.stringify(r.failures));
    assert.deepEqual([r.hardware?.vendor, r.hardware?.technology, r.hardware?.tcbStatus], ['Intel', 'TDX', 'UpToDate']);
    assert.match(r.hardware?.product ?? '', /^TDX 1\.[05], quote v4$/);
    assert.match(r.hardware?.tcb ?? '', /TCB evaluation data number \d+/);
    assert.deepEqual([r.measurement?.name, r.measurement?.value], ['MRTD', (await simulatedMeasurementsHex()).tdx]);
  });

  it('with a log that lists the measurement: the entry, its checkpoint and the statement\'s source commit and image', async () => {
    const { verdict } = await verifyServer(snp.url, async ({ certificate }) => {
      const roots = simulatedRootsOfCertificate(certificate);
      const fetch = httpLogFetcher(log.url);
      const vkey = new TextDecoder().decode(await fetch(LOG_VKEY_FILE)).trim();
      const publisher = publicKeyFromPem(new TextDecoder().decode(await fetch('publisher.pub')));
      return { snpVerifier: new SnpVerifier({ additionalRoots: roots }), transparency: { publisherKeys: [publisher], logVkey: vkey, fetch, store: new MemoryCheckpointStore() } };
    });
    const r = serverReport(verdict);
    assert.equal(r.accepted, true, JSON.stringify(r.failures));
    assert.equal(r.measurement?.judged, 'logged');
    assert.deepEqual({ ...r.logged, rootHash: undefined }, { origin: 'cloister.local/log', logIndex: 0, treeSize: 1, rootHash: undefined, sourceCommit: COMMIT, imageManifest: 'cd'.repeat(32), imageVariant: 'production', notes: ['built twice'] });
    assert.match(r.logged?.rootHash ?? '', /^[0-9a-f]{64}$/);
    assert.equal(r.hardwarePolicy?.status, 'skipped');
  });

  it('refuses the simulated server without its roots (UNTRUSTED_ROOT, the failed check named), needs a measurement to accept, and names a resource it cannot fetch', async () => {
    const r = serverReport((await verifyServer(snp.url, { policy: await simulatedMeasurementPolicy() })).verdict);
    assert.equal(r.accepted, false);
    assert.equal(r.simulated, true);
    assert.deepEqual(r.failures.map((f) => [f.check, f.code]), [['evidence.chain.signatures', 'UNTRUSTED_ROOT']]);
    assert.equal(r.measurement?.judged, 'not judged');
    await assert.rejects(verifyServer(snp.url, {}), (e: CloisterError) => e.code === 'MEASUREMENT_SOURCE_MISSING');
    await assert.rejects(verifyServer(`${snp.relay.url}/nowhere`, { anyMeasurement: true }), (e: CloisterError) => e.code === 'OHTTP_REQUEST_FAILED' && /answered 404/.test(e.message));
    await assert.rejects(verifyServer('http://127.0.0.1:1', { anyMeasurement: true }), (e: CloisterError) => e.code === 'OHTTP_REQUEST_FAILED');
  });

  it('judges a bundle offline as a server\'s evidence: accepted, and with one byte of the report changed REPORT_SIGNATURE_INVALID', async () => {
    const certificate = await fetchPublic(snp.url, ATTESTATION_CERTIFICATE_PATH, PKIX_CERT_MEDIA_TYPE, { reload: true });
    const cmw = parseCertificate(certificate).extensions.get(ID_PE_CMW);
    assert.ok(cmw !== undefined);
    const bundle = decodeRaTlsExtension(cmw.value).bundle;
    const decoded = decodeEvidenceBundle(bundle);
    const roots = embeddedRoots(decoded);
    const trust: ServerTrust = { snpVerifier: new SnpVerifier({ additionalRoots: roots }), policy: await simulatedMeasurementPolicy() };
    const good = serverReport(await judgeEvidence(decoded, clientPolicy(trust), trust));
    assert.equal(good.accepted, true, JSON.stringify(good.failures));
    assert.deepEqual([good.hardware?.product, good.keys], ['Milan', []]);
    const json = JSON.parse(new TextDecoder().decode(bundle)) as { evidence: string };
    const report = fromBase64(json.evidence);
    report[0x90] = (report[0x90] ?? 0) ^ 1;
    const tampered = decodeEvidenceBundle(new TextEncoder().encode(JSON.stringify({ ...json, evidence: toBase64(report) })));
    const bad = serverReport(await judgeEvidence(tampered, clientPolicy(trust), trust));
    assert.deepEqual(bad.failures.map((f) => [f.check, f.code]), [['report.signature', 'REPORT_SIGNATURE_INVALID']]);
  });

  it('fetches again past the caches when the served key configurations are not the certificate\'s, and refuses them when they stay so (KEY_CONFIG_MISMATCH)', async () => {
    const other = encodeOhttpKeys([new Uint8Array([9, 0, 0x20, ...new Uint8Array(32), 0, 4, 0, 1, 0, 1])]);
    const reloads: string[] = [];
    const serving = (stale: (reload: boolean) => boolean): FetchLike => async (url, init) => {
      if (init.cache === 'no-store') reloads.push(url);
      if (!url.endsWith(OHTTP_GATEWAY_PATH) || !stale(init.cache === 'no-store')) return globalFetch(url, init);
      return new Response(new Uint8Array(other), { status: 200, headers: { 'content-type': OHTTP_KEYS_MEDIA_TYPE } });
    };
    const trust = ({ certificate }: ServedAttestation): Promise<ServerTrust> => simulatedTrust(certificate);
    const rotated = await verifyServer(snp.url, trust, { fetch: serving((reload) => !reload) });
    assert.equal(rotated.verdict.accepted, true, JSON.stringify(rotated.verdict.error));
    assert.equal(reloads.length, 2, 'the certificate and the key configurations, past the caches');
    const lying = await verifyServer(snp.url, trust, { fetch: serving(() => true) });
    assert.deepEqual(serverReport(lying.verdict).failures.map((f) => f.code), ['KEY_CONFIG_MISMATCH']);
  });

  it('lists the logged image\'s inputs from the manifest published beside its statement, checked against the digest the statement names', async () => {
    const manifest = JSON.stringify({ schema: 'cloister-image/v1', inputs: [{ name: 'ocr', kind: 'model', version: 'pp-ocrv4-1', sha256: '22'.repeat(32), source: 'image/models/ocr.json' }] });
    const digest = createHash('sha256').update(manifest).digest('hex');
    const files = new Map<string, Uint8Array>([[imageManifestPath(digest), new TextEncoder().encode(manifest)]]);
    const fetch: LogFetcher = (path) => Promise.resolve(files.get(path));
    assert.deepEqual(await loggedImageInputs(digest.toUpperCase(), fetch), [{ name: 'ocr', kind: 'model', version: 'pp-ocrv4-1', sha256: '22'.repeat(32) }]);
    assert.equal(await loggedImageInputs('33'.repeat(32), fetch), undefined);
    files.set(imageManifestPath('44'.repeat(32)), new TextEncoder().encode(manifest));
    await assert.rejects(loggedImageInputs('44'.repeat(32), fetch), (e: CloisterError) => e.code === 'ARTIFACT_DIGEST_MISMATCH');
    for (const bad of ['not json', JSON.stringify({ inputs: [{ name: 'x' }] }), '{}']) {
      const d = createHash('sha256').update(bad).digest('hex');
      files.set(imageManifestPath(d), new TextEncoder().encode(bad));
      await assert.rejects(loggedImageInputs(d, fetch), (e: CloisterError) => e.code === 'MALFORMED_STATEMENT');
    }
  });

  it('publish --image-manifest writes the manifest beside the statement, only the one the measurements file names, only with --measurements', async () => {
    const manifest = '{"schema":"cloister-image/v1","inputs":[]}';
    const image = join(work, 'image-manifest.json');
    writeFileSync(image, manifest);
    const file = join(work, 'with-image.json');
    const measurements = (digest: string): string => JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest: digest, variant: 'test' }, 'sev-snp': [{ measurement: 'ef'.repeat(48), vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }] });
    writeFileSync(file, measurements('ab'.repeat(32)));
    const wrong = await cli('publish', '--measurements', file, '--image-manifest', image, '--key', join(work, 'publisher.pem'), '--log', logDir, '--commit', COMMIT);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^error \[MALFORMED_POLICY\]: the image manifest given has SHA-256 [0-9a-f]{64}, but the measurements file is of the image manifest abab/m);
    const digest = createHash('sha256').update(manifest).digest('hex');
    writeFileSync(file, measurements(digest));
    const r = await cli('publish', '--measurements', file, '--image-manifest', image, '--key', join(work, 'publisher.pem'), '--log', logDir, '--commit', COMMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await loggedImageInputs(digest, httpLogFetcher(log.url)), []);
    assert.match((await cli('publish', '--hardware-policy', file, '--image-manifest', image, '--key', join(work, 'publisher.pem'), '--log', logDir)).stderr, /^error \[USAGE\]: --image-manifest goes with --measurements/);
  });
});
