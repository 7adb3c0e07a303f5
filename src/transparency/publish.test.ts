// `cloister publish` as a library and the client's log check (issue 18), offline: a measurements statement published
// to a tile log in a temporary directory, looked up and verified by loggedMeasurement through a fetcher over that
// directory; and each way it must be refused, with its code.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loggedMeasurement, measurementBundlePath, verifyMeasurementsBundle, withLoggedMeasurement, type TransparencyTrust } from '../../attestation/client/loggedMeasurements.js';
import type { RaTlsVerdict } from '../../attestation/ratls/verifyCertificate.js';
import { CloisterError } from '../../attestation/errors.js';
import { measurementsStatement, parseMeasurementsStatement } from '../../attestation/measure/measurementStatement.js';
import { parseMeasurementsFile, type MeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import { parseStatement } from '../../attestation/sigstore/inToto.js';
import { parseSigstoreBundle, serializeSigstoreBundle, type SigstoreBundle } from '../../attestation/sigstore/sigstoreBundle.js';
import { MemoryCheckpointStore } from '../../attestation/transparency/checkpointStore.js';
import { parseSignedNote, serializeSignedNote, signNote } from '../../attestation/transparency/signedNote.js';
import { temporaryDirectories } from '../testing/tempDirs.js';
import { witnessCosigner } from './nodeNoteKeys.js';
import { directoryLogFetcher, publishHardwarePolicy, publishMeasurements, publishStatement, refreshBundles, type PublishOptions } from './publish.js';
import { httpLogFetcher, loggedHardwarePolicy, MAX_LOG_FILE_BYTES } from '../../attestation/client/loggedMeasurements.js';
import { DEFAULT_EXCHANGE_TIMEOUT_MS, type FetchLike } from '../../attestation/client/httpFetch.js';
import { assertHardwarePolicy, hardwarePolicyStatement, parseHardwarePolicyStatement, type HardwarePolicy } from '../../attestation/measure/hardwarePolicyStatement.js';
import { nodeHasher } from '../base/crypto/nodeHasher.js';

const tempDir = temporaryDirectories('cloister-publish-');
const COMMIT = 'c0ffee'.repeat(6) + 'c0ff';
const MEASURED = 'a1'.repeat(48);
const OTHER = 'b2'.repeat(48);
const file = (measurement: string, manifest = '11'.repeat(32)): MeasurementsFile =>
  parseMeasurementsFile(JSON.stringify({ schema: 'cloister-measurements/v1', image: { manifest, variant: 'test' }, 'sev-snp': [{ measurement, vcpus: 1, vcpuType: 'EPYC-v4', vmmType: 'qemu', guestFeatures: '0x1' }] }));

const ed25519 = (): KeyObject => generateKeyPairSync('ed25519').privateKey;
const spki = (k: KeyObject): Uint8Array => new Uint8Array(createPublicKey(k).export({ format: 'der', type: 'spki' }));

async function setup(options: Partial<PublishOptions> = {}): Promise<{ options: PublishOptions; trust: TransparencyTrust; vkey: string; bundle: string }> {
  const dir = join(tempDir(), 'log');
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const full: PublishOptions = { dir, key, logKey: ed25519(), fsync: false, ...options };
  const published = await publishMeasurements(file(MEASURED), COMMIT, full);
  return { options: full, vkey: published.logVkey, bundle: published.bundle, trust: { publisherKeys: [spki(full.key)], logVkey: published.logVkey, store: new MemoryCheckpointStore(), fetch: directoryLogFetcher(dir) } };
}

async function refused(p: Promise<unknown>, code: string): Promise<CloisterError> {
  const e = await p.then(() => assert.fail(`expected ${code}`), (x: unknown) => x);
  assert.ok(e instanceof CloisterError, String(e));
  assert.equal(e.code, code, e.message);
  return e;
}

const edit = (text: string, change: (b: SigstoreBundle) => SigstoreBundle): string => serializeSigstoreBundle(change(parseSigstoreBundle(text)));

describe('measurements statement', () => {
  it('round-trips through parseMeasurementsStatement; another predicate type or a subject that is not the image is refused', () => {
    const s = measurementsStatement(file(MEASURED), COMMIT);
    const parsed = parseMeasurementsStatement({ type: 'https://in-toto.io/Statement/v1', ...s });
    assert.equal(parsed.source.commit, COMMIT);
    assert.equal(parsed.measurements['sev-snp']?.[0]?.measurement, MEASURED);
    assert.throws(() => parseMeasurementsStatement({ type: 'x', ...s, predicateType: 'https://example.com/other' }), { code: 'MALFORMED_STATEMENT' });
    assert.throws(() => parseMeasurementsStatement({ type: 'x', ...s, subject: [{ name: 'image-manifest.json', digest: { sha256: '22'.repeat(32) } }] }), { code: 'SUBJECT_MISMATCH' });
    assert.throws(() => parseMeasurementsStatement({ type: 'x', ...s, predicate: { measurements: {}, source: {} } }), (e: CloisterError) => e.code === 'MALFORMED_STATEMENT' && /source\.commit/.test(e.message) && /schema/.test(e.message));
    assert.throws(() => measurementsStatement(file(MEASURED), 'HEAD'), { code: 'MALFORMED_POLICY' });
  });
});

describe('publishMeasurements and loggedMeasurement', () => {
  it('accepts a published measurement, with its commit, index and tree size; pins publisher.pub and log.vkey', async () => {
    const { options, trust, vkey } = await setup();
    const logged = await loggedMeasurement('sev-snp', MEASURED.toUpperCase(), trust);
    assert.equal(logged.source.commit, COMMIT);
    assert.equal(logged.logIndex, 0);
    assert.equal(logged.treeSize, 1);
    assert.equal(logged.origin, 'cloister.local/log');
    assert.equal((await readFile(join(options.dir, 'log.vkey'), 'utf8')).trim(), vkey);
    assert.match(await readFile(join(options.dir, 'publisher.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    const looked = parseSigstoreBundle(await readFile(join(options.dir, measurementBundlePath(MEASURED)), 'utf8'));
    assert.equal(looked.content.kind === 'dsseEnvelope' ? parseStatement(looked.content.envelope.payload).predicateType : looked.content.kind, 'https://cloister.dev/attestation/measurements/v1');
  });

  it('refuses a measurement absent from the log, and one on the other platform, with MEASUREMENT_NOT_LOGGED naming it', async () => {
    const { trust } = await setup();
    const e = await refused(loggedMeasurement('sev-snp', OTHER, trust), 'MEASUREMENT_NOT_LOGGED');
    assert.equal(e.actual, OTHER);
    assert.match(e.message, new RegExp(OTHER));
    await refused(loggedMeasurement('tdx', MEASURED, trust), 'MEASUREMENT_NOT_LOGGED');
  });

  it('TDX: an entry matches when its MRTD and the RTMR1 / RTMR2 it gives equal the quote\'s (loggedMeasurement, withLoggedMeasurement)', async () => {
    const [R0, R1, R2, R3, X] = ['00', '11', '22', '33', 'ee'].map((b) => b.repeat(48)) as [string, string, string, string, string];
    const ONLY_RTMR1 = 'c3'.repeat(48);
    const tdx = parseMeasurementsFile(JSON.stringify({
      schema: 'cloister-measurements/v1',
      image: { manifest: '11'.repeat(32), variant: 'test' },
      tdx: [{ mrTd: MEASURED, rtmr1: R1, rtmr2: R2 }, { mrTd: OTHER }, { mrTd: ONLY_RTMR1, rtmr1: R1 }],
    }));
    const { options, trust: tdxTrust } = await setup();
    await publishMeasurements(tdx, COMMIT, options);
    const logged = await loggedMeasurement('tdx', MEASURED, tdxTrust, undefined, [R0, R1, R2, R3]);
    assert.deepEqual(logged.rtmrsChecked, ['RTMR1', 'RTMR2']);
    assert.deepEqual((await loggedMeasurement('tdx', ONLY_RTMR1, tdxTrust, undefined, [R0, R1, X, R3])).rtmrsChecked, ['RTMR1']);
    assert.equal((await loggedMeasurement('tdx', OTHER, tdxTrust, undefined, [X, X, X, X])).rtmrsChecked, undefined, 'an entry without RTMRs checks MRTD alone');
    const e = await refused(loggedMeasurement('tdx', MEASURED, tdxTrust, undefined, [R0, R1, X, R3]), 'MEASUREMENT_NOT_LOGGED');
    assert.equal(e.message, `the tdx launch measurement ${MEASURED} is not in the transparency log cloister.local/log: the statement at log index 1 lists this MRTD with RTMR2 ${R2}, but the quote's RTMR2 is ${X}`);
    await refused(loggedMeasurement('tdx', MEASURED, tdxTrust, undefined, [R0, X, R2, R3]), 'MEASUREMENT_NOT_LOGGED');
    await refused(loggedMeasurement('tdx', MEASURED, tdxTrust), 'MEASUREMENT_NOT_LOGGED');

    const verdict = (rtmrs: string[]): RaTlsVerdict => ({ accepted: true, platform: 'tdx', simulated: true, checks: [], claims: { evidence: { mrTd: MEASURED, rtmrs } } });
    const accepted = await withLoggedMeasurement(verdict([R0, R1, R2, R3]), tdxTrust);
    assert.equal(accepted.accepted, true);
    assert.equal(accepted.checks.at(-1)?.detail, `measurement ${MEASURED}, RTMR1 and RTMR2 listed at log index 1 of cloister.local/log (tree size 2), source commit ${COMMIT}`);
    const rejected = await withLoggedMeasurement(verdict([R0, R1, X, R3]), tdxTrust);
    assert.equal(rejected.accepted, false);
    assert.equal(rejected.error?.code, 'MEASUREMENT_NOT_LOGGED');
  });

  it('refuses a tampered statement, another publisher key, and a bundle for another subject', async () => {
    const { trust, bundle, options } = await setup();
    const tampered = edit(bundle, (b) => {
      if (b.content.kind !== 'dsseEnvelope') throw new Error('dsse');
      const text = new TextDecoder().decode(b.content.envelope.payload).replace(MEASURED, OTHER);
      return { ...b, content: { kind: 'dsseEnvelope', envelope: { ...b.content.envelope, payload: new TextEncoder().encode(text) } } };
    });
    await refused(verifyMeasurementsBundle(tampered, trust), 'DSSE_SIGNATURE_INVALID');
    await refused(verifyMeasurementsBundle(bundle, { ...trust, publisherKeys: [spki(ed25519())] }), 'DSSE_SIGNATURE_INVALID');
    // the same publisher and log, a signed and logged statement whose subject is not the image its measurements are of
    const other = await publishStatement({ ...measurementsStatement(file(MEASURED), COMMIT), subject: [{ name: 'image-manifest.json', digest: { sha256: '44'.repeat(32) } }] }, [], options);
    const e = await refused(verifyMeasurementsBundle(other.bundle, trust), 'SUBJECT_MISMATCH');
    assert.match(e.message, /no subject of the statement is image-manifest\.json sha256:1{64}/);
  });

  it('refuses an inclusion proof for another tree, and a checkpoint that forks from the one seen', async () => {
    const { trust, bundle, options } = await setup();
    const second = await publishMeasurements(file(OTHER), COMMIT, options);
    const otherCheckpoint = parseSigstoreBundle(second.bundle).tlogEntries[0]?.inclusionProof?.checkpoint ?? '';
    const moved = edit(bundle, (b) => ({ ...b, tlogEntries: b.tlogEntries.map((t) => ({ ...t, inclusionProof: t.inclusionProof === undefined ? undefined : { ...t.inclusionProof, checkpoint: otherCheckpoint } })) }));
    await refused(verifyMeasurementsBundle(moved, trust), 'INCLUSION_PROOF_INVALID');
    // a second log with the same origin and key and other entries: its tree of size 2 is not the first log's
    await verifyMeasurementsBundle(second.bundle, trust);
    const forkDir = join(tempDir(), 'log');
    await publishMeasurements(file(OTHER), COMMIT, { ...options, dir: forkDir });
    const forked = await publishMeasurements(file(MEASURED), COMMIT, { ...options, dir: forkDir });
    await refused(verifyMeasurementsBundle(forked.bundle, trust), 'CHECKPOINT_FORK');
  });

  it('checks consistency with the newest checkpoint seen, older bundles included, through the tiles', async () => {
    const { trust, bundle, options } = await setup();
    await verifyMeasurementsBundle(bundle, trust);
    const second = await publishMeasurements(file(OTHER), COMMIT, options);
    await publishMeasurements(file(OTHER), COMMIT, options);
    assert.equal((await verifyMeasurementsBundle(second.bundle, trust)).treeSize, 2);
    assert.equal((await trust.store?.latest('cloister.local/log'))?.size, 2);
    assert.equal((await verifyMeasurementsBundle(bundle, trust)).treeSize, 1, 'an older bundle, a prefix of the newest seen');
    assert.equal((await trust.store?.latest('cloister.local/log'))?.size, 2);
  });

  it('requires the witnesses: refused without their cosignatures, accepted with the cosign hook', async () => {
    const witnessKey = ed25519();
    const witness = await witnessCosigner('witness.example', witnessKey, () => 1_700_000_000);
    const { trust, bundle, options } = await setup();
    const withWitness = { ...trust, witnesses: { vkeys: [witness.vkey], threshold: 1 } };
    await refused(verifyMeasurementsBundle(bundle, withWitness), 'WITNESS_COSIGNATURES_MISSING');
    const cosigned = await publishMeasurements(file(MEASURED), COMMIT, {
      ...options,
      cosign: async (checkpoint) => {
        const note = parseSignedNote(checkpoint);
        return serializeSignedNote({ text: note.text, signatures: [...note.signatures, ...(await signNote(note.text, [witness])).signatures] });
      },
    });
    assert.equal((await verifyMeasurementsBundle(cosigned.bundle, withWitness)).logIndex, 1);
  });
});

describe('the hardware policy statement', () => {
  const policy = (version: number): HardwarePolicy =>
    assertHardwarePolicy({
      schema: 'cloister-hardware-policy/v1',
      version,
      'sev-snp': { minTcb: { Milan: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, Genoa: { bootloader: 9, tee: 0, snp: 23, microcode: 84 } } },
      tdx: { acceptedTcbStatuses: ['UpToDate'], minTcbEvaluationDataNumber: 17, mrSeams: ['5b'.repeat(48)] },
    });

  it('lists every bad field of a policy', () => {
    assert.throws(
      () => assertHardwarePolicy({ schema: 'x', version: 0, 'sev-snp': { minTcb: { Rome: {}, Milan: { snp: 300 } } }, tdx: { acceptedTcbStatuses: ['Fine'], minTcbEvaluationDataNumber: -1, mrSeams: ['AB'] }, extra: 1 }),
      (e: CloisterError) => e.code === 'MALFORMED_POLICY' && ['$.schema', '$.version', '$.extra', 'minTcb.Rome', 'Milan.snp', 'acceptedTcbStatuses', 'minTcbEvaluationDataNumber', 'mrSeams'].every((f) => e.message.includes(f)),
    );
  });

  it('round-trips its statement; a predicate changed after the subject was computed is SUBJECT_MISMATCH', async () => {
    const statement = { type: 'https://in-toto.io/Statement/v1', ...(await hardwarePolicyStatement(policy(2), nodeHasher)) };
    assert.deepEqual(await parseHardwarePolicyStatement(statement, nodeHasher), policy(2));
    await refused(parseHardwarePolicyStatement({ ...statement, predicate: { ...policy(2), version: 3 } }, nodeHasher), 'SUBJECT_MISMATCH');
    await refused(parseHardwarePolicyStatement({ ...statement, predicateType: 'https://cloister.dev/attestation/measurements/v1' }, nodeHasher), 'MALFORMED_STATEMENT');
  });

  it('is published to the same log, versions only going up, and read back verified by the client', async () => {
    const { trust, options } = await setup();
    assert.equal(await loggedHardwarePolicy(trust), undefined, 'none published yet');
    await publishHardwarePolicy(policy(1), options);
    await refused(publishHardwarePolicy(policy(1), options), 'HARDWARE_POLICY_VERSION');
    await publishHardwarePolicy(policy(2), options);
    const logged = await loggedHardwarePolicy(trust);
    assert.ok(logged !== undefined);
    assert.equal(logged.policy.version, 2);
    assert.equal(logged.logIndex, 2);
    await refused(loggedHardwarePolicy(trust, 3), 'HARDWARE_POLICY_VERSION');
    await refused(loggedHardwarePolicy({ ...trust, publisherKeys: [spki(ed25519())] }), 'DSSE_SIGNATURE_INVALID');
    // a measurements bundle is not a hardware policy
    await refused(verifyMeasurementsBundle(await readFile(join(options.dir, 'hardware-policy.sigstore.json')), trust), 'MALFORMED_STATEMENT');
  });
});

describe('refreshBundles', () => {
  it('re-proves every bundle at the newest checkpoint, appending nothing; a bundle of another log is TLOG_STATE_INVALID', async () => {
    const { options, trust } = await setup();
    await publishMeasurements(file(OTHER), COMMIT, options);
    const first = parseSigstoreBundle(await readFile(join(options.dir, measurementBundlePath(MEASURED))));
    assert.equal(first.tlogEntries[0]?.inclusionProof?.treeSize, 1);
    const refreshed = await refreshBundles(options);
    assert.deepEqual([refreshed.treeSize, refreshed.bundles], [2, 4]);
    const again = parseSigstoreBundle(await readFile(join(options.dir, measurementBundlePath(MEASURED))));
    assert.deepEqual([again.tlogEntries[0]?.inclusionProof?.treeSize, again.tlogEntries[0]?.inclusionProof?.checkpoint], [2, refreshed.checkpoint]);
    assert.equal((await loggedMeasurement('sev-snp', MEASURED, trust)).treeSize, 2);

    const other = await setup();
    await writeFile(join(options.dir, 'measurements', 'foreign.sigstore.json'), other.bundle);
    const e = await refused(refreshBundles(options), 'TLOG_STATE_INVALID');
    assert.match(e.message, /the bundle measurements\/foreign\.sigstore\.json in .* is not of the log cloister\.local\/log: not refreshed/);
  });
});

describe('httpLogFetcher', () => {
  const answering = (status: number, body: Uint8Array<ArrayBuffer> = new Uint8Array(0)): FetchLike => () => Promise.resolve(new Response(status === 404 || status === 500 ? null : body, { status }));

  it('reads below the base URL; 404 is no file; another status, a network failure or a file over the cap is TLOG_UNAVAILABLE', async () => {
    let asked = '';
    const ok = httpLogFetcher('https://log.example/log', {
      fetch: (url) => {
        asked = url;
        return Promise.resolve(new Response('x'));
      },
    });
    assert.deepEqual(await ok('measurements/ab.sigstore.json'), new TextEncoder().encode('x'));
    assert.equal(asked, 'https://log.example/log/measurements/ab.sigstore.json');
    assert.equal(await httpLogFetcher('https://log.example/', { fetch: answering(404) })('checkpoint'), undefined);
    await refused(httpLogFetcher('https://log.example/', { fetch: answering(500) })('checkpoint'), 'TLOG_UNAVAILABLE');
    await refused(httpLogFetcher('https://log.example/', { fetch: () => Promise.reject(new TypeError('fetch failed')) })('checkpoint'), 'TLOG_UNAVAILABLE');
    await refused(httpLogFetcher('https://log.example/', { fetch: answering(200, new Uint8Array(MAX_LOG_FILE_BYTES + 1)) })('checkpoint'), 'TLOG_UNAVAILABLE');
  });

  it('gives up on a log that never answers, or stops half-way through a file, after its time limit (TLOG_UNAVAILABLE naming the URL)', async () => {
    assert.equal(DEFAULT_EXCHANGE_TIMEOUT_MS, 10_000);
    const server = createServer((request, response) => {
      if (request.url === '/log/tile/0/000.p/1') {
        response.writeHead(200, { 'content-length': '32' });
        response.write(new Uint8Array(8));
      }
      // Otherwise: no answer at all.
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/log/`;
      const log = httpLogFetcher(base, { timeoutMs: 200 });
      for (const path of ['checkpoint', 'tile/0/000.p/1']) {
        const started = performance.now();
        const e = await refused(log(path), 'TLOG_UNAVAILABLE');
        assert.equal(e.message, `cannot fetch ${base}${path} from the log: no whole answer within 200 ms`);
        assert.ok(performance.now() - started < 5_000);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  });

  it('stops reading an endless answer without content-length at the cap', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 65536;
        controller.enqueue(new Uint8Array(65536));
      },
    });
    await refused(httpLogFetcher('https://log.example/', { fetch: () => Promise.resolve(new Response(endless)) })('checkpoint'), 'TLOG_UNAVAILABLE');
    assert.ok(pulled <= MAX_LOG_FILE_BYTES + 2 * 65536, `read ${pulled} bytes`);
  });
});
