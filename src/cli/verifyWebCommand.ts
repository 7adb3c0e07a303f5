// `cloister verify-web DIR|URL`: is this copy of the verify page the one published? Every file its web-manifest.json
// names must have the size and SHA-256 it says, and the manifest's SHA-256 must be in a verify page statement of the
// transparency log, signed by a pinned publisher (docs/verify-page.md "Publishing").
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { loggedWebPage } from '../../attestation/client/loggedMeasurements.js';
import { CloisterError, VerificationError } from '../../attestation/errors.js';
import { assertWebManifest, WEB_MANIFEST_SUBJECT } from '../../attestation/measure/webPageStatement.js';
import { errorLine, EXIT, parseCommandLine, readInput, usageError, type CliIo } from './io.js';
import { transparencyFromOptions } from './trustOptions.js';

export const VERIFY_WEB_HELP = `Usage: cloister verify-web DIR|URL --log URL --publisher-key FILE [--log-key VKEY|FILE]
                           [--witness VKEY|FILE]... [--witnesses-required K]

Check a copy of the verify page (npm run web; a directory, or the URL it is served from): every file its
web-manifest.json lists must have the listed size and SHA-256, and the manifest's SHA-256 must be published in
the transparency log (cloister publish --web-manifest) by a --publisher-key, in a checkpoint signed by the log
(and the witnesses) and consistent with the newest one seen. The log options are cloister verify's.

Exit status: 0 the copy is the published page, 1 it is not (REJECTED [CODE] ...), 2 usage or unreadable input.
`;

const OPTIONS = {
  log: { type: 'string' },
  'publisher-key': { type: 'string', multiple: true },
  'log-key': { type: 'string' },
  witness: { type: 'string', multiple: true },
  'witnesses-required': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Reads a file of the page below a directory or a URL. */
function pageReader(where: string, io: CliIo): (path: string) => Promise<Uint8Array> {
  if (!/^https?:\/\//.test(where)) return (path) => readInput(io, join(where, path), path);
  const base = where.endsWith('/') ? where : `${where}/`;
  return async (path) => {
    const url = new URL(path, base).href;
    const r = await fetch(url, { redirect: 'error' }).catch((cause: unknown) => {
      throw new VerificationError('OHTTP_REQUEST_FAILED', `GET ${url} failed: ${(cause as Error).message}`, { field: path, cause });
    });
    if (r.status !== 200) throw new VerificationError('OHTTP_REQUEST_FAILED', `GET ${url} answered ${r.status}`, { field: path, actual: String(r.status) });
    return new Uint8Array(await r.arrayBuffer());
  };
}

export async function verifyWebCommand(argv: string[], io: CliIo): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, 'verify-web');
    if (values.help === true) {
      io.stdout(VERIFY_WEB_HELP);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw usageError('give one directory or URL of the verify page', 'verify-web');
    if (values.log === undefined) throw usageError('--log URL is required: the transparency log the page is published to', 'verify-web');
    const where = positionals[0] as string;
    const trust = await transparencyFromOptions(values, io, (message) => usageError(message, 'verify-web'));
    if (trust === undefined) throw usageError('--log URL is required', 'verify-web');
    const read = pageReader(where, io);
    const manifestBytes = await read(WEB_MANIFEST_SUBJECT);
    const digest = sha256(manifestBytes);
    try {
      let manifest;
      try {
        manifest = assertWebManifest(JSON.parse(new TextDecoder().decode(manifestBytes)));
      } catch (cause) {
        if (cause instanceof CloisterError) throw cause;
        throw new VerificationError('ARTIFACT_DIGEST_MISMATCH', `${WEB_MANIFEST_SUBJECT} is not JSON: ${(cause as Error).message}`, { field: WEB_MANIFEST_SUBJECT, cause });
      }
      for (const f of manifest.files) {
        const bytes = await read(f.path);
        const actual = sha256(bytes);
        if (bytes.length !== f.bytes || actual !== f.sha256) throw new VerificationError('ARTIFACT_DIGEST_MISMATCH', `${f.path} is ${bytes.length} bytes with SHA-256 ${actual}, the manifest says ${f.bytes} bytes with ${f.sha256}`, { field: f.path, expected: f.sha256, actual });
      }
      const logged = await loggedWebPage(digest, trust);
      io.stdout(`PUBLISHED: the verify page in ${where} (${WEB_MANIFEST_SUBJECT} sha256 ${digest}, ${manifest.files.length} files as listed) is at log index ${logged.logIndex} of ${logged.origin} (tree size ${logged.treeSize}), built from commit ${logged.source.commit}\n`);
      return EXIT.ok;
    } catch (e) {
      if (!(e instanceof CloisterError) || e.code === 'OHTTP_REQUEST_FAILED' || e.code === 'UNREADABLE_INPUT') throw e;
      io.stdout(`REJECTED [${e.code}] the verify page in ${where} (${WEB_MANIFEST_SUBJECT} sha256 ${digest}): ${e.message}\n`);
      return EXIT.rejected;
    }
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}
