// `cloister publish`: sign an image build's measurements.json as an in-toto statement and append it to Cloister's
// own transparency log, a directory of static C2SP tlog-tiles files (docs/transparency.md "Publishing").
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CloisterError } from '../../attestation/errors.js';
import { parseMeasurementsFile } from '../../attestation/measure/measurementsFile.js';
import { NOTE_KEY_CODES, readPrivateKeyFile, SIGNING_KEY_CODES } from '../base/keyFile.js';
import { DEFAULT_LOG_ORIGIN, publishHardwarePolicy, publishMeasurements, publishWebPage, refreshBundles, type PublishOptions } from '../transparency/publish.js';
import { parseSignedNote } from '../../attestation/transparency/signedNote.js';
import { cosign, type WitnessEndpoint } from '../transparency/witnessClient.js';
import { assertHardwarePolicy } from '../../attestation/measure/hardwarePolicyStatement.js';
import { ParseError } from '../../attestation/errors.js';
import { errorLine, EXIT, parseOptions, readInput, usageError, type CliIo } from './io.js';

export const PUBLISH_HELP = `Usage: cloister publish (--measurements FILE | --hardware-policy FILE.json | --web-manifest FILE) --key KEY.pem --log DIR [options]
       cloister publish --refresh --log DIR [--origin NAME] [--log-key FILE.pem] [--witness URL=VKEY]...
                        [--witnesses-required K]

Sign an image build's measurements file (scripts/measurements/writeMeasurements.js) as an in-toto statement
(predicate https://cloister.dev/attestation/measurements/v1: the measurements and the source commit; subject:
the image manifest by SHA-256), in a DSSE envelope, append it to the transparency log in DIR (C2SP
tlog-tiles: static files any web server can serve; created on first use) and write the Sigstore bundle
(v0.3, with the inclusion proof and the signed checkpoint) to DIR/bundles/ and, per launch measurement, to
DIR/measurements/HEX.sigstore.json, where clients given --log look it up. Also writes what clients pin:
DIR/publisher.pub (the publisher's public key) and DIR/log.vkey (the log's note verifier key).

With --hardware-policy instead, publish the hardware acceptance policy (schema cloister-hardware-policy/v1:
minimum SEV-SNP TCB per product, accepted TDX TCB statuses, minimum TCB evaluation data number, optional MRSEAM
allowlist; its version above the one published before) as its own statement (predicate
https://cloister.dev/attestation/hardware-policy/v1), also written to DIR/hardware-policy.sigstore.json.

With --web-manifest instead, publish the verify page's release (npm run web writes build/web/web-manifest.json,
each of the page's files with its SHA-256) as its own statement (predicate
https://cloister.dev/attestation/verify-page/v1; subject: web-manifest.json by SHA-256; the source commit), also
written to DIR/web/HEX.sigstore.json, where "cloister verify-web" looks up the copy a visitor loaded.

With --refresh, sign nothing and append nothing: have the --witness witnesses cosign the log's newest checkpoint,
then rewrite every bundle in DIR (bundles/, measurements/, hardware-policy.sigstore.json) with an inclusion proof
at that checkpoint. Statements published before the witnesses were configured then verify for clients given
--witness, without being published again. The log key must exist already.

Options:
  --measurements FILE       the measurements file (schema cloister-measurements/v1)
  --hardware-policy FILE    the hardware acceptance policy (docs/transparency.md "Hardware policy")
  --web-manifest FILE       the verify page's web-manifest.json (docs/verify-page.md "Publishing")
  --image-manifest FILE     with --measurements: the image-manifest.json the measurements are of (its SHA-256
                            must be the file's image.manifest), written to DIR/images/HEX.json so that
                            clients can list the image's inputs, its model packs among them
  --key KEY.pem             the publisher's private key, EC P-256 or Ed25519 (PKCS#8 PEM), mode 0600 or
                            0400, owned by the user running publish
  --log DIR                 the log directory (served as is at the URL clients give to --log)
  --origin NAME             the log's origin, its checkpoint's first line (default ${DEFAULT_LOG_ORIGIN}); the
                            same for every publish to DIR
  --log-key FILE.pem        the log's Ed25519 note key (default DIR.log-key.pem, beside DIR, never in it);
                            created, mode 0600, when the file does not exist
  --commit HEX              the source commit the image (or page) was built from (default: git rev-parse HEAD)
  --out FILE                also write the bundle here
  --witness URL=VKEY        a witness to cosign the new checkpoint (C2SP tlog-witness: add-checkpoint is POSTed
                            to URL/add-checkpoint; VKEY as "cloister witness" prints it); repeatable. The
                            bundle carries the checkpoint with their cosignatures, and the log serves it
  --witnesses-required K    how many of the --witness must cosign (default: all); fewer is an error, and the
                            entry stays in the log, signed by the log alone (with --refresh: no bundle is
                            rewritten)
  --refresh                 re-prove every bundle in DIR at the newest checkpoint, cosigned by the
                            --witness witnesses; takes none of --measurements, --hardware-policy, --key,
                            --commit and --out
  -h, --help                show this help

Example:
  openssl genpkey -algorithm ed25519 -out publisher.pem && chmod 600 publisher.pem
  cloister publish --measurements image/out/measurements.json --key publisher.pem --log /srv/log
  cloister verify https://HOST:8443 --log https://HOST/log --publisher-key /srv/log/publisher.pub
  cloister publish --refresh --log /srv/log --witness https://witness.example/w1=witness.example/w1+1a2b3c4d+BA...
`;

