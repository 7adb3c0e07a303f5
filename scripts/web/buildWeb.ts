// `npm run web`: the verify page (web/, docs/verify-page.md) as a self-contained static directory any host can
// serve: index.html, verify.css and one script (esbuild, from the tsc output in dist/web/), then
// web-manifest.json naming each file with its size and SHA-256. The manifest's own SHA-256 is the page's digest,
// the one `cloister publish --web-manifest` logs (docs/verify-page.md "Publishing"); printed with the sizes, raw and gzip.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { WEB_MANIFEST_FORMAT, WEB_MANIFEST_SUBJECT as WEB_MANIFEST, type WebManifest } from '../../attestation/measure/webPageStatement.js';
import { isMain, scriptArgs } from '../scriptArgs.js';

const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url));


const HELP = `Usage: node dist/scripts/web/buildWeb.js [--out DIR]

Builds the verify page into DIR (default build/web): index.html, verify.css, verify.js (one bundle of
web/src and the SDK it uses, no third-party requests) and web-manifest.json with each file's SHA-256.
Prints the manifest's SHA-256 (the page's digest) and the sizes, raw and gzip.
`;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Builds the page into `out` (emptied first); returns the manifest, its digest and the total sizes. */
export async function buildWeb(out: string): Promise<{ manifest: WebManifest; digest: string; bytes: number; gzipBytes: number }> {
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [join(CHECKOUT, 'dist/web/src/verifyPage.js')],
    outfile: join(out, 'verify.js'),
    bundle: true,
    // A classic script, not a module: Chromium refuses module scripts on file:// pages, and the page is meant to be
    // opened from disk too.
    format: 'iife',
    platform: 'browser',
    target: 'es2023',
    minify: true,
    // The same bytes from the same sources: no timestamps, no absolute paths in the output.
    legalComments: 'none',
    sourcemap: false,
    logLevel: 'warning',
  });
  await copyFile(join(CHECKOUT, 'web/index.html'), join(out, 'index.html'));
  await copyFile(join(CHECKOUT, 'web/verify.css'), join(out, 'verify.css'));
  const files = [];
  let bytes = 0;
  let gzipBytes = 0;
  for (const path of ['index.html', 'verify.css', 'verify.js']) {
    const content = await readFile(join(out, path));
    files.push({ path, bytes: content.length, sha256: sha256(content) });
    bytes += content.length;
    gzipBytes += gzipSync(content, { level: 9 }).length;
  }
  const manifest: WebManifest = { format: WEB_MANIFEST_FORMAT, files };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  await writeFile(join(out, WEB_MANIFEST), text);
  return { manifest, digest: sha256(new TextEncoder().encode(text)), bytes, gzipBytes };
}

async function main(argv: string[]): Promise<number> {
  const values = scriptArgs(argv, { out: { type: 'string' } }, HELP, []);
  if (typeof values === 'number') return values;
  const out = typeof values.out === 'string' ? values.out : join(CHECKOUT, 'build/web');
  const built = await buildWeb(out);
  process.stdout.write(`verify page in ${out}\n  ${built.manifest.files.map((f) => `${f.path} ${f.bytes} bytes`).join(', ')}\n  total ${built.bytes} bytes, ${built.gzipBytes} gzip\n  ${WEB_MANIFEST} sha256 ${built.digest}\n`);
  return 0;
}

if (isMain(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