const OPTIONS = {
  measurements: { type: 'string' },
  'hardware-policy': { type: 'string' },
  'web-manifest': { type: 'string' },
  'image-manifest': { type: 'string' },
  key: { type: 'string' },
  log: { type: 'string' },
  origin: { type: 'string' },
  'log-key': { type: 'string' },
  commit: { type: 'string' },
  out: { type: 'string' },
  witness: { type: 'string', multiple: true },
  'witnesses-required': { type: 'string' },
  refresh: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string): CloisterError => usageError(message, 'publish');

async function sourceCommit(given: string | undefined): Promise<string> {
  if (given !== undefined) return given.toLowerCase();
  try {
    return (await promisify(execFile)('git', ['rev-parse', 'HEAD'])).stdout.trim();
  } catch {
    throw usage('no --commit given and "git rev-parse HEAD" failed here: give the source commit of the image');
  }
}

/** The log's key: read with the mode checks, or created (0600, exclusively) when the file does not exist. */
async function logKey(path: string, io: CliIo): Promise<KeyObject> {
  try {
    return await readPrivateKeyFile(path, NOTE_KEY_CODES);
  } catch (e) {
    if (!(e instanceof CloisterError && e.code === 'UNREADABLE_INPUT' && (e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')) throw e;
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    throw new CloisterError('UNWRITABLE_OUTPUT', `cannot create the log key "${path}": ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { field: 'log-key', cause });
  }
  io.stderr(`created the log key ${path} (Ed25519; keep it: every later publish to this log needs it)\n`);
  return privateKey;
}

/** --witness URL=VKEY... and --witnesses-required K as publish's cosign hook; undefined without witnesses. */
function witnessHook(values: readonly string[], required: string | undefined, io: CliIo): PublishOptions['cosign'] {
  if (values.length === 0) {
    if (required !== undefined) throw usage('--witnesses-required goes with --witness');
    return undefined;
  }
  const witnesses: WitnessEndpoint[] = values.map((value) => {
    const at = value.indexOf('=');
    const url = value.slice(0, at);
    if (at < 0 || !/^https?:\/\/[^\s@]+$/.test(url)) throw usage(`--witness must be URL=VKEY with an http(s) URL, got "${value.slice(0, 80)}"`);
    return { url, vkey: value.slice(at + 1) };
  });
  const threshold = required === undefined ? witnesses.length : Number(required);
  if (required !== undefined && (!/^\d{1,3}$/.test(required) || threshold < 1 || threshold > witnesses.length)) throw usage(`--witnesses-required must be 1..${witnesses.length} (the witnesses given), got "${required}"`);
  return async (checkpoint, log) => {
    io.stderr(`asking ${witnesses.length} witness(es) to cosign (${threshold} required) ...\n`);
    const result = await cosign({ checkpoint, consistencyProof: (older, size) => log.consistencyProof(older, size) }, witnesses, { threshold });
    await log.addCosignatures(result.checkpoint);
    return result.checkpoint;
  };
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ParseError('MALFORMED_POLICY', `${path} is not valid JSON: ${(cause as Error).message}`, { field: '$', cause });
  }
}

type PublishValues = ReturnType<typeof parseOptions<typeof OPTIONS>>;

/** --refresh: every bundle re-proved at the newest checkpoint, cosigned by the --witness witnesses; nothing appended. */
async function refresh(values: PublishValues, io: CliIo): Promise<number> {
  for (const other of ['measurements', 'hardware-policy', 'web-manifest', 'image-manifest', 'key', 'commit', 'out'] as const) {
    if (values[other] !== undefined) throw usage(`--refresh signs and appends nothing: it takes no --${other}`);
  }
  if (values.log === undefined) throw usage('--log is required');
  const dir = resolve(values.log);
  const cosignHook = witnessHook(values.witness ?? [], values['witnesses-required'], io);
  const logKey = await readPrivateKeyFile(values['log-key'] ?? `${dir}.log-key.pem`, NOTE_KEY_CODES);
  io.stderr(`refreshing the bundles in ${dir} ...\n`);
  const refreshed = await refreshBundles({ dir, logKey, ...(values.origin === undefined ? {} : { origin: values.origin }), ...(cosignHook === undefined ? {} : { cosign: cosignHook }) });
  const cosignatures = parseSignedNote(refreshed.checkpoint).signatures.length - 1;
  io.stdout(`refreshed: ${refreshed.bundles} bundle(s) in ${dir} now prove inclusion at tree size ${refreshed.treeSize}, in a checkpoint with ${cosignatures} witness cosignature(s)\n`);
  return EXIT.ok;
}

export async function publishCommand(argv: string[], io: CliIo): Promise<number> {
  try {
    const values = parseOptions(argv, OPTIONS, 'publish');
    if (values.help === true) {
      io.stdout(PUBLISH_HELP);
      return EXIT.ok;
    }
    if (values.refresh === true) return await refresh(values, io);
    if ([values.measurements, values['hardware-policy'], values['web-manifest']].filter((v) => v !== undefined).length !== 1) throw usage('give one of --measurements FILE, --hardware-policy FILE and --web-manifest FILE');
    for (const required of ['key', 'log'] as const) if (values[required] === undefined) throw usage(`--${required} is required`);
    const dir = resolve(values.log as string);
    const policyFile = values['hardware-policy'];
    const webManifest = values['web-manifest'];
    const imageManifest = values['image-manifest'];
    if (imageManifest !== undefined && values.measurements === undefined) throw usage('--image-manifest goes with --measurements');
    const text = async (path: string, what: string): Promise<string> => new TextDecoder().decode(await readInput(io, path, what));
    const statement =
      policyFile !== undefined
        ? { policy: assertHardwarePolicy(parseJson(await text(policyFile, 'hardware policy'), policyFile)) }
        : webManifest !== undefined
          ? { webManifest: await text(webManifest, 'web manifest'), commit: await sourceCommit(values.commit) }
          : { measurements: parseMeasurementsFile(await text(values.measurements as string, 'measurements')), commit: await sourceCommit(values.commit) };

    const cosignHook = witnessHook(values.witness ?? [], values['witnesses-required'], io);
    const key = await readPrivateKeyFile(values.key as string, SIGNING_KEY_CODES);
    const log = await logKey(values['log-key'] ?? `${dir}.log-key.pem`, io);
    io.stderr(`signing and appending to ${dir} ...\n`);
    const options = { dir, key, logKey: log, ...(values.origin === undefined ? {} : { origin: values.origin }), ...(cosignHook === undefined ? {} : { cosign: cosignHook }) };
    const published =
      'policy' in statement ? await publishHardwarePolicy(statement.policy, options) : 'webManifest' in statement ? await publishWebPage(statement.webManifest, statement.commit, options) : await publishMeasurements(statement.measurements, statement.commit, options, imageManifest === undefined ? undefined : await readInput(io, imageManifest, 'image manifest'));
    if (values.out !== undefined) {
      const out = values.out;
      await writeFile(out, published.bundle).catch((cause: unknown) => {
        throw new CloisterError('UNWRITABLE_OUTPUT', `published, but cannot write the bundle to "${out}": ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { field: 'out', cause });
      });
    }
    io.stdout(`published: log index ${published.logIndex}, tree size ${published.treeSize}, bundle ${published.bundlePath}${values.out === undefined ? '' : ` (and ${values.out})`}; clients pin ${published.publisherKeyPath} and ${published.logVkeyPath} (${published.logVkey})\n`);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
